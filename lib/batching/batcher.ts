/**
 * The folder batching/ is the dynamic batcher, over any runner it is given (a session,
 * through runtime/session.ts's BatchedSession): its queue and scheduling here, the
 * gather and scatter of batch tensors (batch-tensors.ts) and its statistics
 * (batch-stats.ts). It imports only core/.
 *
 * Dynamic batching: concurrent requests to one session are coalesced into batches along
 * the inputs' batch axis, as Triton's dynamic batcher does. A batch closes when it is
 * full, when it reaches a preferred size, or when its oldest request has waited long
 * enough; requests whose other dimensions differ never share one.
 */
import { type DTypeInfo, dtypeByName, type TensorData } from '../core/dtypes';
import { OrtError, abortError, isOrtError } from '../core/errors';
import { copyBlock, sliceBlock } from './batch-tensors';
import { type BatchingStats, LatencyRecorder } from './batch-stats';
import { checkKeys } from '../core/check-keys';
import { type AnyTensor, type PlainTensor, elementCount } from '../core/tensor';

/** Options of `session.batched()` (or of createSession's `batching` option). */
export interface BatchingOptions {
  /** Most rows (along the batch axis) in one batch. Default: 32. */
  maxBatchSize?: number;
  /**
   * Longest a request waits for others to join its batch, in microseconds. Default:
   * 1000. (Timers in Node have a resolution of about a millisecond.)
   */
  maxQueueDelayMicros?: number;
  /** Batch sizes to close a batch at as soon as they are reached. Default: none. */
  preferredBatchSizes?: readonly number[];
  /** Most requests waiting at once; more are rejected with `QUEUE_FULL`. Default: no limit. */
  maxQueueSize?: number;
  /** Default timeout of each request, in milliseconds (`TIMEOUT`), from arrival to result. Default: none. */
  timeoutMs?: number;
  /**
   * Default timeout of each request in the queue, in milliseconds (`TIMEOUT`): one whose
   * batch has not started by then is dropped; once it runs it is not (Triton's
   * `default_timeout_microseconds`). Default: none.
   */
  queueTimeoutMs?: number;
  /** Batches run at once. Default: 1, so that requests gather while a batch runs. */
  maxInFlight?: number;
  /**
   * The batch axis of each input. Default: axis 0 for inputs whose first dimension is
   * dynamic. `null` marks an input that is not batched: requests share a batch only when
   * their values of it are equal (Silero VAD's sample rate, say).
   */
  batchAxes?: Readonly<Record<string, number | null>>;
  /** The batch axis of each output. Default: 0. */
  outputBatchAxes?: Readonly<Record<string, number>>;
  /**
   * Variable-length dimensions. Off by default: requests whose non-batch dimensions
   * differ wait for batches of their own.
   */
  padding?: {
    /** Inputs whose dimension `axis` may differ between requests: padded with `value` (default 0) to the longest in the batch. */
    inputs: Readonly<Record<string, { axis: number; value?: number | bigint | string }>>;
    /** Outputs to cut back along `axis` to the length the request's own `lengthOf.input` had along `lengthOf.axis`. */
    outputs?: Readonly<Record<string, { axis: number; lengthOf: { input: string; axis: number } }>>;
  };
}

/** Options of one `BatchedSession.run()`. */
export interface BatchedRunOptions {
  /** Cancels the request: it leaves the queue (or its batch's results) with `ABORTED`. */
  signal?: AbortSignal;
  /** Lower numbers are served first; requests of equal priority in arrival order. Default: 0. */
  priority?: number;
  /** This request's timeout in milliseconds (`TIMEOUT`); overrides the session's. */
  timeoutMs?: number;
  /** This request's timeout in the queue, in milliseconds (`TIMEOUT`); overrides the session's `queueTimeoutMs`. */
  queueTimeoutMs?: number;
  /** Called when the request's batch starts, with how long it waited in the queue (ms). */
  onStart?: (queuedMs: number) => void;
}

const OPTION_NAMES = [
  'maxBatchSize',
  'maxQueueDelayMicros',
  'preferredBatchSizes',
  'maxQueueSize',
  'timeoutMs',
  'queueTimeoutMs',
  'maxInFlight',
  'batchAxes',
  'outputBatchAxes',
  'padding',
];

/** How one input takes part in batches. */
interface InputPlan {
  name: string;
  dtype: DTypeInfo;
  /** The batch axis, or null for an input every request in a batch must agree on. */
  axis: number | null;
  /** The padded axis and its value, if any. */
  pad?: { axis: number; value: number | bigint | string };
}

