/**
 * The Open Inference Protocol's (KServe v2's) request and response, as the server's core
 * sees them: transport-free, with each tensor already decoded into this package's
 * `{ type, dims, data }` form. The HTTP routes (JSON and the binary tensor data extension)
 * and the gRPC service decode into these and encode from them; the core never sees a
 * wire format.
 */
import type { AnyTensor } from '../../core/tensor';
import type { ElementType } from '../../core/dtypes';

/** The protocol's tensor datatypes. */
export type Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

/** The element type of each protocol datatype (BYTES are ONNX strings, UTF-8). */
export const ELEMENT_TYPE_OF: Readonly<Record<Datatype, ElementType>> = Object.freeze({
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BF16: 'bfloat16',
  BYTES: 'string',
});

/** The protocol datatype of each element type. */
export const DATATYPE_OF: Readonly<Record<ElementType, Datatype>> = Object.freeze(
  Object.fromEntries(Object.entries(ELEMENT_TYPE_OF).map(([d, e]) => [e, d])) as Record<ElementType, Datatype>,
);

/** Whether `value` names a protocol datatype. */
export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && Object.hasOwn(ELEMENT_TYPE_OF, value);
}

/** A parameter's value (the protocol's `$parameter`: bool, number or string). */
export type ParameterValue = string | number | boolean;

/** Parameters of a request, a tensor or a response. */
export type Parameters = Record<string, ParameterValue>;

/** One input of a request, decoded. `tensor.dims` equals `shape`. */
export interface InferInput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly tensor: AnyTensor;
  readonly parameters?: Parameters;
}

/** An output a request asks for (with `binary_data`, `classification`... in `parameters`). */
export interface RequestedOutput {
  readonly name: string;
  readonly parameters?: Parameters;
}

/** An inference request. `model` and `version` come from the route (or the gRPC message). */
export interface InferRequest {
  readonly model: string;
  /** Empty or absent: the model's default version (the latest ready one, unless its routing names one). */
  readonly version?: string;
  /**
   * A version label (`stable`, `canary`): from the route `/v2/models/{m}/labels/{label}/...`,
   * else the request's `version_label` parameter (TF Serving's name). Not with `version`.
   */
  readonly label?: string;
  /**
   * The transport's headers (HTTP headers, gRPC metadata; names lowercase), for the
   * model's routes and sticky splits, which may key on one.
   */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly id?: string;
  /** `priority` and `timeout` (microseconds) are honoured; others are passed to handlers. */
  readonly parameters?: Parameters;
  readonly inputs: readonly InferInput[];
  /** Absent: every output of the model. */
  readonly outputs?: readonly RequestedOutput[];
}

/** One output of a response. `tensor.dims` equals `shape`. */
export interface InferOutput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly tensor: AnyTensor;
  readonly parameters?: Parameters;
}

/** An inference response. */
export interface InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly parameters?: Parameters;
  readonly outputs: readonly InferOutput[];
}

/**
 * Why a request failed, in the protocol's terms: each transport maps it to its own status
 * (HTTP 400, 404, 503, 500, 401, 403; gRPC INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE,
 * INTERNAL, UNAUTHENTICATED, PERMISSION_DENIED).
 */
export type ProtocolStatus = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'UNAVAILABLE' | 'INTERNAL' | 'UNAUTHENTICATED' | 'PERMISSION_DENIED';

/** HTTP status of each {@link ProtocolStatus}. */
export const HTTP_STATUS: Readonly<Record<ProtocolStatus, number>> = Object.freeze({
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
});

/**
 * A failed request: `message` is what the client reads (`{"error": message}` over HTTP,
 * the status details over gRPC), naming the input, what was expected and what came.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  /**
   * @param message - What went wrong, for the client.
   * @param status - The protocol status.
   * @param retryAfterSeconds - For UNAVAILABLE: when to try again (HTTP `Retry-After`).
   */
  constructor(
    message: string,
    readonly status: ProtocolStatus,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Shorthand for a 400 / INVALID_ARGUMENT. */
export function invalid(message: string): ProtocolError {
  return new ProtocolError(message, 'INVALID_ARGUMENT');
}
