/**
 * The one error class of the package. Every failure, from a wrong input name to a
 * model that will not load, is an {@link OrtError} with a stable {@link ErrorCode}.
 */

/** ONNX Runtime's own status codes (OrtErrorCode), passed through unchanged. */
export type OrtStatusCode =
  | 'FAIL'
  | 'INVALID_ARGUMENT'
  | 'NO_SUCHFILE'
  | 'NO_MODEL'
  | 'ENGINE_ERROR'
  | 'RUNTIME_EXCEPTION'
  | 'INVALID_PROTOBUF'
  | 'MODEL_LOADED'
  | 'NOT_IMPLEMENTED'
  | 'INVALID_GRAPH'
  | 'EP_FAIL';

/** Codes of failures this package detects itself, before ONNX Runtime sees anything. */
export type BindingErrorCode =
  /** A feed names no input of the model. */
  | 'INVALID_INPUT_NAME'
  /** A requested or provided output names no output of the model. */
  | 'INVALID_OUTPUT_NAME'
  /** A tensor's element type, or its data array, is not the one expected. */
  | 'INVALID_DTYPE'
  /** A tensor's dims do not fit the model, or do not match its data's length. */
  | 'INVALID_SHAPE'
  /** A tensor is not a `{ type, dims, data }` object. */
  | 'INVALID_TENSOR'
  /** An input the model requires was not fed. */
  | 'MISSING_INPUT'
  /** An option is unknown or has a bad value. */
  | 'INVALID_OPTION'
  /** The model file does not exist. */
  | 'MODEL_NOT_FOUND'
  /** ONNX Runtime could not load the model (corrupt, truncated, unsupported ops...). */
  | 'MODEL_LOAD_FAILED'
  /** The session was released. */
  | 'SESSION_RELEASED'
  /** The run was cancelled through its AbortSignal. */
  | 'ABORTED'
  /** The ONNX Runtime shared library could not be found or loaded. */
  | 'RUNTIME_LOAD_FAILED'
  /** The ONNX Runtime library is older than this package needs. */
  | 'RUNTIME_TOO_OLD'
  /** A second, different ONNX Runtime library was asked for in one process. */
  | 'RUNTIME_CONFLICT'
  /** An execution provider was asked for that the loaded library does not have. */
  | 'PROVIDER_UNAVAILABLE'
  /** A batching session's queue is at its maxQueueSize. */
  | 'QUEUE_FULL'
  /** A request to a batching session outlived its timeout. */
  | 'TIMEOUT'
  /** CUDA is needed and not usable here: no CUDA runtime library, or no GPU. */
  | 'CUDA_UNAVAILABLE';

/** Every code an {@link OrtError} can carry. */
export type ErrorCode = OrtStatusCode | BindingErrorCode;

/**
 * Every code, by kind: the compiler checks that each record names exactly the codes of
 * its union, no more and no fewer, so the README's list can be tested against it.
 */
const ORT_STATUS_CODES = {
  FAIL: true, INVALID_ARGUMENT: true, NO_SUCHFILE: true, NO_MODEL: true, ENGINE_ERROR: true, RUNTIME_EXCEPTION: true,
  INVALID_PROTOBUF: true, MODEL_LOADED: true, NOT_IMPLEMENTED: true, INVALID_GRAPH: true, EP_FAIL: true,
} as const satisfies Record<OrtStatusCode, true>;
const BINDING_ERROR_CODES = {
  INVALID_INPUT_NAME: true, INVALID_OUTPUT_NAME: true, INVALID_DTYPE: true, INVALID_SHAPE: true, INVALID_TENSOR: true,
  MISSING_INPUT: true, INVALID_OPTION: true, MODEL_NOT_FOUND: true, MODEL_LOAD_FAILED: true, SESSION_RELEASED: true,
  ABORTED: true, RUNTIME_LOAD_FAILED: true, RUNTIME_TOO_OLD: true, RUNTIME_CONFLICT: true, PROVIDER_UNAVAILABLE: true,
  QUEUE_FULL: true, TIMEOUT: true, CUDA_UNAVAILABLE: true,
} as const satisfies Record<BindingErrorCode, true>;

/** @internal Every {@link OrtStatusCode} and every {@link BindingErrorCode} (not exported by the package). */
export const errorCodes: { readonly ort: readonly OrtStatusCode[]; readonly binding: readonly BindingErrorCode[] } = {
  ort: Object.keys(ORT_STATUS_CODES) as OrtStatusCode[],
  binding: Object.keys(BINDING_ERROR_CODES) as BindingErrorCode[],
};

/**
 * Thrown (or rejected with) by every function of this package.
 *
 * Printed as Node prints its own errors, code included: the stack (which `console.error`
 * and an uncaught error show) starts `OrtError [INVALID_SHAPE]: input 'x' expects ...`,
 * and so does `String(err)`; `err.name` is `'OrtError'` and `err.code` the code.
 *
 * @example
 * ```ts
 * try {
 *   await session.run({ x: tensor('float32', data, [1, 3]) });
 * } catch (err) {
 *   if (err instanceof OrtError && err.code === 'INVALID_SHAPE') { ... }
 * }
 * ```
 */
export class OrtError extends Error {
  /** A stable, machine-readable code. */
  declare readonly code: ErrorCode;
  /** For wrapped failures: the ONNX Runtime status code underneath (e.g. a load failure's INVALID_PROTOBUF). */
  declare readonly ortCode?: OrtStatusCode;
  // `declare`: no own property unless set, so that an error without ortCode does not
  // print `ortCode: undefined`. `name` lives on the prototype (below), as Error's does.

  constructor(message: string, code: ErrorCode, ortCode?: OrtStatusCode) {
    super(message);
    this.code = code;
    if (ortCode !== undefined) this.ortCode = ortCode;
    // Node's way (lib/internal/errors.js) of putting the code into the stack's first
    // line: V8 formats the stack when it is first read, with the name of that moment.
    // So name the error with its code, read the stack, and let the name be the
    // prototype's 'OrtError' again.
    Object.defineProperty(this, 'name', { value: `OrtError [${code}]`, configurable: true, writable: true, enumerable: false });
    void this.stack;
    delete (this as { name?: string }).name;
  }

  /** `OrtError [CODE]: message`, as Node's own errors' `String(err)`. */
  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}
Object.defineProperty(OrtError.prototype, 'name', { value: 'OrtError', configurable: true, writable: true, enumerable: false });

/** @internal Whether `err` is an OrtError, optionally with the given code. */
export function isOrtError(err: unknown, code?: ErrorCode): err is OrtError {
  return err instanceof OrtError && (code === undefined || err.code === code);
}

/** @internal The error of an aborted run or request, with the signal's reason as its cause. */
export function abortError(signal: AbortSignal, what = 'run'): OrtError {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  const err = new OrtError(`the ${what} was aborted${reason}`, 'ABORTED');
  (err as { cause?: unknown }).cause = signal.reason;
  return err;
}

/** @internal Marks an OrtError's fields sent from a worker thread (see pool-worker.ts). */
export const ORT_ERROR = 'onnx-native:OrtError';

/** @internal An OrtError as it crosses threads. */
export interface CrossThreadError {
  [ORT_ERROR]: true;
  message: string;
  code: ErrorCode;
  ortCode?: OrtStatusCode;
}

/** @internal An OrtError again, if `value` is one that crossed threads; else `value`. */
export function fromOtherThread(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && (value as CrossThreadError)[ORT_ERROR] === true) {
    const e = value as CrossThreadError;
    return new OrtError(e.message, e.code, e.ortCode);
  }
  return value;
}
