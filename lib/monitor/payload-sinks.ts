/**
 * Where payload events go (payload-log.ts queues them): an HTTP endpoint that takes
 * CloudEvents (a Knative broker, KServe's message dumper, a collector) and a JSON-lines
 * file rotated by size. A sink sends one event at a time per call, at most
 * `maxInFlight` at once; the logger holds the rest and drops what does not fit, so a
 * sink never has to buffer, and a slow one costs dropped events, not memory or waiting.
 *
 * A sink reads an event's `data` (so writes it, cloud-events.ts) only as it sends it:
 * the HTTP sink once its connection is open, so a sink that is down writes no JSON.
 */
import { type WriteStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import { checkKeys } from '../core/check-keys';
import { OrtError } from '../core/errors';
import { type PayloadEvent, binaryModeHeaders, structuredJson } from './cloud-events';

/** Why a sink failed to take an event: it failed, or it did not answer in time. */
export type SinkFailure = 'error' | 'timeout';

/** How a sink's {@link PayloadSink.send} rejects, saying why; any other rejection counts as `error`. */
export class PayloadSinkError extends Error {
  override readonly name = 'PayloadSinkError';

  /**
   * @param message - What failed, naming the sink's target.
   * @param reason - `timeout` when the target took too long, else `error`.
   * @param cause - The underlying error, if any.
   */
  constructor(
    message: string,
    readonly reason: SinkFailure,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/**
 * A destination of payload events. Implement it for another destination (a queue, a
 * bucket): the logger calls {@link PayloadSink.send} with at most
 * {@link PayloadSink.maxInFlight} sends unsettled, in the order the events were logged.
 */
export interface PayloadSink {
  /** The sink's name in stats and drop reports (a metric label): unique within a logger. */
  readonly name: string;
  /** Most sends unsettled at once. */
  readonly maxInFlight: number;
  /**
   * Sends one event: resolves once it is delivered, rejects (with a
   * {@link PayloadSinkError}, ideally) when it is not. It must settle in bounded time
   * (a timeout of its own) or the logger's queue fills and drops events.
   */
  send(event: PayloadEvent): Promise<void>;
  /** Stops: aborts what is in flight and frees the sink's resources. */
  close(): Promise<void>;
}

/** Options of an {@link HttpSink}. */
export interface HttpSinkOptions {
  /** Where to POST events: an `http:` or `https:` URL. */
  readonly url: string;
  /** The sink's name (default `http`). */
  readonly name?: string;
  /** Most milliseconds from sending an event to the end of the answer (default 5000); then it counts as `timeout`. */
  readonly timeoutMs?: number;
  /** Most requests in flight, each on its own kept-alive connection (default 4). */
  readonly maxInFlight?: number;
  /** Headers added to every request (an `authorization`, say); the CloudEvents ones win. */
  readonly headers?: Readonly<Record<string, string>>;
}

const HTTP_SINK_KEYS = ['url', 'name', 'timeoutMs', 'maxInFlight', 'headers'] as const;

/**
 * Posts each event to a URL in CloudEvents' binary content mode (HTTP protocol binding,
 * section 3.1), as KServe's logger does (cloudevents.WithEncodingBinary): the attributes
 * as `ce-` headers, the v2 JSON body as the request body. Any 2xx answer is delivery
 * (KServe logs other statuses and moves on; here they count as `error`).
 *
 * @example
 * ```ts
 * const sink = new HttpSink({ url: 'http://message-dumper.default.svc.cluster.local', timeoutMs: 2000 });
 * ```
 */
export class HttpSink implements PayloadSink {
  readonly name: string;
  readonly maxInFlight: number;
  /** The URL events go to. */
  readonly url: URL;
  readonly #timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #live = new Set<http.ClientRequest>();
  #closed = false;

  /**
   * @param options - See {@link HttpSinkOptions}.
   * @throws {@link OrtError} `INVALID_OPTION` for an unknown option, a URL that is not
   *   http(s), or a timeout or bound that is not a positive integer.
   */
  constructor(options: HttpSinkOptions) {
    const what = 'HTTP payload sink';
    checkObject(options, what);
    checkKeys(options, HTTP_SINK_KEYS, `${what} option`);
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw optionError(what, 'url', 'an http: or https: URL', options.url);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw optionError(what, 'url', 'an http: or https: URL', options.url);
    this.url = url;
    this.name = sinkName(options.name, 'http', what);
    this.#timeoutMs = positiveInteger(options.timeoutMs, 5000, what, 'timeoutMs');
    this.maxInFlight = positiveInteger(options.maxInFlight, 4, what, 'maxInFlight');
    const headers = options.headers ?? {};
    checkObject(headers, `${what}'s headers`);
    for (const [key, value] of Object.entries(headers)) {
      if (typeof value !== 'string') throw optionError(what, `headers[${JSON.stringify(key)}]`, 'a string', value);
    }
    this.#headers = { ...headers };
    const module = url.protocol === 'https:' ? https : http;
    // One socket per request in flight, kept alive between events: a logger at load
    // sends back to back, and a new connection per event would double its cost.
    this.#agent = new module.Agent({ keepAlive: true, maxSockets: this.maxInFlight });
    this.#request = module.request;
  }

  /** Posts one event; rejects with `timeout` past `timeoutMs`, `error` on a failure or a status other than 2xx. */
  send(event: PayloadEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new PayloadSinkError(`${this.name}: closed`, 'error'));
    return new Promise<void>((resolve, reject) => {
      const target = this.url.href;
      const req = this.#request(this.url, { method: 'POST', agent: this.#agent, headers: { ...this.#headers, ...binaryModeHeaders(event) } });
      this.#live.add(req);
      let settled = false;
      const finish = (failure?: PayloadSinkError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#live.delete(req);
        if (failure === undefined) resolve();
        else {
          reject(failure);
          req.destroy();
        }
      };
      const timer = setTimeout(() => finish(new PayloadSinkError(`${target} did not answer within ${this.#timeoutMs} ms`, 'timeout')), this.#timeoutMs);
      // The timer must not keep a process alive that has nothing else to do.
      timer.unref();
      req.on('error', (err) => finish(new PayloadSinkError(`${target}: ${err.message}`, 'error', err)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.on('error', (err) => finish(new PayloadSinkError(`${target}: ${err.message}`, 'error', err)));
        res.on('end', () => finish(status >= 200 && status < 300 ? undefined : new PayloadSinkError(`${target} answered HTTP ${status}`, 'error')));
        res.resume();
      });
      req.on('socket', (socket) => {
        // Headers go out with the body, so the body (the JSON of the tensors) is written
        // only once there is a connection to send it on.
        const write = (): void => {
          if (settled) return;
          let body: Buffer;
          try {
            body = Buffer.from(event.data, 'utf8');
          } catch (err) {
            finish(new PayloadSinkError(`${this.name}: the event's data could not be written: ${(err as Error).message}`, 'error', err));
            return;
          }
          req.setHeader('content-length', body.length);
          req.end(body);
        };
        if (socket.connecting) socket.once('connect', write);
        else write();
      });
    });
  }

  /** Aborts the requests in flight and closes the kept-alive connections. */
  close(): Promise<void> {
    this.#closed = true;
    for (const req of this.#live) req.destroy(new PayloadSinkError(`${this.name}: closed`, 'error'));
    this.#agent.destroy();
    return Promise.resolve();
  }
}

/** Options of a {@link FileSink}. */
export interface FileSinkOptions {
  /** The file written; rotated ones are `path.1` (the newest) to `path.N`. Its folder is made if missing. */
  readonly path: string;
  /** The sink's name (default `file`). */
  readonly name?: string;
  /** The size in bytes past which the file is rotated (default 64 MiB). A single event larger than it still goes, alone, into a fresh file. */
  readonly maxBytes?: number;
  /** Rotated files kept besides the live one (default 5); 0: the file starts over. */
  readonly keep?: number;
  /** Most events written and not yet flushed (default 64). */
  readonly maxInFlight?: number;
}

const FILE_SINK_KEYS = ['path', 'name', 'maxBytes', 'keep', 'maxInFlight'] as const;

/**
 * Appends each event to a file as one line of CloudEvents' JSON event format
 * (structured mode): `specversion`, `id`, `type`, `source`, `time`, `datacontenttype`,
 * the extensions and `data`. When a line would take the file past `maxBytes`, the file is
 * rotated first: `path.(N-1)` becomes `path.N` (the oldest, `path.N`, is dropped), ...,
 * `path` becomes `path.1`, and a new `path` is started.
 *
 * Lines go through one write stream (which gathers the lines queued while a write is
 * under way into one `writev`); opening, rotating and closing use fs's promises, never a
 * synchronous call.
 *
 * @example
 * ```ts
 * const sink = new FileSink({ path: '/var/log/onnx-native/payloads.jsonl', maxBytes: 256 * 2 ** 20, keep: 3 });
 * ```
 */
export class FileSink implements PayloadSink {
  readonly name: string;
  readonly maxInFlight: number;
  /** The live file's path. */
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #stream: WriteStream | undefined;
  /** Bytes in the live file, counting lines handed to the stream. */
  #bytes = 0;
  /** The last step of the writes so far: each write runs after the one before, so rotation sees them in order. */
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * @param options - See {@link FileSinkOptions}.
   * @throws {@link OrtError} `INVALID_OPTION` for an unknown option, an empty path, or a
   *   bound that is not a positive integer (`keep`: not a whole number).
   */
  constructor(options: FileSinkOptions) {
    const what = 'file payload sink';
    checkObject(options, what);
    checkKeys(options, FILE_SINK_KEYS, `${what} option`);
    if (typeof options.path !== 'string' || options.path === '') throw optionError(what, 'path', 'a file path', options.path);
    this.path = options.path;
    this.name = sinkName(options.name, 'file', what);
    this.#maxBytes = positiveInteger(options.maxBytes, 64 * 2 ** 20, what, 'maxBytes');
    this.maxInFlight = positiveInteger(options.maxInFlight, 64, what, 'maxInFlight');
    const keep = options.keep ?? 5;
    if (!Number.isSafeInteger(keep) || keep < 0) throw optionError(what, 'keep', 'a whole number (rotated files kept)', keep);
    this.#keep = keep;
  }

  /** Writes one event as a line; resolves once the stream has written it. */
  send(event: PayloadEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new PayloadSinkError(`${this.name}: closed`, 'error'));
    let line: string;
    try {
      line = structuredJson(event) + '\n';
    } catch (err) {
      return Promise.reject(new PayloadSinkError(`${this.name}: the event's data could not be written: ${(err as Error).message}`, 'error', err));
    }
    return new Promise<void>((resolve, reject) => {
      const step = this.#tail.then(() => this.#write(line, resolve, reject));
      // A failed step fails its own event only; the next step runs regardless.
      this.#tail = step.catch((err: unknown) => reject(new PayloadSinkError(`${this.path}: ${(err as Error).message}`, 'error', err)));
    });
  }

  /** Writes a line, opening or rotating the file first when needed; `done` is told when the stream has written it. */
  #write(line: string, done: () => void, failed: (err: PayloadSinkError) => void): void | Promise<void> {
    const size = Buffer.byteLength(line, 'utf8');
    if (this.#stream === undefined) return this.#open().then(() => this.#write(line, done, failed));
    if (this.#bytes > 0 && this.#bytes + size > this.#maxBytes) return this.#rotate().then(() => this.#write(line, done, failed));
    this.#bytes += size;
    this.#stream.write(line, (err) => (err ? failed(new PayloadSinkError(`${this.path}: ${err.message}`, 'error', err)) : done()));
  }

  /** Opens the live file for appending, knowing its size so far. */
  async #open(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.#bytes = await stat(this.path).then(
      (s) => s.size,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return 0;
        throw err;
      },
    );
    const stream = createWriteStream(this.path, { flags: 'a' });
    // A failed write (a full disk) fails the lines written; the next line reopens the file.
    stream.on('error', () => {
      if (this.#stream === stream) this.#stream = undefined;
    });
    this.#stream = stream;
  }

  /** Ends the live file and shifts the rotated ones by one, dropping the oldest. */
  async #rotate(): Promise<void> {
    await this.#end();
    if (this.#keep === 0) {
      await unlink(this.path).catch(ignoreMissing);
    } else {
      for (let i = this.#keep - 1; i >= 1; i--) await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(ignoreMissing);
      await rename(this.path, `${this.path}.1`).catch(ignoreMissing);
    }
    // #write opens the new file.
  }

  /** Ends the live stream, once what was written to it is flushed. */
  async #end(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined) return;
    stream.end();
    await finished(stream).catch(() => undefined);
  }

  /** Writes what was handed to it, then closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
    await this.#end();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/** @internal The error for a bad option value: what it must be and what it was. */
export function optionError(what: string, key: string, expected: string, got: unknown): OrtError {
  return new OrtError(`${what}: ${key} must be ${expected}, got ${describe(got)}`, 'INVALID_OPTION');
}

function checkObject(value: unknown, what: string): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OrtError(`${what}: the options must be an object, got ${describe(value)}`, 'INVALID_OPTION');
  }
}

function positiveInteger(value: unknown, fallback: number, what: string, key: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw optionError(what, key, 'a positive integer', value);
  return value;
}

function sinkName(value: unknown, fallback: string, what: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw optionError(what, 'name', 'a non-empty string', value);
  return value;
}

/** @internal A value as an option error shows it. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'function' ? 'a function' : typeof value;
}
