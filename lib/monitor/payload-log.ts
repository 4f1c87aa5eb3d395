/**
 * Payload logging, as KServe's logger does it (an InferenceService's `logger:` with
 * `mode: all`): the request and the response of each sampled inference sent as
 * CloudEvents (cloud-events.ts) to one or more sinks (payload-sinks.ts), off the request
 * path.
 *
 * {@link PayloadLogger.log} is synchronous and cheap whatever the tensors' size: it draws
 * whether to sample the request, builds the two events (an id, the attributes,
 * references to the tensors), puts them in each sink's queue and returns; the JSON is
 * written later, when a sink takes the event. Each sink has its own queue of at most
 * `maxQueued` events, so a sink that is slow, hung or down fills its own queue and
 * drops, and the others go on. Nothing waits on a sink: an event that does not fit is
 * dropped and counted (`queue_full`), as is one that the sink fails (`error`) or does
 * not take in time (`timeout`), and those still queued or in flight when
 * {@link PayloadLogger.close} runs out of time (`closed`). KServe's logger blocks the
 * request instead, on a channel of 100 (pkg/logger/worker.go, QueueLogRequest).
 *
 * What is held, per sink: at most `maxQueued` events queued and the sink's
 * `maxInFlight` being sent; an event holds its inference's tensors until every sink
 * has taken it (or dropped it), then its JSON text until the last sink is done.
 */
import { hostname } from 'node:os';
import { checkKeys } from '../core/check-keys';
import { OrtError } from '../core/errors';
import type { InferRequest, InferResponse } from '../server/protocol/types';
import { type InferenceMeta, type PayloadEvent, type PayloadEventSource, type PayloadEventType, payloadEvents } from './cloud-events';
import { type PayloadSink, PayloadSinkError, describe, optionError } from './payload-sinks';

/** Why an event was not delivered to a sink. */
export type DropReason = 'queue_full' | 'error' | 'timeout' | 'closed';

/** Every {@link DropReason}, for metrics that set their series up front. */
export const DROP_REASONS: readonly DropReason[] = Object.freeze(['queue_full', 'error', 'timeout', 'closed'] as const);

/** Which events of an inference are logged (KServe's logger `mode`). */
export type PayloadLogMode = 'all' | 'request' | 'response';

/** An event a sink did not get, as {@link PayloadLoggerOptions.onDrop} is told. */
export interface PayloadDrop {
  /** The sink's name. */
  readonly sink: string;
  readonly reason: DropReason;
  /** The event's (and its inference's) id. */
  readonly id: string;
  readonly type: PayloadEventType;
  /** What the sink failed with, for `error` and `timeout`. */
  readonly error?: Error;
}

/** Options of a {@link PayloadLogger}. */
export interface PayloadLoggerOptions {
  /** Where events go: one or more sinks, of distinct names. */
  readonly sinks: readonly PayloadSink[];
  /**
   * The share of requests logged, from 0 to 1 (default 1: all). Drawn once per request,
   * so a request's two events are both logged or neither.
   */
  readonly sampleRate?: number;
  /** Most events queued per sink, besides those in flight (default 1000). At least the events of one inference (2 with `mode` `all`). */
  readonly maxQueued?: number;
  /** Which events to log (default `all`: request and response). */
  readonly mode?: PayloadLogMode;
  /** The CloudEvents `source` (default `urn:onnx-native:HOSTNAME`). */
  readonly source?: string;
  /** The `inferenceservicename` extension (default: each inference's model name). */
  readonly inferenceService?: string;
  /** The `namespace` extension (default: none). */
  readonly namespace?: string;
  /** The `component` extension (default: none). */
  readonly component?: string;
  /** The `endpoint` extension (default: none). */
  readonly endpoint?: string;
  /**
   * Request headers to copy into the `metadata` extension, as KServe's `metadataHeaders`
   * does: a JSON object of each one present (named as given here) to its values.
   * Default: none, and no `metadata`.
   */
  readonly metadataHeaders?: readonly string[];
  /** Told of each event dropped, as it is dropped (on the request path for `queue_full`): keep it cheap. Errors it throws are ignored. */
  readonly onDrop?: (drop: PayloadDrop) => void;
  /** Uniform numbers in [0, 1) for sampling (default Math.random). */
  readonly random?: () => number;
}

