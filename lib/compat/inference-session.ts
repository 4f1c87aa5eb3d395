/**
 * onnxruntime-common's `InferenceSession`, over this package's {@link Session}: what code
 * written for onnxruntime-node calls, with runs that leave the event loop free.
 */
import { Tensor } from 'onnxruntime-common';
import type { InferenceSession as Ort } from 'onnxruntime-common';
import { OrtError, isOrtError } from '../core/errors';
import type { AnyTensor } from '../core/tensor';
import { type RunOptions, Session, createSession } from '../runtime/session';
import { RunGate } from '../core/run-gate';
import { runSlots } from './run-gate';
import { toRunOptions, toSessionOptions } from './session-options';
import { type TensorFields, checkFeed, isTensorLike, toOrtMetadata, toOrtTensor } from './values';

/** What an {@link InferenceSession} holds, out of sight of its type (which is onnxruntime-common's). */
interface State {
  readonly session: Session;
  readonly gate: RunGate;
  readonly inputMetadata: readonly Ort.ValueMetadata[];
  readonly outputMetadata: readonly Ort.ValueMetadata[];
  released: boolean;
}

// A WeakMap rather than fields: an instance then has exactly onnxruntime-common's members,
// and its type stays assignable to and from onnxruntime-common's InferenceSession.
const states = new WeakMap<object, State>();

function stateOf(session: object): State {
  const state = states.get(session);
  if (state === undefined) throw new TypeError('not an InferenceSession of onnx-native');
  return state;
}

/** The model's bytes or path, and the options, from create()'s four call forms (onnxruntime-common's checks and messages). */
function createArguments(arg0: unknown, arg1: unknown, arg2: unknown, arg3: unknown): [string | Uint8Array, Ort.SessionOptions] {
  const options = (value: unknown): Ort.SessionOptions => {
    if (typeof value === 'object' && value !== null) return value as Ort.SessionOptions;
    if (value !== undefined) throw new TypeError("'options' must be an object.");
    return {};
  };
  if (typeof arg0 === 'string' || arg0 instanceof Uint8Array) return [arg0, options(arg1)];
  const isBuffer = arg0 instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && arg0 instanceof SharedArrayBuffer);
  if (!isBuffer) throw new TypeError("Unexpected argument[0]: must be 'path' or 'buffer'.");
  const buffer = arg0 as ArrayBufferLike;
  if (typeof arg1 !== 'number') return [new Uint8Array(buffer), options(arg1)];
  const byteOffset = arg1;
  if (!Number.isSafeInteger(byteOffset)) throw new RangeError("'byteOffset' must be an integer.");
  if (byteOffset < 0 || byteOffset >= buffer.byteLength) throw new RangeError(`'byteOffset' is out of range [0, ${buffer.byteLength}).`);
  let byteLength = buffer.byteLength - byteOffset;
  let opts: Ort.SessionOptions = {};
  if (typeof arg2 === 'number') {
    byteLength = arg2;
    if (!Number.isSafeInteger(byteLength)) throw new RangeError("'byteLength' must be an integer.");
    if (byteLength <= 0 || byteOffset + byteLength > buffer.byteLength) {
      throw new RangeError(`'byteLength' is out of range (0, ${buffer.byteLength - byteOffset}].`);
    }
    opts = options(arg3);
  } else if (arg2 !== undefined) {
    throw new TypeError("'byteLength' must be a number.");
  }
  return [new Uint8Array(buffer, byteOffset, byteLength), opts];
}

/**
 * The fetches (output names, with a preallocated tensor or null each) and the options, from
 * run()'s three call forms, as onnxruntime-common reads them. A preallocated tensor is
 * recognised by its fields, so that one of any copy of onnxruntime-common counts.
 */
function runArguments(names: readonly string[], arg1: unknown, arg2: unknown): [Map<string, TensorFields | null>, Ort.RunOptions] {
  const fetches = new Map<string, TensorFields | null>();
  const trailing = (value: unknown): Ort.RunOptions => {
    if (typeof value === 'object' && value !== null) return value as Ort.RunOptions;
    if (value !== undefined) throw new TypeError("'options' must be an object.");
    return {};
  };
  let options: Ort.RunOptions = {};
  if (typeof arg1 === 'object') {
    if (arg1 === null) throw new TypeError('Unexpected argument[1]: cannot be null.');
    if (isTensorLike(arg1)) throw new TypeError("'fetches' cannot be a Tensor");
    if (Array.isArray(arg1)) {
      if (arg1.length === 0) throw new TypeError("'fetches' cannot be an empty array.");
      for (const name of arg1 as unknown[]) {
        if (typeof name !== 'string') throw new TypeError("'fetches' must be a string array or an object.");
        if (!names.includes(name)) throw new RangeError(`'fetches' contains invalid output name: ${name}.`);
        fetches.set(name, null);
      }
      options = trailing(arg2);
    } else {
      // An object naming an output, with a tensor or null for it, is fetches; else options.
      const keys = Object.getOwnPropertyNames(arg1);
      for (const name of names) {
        if (!keys.includes(name)) continue;
        const value: unknown = (arg1 as Record<string, unknown>)[name];
        if (value === null || isTensorLike(value)) fetches.set(name, value);
      }
      options = fetches.size > 0 ? trailing(arg2) : (arg1 as Ort.RunOptions);
    }
  } else if (arg1 !== undefined) {
    throw new TypeError("Unexpected argument[1]: must be 'fetches' or 'options'.");
  }
  if (fetches.size === 0) for (const name of names) fetches.set(name, null);
  return [fetches, options];
}