interface Request {
  feeds: Record<string, PlainTensor>;
  /** Rows along the batch axis. */
  rows: number;
  /** Requests with equal keys may share a batch. */
  key: string;
  priority: number;
  arrived: number;
  settled: boolean;
  /** Whether it has a timeout or a signal: whether it may be dropped while it runs. */
  droppable: boolean;
  /**
   * Set while the session runs the request's own feeds (alone in its batch, or retried
   * alone): dropping it then stops that run, and the request settles once ONNX Runtime
   * has stopped reading the caller's arrays.
   */
  stop?: AbortController;
  /** Why it was dropped while its run could not be left yet. */
  dropped?: OrtError;
  resolve(results: Record<string, AnyTensor>): void;
  reject(error: unknown): void;
  cleanup(): void;
  /** Called when its batch starts: ends its queue timeout, tells the caller. */
  started(queuedMs: number): void;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new OrtError(`batching.${name} must be a positive integer, got ${String(value)}`, 'INVALID_OPTION');
  }
  return value as number;
}

/**
 * @internal What a {@link Batcher} runs its batches on: a session, as seen from below it
 * (runtime/session.ts's BatchedSession hands it its Session).
 */
export interface BatchRunner {
  readonly inputs: readonly { readonly name: string; readonly kind: string; readonly type: string; readonly dims: readonly (number | string | null)[] }[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Throws what run() would reject with for these feeds, without running. */
  checkFeeds(feeds: unknown): void;
  run(feeds: Record<string, PlainTensor>, options?: { signal: AbortSignal }): Promise<Record<string, AnyTensor>>;
}

/**
 * @internal The dynamic batcher: a queue of requests, and batches made of them and run on
 * a {@link BatchRunner}. Results equal those of running each request alone. Outputs come
 * back as views into the batch's output where a request's rows are contiguous (batch axis
 * 0, nothing trimmed), copies otherwise. The public face is runtime/session.ts's
 * BatchedSession.
 */
export class Batcher {
  readonly #runner: BatchRunner;
  readonly #maxBatchSize: number;
  readonly #maxDelayMs: number;
  readonly #preferred: readonly number[];
  readonly #maxQueueSize: number;
  readonly #timeoutMs: number | undefined;
  readonly #queueTimeoutMs: number | undefined;
  readonly #maxInFlight: number;
  readonly #inputs: readonly InputPlan[];
  readonly #outputAxes: Readonly<Record<string, number>>;
  readonly #trims: NonNullable<BatchingOptions['padding']>['outputs'];

  /** Waiting requests, most urgent first: by priority, then in order of arrival. */
  #queue: Request[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #closed = false;
  /** Gather buffers by input name, kept for the next batch (one copy per batch is all batching needs). */
  #buffers = new Map<string, TensorData[]>();

  #stats = {
    requests: 0,
    completed: 0,
    failed: 0,
    rejected: { invalid: 0, queueFull: 0, timeout: 0, aborted: 0, closed: 0 },
    batches: 0,
    retriedBatches: 0,
    batchSizes: {} as Record<number, number>,
  };
  #queueTime = new LatencyRecorder();
  #runTime = new LatencyRecorder();

