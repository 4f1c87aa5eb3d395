/**
 * The folder runtime/ is ONNX Runtime itself as the package drives it: loading the
 * library (runtime-library.ts, library-file.ts), the native addon (binding.ts), sessions
 * and their runs (here; run-header.ts, output-meta.ts, run-options.ts,
 * completion-polling.ts), a model's inputs and outputs (model-values.ts, model-ops.ts),
 * session options and execution providers (options.ts, providers.ts), I/O binding and
 * device memory (io-binding.ts, cuda.ts). Execution providers and device tensors live
 * here, not in gpu/, because session options and bindings take them. It imports core/
 * and batching/.
 *
 * Sessions: a loaded model, its metadata, and runs that never block the event loop.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { native, type NativeModelInfo, type NativeSession } from './binding';
import { POLL_ON_ALL_CORES_UP_TO_MS, POLL_UP_TO_MS, pollForCompletions } from './completion-polling';
import { runHeader } from './run-header';
import { nativeRunOptions } from './run-options';
import type { DTypeInfo } from '../core/dtypes';
import { readOutput } from './output-meta';
import { OrtError, abortError, isOrtError, type OrtStatusCode } from '../core/errors';
import { type SessionOptions, toNativeOptions } from './options';
import { ORT_PROVIDER_NAMES } from './providers';
import { type BatchedRunOptions, Batcher, type BatchingOptions } from '../batching/batcher';
import type { BatchingStats } from '../batching/batch-stats';
import { IoBinding } from './io-binding';
import { abortsOnEmpty } from './model-ops';
import { type Slot, type ValueMetadata, checkAgainst, checkFits, toSlot } from './model-values';
import { availableProviders, loadRuntime } from './runtime-library';
import type { AnySignature, Feeds, OutputName, Results, Signature } from '../core/signature';
import { type AnyTensor, type PlainTensor, dtypeOf, typedArrayBuffer, typedArrayByteLength, typedArrayByteOffset } from '../core/tensor';

/** The model's own metadata. */
export interface ModelMetadata {
  readonly producerName: string;
  readonly graphName: string;
  readonly graphDescription: string;
  readonly domain: string;
  readonly description: string;
  /** The model's `model_version`, when it has one. */
  readonly version?: number;
  /** The model's `metadata_props`. */
  readonly custom: Readonly<Record<string, string>>;
}

/** Options of one run. */
export interface RunOptions<S extends Signature = AnySignature, O extends OutputName<S> = OutputName<S>> {
  /**
   * Cancels the run: it rejects with `ABORTED` at once if it had not started (it never
   * will), else as soon as ONNX Runtime has stopped it, between two operators; either
   * way its arrays are no longer read when it rejects.
   */
  signal?: AbortSignal;
  /** Compute only these outputs. Default: all of them. */
  outputNames?: readonly O[];
  /**
   * Write these outputs into the given tensors instead of new memory. Each must have the
   * output's element type and exact shape. They are returned in the results as they are.
   */
  outputs?: { readonly [K in O]?: PlainTensor<S['outputs'][K]> };
  /** This run's log level (printed to stderr). */
  logSeverityLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** A tag for this run's log messages. */
  tag?: string;
  /** Raw run configuration entries (keys of onnxruntime_run_options_config_keys.h). */
  configEntries?: Record<string, string>;
}

/** Run options as the implementation sees them, whatever the signature. */
type UntypedRunOptions = RunOptions<AnySignature, string>;

const RUN_OPTION_NAMES = ['signal', 'outputNames', 'outputs', 'logSeverityLevel', 'tag', 'configEntries'];

/**
 * A loaded model. Create one with {@link createSession}; release it with
 * {@link Session.release} or `await using`.
 *
 * Runs may overlap: ONNX Runtime runs one session from many threads at once.
 *
 * @typeParam S - The model's signature; see {@link Signature}.
 */
