/**
 * What one version served over an analysis window: requests answered, how many failed,
 * their latency's quantiles (a DDSketch: 1% relative error, a few KiB whatever the
 * traffic, where a list of every latency would grow with it), and, for a candidate, how
 * the shadow copies of the baseline's requests compared.
 */
import { DDSketch } from '@datadog/sketches-js';
import type { FailureReason, ShadowOutcome } from '../server/model/serving-observer';

/** A window's figures for one version. */
export interface WindowFigures {
  /** Requests answered, a client's bad requests left out (they say nothing of the version). */
  readonly requests: number;
  readonly failures: number;
  /** Successes over requests; absent with no requests. */
  readonly successRate?: number;
  /** p99 of the requests' latency (taken to answered), in milliseconds; absent with no requests. */
  readonly p99Ms?: number;
  /** Shadow copies whose answers were compared with the serving version's. */
  readonly shadowCompared: number;
  readonly shadowAgreed: number;
  /** Agreed over compared; absent with none compared. */
  readonly shadowAgreement?: number;
  /** How long the window has run, in seconds. */
  readonly seconds: number;
}

/** One version's requests over a window. */
export class VersionWindow {
  readonly #started = performance.now();
  #requests = 0;
  #failures = 0;
  #sketch = new DDSketch({ relativeAccuracy: 0.01 });
  #compared = 0;
  #agreed = 0;

  /** A request was answered (`failure` undefined for a success) after `seconds`. */
  record(failure: FailureReason | undefined, seconds: number): void {
    if (failure === 'invalid') return;
    this.#requests++;
    if (failure !== undefined) this.#failures++;
    // The sketch takes positive values; a latency under a microsecond is one.
    this.#sketch.accept(Math.max(seconds * 1000, 0.001));
  }

  /** A shadow copy sent to this version came back with `outcome`. */
  shadow(outcome: ShadowOutcome): void {
    if (outcome !== 'agree' && outcome !== 'disagree') return; // a failed copy is a failed request, counted by record()
    this.#compared++;
    if (outcome === 'agree') this.#agreed++;
  }

  figures(): WindowFigures {
    return {
      requests: this.#requests,
      failures: this.#failures,
      ...(this.#requests > 0 && { successRate: (this.#requests - this.#failures) / this.#requests, p99Ms: this.#sketch.getValueAtQuantile(0.99) }),
      shadowCompared: this.#compared,
      shadowAgreed: this.#agreed,
      ...(this.#compared > 0 && { shadowAgreement: this.#agreed / this.#compared }),
      seconds: (performance.now() - this.#started) / 1000,
    };
  }
}