const LOGGER_KEYS = [
  'sinks', 'sampleRate', 'maxQueued', 'mode', 'source', 'inferenceService', 'namespace', 'component', 'endpoint', 'metadataHeaders', 'onDrop', 'random',
] as const;

/** One sink's counts. */
export interface PayloadSinkStats {
  /** Events delivered. */
  readonly sent: number;
  /** Events waiting now. */
  readonly queued: number;
  /** Events being sent now. */
  readonly inFlight: number;
  /** Events dropped, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
}

/**
 * What a logger has done. For each sink, the events of sampled requests are all
 * accounted for: sent + queued + in flight + dropped of every reason.
 */
export interface PayloadLogStats {
  /** Requests {@link PayloadLogger.log} was called with. */
  readonly requests: number;
  /** Of those, the ones sampled. */
  readonly sampled: number;
  /** Each sink's counts, by its name. */
  readonly sinks: Readonly<Record<string, PayloadSinkStats>>;
}

/** One sink and its queue. */
class Lane {
  readonly sink: PayloadSink;
  /** A queue as an array and the index of its head, compacted now and then (shift() is O(n)). */
  #items: (PayloadEvent | undefined)[] = [];
  #head = 0;
  /** Sends unsettled, each by its token; close() writes them off by emptying it. */
  readonly live = new Set<{ readonly event: PayloadEvent }>();
  sent = 0;
  readonly dropped: Record<DropReason, number> = { queue_full: 0, error: 0, timeout: 0, closed: 0 };

  constructor(sink: PayloadSink) {
    this.sink = sink;
  }

  get queued(): number {
    return this.#items.length - this.#head;
  }

  push(event: PayloadEvent): void {
    this.#items.push(event);
  }

  shift(): PayloadEvent | undefined {
    if (this.#head === this.#items.length) return undefined;
    const event = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return event;
  }
}

/**
 * Logs sampled inferences' requests and responses as CloudEvents to its sinks, never
 * blocking or failing the inference.
 *
 * @example
 * ```ts
 * const payloads = new PayloadLogger({
 *   sinks: [new HttpSink({ url: 'http://broker-ingress.knative-eventing/default/default' }), new FileSink({ path: 'logs/payloads.jsonl' })],
 *   sampleRate: 0.1,
 *   onDrop: ({ sink, reason }) => droppedTotal.inc({ sink, reason }),
 * });
 * payloads.log(request, response, { model: 'cls', version: '3', route: 'split' });
 * // at shutdown
 * await payloads.close(5000);
 * ```
 */
export class PayloadLogger {
  readonly #lanes: Lane[];
  readonly #sampleRate: number;
  readonly #maxQueued: number;
  readonly #mode: PayloadLogMode;
  readonly #from: PayloadEventSource;
  readonly #metadataHeaders: readonly { readonly name: string; readonly key: string }[] | undefined;
  readonly #onDrop: ((drop: PayloadDrop) => void) | undefined;
  readonly #random: () => number;
  #requests = 0;
  #sampled = 0;
  #pumpScheduled = false;
  #closed = false;
  #closing: Promise<PayloadLogStats> | undefined;
  /** Resolves close()'s wait when the last queue empties. */
  #onIdle: (() => void) | undefined;

  /**
   * @param options - See {@link PayloadLoggerOptions}.
   * @throws {@link OrtError} `INVALID_OPTION` for an unknown option, no sinks, two sinks
   *   of one name, a sampleRate outside [0, 1], a maxQueued below the events of one
   *   inference, or a field of the wrong type.
   */
  constructor(options: PayloadLoggerOptions) {
    const what = 'payload logger';
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new OrtError(`${what}: the options must be an object, got ${describe(options)}`, 'INVALID_OPTION');
    }
    checkKeys(options, LOGGER_KEYS, `${what} option`);
    const sinks: unknown = options.sinks;
    if (!Array.isArray(sinks) || sinks.length === 0) {
      throw new OrtError(`${what}: sinks must list at least one sink (an HttpSink, a FileSink, or your own PayloadSink), got ${describe(sinks)}`, 'INVALID_OPTION');
    }
    const names = new Set<string>();
    for (const [i, sink] of (sinks as unknown[]).entries()) {
      const s = sink as Partial<PayloadSink> | null;
      if (typeof s !== 'object' || s === null || typeof s.send !== 'function' || typeof s.close !== 'function') {
        throw optionError(what, `sinks[${i}]`, 'a PayloadSink (with send and close)', sink);
      }
      if (typeof s.name !== 'string' || s.name === '') throw optionError(what, `sinks[${i}].name`, 'a non-empty string', s.name);
      if (typeof s.maxInFlight !== 'number' || !Number.isSafeInteger(s.maxInFlight) || s.maxInFlight < 1) {
        throw optionError(what, `sinks[${i}].maxInFlight`, 'a positive integer', s.maxInFlight);
      }
      if (names.has(s.name)) throw new OrtError(`${what}: two sinks are named ${JSON.stringify(s.name)}; give each its own name (the \`name\` option)`, 'INVALID_OPTION');
      names.add(s.name);
    }
    this.#lanes = (sinks as PayloadSink[]).map((sink) => new Lane(sink));