/**
 * onnxruntime-common's `InferenceSession` on this runtime: `InferenceSession.create()`
 * loads a model on a background thread, and `run()` runs it on ONNX Runtime's threads, so
 * the event loop stays free during inference (onnxruntime-node runs it on the JavaScript
 * thread). Results are onnxruntime-common `Tensor`s over the memory ONNX Runtime wrote.
 *
 * Differences from onnxruntime-node: an option this runtime cannot honour (an execution
 * provider other than cpu, cuda or tensorrt, output locations other than the CPU,
 * `externalData`) is an error instead of being passed over; feeds may also be plain
 * `{ type, dims, data }` objects; a preallocated output is returned as the same object;
 * `release()` may be called twice. Calls started together run one after another (or as
 * many at once as the cores hold sessions of `intraOpNumThreads`), as on onnxruntime-node,
 * but without holding the JavaScript thread.
 */
export class InferenceSession implements Ort {
  private constructor(session: Session, slots: number) {
    const meta = (list: Session['inputs']) => Object.freeze(list.map(toOrtMetadata));
    states.set(this, {
      session,
      gate: new RunGate(slots),
      inputMetadata: meta(session.inputs),
      outputMetadata: meta(session.outputs),
      released: false,
    });
  }

  /**
   * Loads a model from a file path, from a `Uint8Array` of its bytes, or from an
   * `ArrayBuffer` (with an optional byte offset and length).
   *
   * @throws {@link OrtError} for options this runtime cannot honour, a missing or invalid
   *   model, and the errors of {@link createSession}; `TypeError`/`RangeError` for bad
   *   arguments, with onnxruntime-common's messages.
   */
  static create(uri: string, options?: Ort.SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, options?: Ort.SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, byteOffset: number, byteLength?: number, options?: Ort.SessionOptions): Promise<InferenceSession>;
  static create(buffer: Uint8Array, options?: Ort.SessionOptions): Promise<InferenceSession>;
  static async create(arg0: unknown, arg1?: unknown, arg2?: unknown, arg3?: unknown): Promise<InferenceSession> {
    const [model, options] = createArguments(arg0, arg1, arg2, arg3);
    const sessionOptions = toSessionOptions(options);
    const session = await createSession(model, sessionOptions);
    return new InferenceSession(session, runSlots(sessionOptions.intraOpNumThreads));
  }

  /** The model's input names, in the model's order. */
  get inputNames(): readonly string[] {
    return stateOf(this).session.inputNames;
  }

  /** The model's output names, in the model's order. */
  get outputNames(): readonly string[] {
    return stateOf(this).session.outputNames;
  }

  /** The model's inputs: name, whether a tensor, element type, and shape (a symbolic name for a dynamic dimension). */
  get inputMetadata(): readonly Ort.ValueMetadata[] {
    return stateOf(this).inputMetadata;
  }

  /** The model's outputs, as {@link InferenceSession.inputMetadata}. */
  get outputMetadata(): readonly Ort.ValueMetadata[] {
    return stateOf(this).outputMetadata;
  }