  constructor(runner: BatchRunner, options: BatchingOptions) {
    if (typeof options !== 'object' || options === null) throw new OrtError('batching options must be an object', 'INVALID_OPTION');
    checkKeys(options, OPTION_NAMES, 'batching option');
    this.#runner = runner;
    this.#maxBatchSize = positiveInteger('maxBatchSize', options.maxBatchSize, 32);
    const delay = options.maxQueueDelayMicros ?? 1000;
    if (typeof delay !== 'number' || !(delay >= 0)) throw new OrtError('batching.maxQueueDelayMicros must be a number >= 0', 'INVALID_OPTION');
    this.#maxDelayMs = delay / 1000;
    this.#preferred = [...(options.preferredBatchSizes ?? [])].map((n) => positiveInteger('preferredBatchSizes[]', n, 1)).sort((a, b) => a - b);
    this.#maxQueueSize = options.maxQueueSize === undefined ? Infinity : positiveInteger('maxQueueSize', options.maxQueueSize, 1);
    this.#timeoutMs = options.timeoutMs;
    if (this.#timeoutMs !== undefined && !(this.#timeoutMs > 0)) throw new OrtError('batching.timeoutMs must be a number > 0', 'INVALID_OPTION');
    this.#queueTimeoutMs = options.queueTimeoutMs;
    if (this.#queueTimeoutMs !== undefined && !(this.#queueTimeoutMs > 0)) throw new OrtError('batching.queueTimeoutMs must be a number > 0', 'INVALID_OPTION');
    this.#maxInFlight = positiveInteger('maxInFlight', options.maxInFlight, 1);
    this.#outputAxes = options.outputBatchAxes ?? {};
    this.#trims = options.padding?.outputs;
    this.#inputs = this.#planInputs(options);
    for (const name of Object.keys(this.#outputAxes)) {
      if (!runner.outputNames.includes(name)) throw new OrtError(`batching.outputBatchAxes names no output '${name}'`, 'INVALID_OPTION');
    }
    for (const [name, trim] of Object.entries(this.#trims ?? {})) {
      if (!runner.outputNames.includes(name)) throw new OrtError(`batching.padding.outputs names no output '${name}'`, 'INVALID_OPTION');
      if (!this.#inputs.some((p) => p.name === trim.lengthOf.input)) {
        throw new OrtError(`batching.padding.outputs.${name}.lengthOf names no input '${trim.lengthOf.input}'`, 'INVALID_OPTION');
      }
    }
  }

  #planInputs(options: BatchingOptions): InputPlan[] {
    const axes = options.batchAxes ?? {};
    const pads = options.padding?.inputs ?? {};
    for (const name of [...Object.keys(axes), ...Object.keys(pads)]) {
      if (!this.#runner.inputNames.includes(name)) throw new OrtError(`batching options name no input '${name}'`, 'INVALID_OPTION');
    }
    const plans = this.#runner.inputs.map((input): InputPlan => {
      const dtype = dtypeByName.get(input.type);
      if (!dtype || input.kind !== 'tensor') {
        throw new OrtError(`input '${input.name}' is a ${input.kind} of ${input.type}, which cannot be batched`, 'NOT_IMPLEMENTED');
      }
      let axis: number | null;
      if (input.name in axes) {
        axis = axes[input.name];
        if (axis !== null && !(Number.isInteger(axis) && axis >= 0 && axis < Math.max(1, input.dims.length))) {
          throw new OrtError(`batching.batchAxes.${input.name} must be an axis of its ${input.dims.length} dimensions, or null`, 'INVALID_OPTION');
        }
      } else {
        axis = input.dims.length > 0 && typeof input.dims[0] !== 'number' ? 0 : null;
      }
      const pad = pads[input.name];
      if (pad && (!Number.isInteger(pad.axis) || pad.axis === axis || pad.axis < 0 || pad.axis >= input.dims.length)) {
        throw new OrtError(`batching.padding.inputs.${input.name}.axis must be one of its axes other than the batch axis`, 'INVALID_OPTION');
      }
      return {
        name: input.name,
        dtype,
        axis,
        pad: pad && { axis: pad.axis, value: pad.value ?? (dtype.name === 'string' ? '' : dtype.name.endsWith('64') && dtype.name.includes('int') ? 0n : 0) },
      };
    });
    if (!plans.some((p) => p.axis !== null)) {
      throw new OrtError(
        `no input of the model has a dynamic first dimension to batch along (inputs: ${this.#runner.inputs.map((i) => `${i.name} [${i.dims.join(', ')}]`).join(', ')}); name one with batchAxes`,
        'INVALID_OPTION',
      );
    }
    return plans;
  }

  /** Runs one request, in a batch with whichever concurrent requests fit with it (BatchedSession.run). */
  run(feeds: Record<string, PlainTensor>, options: BatchedRunOptions = {}): Promise<Record<string, AnyTensor>> {
    return new Promise((resolve, reject) => {
      const request = this.#admit(feeds, options, resolve, reject);
      if (!request) return;
      this.#enqueue(request);
      this.#stats.requests++;
      this.#schedule();
    });
  }

  /** A snapshot of what this batching session has done. */
  stats(): BatchingStats {
    const s = this.#stats;
    return {
      ...s,
      rejected: { ...s.rejected },
      batchSizes: { ...s.batchSizes },
      queueTimeMs: this.#queueTime.summary(),
      runTimeMs: this.#runTime.summary(),
      queued: this.#queue.length,
      inFlight: this.#inFlight,
    };
  }

  /** Stops taking requests (BatchedSession.close). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const request of this.#queue.splice(0)) {
      this.#stats.rejected.closed++;
      this.#settle(request, closedError());
    }
  }

  /** Checks a request and works out its batch key; rejects it and returns undefined when it cannot join. */
  #admit(feeds: Record<string, PlainTensor>, options: BatchedRunOptions, resolve: Request['resolve'], reject: (e: unknown) => void): Request | undefined {
    const refuse = (error: unknown, counter: keyof BatchingStats['rejected']) => {
      this.#stats.rejected[counter]++;
      reject(error);
      return undefined;
    };
    if (this.#closed) return refuse(closedError(), 'closed');
    if (options.signal?.aborted) return refuse(abortError(options.signal, 'request'), 'aborted');
    let rows = -1;
    const key: string[] = [];
    try {
      this.#runner.checkFeeds(feeds);
      for (const plan of this.#inputs) {
        const t = feeds[plan.name];
        if (plan.axis === null) {
          // Not batched: the whole value is part of the key.
          key.push(`${t.dims.join('x')}=${valueKey(t)}`);
          continue;
        }
        const n = t.dims[plan.axis];
        if (rows === -1) rows = n;
        else if (n !== rows) {
          throw new OrtError(`input '${plan.name}' has ${n} rows along its batch axis ${plan.axis}, other inputs ${rows}`, 'INVALID_SHAPE');
        }
        key.push(t.dims.map((d, a) => (a === plan.axis ? '*' : a === plan.pad?.axis ? '~' : d)).join('x'));
      }
      if (rows < 1 || rows > this.#maxBatchSize) {
        throw new OrtError(`a request must have 1 to maxBatchSize (${this.#maxBatchSize}) rows along the batch axis, this one has ${rows}`, 'INVALID_SHAPE');
      }
    } catch (err) {
      return refuse(err, 'invalid');
    }
    if (this.#queue.length >= this.#maxQueueSize) {
      return refuse(new OrtError(`the batching queue is full (maxQueueSize ${this.#maxQueueSize})`, 'QUEUE_FULL'), 'queueFull');
    }
    const request: Request = {
      feeds,
      rows,
      key: key.join('|'),
      priority: options.priority ?? 0,
      arrived: performance.now(),
      settled: false,
      droppable: options.signal !== undefined || (options.timeoutMs ?? this.#timeoutMs) !== undefined,
      resolve,
      reject,
      cleanup: () => undefined,
      started: () => undefined,
    };
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const queueTimeoutMs = options.queueTimeoutMs ?? this.#queueTimeoutMs;
    let queueTimer =
      queueTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            this.#stats.rejected.timeout++;
            this.#drop(request, new OrtError(`the request waited in the queue for ${queueTimeoutMs} ms, its timeout`, 'TIMEOUT'));
          }, queueTimeoutMs);
    const onStart = options.onStart;
    request.started = (queuedMs) => {
      clearTimeout(queueTimer);
      queueTimer = undefined;
      onStart?.(queuedMs);
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            this.#stats.rejected.timeout++;
            this.#drop(request, new OrtError(`the request timed out after ${timeoutMs} ms`, 'TIMEOUT'));
          }, timeoutMs);
    const signal = options.signal;
    const onAbort = () => {
      this.#stats.rejected.aborted++;
      this.#drop(request, abortError(signal!, 'request'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    request.cleanup = () => {
      clearTimeout(timer);
      clearTimeout(queueTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    return request;
  }

  /** Queues a request behind every one of its priority or a more urgent one. */
  #enqueue(request: Request): void {
    let low = 0;
    let high = this.#queue.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#queue[mid].priority <= request.priority) low = mid + 1;
      else high = mid;
    }
    this.#queue.splice(low, 0, request);
  }

