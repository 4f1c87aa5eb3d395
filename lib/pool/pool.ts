/**
 * The folder pool/ is the worker pool: this file, and the entry its workers run
 * (pool-worker.ts). It imports core/ and runtime/.
 *
 * A Piscina pool of worker threads around one loaded model: each worker runs your
 * module's `preprocess` and `postprocess` (image decoding, tokenization, non-maximum
 * suppression: JavaScript that would otherwise hold up the main thread) around
 * inference. The model is loaded once per process; every worker attaches to the same
 * native session (Session.share), so its weights are in memory once.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { OrtError, fromOtherThread } from '../core/errors';
import type { SessionOptions } from '../runtime/options';
import type { ValueMetadata } from '../runtime/model-values';
import { createSession, type Session } from '../runtime/session';
import type { AnyTensor } from '../core/tensor';

/**
 * What a pool's module exports (ESM or CommonJS). Both run in worker threads.
 *
 * @typeParam I - What {@link InferencePool.run} takes.
 * @typeParam R - What it resolves to.
 */
export interface PoolModule<I = unknown, R = unknown> {
  /** Turns one input into the model's feeds. */
  preprocess(input: I, model: PoolModelInfo): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Turns the model's outputs into the result. Default: the outputs as they are (copied back to the caller). */
  postprocess?(outputs: Record<string, AnyTensor>, input: I, model: PoolModelInfo): R | Promise<R>;
}

/** The model as a pool's module sees it. */
export interface PoolModelInfo {
  inputs: readonly ValueMetadata[];
  outputs: readonly ValueMetadata[];
  /** The shared session this worker runs (Session.share's number): which instance it is. */
  sessionId: number;
}

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** The model: a path, or its bytes. */
  model: string | Uint8Array;
  /** The module with `preprocess` and `postprocess`: a path or file URL. */
  module: string;
  /** Worker threads. Default: the number of CPUs. */
  workers?: number;
  /** Tasks one worker takes at once; more than 1 lets it preprocess while inference runs. Default: 2. */
  tasksPerWorker?: number;
  /**
   * Independent sessions of the model, shared out among the workers round-robin (as
   * Triton's instance groups). Default: 1. On a CPU, more instances are faster only
   * when one run cannot use every core (small models, intraOpNumThreads set low) and
   * memory allows a copy of the weights per instance.
   */
  instances?: number;
  /** Options of each session (see createSession). */
  sessionOptions?: SessionOptions;
  /** Most tasks waiting for a worker; more reject. Default: no limit. */
  maxQueue?: number;
}

/** Options of one {@link InferencePool.run}. */
export interface PoolRunOptions {
  /** ArrayBuffers (or views of them) in the input to move to the worker rather than copy. */
  transferList?: readonly (ArrayBuffer | ArrayBufferView)[];
  /** Cancels the task if it has not finished. */
  signal?: AbortSignal;
}

/** Where the workers load their entry from: the compiled file, or the TypeScript one when running from source (tests). */
function workerEntry(): string {
  return __filename.endsWith('.ts') ? join(__dirname, 'pool-worker.dev.cjs') : join(__dirname, 'pool-worker.js');
}

/**
 * Worker threads running your module around one shared model. Create with
 * {@link createPool}.
 */
export class InferencePool<I = unknown, R = unknown> {
  /** The sessions the workers share (one per instance), for their metadata. */
  readonly sessions: readonly Session[];
  readonly #piscina: Piscina;

  /** @internal Use {@link createPool}. */
  constructor(piscina: Piscina, sessions: Session[]) {
    this.#piscina = piscina;
    this.sessions = sessions;
  }

  /**
   * Runs `preprocess`, inference and `postprocess` on one input, in a worker.
   *
   * @returns What `postprocess` returned.
   */
  run(input: I, options: PoolRunOptions = {}): Promise<R> {
    return (
      this.#piscina.run(input, {
        transferList: options.transferList as never,
        signal: options.signal ?? null,
      }) as Promise<R>
    ).catch((err: unknown) => {
      throw fromOtherThread(err);
    });
  }

  /** Worker threads running now. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Tasks waiting for a worker. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /** Finishes the tasks in hand, stops the workers, and releases the sessions. */
  async close(): Promise<void> {
    await this.#piscina.close();
    for (const session of this.sessions) session.release();
  }
}

/**
 * Starts a pool of worker threads that run `module`'s preprocess and postprocess around
 * inference on `model`.
 *
 * @example
 * ```ts
 * // classify.mjs (runs in the workers)
 * export function preprocess(png) { return { x: tensor('float32', toCHW(decode(png)), [1, 3, 48, 192]) }; }
 * export function postprocess({ probs }) { return probs.data[1] > 0.5 ? 'rotated' : 'upright'; }
 *
 * // main
 * const pool = await createPool({ model: 'cls.onnx', module: './classify.mjs', workers: 4 });
 * const label = await pool.run(pngBytes, { transferList: [pngBytes.buffer] });
 * ```
 */
export async function createPool<I = unknown, R = unknown>(options: PoolOptions): Promise<InferencePool<I, R>> {
  if (typeof options !== 'object' || options === null || typeof options.module !== 'string') {
    throw new OrtError('createPool needs { model, module }', 'INVALID_OPTION');
  }
  const instances = options.instances ?? 1;
  if (!Number.isInteger(instances) || instances < 1) throw new OrtError('options.instances must be a positive integer', 'INVALID_OPTION');
  const sessions: Session[] = [];
  try {
    for (let i = 0; i < instances; i++) sessions.push(await createSession(options.model, options.sessionOptions));
  } catch (err) {
    for (const session of sessions) session.release();
    throw err;
  }
  const module = options.module.startsWith('file:') ? options.module : pathToFileURL(options.module).href;
  const workers = options.workers ?? availableParallelism();
  const piscina = new Piscina({
    filename: workerEntry(),
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: options.tasksPerWorker ?? 2,
    maxQueue: options.maxQueue ?? Infinity,
    workerData: { module, sessions: sessions.map((s) => s.share()) },
  });
  return new InferencePool<I, R>(piscina, sessions);
}
