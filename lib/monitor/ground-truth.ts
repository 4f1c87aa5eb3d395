/**
 * Ground truth for served predictions, as Seldon's feedback API takes it: the server
 * keeps recent predictions by request id (a bounded store: prediction-store.ts), and a
 * client that learns the true value later sends it with the id (`POST
 * /v2/models/{m}/feedback`): a class for a classifier's scores, a number or a tensor
 * for a regressor, or a reward. Matched predictions feed a window per version
 * (feedback-window.ts): accuracy, MAE and RMSE, the mean reward.
 *
 * Only requests that carry an `id` are kept (a client needs it to refer back), and of
 * their outputs those of at most `maxRowElements` elements a row, copied (a few numbers
 * a row: a response's tensors are not held for an hour).
 */
import type { InferRequest, InferResponse } from '../server/protocol/types';
import { ProtocolError, invalid } from '../server/protocol/types';
import type { RouteKind } from '../server/repository/version-routing';
import type { ServingObserver, VersionObserver } from '../server/model/serving-observer';
import { type FeedbackFigures, FeedbackWindow, type FeedbackWindowOptions } from './feedback-window';
import { PredictionStore, type PredictionStoreOptions } from './prediction-store';

/** Options of {@link GroundTruth}. */
export interface GroundTruthOptions {
  /** The store of recent predictions (default: the last 10000, for an hour). */
  readonly store?: PredictionStoreOptions;
  /** Each version's window of matched feedback (default: the last 1000 of each kind, for an hour). */
  readonly window?: FeedbackWindowOptions;
  /** Outputs with rows of more elements are not kept (default 1000). */
  readonly maxRowElements?: number;
  /**
   * Output elements kept at most across the store (default 4,000,000: 16 MB as float32):
   * the oldest predictions go first, so that batches of large rows cannot grow it past this.
   */
  readonly maxElements?: number;
}

/** One output of a kept prediction: its rows' values. */
interface KeptOutput {
  readonly name: string;
  readonly rows: number;
  /** Elements a row. */
  readonly row: number;
  readonly values: Float32Array;
}

interface KeptPrediction {
  readonly version: number;
  readonly route: string;
  readonly outputs: readonly KeptOutput[];
}

/** A feedback request's body. */
export interface FeedbackBody {
  /** The id of the inference request (its `id`). */
  readonly id: string;
  /**
   * The true value: for one row, a class index (a classifier's output, rows of 2 or more
   * scores), a number (a regressor's, rows of 1) or a list of numbers (a tensor row);
   * for a batch, a list of those, one per row.
   */
  readonly truth?: unknown;
  /** A reward for the prediction (a number; in [0, 1] for the reward ratio to read as one). */
  readonly reward?: unknown;
  /** Which output the truth is of (default: the first kept). */
  readonly output?: unknown;
}

/** What a feedback request did. */
export interface FeedbackResult {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly route: string;
  readonly output?: string;
  /** Rows with their truth. */
  readonly rows: number;
  /** Of those, classified right (for a classifier). */
  readonly correct?: number;
  /** The rows' mean absolute error (for a regressor). */
  readonly absolute_error?: number;
  readonly reward?: number;
}

/** A version's matched feedback now. */
export interface VersionFeedback extends FeedbackFigures {
  readonly model: string;
  readonly version: number;
  /** The same by how the requests were routed to the version (`split`, `label`, `default`...). */
  readonly routes: Readonly<Record<string, FeedbackFigures>>;
}

/** A version's windows: all its feedback, and by route. */
interface HeldWindows {
  readonly window: FeedbackWindow;
  readonly routes: Map<string, FeedbackWindow>;
  copies: number;
  readonly model: string;
  readonly version: number;
}

/** What one judged row records. */
type Judged = { readonly correct?: boolean; readonly absolute?: number; readonly squared?: number };

/** Feedback for a prediction that had it already (a 400, counted as `taken`). */
class GivenAlready extends ProtocolError {}

/** Keeps predictions, matches ground truth to them, and keeps each version's figures. */
export class GroundTruth implements ServingObserver {
  readonly #store: PredictionStore<KeptPrediction>;
  readonly #windowOptions: FeedbackWindowOptions;
  readonly #maxRowElements: number;
  /** Each serving version's window and loaded copies. */
  readonly #windows = new Map<string, HeldWindows>();
  /** Feedback requests by outcome. */
  readonly outcomes = { matched: 0, unknown: 0, taken: 0, invalid: 0 };