  /**
   * Runs the model. `fetches` picks outputs by name (`['y']`) or by an object of names to
   * null or to a preallocated `Tensor` to write the output into; without it, every output.
   * Feeds beyond the model's inputs are ignored, as onnxruntime-node does.
   *
   * @throws `Error` "input 'x' is missing in 'feeds'." and ONNX Runtime's messages for a
   *   feed of the wrong type or shape (as {@link OrtError}s, codes `INVALID_DTYPE` and
   *   `INVALID_SHAPE`); `TypeError`/`RangeError` for bad arguments, as onnxruntime-common.
   */
  run(feeds: Ort.FeedsType, options?: Ort.RunOptions): Promise<Ort.ReturnType>;
  run(feeds: Ort.FeedsType, fetches: Ort.FetchesType, options?: Ort.RunOptions): Promise<Ort.ReturnType>;
  async run(feeds: Ort.FeedsType, arg1?: unknown, arg2?: unknown): Promise<Ort.ReturnType> {
    const state = stateOf(this);
    if (typeof feeds !== 'object' || feeds === null || isTensorLike(feeds) || Array.isArray(feeds)) {
      throw new TypeError("'feeds' must be an object that use input names as keys and OnnxValue as corresponding values.");
    }
    const session = state.session;
    const [fetches, options] = runArguments(session.outputNames, arg1, arg2);
    if (state.released) throw new OrtError('Session already disposed.', 'SESSION_RELEASED');
    const inputs: Record<string, unknown> = {};
    for (let i = 0; i < session.inputNames.length; i++) {
      const name = session.inputNames[i];
      const value: unknown = feeds[name];
      if (value === undefined) throw new Error(`input '${name}' is missing in 'feeds'.`);
      checkFeed(value, session.inputs[i]);
      inputs[name] = value;
    }
    const runOptions: RunOptions = { outputNames: [...fetches.keys()] };
    let preallocated: Record<string, TensorFields> | undefined;
    for (const [name, tensor] of fetches) {
      if (tensor !== null) (preallocated ??= {})[name] = tensor;
    }
    if (preallocated !== undefined) runOptions.outputs = preallocated as RunOptions['outputs'];
    toRunOptions(options, runOptions);
    let results: Record<string, AnyTensor>;
    try {
      results = (await state.gate.run(() => session.run(inputs as never, runOptions))) as Record<string, AnyTensor>;
    } catch (error) {
      if (isOrtError(error) && error.code === 'SESSION_RELEASED') throw new OrtError('Session already disposed.', 'SESSION_RELEASED');
      throw error;
    }
    const out: Record<string, Tensor> = {};
    for (const name of fetches.keys()) {
      const given = preallocated?.[name];
      out[name] = given instanceof Tensor ? given : toOrtTensor(name, results[name]);
    }
    return out;
  }

  /** Releases the session's native memory; runs after this reject. */
  async release(): Promise<void> {
    const state = stateOf(this);
    state.released = true;
    state.session.release();
  }

  /**
   * Does nothing, as in onnxruntime-node: profiling starts when the session loads, with
   * the `enableProfiling` option.
   */
  startProfiling(): void {}

  /** Ends profiling and writes the profile file (`profileFilePrefix` and a timestamp). */
  endProfiling(): void {
    stateOf(this).session.endProfiling();
  }
}

/**
 * onnxruntime-common's `InferenceSession` namespace, name for name (`InferenceSession.SessionOptions`,
 * `InferenceSession.RunOptions`, ...): the types are its own.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace InferenceSession {
  export type OnnxValueMapType = Ort.OnnxValueMapType;
  export type NullableOnnxValueMapType = Ort.NullableOnnxValueMapType;
  export type FeedsType = Ort.FeedsType;
  export type FetchesType = Ort.FetchesType;
  export type ReturnType = Ort.ReturnType;
  export type SessionOptions = Ort.SessionOptions;
  export type ExecutionProviderOptionMap = Ort.ExecutionProviderOptionMap;
  export type ExecutionProviderName = Ort.ExecutionProviderName;
  export type ExecutionProviderConfig = Ort.ExecutionProviderConfig;
  export type ExecutionProviderOption = Ort.ExecutionProviderOption;
  export type CpuExecutionProviderOption = Ort.CpuExecutionProviderOption;
  export type CudaExecutionProviderOption = Ort.CudaExecutionProviderOption;
  export type DmlExecutionProviderOption = Ort.DmlExecutionProviderOption;
  export type TensorRtExecutionProviderOption = Ort.TensorRtExecutionProviderOption;
  export type WebAssemblyExecutionProviderOption = Ort.WebAssemblyExecutionProviderOption;
  export type WebGLExecutionProviderOption = Ort.WebGLExecutionProviderOption;
  export type XnnpackExecutionProviderOption = Ort.XnnpackExecutionProviderOption;
  export type WebGpuExecutionProviderOption = Ort.WebGpuExecutionProviderOption;
  export type WebNNExecutionProviderName = Ort.WebNNExecutionProviderName;
  export type WebNNContextOptions = Ort.WebNNContextOptions;
  export type WebNNOptionsWithoutMLContext = Ort.WebNNOptionsWithoutMLContext;
  export type WebNNOptionsWithMLContext = Ort.WebNNOptionsWithMLContext;
  export type WebNNOptionsWebGpu = Ort.WebNNOptionsWebGpu;
  export type WebNNExecutionProviderOption = Ort.WebNNExecutionProviderOption;
  export type QnnExecutionProviderOption = Ort.QnnExecutionProviderOption;
  export type CoreMLExecutionProviderOption = Ort.CoreMLExecutionProviderOption;
  export type NnapiExecutionProviderOption = Ort.NnapiExecutionProviderOption;
  export type RunOptions = Ort.RunOptions;
  export type ValueMetadataBase = Ort.ValueMetadataBase;
  export type NonTensorValueMetadata = Ort.NonTensorValueMetadata;
  export type TensorValueMetadata = Ort.TensorValueMetadata;
  export type ValueMetadata = Ort.ValueMetadata;
}
