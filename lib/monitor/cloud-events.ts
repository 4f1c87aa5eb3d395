/**
 * An inference's request and response as CloudEvents 1.0, in the format of KServe's
 * payload logger (kserve/kserve pkg/logger: worker.go, handler.go), so that what consumes
 * KServe's logs (a message dumper, a drift or outlier detector, a store) reads these too:
 *
 * - `type`: `org.kubeflow.serving.inference.request` and
 *   `org.kubeflow.serving.inference.response` (KServe's CEInferenceRequest and
 *   CEInferenceResponse).
 * - `id`: one id for both events of an inference, as KServe does (its getOrCreateID takes
 *   the request's `Ce-Id` header, else a new UUID): here the request's own `id`, else a
 *   random UUID. The two events differ by `type`; consumers join them on `id`.
 * - `source`: the server, as a URI-reference (KServe's `--source-uri`, which defaults to
 *   the agent's own `http://localhost:PORT/`).
 * - Extensions, named as CloudEvents requires (lowercase ASCII letters and digits; it
 *   advises 20 characters at most). KServe's four: `inferenceservicename`, `namespace`, `component`
 *   (predictor, transformer, explainer), `endpoint` (default or canary), and its
 *   `metadata` (chosen request headers as a JSON object of arrays). KServe serves one
 *   model per InferenceService and so names no model; this server serves many, so three
 *   more, spelled as KServe spells its own (words run together, lowercase):
 *   `modelname`, `modelversion` and `route` (how the request found its version: the
 *   server's RouteKind, `version`, `label`, `route`, `split` or `default`). With no
 *   inference service configured, `inferenceservicename` is the model's name, which is
 *   what it is in KServe, where the InferenceService is named after its one model.
 * - `datacontenttype` `application/json`, and `data` the KServe v2 JSON body: the
 *   request's `id`, `parameters`, `inputs` (name, datatype, shape, parameters, data) and
 *   `outputs` asked for; the response's `model_name`, `model_version`, `id`,
 *   `parameters` and `outputs` with their data. Tensors are always written as JSON
 *   `data`, never as the binary extension's bytes, and NaN and infinities as the strings
 *   `"NaN"`, `"Infinity"`, `"-Infinity"`, so that every line is strict JSON.
 *
 * An event keeps references to the request's and response's tensors and writes its
 * `data` only when a sink first reads it (then keeps the text for the other sinks): the
 * call that logs an inference costs the same for a tensor of four floats or of millions.
 */
import { randomUUID } from 'node:crypto';
import { encodeInferResponse } from '../server/protocol/encode-response';
import type { InferRequest, InferResponse } from '../server/protocol/types';

/** KServe's CloudEvents type of a logged request. */
export const REQUEST_EVENT_TYPE = 'org.kubeflow.serving.inference.request';
/** KServe's CloudEvents type of a logged response. */
export const RESPONSE_EVENT_TYPE = 'org.kubeflow.serving.inference.response';

/** The type of a payload event. */
export type PayloadEventType = typeof REQUEST_EVENT_TYPE | typeof RESPONSE_EVENT_TYPE;

/** The CloudEvents spec version these events follow. */
export const SPEC_VERSION = '1.0';

/** The one data content type of these events. */
export const DATA_CONTENT_TYPE = 'application/json';

/**
 * The extension attributes of a payload event, by CloudEvents name. Absent ones are not
 * sent (KServe sends its four always, empty when unset; an absent attribute reads the
 * same to CloudEvents SDKs and saves empty headers).
 */
export interface PayloadExtensions {
  /** KServe's: the InferenceService; here the configured name, else the model's. */
  readonly inferenceservicename: string;
  /** KServe's: the Kubernetes namespace. */
  readonly namespace?: string;
  /** KServe's: predictor, transformer or explainer. */
  readonly component?: string;
  /** KServe's: the InferenceService's endpoint, default or canary. */
  readonly endpoint?: string;
  /** KServe's: the request headers chosen by `metadataHeaders`, as a JSON object of arrays of values. */
  readonly metadata?: string;
  /** This server's: the model's name. */
  readonly modelname: string;
  /** This server's: the version that answered. */
  readonly modelversion: string;
  /** This server's: how the request was routed to that version. */
  readonly route: string;
}

/** Where an event comes from: the attributes that are the same for every inference of a logger. */
export interface PayloadEventSource {
  /** The CloudEvents `source`, a URI-reference. */
  readonly source: string;
  /** `inferenceservicename`; absent: each inference's model name. */
  readonly inferenceService?: string;
  /** `namespace`. */
  readonly namespace?: string;
  /** `component`. */
  readonly component?: string;
  /** `endpoint`. */
  readonly endpoint?: string;
}