export class Session<S extends Signature = AnySignature> implements AsyncDisposable {
  /** The model's inputs, in the model's order. */
  readonly inputs: readonly ValueMetadata[];
  /** The model's outputs, in the model's order. */
  readonly outputs: readonly ValueMetadata[];
  /** The model's metadata. */
  readonly metadata: ModelMetadata;
  /** The input names, in the model's order. */
  readonly inputNames: readonly string[];
  /** The output names, in the model's order. */
  readonly outputNames: readonly string[];
  /**
   * The execution providers the session runs on, in order of preference: `['cuda',
   * 'cpu']`, say. Ends with `'cpu'`, which takes whatever the others cannot run.
   */
  readonly providers: readonly string[];
  /** Providers marked `optional` that the session went on without, and why. */
  readonly skippedProviders: readonly { readonly provider: string; readonly reason: string }[];

  #native: NativeSession | undefined;
  /** What the inputs' slots say of the model's operators (Slot.abortsOnEmpty), for share(). */
  readonly #abortsOnEmpty: string | undefined;
  readonly #inputs: ReadonlyMap<string, Slot>;
  readonly #outputs: ReadonlyMap<string, Slot>;
  readonly #outputSlots: readonly Slot[];

  /** How long this session's runs take from queueing to result, smoothed. */
  #runMs = 0;

  /**
   * How short this session's runs must usually be for waiting on them to poll
   * (completion-polling.ts). POLL_UP_TO_MS when ONNX Runtime's intra-op threads leave
   * the JavaScript thread a core. When they take every core, polling on a core they
   * need slowed Silero VAD's 0.25 ms runs by half, but runs of microseconds, too small
   * for ONNX Runtime to spread over its threads, still gain (a tiny model: 70 to 20 µs).
   */
  readonly #pollUpToMs: number;

  /**
   * @internal Use {@link createSession}. `intraOpThreads` is what the session was
   * created with (0: ONNX Runtime's default, a thread per core). `abortsOnEmpty`: the
   * model's operators that ONNX Runtime aborts the process in on an empty input, if any.
   */
  constructor(handle: NativeSession, info: NativeModelInfo, intraOpThreads = 0, abortsOnEmpty?: string) {
    this.#native = handle;
    this.#abortsOnEmpty = abortsOnEmpty;
    this.#pollUpToMs = intraOpThreads > 0 && intraOpThreads < availableParallelism() ? POLL_UP_TO_MS : POLL_ON_ALL_CORES_UP_TO_MS;
    const inputs = info.inputs.map((v, i) => toSlot(v, i, abortsOnEmpty));
    const outputs = info.outputs.map((v, i) => toSlot(v, i));
    this.#inputs = new Map(inputs.map((s) => [s.meta.name, s]));
    this.#outputs = new Map(outputs.map((s) => [s.meta.name, s]));
    // By default, every output this package can return: the tensors.
    this.#outputSlots = outputs.filter((s) => s.dtype !== undefined);
    this.inputs = Object.freeze(inputs.map((s) => s.meta));
    this.outputs = Object.freeze(outputs.map((s) => s.meta));
    this.inputNames = Object.freeze(inputs.map((s) => s.meta.name));
    this.outputNames = Object.freeze(outputs.map((s) => s.meta.name));
    this.metadata = Object.freeze({ ...info.metadata, custom: Object.freeze(info.metadata.custom) });
    const shortName = (ortName: string) => Object.entries(ORT_PROVIDER_NAMES).find(([, n]) => n === ortName)?.[0] ?? ortName;
    this.providers = Object.freeze((info.providers ?? ['CPUExecutionProvider']).map(shortName));
    this.skippedProviders = Object.freeze((info.skippedProviders ?? []).map((s) => Object.freeze({ provider: shortName(s.provider), reason: s.reason })));
  }

  /** Whether {@link Session.release} has been called. */
  get released(): boolean {
    return this.#native === undefined;
  }