    const rate = options.sampleRate ?? 1;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw optionError(what, 'sampleRate', 'a number from 0 to 1 (the share of requests logged)', rate);
    this.#sampleRate = rate;
    const mode = options.mode ?? 'all';
    if (mode !== 'all' && mode !== 'request' && mode !== 'response') throw optionError(what, 'mode', '"all", "request" or "response"', mode);
    this.#mode = mode;
    const perInference = mode === 'all' ? 2 : 1;
    const maxQueued = options.maxQueued ?? 1000;
    if (typeof maxQueued !== 'number' || !Number.isSafeInteger(maxQueued) || maxQueued < perInference) {
      throw optionError(what, 'maxQueued', `an integer of at least ${perInference} (the events of one inference${mode === 'all' ? ', request and response' : ''})`, maxQueued);
    }
    this.#maxQueued = maxQueued;

    const source = options.source ?? `urn:onnx-native:${hostname()}`;
    if (typeof source !== 'string' || source === '') throw optionError(what, 'source', 'a non-empty URI-reference', source);
    const from: { -readonly [K in keyof PayloadEventSource]: PayloadEventSource[K] } = { source };
    for (const key of ['inferenceService', 'namespace', 'component', 'endpoint'] as const) {
      const value: unknown = options[key];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value === '') throw optionError(what, key, 'a non-empty string', value);
      from[key] = value;
    }
    this.#from = Object.freeze(from);