  /**
   * Takes a request out, wherever it is: out of the queue, out of its running batch's
   * results (the batch reads copies of its feeds), or, when the session is reading its own
   * feeds, out of that run once it has stopped.
   */
  #drop(request: Request, error: OrtError): void {
    if (request.stop) {
      request.dropped = error;
      request.stop.abort();
      return;
    }
    const at = this.#queue.indexOf(request);
    if (at !== -1) this.#queue.splice(at, 1);
    this.#settle(request, error);
  }

  /** Runs a request's own feeds, stoppable by #drop. */
  async #runAlone(request: Request): Promise<Record<string, AnyTensor>> {
    request.stop = request.droppable ? new AbortController() : undefined;
    try {
      return await this.#runner.run(request.feeds, request.stop && { signal: request.stop.signal });
    } finally {
      request.stop = undefined;
    }
  }

  #settle(request: Request, outcome: OrtError | Record<string, AnyTensor>): void {
    if (request.settled) return;
    request.settled = true;
    request.cleanup();
    if (outcome instanceof Error) request.reject(outcome);
    else request.resolve(outcome);
  }

  /** Starts every batch that is ready, and sets a timer for the next one that will be. */
  #schedule(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#nextBatch();
      if (!batch) break;
      void this.#runBatch(batch);
    }
    this.#armTimer();
  }

  /** The most urgent group's batch if it is ready to go, else another group's that is. */
  #nextBatch(): Request[] | undefined {
    const seen = new Set<string>();
    const now = performance.now();
    for (const head of this.#queue) {
      if (seen.has(head.key)) continue;
      seen.add(head.key);
      const group = this.#queue.filter((r) => r.key === head.key);
      const batch: Request[] = [];
      let rows = 0;
      for (const r of group) {
        if (rows + r.rows > this.#maxBatchSize) break;
        batch.push(r);
        rows += r.rows;
      }
      const full = rows === this.#maxBatchSize || batch.length < group.length;
      const oldest = earliestArrival(group);
      if (full || now - oldest >= this.#maxDelayMs) return this.#take(batch);
      // A preferred size reached: close the batch at the largest one it can fill exactly.
      for (let p = this.#preferred.length - 1; p >= 0; p--) {
        let sum = 0;
        let count = 0;
        while (count < batch.length && sum + batch[count].rows <= this.#preferred[p]) sum += batch[count++].rows;
        if (sum === this.#preferred[p]) return this.#take(batch.slice(0, count));
      }
    }
    return undefined;
  }

  #take(batch: Request[]): Request[] {
    const taken = new Set(batch);
    this.#queue = this.#queue.filter((r) => !taken.has(r));
    return batch;
  }

  #armTimer(): void {
    if (this.#queue.length === 0 || this.#inFlight >= this.#maxInFlight) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    const due = earliestArrival(this.#queue) + this.#maxDelayMs;
    if (this.#timer && due >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#schedule();
    }, Math.max(0, due - performance.now()));
  }

  async #runBatch(batch: Request[]): Promise<void> {
    this.#inFlight++;
    const started = performance.now();
    for (const r of batch) {
      this.#queueTime.add(started - r.arrived);
      r.started(started - r.arrived);
    }
    const rows = batch.reduce((n, r) => n + r.rows, 0);
    this.#stats.batches++;
    this.#stats.batchSizes[rows] = (this.#stats.batchSizes[rows] ?? 0) + 1;
    const buffers: [string, TensorData][] = [];
    try {
      if (batch.length === 1) {
        // Alone, a request is its own batch: its feeds run as they are, and every output
        // is its own (nothing was padded), so nothing is gathered or copied.
        this.#complete(batch[0], await this.#runAlone(batch[0]));
        return;
      }
      const feeds = this.#gather(batch, rows, buffers);
      let results: Record<string, AnyTensor>;
      try {
        results = await this.#runner.run(feeds);
      } finally {
        for (const [name, buffer] of buffers) this.#releaseBuffer(name, buffer);
      }
      this.#scatter(batch, rows, results);
    } catch (err) {
      if (batch.length === 1 || !isOrtError(err)) {
        for (const r of batch) this.#fail(r, err);
      } else {
        // Which request broke the batch? Run each alone, so only that one fails.
        this.#stats.retriedBatches++;
        // (Not those already dropped: they were told their feeds are theirs again.)
        await Promise.all(
          batch.filter((r) => !r.settled).map((r) =>
            this.#runAlone(r).then(
              (own) => this.#complete(r, own),
              (error: unknown) => this.#fail(r, error),
            ),
          ),
        );
      }
    } finally {
      this.#runTime.add(performance.now() - started);
      this.#inFlight--;
      if (!this.#closed) this.#schedule();
    }
  }

  #complete(request: Request, results: Record<string, AnyTensor>): void {
    if (request.settled) return;
    if (request.dropped) return this.#settle(request, request.dropped);
    this.#stats.completed++;
    this.#settle(request, results);
  }

  #fail(request: Request, error: unknown): void {
    if (request.settled) return;
    if (request.dropped) return this.#settle(request, request.dropped);
    this.#stats.failed++;
    this.#settle(request, isOrtError(error) ? error : new OrtError(String(error), 'FAIL'));
  }

  /**
   * The batch's feeds: batched inputs concatenated (and padded) into one buffer each.
   * Batches of one request never come here (#runBatch runs them as they are).
   */
  #gather(batch: Request[], rows: number, buffers: [string, TensorData][]): Record<string, PlainTensor> {
    const feeds: Record<string, PlainTensor> = {};
    for (const plan of this.#inputs) {
      const first = batch[0].feeds[plan.name];
      if (plan.axis === null) {
        // Copied too (it is small): the first request may be dropped while the batch runs.
        feeds[plan.name] = { type: first.type, dims: first.dims, data: first.data.slice() } as PlainTensor;
        continue;
      }
      const axis = plan.axis;
      const dims = first.dims.slice();
      dims[axis] = rows;
      if (plan.pad) dims[plan.pad.axis] = batch.reduce((n, r) => Math.max(n, r.feeds[plan.name].dims[plan.pad!.axis]), 0);
      const data = this.#takeBuffer(plan, elementCount(dims));
      buffers.push([plan.name, data]);
      if (plan.pad) (data as { fill(v: unknown): unknown }).fill(plan.pad.value);
      const offsets = new Array<number>(dims.length).fill(0);
      for (const r of batch) {
        const t = r.feeds[plan.name];
        copyBlock(t.data, t.dims, new Array<number>(t.dims.length).fill(0), data, dims, offsets, t.dims);
        offsets[axis] += t.dims[axis];
      }
      feeds[plan.name] = { type: plan.dtype.name, dims, data } as PlainTensor;
    }
    return feeds;
  }

  /** A buffer of exactly `length` elements for `plan`'s input, from the ones kept for reuse if one fits. */
  #takeBuffer(plan: InputPlan, length: number): TensorData {
    const free = this.#buffers.get(plan.name) ?? [];
    const at = free.findIndex((b) => b.length >= length);
    if (at !== -1 && !Array.isArray(free[at])) {
      const [buffer] = free.splice(at, 1);
      return (buffer as Float32Array).subarray(0, length) as TensorData;
    }
    const capacity = plan.dtype.array ? Math.max(length, 1) : length;
    return plan.dtype.array ? (new plan.dtype.array(capacity) as TensorData) : new Array<string>(length);
  }

  #releaseBuffer(name: string, buffer: TensorData): void {
    if (Array.isArray(buffer)) return;
    const whole = new ((buffer as Float32Array).constructor as new (b: ArrayBufferLike) => TensorData)((buffer as Float32Array).buffer);
    const free = this.#buffers.get(name) ?? [];
    if (free.length < this.#maxInFlight) free.push(whole);
    this.#buffers.set(name, free);
  }

  /** Each request's share of the batch's outputs. */
  #scatter(batch: Request[], rows: number, results: Record<string, AnyTensor>): void {
    let offset = 0;
    for (const r of batch) {
      const own: Record<string, AnyTensor> = {};
      for (const [name, t] of Object.entries(results)) {
        const axis = this.#outputAxes[name] ?? 0;
        if (t.dims.length <= axis || t.dims[axis] !== rows) {
          // Not batched along that axis (a constant, say): every request gets all of it.
          own[name] = t;
          continue;
        }
        const trim = this.#trims?.[name];
        const block = sliceBlock(
          t.data,
          t.dims,
          axis,
          offset,
          r.rows,
          trim && { axis: trim.axis, length: r.feeds[trim.lengthOf.input].dims[trim.lengthOf.axis] },
        );
        own[name] = { type: t.type, dims: block.dims, data: block.data } as AnyTensor;
      }
      offset += r.rows;
      this.#complete(r, own);
    }
  }
}

/** What requests get once the batching session is closed. */
function closedError(): OrtError {
  return new OrtError('the batching session was closed', 'SESSION_RELEASED');
}

/** When the longest-waiting of `requests` arrived (a loop: queues can outgrow spread arguments). */
function earliestArrival(requests: readonly Request[]): number {
  let earliest = Infinity;
  for (const r of requests) earliest = Math.min(earliest, r.arrived);
  return earliest;
}

/** A short key for a (small, unbatched) tensor's values. */
function valueKey(t: PlainTensor): string {
  const data = t.data as ArrayLike<unknown>;
  if (data.length > 64) {
    throw new OrtError('an input that is not batched must be small (64 elements at most) so that requests can be matched on it', 'INVALID_SHAPE');
  }
  return Array.from(data, String).join(',');
}