  /**
   * Runs the model on a thread of the addon's run pool: the event loop stays free
   * however long inference takes. Several runs may be in flight at once.
   *
   * Inputs are read in place: do not write to their arrays, transfer or detach them
   * until the promise settles (an aborted run settles once ONNX Runtime has stopped).
   *
   * @param feeds - A tensor for every input, by name.
   * @param options - Outputs to compute or write into, an AbortSignal, log settings.
   * @returns A tensor for each requested output, by name.
   * @throws {@link OrtError} (as a rejection): `INVALID_INPUT_NAME`, `MISSING_INPUT`,
   *   `INVALID_DTYPE`, `INVALID_SHAPE`, `INVALID_TENSOR`, `INVALID_OUTPUT_NAME`,
   *   `SESSION_RELEASED`, `ABORTED`, or ONNX Runtime's own code when inference fails.
   * @example
   * ```ts
   * const { probs } = await session.run({ x: tensor('float32', pixels, [1, 3, 48, 192]) });
   * ```
   */
  run<O extends OutputName<S> = OutputName<S>>(feeds: Feeds<S>, options?: RunOptions<S, O>): Promise<Results<S, O>> {
    let call: PreparedRun;
    try {
      call = this.#prepare(feeds, options as UntypedRunOptions | undefined);
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = options?.signal;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => {
          // A run that had not started never will: nothing reads the caller's arrays any
          // more, and the run can reject now. One that had is told to stop, and rejects
          // when ONNX Runtime has stopped reading them (between two operators).
          if (call.runOptions!.terminate()) reject(abortError(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      call.session.run(
        call.data,
        (error, results) => {
          this.#runMs += (performance.now() - started - this.#runMs) * 0.25;
          if (signal) {
            signal.removeEventListener('abort', onAbort!);
            if (signal.aborted) return reject(abortError(signal));
          }
          if (error) return reject(error);
          try {
            resolve(this.#collect(results, call) as Results<S, O>);
          } catch (err) {
            reject(err);
          }
        },
        call.runOptions,
      );
      if (this.#runMs <= this.#pollUpToMs) pollForCompletions(native(), this.#runMs, started);
    });
  }

  /**
   * Runs the model on the calling thread. For short models and worker threads: unlike
   * {@link Session.run}, it blocks the event loop for the whole inference.
   *
   * @param feeds - A tensor for every input, by name.
   * @param options - As for {@link Session.run}; a signal is checked before the run only.
   * @returns A tensor for each requested output, by name.
   * @throws {@link OrtError}, as {@link Session.run} rejects.
   */
  runSync<O extends OutputName<S> = OutputName<S>>(feeds: Feeds<S>, options?: RunOptions<S, O>): Results<S, O> {
    const call = this.#prepare(feeds, options as UntypedRunOptions | undefined);
    const results = call.runOptions ? call.session.runSync(call.data, call.runOptions) : call.session.runSync(call.data);
    return this.#collect(results, call) as Results<S, O>;
  }

  /**
   * Releases the session. New runs reject with `SESSION_RELEASED`; runs already in flight
   * finish normally, and ONNX Runtime's memory is freed when the last of them, and the
   * last output tensor they returned, is gone. Calling it again does nothing.
   */
  release(): void {
    this.#native?.release();
    this.#native = undefined;
  }

  /** Releases the session: `await using session = await createSession(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  /**
   * Shares the session with other threads of this process: pass the number to
   * {@link attachSession} in a worker thread, which then runs the same loaded model (no
   * second copy of its weights). Sharing does not keep the session alive: once this one
   * and every attached one are released, the model is freed.
   *
   * @returns A number to pass to {@link attachSession}, e.g. through `workerData`.
   */
  share(): number {
    return this.#handle().share(this.#abortsOnEmpty ?? '');
  }

  /**
   * An I/O binding: inputs and outputs bound once, then any number of runs. Bound
   * outputs stay bound from run to run, so one model's output array can be the next
   * model's input, and a recurrent state can go round without copies.
   *
   * @example
   * ```ts
   * const binding = session.createBinding();
   * binding.bindInput('x', x).bindOutput('y', y); // y: a tensor of the output's shape
   * await binding.run();                          // y.data now holds the result
   * ```
   */
  createBinding(): IoBinding<S> {
    return new IoBinding<S>(this.#handle().createBinding(), {
      input: (name) => this.#inputSlot(name),
      output: (name) => this.#outputSlot(name),
      check: (t, slot, role) => checkAgainst(t, slot, role),
      checkDevice: (type, dims, slot, role) => checkFits(dtypeOf(type, role, slot.meta.name), dims, slot, role),
      inputNames: this.inputNames,
    });
  }

  /**
   * A batching view of this session: concurrent `run()` calls are coalesced into
   * batches along the inputs' batch axis. See {@link BatchingOptions}.
   *
   * @example
   * ```ts
   * const batched = session.batched({ maxBatchSize: 32, maxQueueDelayMicros: 2000 });
   * const results = await Promise.all(images.map((x) => batched.run({ x })));
   * ```
   */
  batched(options: BatchingOptions = {}): BatchedSession<S> {
    return new BatchedSession<S>(this, options);
  }

  /**
   * Stops profiling (see {@link SessionOptions.profiling}) and writes the profile.
   *
   * @returns The profile file's path.
   */
  endProfiling(): string {
    return this.#handle().endProfiling();
  }

  #handle(): NativeSession {
    if (!this.#native) throw new OrtError('the session has been released', 'SESSION_RELEASED');
    return this.#native;
  }

  /**
   * @internal Checks feeds as run() does, without running: for callers that hold on to
   * them first (the batcher checks each request before it joins a batch).
   */
  checkFeeds(feeds: unknown): void {
    this.#handle();
    checkFeedsObject(feeds);
    let fed = 0;
    for (const name in feeds) {
      checkAgainst(feeds[name], this.#inputSlot(name), 'input');
      fed++;
    }
    if (fed !== this.#inputs.size) throw this.#missingInputs(feeds);
  }

  #inputSlot(name: string): Slot {
    const slot = this.#inputs.get(name);
    if (!slot) {
      throw new OrtError(`the model has no input '${name}'; its inputs are: ${this.inputNames.join(', ')}`, 'INVALID_INPUT_NAME');
    }
    return slot;
  }

  #outputSlot(name: string): Slot {
    const slot = this.#outputs.get(name);
    if (!slot) {
      throw new OrtError(`the model has no output '${name}'; its outputs are: ${this.outputNames.join(', ')}`, 'INVALID_OUTPUT_NAME');
    }
    return slot;
  }

  #missingInputs(feeds: object): OrtError {
    const missing = this.inputNames.filter((n) => !Object.prototype.hasOwnProperty.call(feeds, n));
    return new OrtError(
      `missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}; the model needs: ${this.inputNames.join(', ')}`,
      'MISSING_INPUT',
    );
  }

  /** Checks feeds and options, and packs them for the native layer (native/run_job.h). */
  #prepare(feeds: unknown, options: UntypedRunOptions | undefined): PreparedRun {
    const session = this.#handle();
    checkFeedsObject(feeds);
    const header = runHeader;
    header.start(native());
    const data: unknown[] = [];
    let fed = 0;
    for (const name in feeds) {
      const slot = this.#inputSlot(name);
      const t = checkAgainst(feeds[name], slot, 'input');
      header.tensor(slot.index, slot.dtype!.onnx, t.dims);
      data.push(t.data);
      fed++;
    }
    if (fed !== this.#inputs.size) throw this.#missingInputs(feeds);
    if (!options) {
      for (const slot of this.#outputSlots) header.allocate(slot.index);
      header.finish(fed, this.#outputSlots.length);
      return { session, data, slots: this.#outputSlots, provided: undefined, runOptions: undefined };
    }
    return this.#prepareOptions(session, fed, data, options);
  }

  #prepareOptions(session: NativeSession, fed: number, data: unknown[], options: UntypedRunOptions): PreparedRun {
    if (typeof options !== 'object') throw new OrtError('run options must be an object', 'INVALID_OPTION');
    for (const key of Object.keys(options)) {
      if (!RUN_OPTION_NAMES.includes(key)) {
        throw new OrtError(`unknown run option '${key}'; valid ones are: ${RUN_OPTION_NAMES.join(', ')}`, 'INVALID_OPTION');
      }
    }
    const provided = (options.outputs ?? {}) as Record<string, PlainTensor | undefined>;
    if (typeof provided !== 'object' || provided === null) throw new OrtError('options.outputs must be an object of tensors', 'INVALID_OPTION');
    for (const name of Object.keys(provided)) this.#outputSlot(name);
    let slots = this.#outputSlots;
    if (options.outputNames !== undefined) {
      if (!Array.isArray(options.outputNames) || options.outputNames.length === 0) {
        throw new OrtError('options.outputNames must be a non-empty array of output names', 'INVALID_OPTION');
      }
      slots = options.outputNames.map((name: string) => {
        const slot = this.#outputSlot(name);
        if (!slot.dtype) {
          throw new OrtError(`output '${name}' is a ${slot.meta.kind} of ${slot.meta.type}, which onnx-native cannot return`, 'NOT_IMPLEMENTED');
        }
        return slot;
      });
      for (const name of Object.keys(provided)) {
        if (!options.outputNames.includes(name)) {
          throw new OrtError(`options.outputs has '${name}', which options.outputNames does not request`, 'INVALID_OPTION');
        }
      }
    }
    const header = runHeader;
    for (const slot of slots) {
      const t = provided[slot.meta.name];
      if (t === undefined) {
        header.allocate(slot.index);
      } else {
        const checked = checkAgainst(t, slot, 'output');
        header.tensor(slot.index, slot.dtype!.onnx, checked.dims);
        data.push(checked.data);
      }
    }
    const runOptions = nativeRunOptions(options);
    header.finish(fed, slots.length);
    return { session, data, slots, provided, runOptions };
  }

  /** Builds the results from what the native layer returned (native/run_job.h). */
  #collect(results: unknown[] | undefined, call: PreparedRun): Record<string, AnyTensor> {
    const out: Record<string, AnyTensor> = {};
    const own = results?.[0] as Float64Array | undefined;
    const meta = own ?? runHeader.buffer;
    const viewOf = own ? (dtype: DTypeInfo) => new dtype.array!(own.buffer, own.byteOffset) : headerView;
    const slots = call.slots;
    let at = 1;
    for (let i = 0; i < slots.length; i++) {
      const name = slots[i].meta.name;
      out[name] = readOutput(meta, at, results?.[i + 1], meta[0] * 8, viewOf) ?? (call.provided![name] as AnyTensor);
      at += 3 + meta[at + 1];
    }
    return out;
  }
}

/**
 * A session whose `run()` batches concurrent requests (see batching/batcher.ts). Results
 * equal those of running each request alone. Outputs come back as views into the batch's
 * output where a request's rows are contiguous (batch axis 0, nothing trimmed), copies
 * otherwise. Declared here, beside Session: each names the other in the public API
 * (`session.batched()`, `batched.session`).
 *
 * @typeParam S - The model's signature; see {@link Signature}.
 */
export class BatchedSession<S extends Signature = AnySignature> {
  /** The session the batches run on. */
  readonly session: Session<S>;
  readonly #batcher: Batcher;

  /** @internal Use {@link Session.batched}. */
  constructor(session: Session<S>, options: BatchingOptions) {
    this.session = session;
    this.#batcher = new Batcher(
      {
        inputs: session.inputs,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        checkFeeds: (feeds) => session.checkFeeds(feeds),
        run: (feeds, runOptions) => session.run(feeds as Feeds<S>, runOptions) as Promise<Record<string, AnyTensor>>,
      },
      options,
    );
  }

  /** The model's inputs. */
  get inputs(): Session<S>['inputs'] {
    return this.session.inputs;
  }

  /** The model's outputs. */
  get outputs(): Session<S>['outputs'] {
    return this.session.outputs;
  }

  /**
   * Runs one request, in a batch with whichever concurrent requests fit with it.
   *
   * @param feeds - A tensor for every input, as for {@link Session.run}; the batch axis
   *   may hold one row or several.
   * @param options - Priority, timeout, AbortSignal.
   * @returns This request's outputs only.
   * @throws {@link OrtError} (as a rejection): the codes of {@link Session.run}, and
   *   `QUEUE_FULL`, `TIMEOUT`, `ABORTED`, `SESSION_RELEASED` (after close()).
   */
  run(feeds: Feeds<S>, options: BatchedRunOptions = {}): Promise<Results<S>> {
    return this.#batcher.run(feeds as Record<string, PlainTensor>, options) as Promise<Results<S>>;
  }

  /** A snapshot of what this batching session has done. */
  stats(): BatchingStats {
    return this.#batcher.stats();
  }

  /**
   * Stops taking requests: waiting ones reject with `SESSION_RELEASED`, running batches
   * finish. The underlying session stays open.
   */
  close(): void {
    this.#batcher.close();
  }
}

/** Throws INVALID_TENSOR unless `feeds` is an object (of tensors by input name). */
function checkFeedsObject(feeds: unknown): asserts feeds is Record<string, unknown> {
  if (typeof feeds !== 'object' || feeds === null) {
    throw new OrtError(`feeds must be an object of tensors by input name, got ${feeds === null ? 'null' : typeof feeds}`, 'INVALID_TENSOR');
  }
}

/** Views of the run header, for outputs that came back inline in it. */
const headerView = (dtype: DTypeInfo) => runHeader.view(dtype);

interface PreparedRun {
  session: NativeSession;
  data: unknown[];
  slots: readonly Slot[];
  provided: Record<string, PlainTensor | undefined> | undefined;
  runOptions: InstanceType<ReturnType<typeof native>['RunOptions']> | undefined;
}

/**
 * Loads a model. Loading (parsing, graph optimization, weight prepacking) runs off the
 * JavaScript thread.
 *
 * @typeParam S - The model's signature, to type `run`; see {@link Signature}. Print it
 *   with `npx onnx-native inspect MODEL --types`.
 * @param model - An .onnx file's path, or its bytes.
 * @param options - Threads, graph optimization, execution providers, and more.
 * @returns The session.
 * @throws {@link OrtError} (as a rejection): `MODEL_NOT_FOUND`, `MODEL_LOAD_FAILED` (with
 *   ONNX Runtime's code in `ortCode`), `INVALID_OPTION`, `PROVIDER_UNAVAILABLE`,
 *   `RUNTIME_LOAD_FAILED`.
 * @example
 * ```ts
 * import { createSession, tensor } from 'onnx-native';
 * await using session = await createSession('model.onnx', { intraOpNumThreads: 2 });
 * const results = await session.run({ input: tensor('float32', data, [1, 3, 224, 224]) });
 * ```
 */
export async function createSession<S extends Signature = AnySignature>(
  model: string | Uint8Array,
  options: SessionOptions & { batching: BatchingOptions },
): Promise<BatchedSession<S>>;
export async function createSession<S extends Signature = AnySignature>(model: string | Uint8Array, options?: SessionOptions): Promise<Session<S>>;
export async function createSession<S extends Signature = AnySignature>(
  model: string | Uint8Array,
  options: SessionOptions & { batching?: BatchingOptions } = {},
): Promise<Session<S> | BatchedSession<S>> {
  if (typeof options !== 'object' || options === null) {
    throw new OrtError('options must be an object', 'INVALID_OPTION');
  }
  const { batching, ...sessionOptions } = options;
  const session = await loadSession<S>(model, sessionOptions);
  return batching === undefined ? session : session.batched(batching);
}

async function loadSession<S extends Signature>(model: string | Uint8Array, options: SessionOptions): Promise<Session<S>> {
  loadRuntime(options.runtimePath);
  const skipped: { provider: string; reason: string }[] = [];
  const nativeOptions = toNativeOptions(options, availableProviders(), skipped);
  let source: string | Uint8Array;
  let what: string;
  if (typeof model === 'string') {
    const info = await stat(model).catch(() => undefined);
    if (!info?.isFile()) throw new OrtError(`no model file at ${model}`, 'MODEL_NOT_FOUND');
    source = model;
    what = model;
  } else if (model instanceof Uint8Array) {
    if (model.byteLength === 0) throw new OrtError('the model buffer is empty', 'MODEL_LOAD_FAILED');
    what = `a ${model.byteLength}-byte buffer`;
    source = await ownCopy(model);
  } else {
    throw new OrtError(`model must be a file path or a Uint8Array, got ${typeof model}`, 'INVALID_ARGUMENT');
  }
  try {
    // The scan for operators ONNX Runtime aborts on runs beside the load, and never rejects.
    const [{ session, info }, aborts] = await Promise.all([native().createSession(source, nativeOptions), abortsOnEmpty(source)]);
    info.skippedProviders = [...skipped, ...(info.skippedProviders ?? [])];
    return new Session<S>(session, info, nativeOptions.intraOpNumThreads, aborts);
  } catch (err) {
    if (!isOrtError(err)) throw err;
    // A provider that would not start is not the model's fault.
    if (err.code === 'EP_FAIL') {
      throw new OrtError(
        `${err.message.trim()}\nThe GPU providers need ONNX Runtime's provider libraries beside its own ` +
          '(libonnxruntime_providers_shared, _cuda, _tensorrt), CUDA 12 and cuDNN 9 (and TensorRT 10) where the ' +
          "dynamic loader finds them, and a GPU. Mark the provider { optional: true } to go on without it.",
        'EP_FAIL',
      );
    }
    throw new OrtError(`cannot load the model from ${what}: ${err.message}`, 'MODEL_LOAD_FAILED', err.code as OrtStatusCode);
  }
}

/** How much of a model's bytes ownCopy() copies per turn of the event loop (a few ms). */
const COPY_CHUNK_BYTES = 16 << 20;

/**
 * A copy of a model's bytes that only the load reads. ONNX Runtime reads them on another
 * thread, for as long as loading takes, and N-API cannot pin a caller's buffer: one
 * transferred (or detached) meanwhile would be freed under it. Copied a chunk per turn,
 * so that a large model does not hold up the event loop; a buffer detached or shrunk
 * between two chunks is refused. A SharedArrayBuffer cannot be detached or shrink, and is
 * read where it is.
 */
async function ownCopy(bytes: Uint8Array): Promise<Uint8Array> {
  const buffer = typedArrayBuffer.call(bytes);
  if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) return bytes;
  const offset = typedArrayByteOffset.call(bytes);
  const length = typedArrayByteLength.call(bytes);
  const copy = new Uint8Array(length);
  for (let at = 0; at < length; at += COPY_CHUNK_BYTES) {
    if (at > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (typedArrayByteLength.call(bytes) !== length) {
        throw new OrtError('the model buffer was detached or resized while it was being read', 'INVALID_ARGUMENT');
      }
    }
    const end = Math.min(length, at + COPY_CHUNK_BYTES);
    copy.set(new Uint8Array(buffer, offset + at, end - at), at);
  }
  return copy;
}

/**
 * Attaches to a session that another thread of this process shared with
 * {@link Session.share}: the same loaded model, run from this thread.
 *
 * @param handle - The number `share()` returned.
 * @returns A session of this thread's own, over the shared model.
 * @throws {@link OrtError} `SESSION_RELEASED` when every holder of the model has
 *   released it; `INVALID_ARGUMENT` for a number nothing was shared under.
 * @example
 * ```ts
 * // main thread
 * new Worker('./worker.js', { workerData: { model: session.share() } });
 * // worker.js
 * const session = attachSession(workerData.model);
 * ```
 */
export function attachSession<S extends Signature = AnySignature>(handle: number): Session<S> {
  if (!Number.isSafeInteger(handle) || handle < 1) {
    throw new OrtError(`attachSession takes the number share() returned, got ${String(handle)}`, 'INVALID_ARGUMENT');
  }
  const { session, info, abortsOnEmpty } = native().attachSession(handle);
  return new Session<S>(session, info, 0, abortsOnEmpty || undefined);
}