    const headers: unknown = options.metadataHeaders;
    if (headers !== undefined) {
      if (!Array.isArray(headers) || headers.some((h) => typeof h !== 'string' || h === '')) {
        throw optionError(what, 'metadataHeaders', 'an array of header names', headers);
      }
      // The core's headers are named in lowercase (types.ts).
      this.#metadataHeaders = Object.freeze((headers as string[]).map((name) => ({ name, key: name.toLowerCase() })));
    }
    for (const key of ['onDrop', 'random'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'function') throw optionError(what, key, 'a function', options[key]);
    }
    this.#onDrop = options.onDrop;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Logs an inference: when sampled, its events join every sink's queue (or are dropped
   * as `queue_full`, both together, where the queue has no room for both). Returns at
   * once and never throws; after {@link PayloadLogger.close}, events are dropped as
   * `closed`.
   *
   * @param request - The request as the core decoded it. Its tensors are read later: they must not be written afterwards.
   * @param response - The response it got (tensors read later too).
   * @param meta - The model, the version that answered and how the request was routed.
   */
  log(request: InferRequest, response: InferResponse, meta: InferenceMeta): void {
    try {
      this.#requests++;
      // random() < 1 always and < 0 never: rates 1 and 0 are exact.
      if (!(this.#random() < this.#sampleRate)) return;
      this.#sampled++;
      const [req, res] = payloadEvents(request, response, meta, this.#from, this.#metadata(request));
      const events = this.#mode === 'all' ? [req, res] : this.#mode === 'request' ? [req] : [res];
      for (const lane of this.#lanes) {
        if (this.#closed || lane.queued + events.length > this.#maxQueued) {
          for (const event of events) this.#drop(lane, this.#closed ? 'closed' : 'queue_full', event);
        } else {
          for (const event of events) lane.push(event);
        }
      }
      if (!this.#pumpScheduled && !this.#closed) {
        this.#pumpScheduled = true;
        // Later, after the answer's own I/O: the JSON is written when a sink takes an event.
        setImmediate(() => {
          this.#pumpScheduled = false;
          for (const lane of this.#lanes) this.#pump(lane);
        });
      }
    } catch {
      // Only for a request or meta not of the types declared; logging must not fail an inference.
    }
  }

  /** Each sink's counts now. */
  stats(): PayloadLogStats {
    const sinks: Record<string, PayloadSinkStats> = {};
    for (const lane of this.#lanes) {
      sinks[lane.sink.name] = { sent: lane.sent, queued: lane.queued, inFlight: lane.live.size, dropped: { ...lane.dropped } };
    }
    return { requests: this.#requests, sampled: this.#sampled, sinks };
  }

  /**
   * Stops logging: sends what is queued for at most `timeoutMs`, then drops what is
   * left (`closed`) and closes the sinks, waiting for that only until the same deadline.
   * Calling it again returns the same promise.
   *
   * @param timeoutMs - The most milliseconds to take (default 5000).
   * @returns The final stats.
   * @throws {@link OrtError} `INVALID_OPTION` (synchronously) when `timeoutMs` is not a non-negative number.
   */
  close(timeoutMs = 5000): Promise<PayloadLogStats> {
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw optionError('payload logger close()', 'timeoutMs', 'a non-negative number of milliseconds', timeoutMs);
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    const deadline = Date.now() + timeoutMs;
    this.#closing = (async () => {
      for (const lane of this.#lanes) this.#pump(lane);
      if (!this.#idle()) await within(new Promise<void>((resolve) => (this.#onIdle = resolve)), timeoutMs);
      this.#onIdle = undefined;
      for (const lane of this.#lanes) {
        for (let event = lane.shift(); event !== undefined; event = lane.shift()) this.#drop(lane, 'closed', event);
        const live = [...lane.live];
        lane.live.clear();
        for (const token of live) this.#drop(lane, 'closed', token.event);
      }
      const closing = Promise.allSettled(this.#lanes.map((lane) => Promise.resolve().then(() => lane.sink.close())));
      await within(closing, Math.max(0, deadline - Date.now()));
      return this.stats();
    })();
    return this.#closing;
  }

  /** Starts sends from a lane's queue up to its sink's bound. */
  #pump(lane: Lane): void {
    while (lane.live.size < lane.sink.maxInFlight) {
      const event = lane.shift();
      if (event === undefined) break;
      const token = { event };
      lane.live.add(token);
      let sent: Promise<void>;
      try {
        // A sink of one's own that returns no promise, or throws, must not break the pump.
        sent = Promise.resolve(lane.sink.send(event));
      } catch (err) {
        sent = Promise.reject(err);
      }
      sent.then(
        () => this.#settle(lane, token, undefined),
        (err: unknown) => this.#settle(lane, token, err ?? new Error('rejected without a reason')),
      );
    }
  }

  /** A send settled: counts it (unless close() wrote it off), and goes on with the queue. */
  #settle(lane: Lane, token: { readonly event: PayloadEvent }, err: unknown): void {
    if (!lane.live.delete(token)) return;
    if (err === undefined) lane.sent++;
    else {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#drop(lane, err instanceof PayloadSinkError ? err.reason : 'error', token.event, error);
    }
    this.#pump(lane);
    if (this.#onIdle !== undefined && this.#idle()) this.#onIdle();
  }

  #idle(): boolean {
    return this.#lanes.every((lane) => lane.queued === 0 && lane.live.size === 0);
  }

  #drop(lane: Lane, reason: DropReason, event: PayloadEvent, error?: Error): void {
    lane.dropped[reason]++;
    if (this.#onDrop === undefined) return;
    try {
      this.#onDrop({ sink: lane.sink.name, reason, id: event.id, type: event.type, ...(error !== undefined && { error }) });
    } catch {
      // A hook's failure is not the logger's: the drop is counted either way.
    }
  }

  /** The `metadata` extension of a request: its chosen headers, as KServe writes them (each name to an array of values). */
  #metadata(request: InferRequest): string | undefined {
    const chosen = this.#metadataHeaders;
    if (chosen === undefined) return undefined;
    const metadata: Record<string, readonly string[]> = {};
    const headers = request.headers;
    if (headers !== undefined) {
      for (const { name, key } of chosen) {
        const value = headers[key];
        if (value !== undefined) metadata[name] = typeof value === 'string' ? [value] : value;
      }
    }
    return JSON.stringify(metadata);
  }
}

/** Waits for `promise`, or `ms` milliseconds, whichever comes first. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