/** Which model version answered an inference, and how the request got to it. */
export interface InferenceMeta {
  /** The model's name. */
  readonly model: string;
  /** The version that answered. */
  readonly version: string;
  /** How the request was routed: the server's RouteKind (`version`, `label`, `route`, `split`, `default`) or any name. */
  readonly route: string;
}

/** An encoder's request that asks for no binary output: every tensor is written as JSON `data`. */
const JSON_ONLY: InferRequest = Object.freeze({ model: '', inputs: Object.freeze([]) });

/** What encodeInferResponse writes before the outputs' array when the names are empty and there is no id or parameters. */
const EMPTY_RESPONSE_PREFIX = '{"model_name":"","model_version":"","outputs":';

/**
 * The KServe v2 JSON body of a request: its `id`, `parameters`, `inputs` with their data,
 * and the `outputs` it asked for.
 *
 * The inputs are written by encode-response.ts's writer (the same digits as the server's
 * responses: shortest round-trip floats, exact 64-bit integers): an input has the fields
 * of an output, so the inputs are encoded as the outputs of an empty response and cut out
 * of it.
 *
 * @throws {@link ProtocolError} INTERNAL when an input's shape, datatype and tensor disagree.
 */
export function requestJson(request: InferRequest): string {
  const encoded = encodeInferResponse({ model_name: '', model_version: '', outputs: request.inputs }, JSON_ONLY, { nonFinite: 'strings' });
  if (!('json' in encoded) || !encoded.json.startsWith(EMPTY_RESPONSE_PREFIX)) {
    // Only if encode-response.ts changes how it starts a response.
    throw new Error('payload log: the response encoder no longer writes an empty response as expected');
  }
  let json = '{';
  if (request.id !== undefined) json += `"id":${JSON.stringify(request.id)},`;
  if (request.parameters !== undefined) json += `"parameters":${JSON.stringify(request.parameters)},`;
  json += `"inputs":${encoded.json.slice(EMPTY_RESPONSE_PREFIX.length, -1)}`;
  if (request.outputs !== undefined) json += `,"outputs":${JSON.stringify(request.outputs)}`;
  return json + '}';
}

/**
 * The KServe v2 JSON body of a response, every output as JSON `data` (whatever binary
 * output the request asked for).
 *
 * @throws {@link ProtocolError} INTERNAL when an output's shape, datatype and tensor disagree.
 */
export function responseJson(response: InferResponse): string {
  const encoded = encodeInferResponse(response, JSON_ONLY, { nonFinite: 'strings' });
  if (!('json' in encoded)) throw new Error('payload log: the response encoder wrote binary outputs it was not asked for');
  return encoded.json;
}

/**
 * One payload event: a CloudEvent whose `data` is written when first read.
 *
 * @example
 * ```ts
 * const [req, res] = payloadEvents(request, response, { model: 'cls', version: '1', route: 'default' }, { source: 'urn:onnx-native:host' });
 * req.id === res.id; // true
 * req.data; // '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[...]}]}'
 * ```
 */
export class PayloadEvent {
  /** The CloudEvents spec version. */
  readonly specversion = SPEC_VERSION;
  /** The data's media type. */
  readonly datacontenttype = DATA_CONTENT_TYPE;
  readonly #timeMs: number;
  #encode: (() => string) | undefined;
  #data: string | undefined;

  /**
   * @param id - The inference's id, shared by its request and response events.
   * @param type - Request or response.
   * @param source - The CloudEvents `source`.
   * @param timeMs - When the inference was logged (milliseconds since the epoch).
   * @param extensions - The extension attributes.
   * @param encode - Writes the data; called once, by the first sink that reads it.
   */
  constructor(
    readonly id: string,
    readonly type: PayloadEventType,
    readonly source: string,
    timeMs: number,
    readonly extensions: PayloadExtensions,
    encode: () => string,
  ) {
    this.#timeMs = timeMs;
    this.#encode = encode;
  }

