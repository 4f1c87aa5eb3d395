/**
 * What a batching session has done: counts, batch sizes, and queue and run times.
 */

/** A latency distribution, in milliseconds, over the most recent samples. */
export interface LatencySummary {
  /** Samples ever taken. */
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** A snapshot of {@link BatchedSession.stats}. */
export interface BatchingStats {
  /** Requests accepted into the queue. */
  requests: number;
  /** Requests that resolved. */
  completed: number;
  /** Requests that ONNX Runtime failed (after being retried alone). */
  failed: number;
  /** Requests turned away or dropped, by reason. */
  rejected: { invalid: number; queueFull: number; timeout: number; aborted: number; closed: number };
  /** Batches run. */
  batches: number;
  /** Batches that failed and were retried request by request. */
  retriedBatches: number;
  /** How many batches had each size (in rows along the batch axis). */
  batchSizes: Record<number, number>;
  /** Time from a request's arrival to its batch starting. */
  queueTimeMs: LatencySummary;
  /** Time a batch takes in ONNX Runtime, gathering and scattering included. */
  runTimeMs: LatencySummary;
  /** Requests waiting now. */
  queued: number;
  /** Batches running now. */
  inFlight: number;
}

/** @internal Keeps the last `capacity` samples for percentiles, and totals for the mean. */
export class LatencyRecorder {
  #samples: Float64Array;
  #next = 0;
  #count = 0;
  #sum = 0;
  #max = 0;

  constructor(capacity = 4096) {
    this.#samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.#count++;
    this.#sum += ms;
    this.#max = Math.max(this.#max, ms);
  }

  summary(): LatencySummary {
    const kept = this.#samples.slice(0, Math.min(this.#count, this.#samples.length)).sort();
    const at = (q: number) => (kept.length ? kept[Math.min(kept.length - 1, Math.floor(q * kept.length))] : 0);
    return {
      count: this.#count,
      mean: this.#count ? this.#sum / this.#count : 0,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: this.#max,
    };
  }
}
