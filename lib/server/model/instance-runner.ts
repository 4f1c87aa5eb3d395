/**
 * A model version's execution instances (Triton's instance groups) as one thing batches
 * run on: each batch goes to the instance with the fewest runs in flight, and each run's
 * compute time and batch size are counted for the statistics.
 *
 * Instances on the CPU share one session: ONNX Runtime runs a session from several
 * threads at once, so `count: 4` is four runs in flight on one copy of the weights, not
 * four copies (Triton loads one per instance). GPU instances get a session per device.
 */
import type { AnyTensor, PlainTensor } from '../../core/tensor';
import type { BatchRunner } from '../../batching/batcher';
import type { Session } from '../../runtime/session';
import type { BatchObserver } from './serving-observer';

/** Totals of one batch size's executions, as Triton's statistics report them. */
export interface BatchTotals {
  count: number;
  computeNs: number;
}

/** What the instances have run. */
export interface ExecutionTotals {
  /** Batches run (Triton's execution_count). */
  executions: number;
  /** Rows run (Triton's inference_count). */
  inferences: number;
  /** Time in ONNX Runtime, all batches. */
  computeNs: number;
  /** By batch size (rows). */
  bySize: Map<number, BatchTotals>;
  /** When the last batch finished (ms since the epoch), 0 if none has. */
  lastInferenceMs: number;
}

/** One session and how many of its runs may be in flight at once. */
export interface Instance {
  readonly session: Session;
  readonly slots: number;
}

/** Rows of a batch: the first input's first dimension, 1 for models without a batch dimension. */
export type RowsOf = (feeds: Record<string, PlainTensor>) => number;

/** @internal */
export class InstanceRunner implements BatchRunner {
  readonly inputs: BatchRunner['inputs'];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly totals: ExecutionTotals = { executions: 0, inferences: 0, computeNs: 0, bySize: new Map(), lastInferenceMs: 0 };
  /** Told of each batch run; set once warm-up is over, so that warm-up runs are not reported. */
  observer: BatchObserver | undefined;
  readonly #instances: readonly Instance[];
  readonly #running: number[];
  readonly #rowsOf: RowsOf;

  constructor(instances: readonly Instance[], rowsOf: RowsOf) {
    if (instances.length === 0) throw new Error('a model needs at least one instance');
    const first = instances[0].session;
    this.inputs = first.inputs;
    this.inputNames = first.inputNames;
    this.outputNames = first.outputNames;
    this.#instances = instances;
    this.#running = instances.map(() => 0);
    this.#rowsOf = rowsOf;
  }

  /** Runs that may be in flight at once, over all instances. */
  get slots(): number {
    return this.#instances.reduce((n, i) => n + i.slots, 0);
  }

  checkFeeds(feeds: unknown): void {
    this.#instances[0].session.checkFeeds(feeds);
  }

  async run(feeds: Record<string, PlainTensor>, options?: { signal?: AbortSignal; outputNames?: readonly string[] }): Promise<Record<string, AnyTensor>> {
    let pick = 0;
    for (let i = 1; i < this.#instances.length; i++) {
      if (this.#running[i] / this.#instances[i].slots < this.#running[pick] / this.#instances[pick].slots) pick = i;
    }
    this.#running[pick]++;
    const start = process.hrtime.bigint();
    try {
      const results = (await this.#instances[pick].session.run(feeds, options)) as Record<string, AnyTensor>;
      const ns = Number(process.hrtime.bigint() - start);
      const rows = this.#rowsOf(feeds);
      const t = this.totals;
      t.executions++;
      t.inferences += rows;
      t.computeNs += ns;
      t.lastInferenceMs = Date.now();
      const size = t.bySize.get(rows) ?? { count: 0, computeNs: 0 };
      size.count++;
      size.computeNs += ns;
      t.bySize.set(rows, size);
      this.observer?.onBatch(rows, ns / 1e9);
      return results;
    } finally {
      this.#running[pick]--;
    }
  }

  /** Forgets what has run so far (the warm-up's runs are not the statistics' business). */
  resetTotals(): void {
    Object.assign(this.totals, { executions: 0, inferences: 0, computeNs: 0, lastInferenceMs: 0 });
    this.totals.bySize.clear();
  }

  /** Releases the sessions. */
  release(): void {
    for (const { session } of this.#instances) session.release();
  }
}