  /** The CloudEvents `time` (RFC 3339), formatted when read rather than when logged. */
  get time(): string {
    return new Date(this.#timeMs).toISOString();
  }

  /**
   * The data, the KServe v2 JSON body: written on the first read, from the tensors as
   * they are then (the server never writes a tensor it has answered with).
   *
   * @throws {@link ProtocolError} INTERNAL when a tensor disagrees with its shape or datatype
   *   (on every read: the error is not kept).
   */
  get data(): string {
    if (this.#data === undefined) {
      this.#data = this.#encode!();
      // Let the request or response go once written: sinks still queued read the text.
      this.#encode = undefined;
    }
    return this.#data;
  }
}

/**
 * The request and response events of one inference, sharing one id.
 *
 * @param request - The request as the core decoded it.
 * @param response - Its response.
 * @param meta - The model, version and route of the inference.
 * @param from - The logger's source attributes.
 * @param metadata - The `metadata` extension (KServe's chosen headers, as JSON), if any.
 * @param timeMs - The event time; defaults to now.
 * @returns `[request event, response event]`, their data not yet written.
 */
export function payloadEvents(
  request: InferRequest,
  response: InferResponse,
  meta: InferenceMeta,
  from: PayloadEventSource,
  metadata?: string,
  timeMs: number = Date.now(),
): [PayloadEvent, PayloadEvent] {
  const id = payloadId(request);
  const extensions = payloadExtensions(meta, from, metadata);
  return [
    new PayloadEvent(id, REQUEST_EVENT_TYPE, from.source, timeMs, extensions, later(requestJson, request)),
    new PayloadEvent(id, RESPONSE_EVENT_TYPE, from.source, timeMs, extensions, later(responseJson, response)),
  ];
}

/**
 * `write(value)`, to be called later. A closure of its own for each event: two arrow
 * functions in payloadEvents would share one scope, and the request's event would keep
 * the response's tensors alive (and the other way round) until both were written.
 */
function later<T>(write: (value: T) => string, value: T): () => string {
  return () => write(value);
}

/** An inference's event id: the request's own `id` when it has a non-empty one, else a random UUID. */
export function payloadId(request: InferRequest): string {
  const id = request.id;
  return typeof id === 'string' && id !== '' ? id : randomUUID();
}

/** The extension attributes of an inference's events (one object, shared by both). */
export function payloadExtensions(meta: InferenceMeta, from: PayloadEventSource, metadata?: string): PayloadExtensions {
  const extensions: { -readonly [K in keyof PayloadExtensions]: PayloadExtensions[K] } = {
    inferenceservicename: from.inferenceService ?? meta.model,
    modelname: meta.model,
    modelversion: meta.version,
    route: meta.route,
  };
  if (from.namespace !== undefined) extensions.namespace = from.namespace;
  if (from.component !== undefined) extensions.component = from.component;
  if (from.endpoint !== undefined) extensions.endpoint = from.endpoint;
  if (metadata !== undefined) extensions.metadata = metadata;
  return extensions;
}

/**
 * An event's HTTP headers in CloudEvents' binary content mode (HTTP protocol binding
 * 1.0.2, section 3.1): each attribute as a `ce-` header, `datacontenttype` as
 * `content-type`. Values are percent-encoded as the binding requires (space, `"`, `%`
 * and everything outside printable ASCII, as UTF-8 bytes).
 */
export function binaryModeHeaders(event: PayloadEvent): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': event.datacontenttype,
    'ce-specversion': event.specversion,
    'ce-id': headerValue(event.id),
    'ce-type': event.type,
    'ce-source': headerValue(event.source),
    'ce-time': event.time,
  };
  for (const [name, value] of Object.entries(event.extensions)) {
    if (value !== undefined) headers[`ce-${name}`] = headerValue(value as string);
  }
  return headers;
}

/** Characters a CloudEvents header value must percent-encode. */
const NEEDS_ENCODING = /[^\x21\x23\x24\x26-\x7e]/;

/** A string as a CloudEvents HTTP header value: as is when it is plain printable ASCII. */
export function headerValue(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * An event in CloudEvents' JSON event format (structured mode), as one line of JSON:
 * the context attributes, the extensions beside them, and `data` as a JSON value.
 * Reads (so writes) the event's data.
 *
 * @throws {@link ProtocolError} INTERNAL as {@link PayloadEvent.data}.
 */
export function structuredJson(event: PayloadEvent): string {
  let json = `{"specversion":"${event.specversion}","id":${JSON.stringify(event.id)},"type":"${event.type}","source":${JSON.stringify(event.source)},"time":"${event.time}","datacontenttype":"${event.datacontenttype}"`;
  for (const [name, value] of Object.entries(event.extensions)) {
    if (value !== undefined) json += `,"${name}":${JSON.stringify(value)}`;
  }
  return `${json},"data":${event.data}}`;
}