  constructor(options: GroundTruthOptions = {}) {
    this.#store = new PredictionStore<KeptPrediction>({
      ...options.store,
      maxWeight: options.maxElements ?? 4_000_000,
      weigh: (p) => (p as KeptPrediction).outputs.reduce((n, o) => n + o.values.length, 0),
    });
    this.#windowOptions = options.window ?? {};
    new FeedbackWindow(this.#windowOptions); // its options checked now, not at a version's start
    this.#maxRowElements = options.maxRowElements ?? 1000;
  }

  versionServing(model: string, version: number): VersionObserver {
    const key = `${model}\0${version}`;
    const held = this.#windows.get(key);
    if (held === undefined) this.#windows.set(key, { window: new FeedbackWindow(this.#windowOptions), routes: new Map(), copies: 1, model, version });
    else held.copies++;
    const none = () => {};
    return {
      onRequestStart: none,
      onRequestEnd: none,
      onQueued: none,
      onBatch: none,
      onInference: (request, response, route) => this.#keep(model, version, request, response, route),
    };
  }

  versionRetired(model: string, version: number): void {
    const key = `${model}\0${version}`;
    const held = this.#windows.get(key);
    if (held !== undefined && --held.copies === 0) this.#windows.delete(key);
  }

  /** Predictions kept now. */
  get kept(): number {
    return this.#store.size;
  }

  #keep(model: string, version: number, request: InferRequest, response: InferResponse, route: RouteKind | 'shadow' | undefined): void {
    // A shadow's answer was not the client's: its id belongs to the serving version's.
    if (request.id === undefined || route === 'shadow') return;
    const outputs: KeptOutput[] = [];
    for (const o of response.outputs) {
      const t = o.tensor;
      if (t.type === 'string' || t.type === 'bool' || !ArrayBuffer.isView(t.data)) continue;
      const rows = t.dims.length > 1 ? t.dims[0] : 1;
      const total = t.dims.reduce((a, b) => a * b, 1);
      const row = rows === 0 ? 0 : total / rows;
      if (row > this.#maxRowElements) continue;
      const values = new Float32Array(total);
      const data = t.data as unknown as ArrayLike<number | bigint>;
      for (let i = 0; i < total; i++) values[i] = Number(data[i]);
      outputs.push({ name: o.name, rows, row, values });
    }
    this.#store.put(`${model}\0${request.id}`, { version, route: route ?? 'version', outputs });
  }

  /**
   * Matches `body` to the prediction of model `model` it names; records it in the
   * version's window. Throws a ProtocolError (400, 404) saying what is wrong.
   */
  feedback(model: string, body: FeedbackBody): FeedbackResult {
    try {
      return this.#feedback(model, body);
    } catch (err) {
      // A truth for a prediction taken already is counted as `taken`, not also as invalid.
      if (err instanceof ProtocolError && err.status === 'INVALID_ARGUMENT' && !(err instanceof GivenAlready)) this.outcomes.invalid++;
      throw err;
    }
  }

  #feedback(model: string, body: FeedbackBody): FeedbackResult {
    if (typeof body.id !== 'string' || body.id === '') throw invalid('feedback needs the "id" of the inference request');
    if (body.truth === undefined && body.reward === undefined) throw invalid('feedback needs a "truth" (a class, a number, a list) or a "reward"');
    if (body.reward !== undefined && !(typeof body.reward === 'number' && Number.isFinite(body.reward))) throw invalid(`"reward" must be a number, got ${JSON.stringify(body.reward)}`);
    if (body.output !== undefined && typeof body.output !== 'string') throw invalid(`"output" must be an output's name, got ${JSON.stringify(body.output)}`);
    const key = `${model}\0${body.id}`;
    // Taken once the truth has been read: a truth refused leaves the prediction for a corrected one.
    const taken = this.#store.peek(key);
    if (!taken.found) {
      this.outcomes[taken.reason]++;
      if (taken.reason === 'taken') throw new GivenAlready(`feedback for request "${body.id}" of model "${model}" was given already`, 'INVALID_ARGUMENT');
      throw new ProtocolError(
        `no prediction of model "${model}" with id "${body.id}": predictions are kept for requests with an id, the last ${this.#store.maxEntries} for ${this.#store.maxAgeMs / 1000} s`,
        'NOT_FOUND',
      );
    }
    const p = taken.value;
    const held = this.#windows.get(`${model}\0${p.version}`);
    let byRoute = held?.routes.get(p.route);
    if (held !== undefined && byRoute === undefined) held.routes.set(p.route, (byRoute = new FeedbackWindow(this.#windowOptions)));
    // Each figure goes to the version's window and to its route's.
    const windows = held === undefined ? [] : [held.window, byRoute as FeedbackWindow];
    let result: FeedbackResult = { id: body.id, model, version: String(p.version), route: p.route, rows: 0 };
    if (body.truth !== undefined) {
      const output = body.output === undefined ? p.outputs[0] : p.outputs.find((o) => o.name === body.output);
      if (output === undefined) {
        throw invalid(body.output === undefined ? `the prediction "${body.id}" kept no output (none numeric with rows of ${this.#maxRowElements} elements or fewer)` : `the prediction "${body.id}" kept no output "${String(body.output)}"; it kept ${p.outputs.map((o) => `"${o.name}"`).join(', ') || 'none'}`);
      }
      const truths = rowTruths(body.truth, output);
      let correct = 0;
      let absolute = 0;
      const classifier = output.row > 1;
      const judged: Judged[] = truths.map((t, r) => {
        const values = output.values.subarray(r * output.row, (r + 1) * output.row);
        if (typeof t === 'number' && classifier) {
          if (!(Number.isInteger(t) && t >= 0 && t < output.row)) throw invalid(`row ${r}'s truth ${t} is no class of "${output.name}" (0 to ${output.row - 1})`);
          let best = 0;
          for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
          return { correct: best === t };
        }
        const expected = typeof t === 'number' ? [t] : t;
        let abs = 0;
        let sq = 0;
        for (let i = 0; i < values.length; i++) {
          const d = values[i] - expected[i];
          abs += Math.abs(d);
          sq += d * d;
        }
        return { absolute: abs / values.length, squared: sq / values.length };
      });
      // Recorded once every row has been read: a bad row records none.
      for (const j of judged) {
        if (j.correct !== undefined) {
          for (const w of windows) w.addClassification(j.correct);
          if (j.correct) correct++;
        } else {
          for (const w of windows) w.addError(j.absolute as number, j.squared as number);
          absolute += j.absolute as number;
        }
      }
      result = { ...result, output: output.name, rows: truths.length, ...(judged.some((j) => j.correct !== undefined) ? { correct } : { absolute_error: absolute / truths.length }) };
    }
    if (typeof body.reward === 'number') {
      for (const w of windows) w.addReward(body.reward);
      result = { ...result, reward: body.reward };
    }
    this.#store.take(key);
    this.outcomes.matched++;
    return result;
  }

  /** Each serving version's figures, of `model` or of all. */
  versions(model?: string): VersionFeedback[] {
    return [...this.#windows.values()]
      .filter((w) => model === undefined || w.model === model)
      .map((w) => ({ model: w.model, version: w.version, ...w.window.figures(), routes: Object.fromEntries([...w.routes].map(([route, r]) => [route, r.figures()])) }))
      .sort((a, b) => (a.model === b.model ? a.version - b.version : a.model < b.model ? -1 : 1));
  }
}

/** `truth` as one value per row of `output`: a class or number, or a list of the row's numbers. */
function rowTruths(truth: unknown, output: KeptOutput): (number | number[])[] {
  const one = (t: unknown, what: string): number | number[] => {
    if (typeof t === 'number' && Number.isFinite(t)) return t;
    if (Array.isArray(t) && t.length === output.row && t.every((v) => typeof v === 'number' && Number.isFinite(v))) return t as number[];
    throw invalid(`${what} must be a class index or a number, or a list of ${output.row} numbers (a row of "${output.name}"), got ${JSON.stringify(t)}`);
  };
  if (output.rows === 1) {
    // One row: its value, or a list holding just it.
    if (Array.isArray(truth) && truth.length === 1 && output.row !== 1) return [one(truth[0], 'the truth')];
    return [one(truth, 'the truth')];
  }
  if (!Array.isArray(truth) || truth.length !== output.rows) throw invalid(`the prediction has ${output.rows} rows: "truth" must be a list of ${output.rows}, one per row, got ${JSON.stringify(truth).slice(0, 80)}`);
  return truth.map((t, r) => one(t, `row ${r}'s truth`));
}
