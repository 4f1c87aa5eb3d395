/**
 * Custom handlers, as TorchServe's handlers and KServe's transformers are: a model folder
 * may hold a `handler.mjs` (or `handler.js`, an ES module) that turns a raw request body
 * (an image, text, JSON) into the model's input tensors and its outputs into an answer.
 * Both steps run on worker threads (Piscina), so that decoding an image never holds up the
 * event loop; the model itself runs in the server as any request does.
 *
 * ```js
 * // <repo>/<model>/handler.mjs
 * export async function preprocess(body, { contentType, model, parameters }) {
 *   return { x: { type: 'float32', dims: [1, 3, 48, 192], data: pixels } };
 * }
 * export async function postprocess(outputs, { model, parameters }) {
 *   return { label: ..., confidence: ... };
 * }
 * ```
 *
 * Tensors cross between the threads by structured clone (one copy each way: a request's
 * image, not its batch).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import type { AnyTensor, PlainTensor } from '../../core/tensor';

/** What a handler's functions are told besides their data. */
export interface HandlerContext {
  /** The model's name and the version that serves the request. */
  readonly model: string;
  readonly version: string;
  /** The request's Content-Type header ('' when absent). preprocess only. */
  readonly contentType: string;
  /** The request's query parameters (`?top=3`). */
  readonly parameters: Readonly<Record<string, string>>;
}

/** A handler module's exports. */
export interface HandlerModule {
  /** The body as it came, to the model's inputs by name. */
  preprocess(body: Uint8Array, context: HandlerContext): Promise<Record<string, PlainTensor>> | Record<string, PlainTensor>;
  /** The model's outputs by name, to the answer (anything JSON can hold). */
  postprocess(outputs: Record<string, AnyTensor>, context: HandlerContext): unknown;
}

/** @internal One task for a worker. */
export interface HandlerTask {
  readonly file: string;
  /** The file's mtime when the model loaded. */
  readonly stamp: number;
  readonly step: 'preprocess' | 'postprocess';
  readonly payload: unknown;
  readonly context: HandlerContext;
}

function workerEntry(): string {
  return __filename.endsWith('.ts') ? join(__dirname, 'handler-worker.dev.cjs') : join(__dirname, 'handler-worker.js');
}

/** A model's handler file, as the repository found it. */
export interface HandlerFile {
  readonly path: string;
  /** Its mtime when the model loaded. */
  readonly stamp: number;
}

/** The worker threads that run handlers. */
export class HandlerPool {
  readonly #piscina: Piscina;

  /** @param threads - Worker threads. Default: one per core. */
  constructor(threads = availableParallelism()) {
    this.#piscina = new Piscina({ filename: workerEntry(), minThreads: 1, maxThreads: threads, idleTimeout: 30_000 });
  }

  /** Runs `handler`'s preprocess on `body`. */
  preprocess(handler: HandlerFile, body: Uint8Array, context: HandlerContext): Promise<Record<string, PlainTensor>> {
    return this.#piscina.run({ file: handler.path, stamp: handler.stamp, step: 'preprocess', payload: body, context } satisfies HandlerTask) as Promise<Record<string, PlainTensor>>;
  }

  /** Runs `handler`'s postprocess on `outputs`. */
  postprocess(handler: HandlerFile, outputs: Record<string, AnyTensor>, context: HandlerContext): Promise<unknown> {
    return this.#piscina.run({ file: handler.path, stamp: handler.stamp, step: 'postprocess', payload: outputs, context } satisfies HandlerTask);
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.#piscina.destroy();
  }
}
