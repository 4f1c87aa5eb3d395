/**
 * I/O binding: a session's inputs and outputs bound once to memory, then run any
 * number of times. Outputs stay bound from run to run: chained models, recurrent state.
 */
import type { NativeIoBinding } from './binding';
import type { DTypeInfo } from '../core/dtypes';
import { OrtError, abortError } from '../core/errors';
import { readOutput } from './output-meta';
import { nativeRunOptions } from './run-options';
import type { Slot } from './model-values';
import type { AnySignature, Results, Signature } from '../core/signature';
import { type AnyTensor, type CheckedTensor, type PlainTensor, type TensorLike, typedArrayByteLength } from '../core/tensor';
import { DeviceTensor, type NativeDeviceTensor, cudaStatus } from './cuda';

/** Throws CUDA_UNAVAILABLE, saying why, unless CUDA is usable here. */
function cudaUsable(): void {
  const status = cudaStatus();
  if (!status.available) throw new OrtError(`CUDA is not usable here: ${status.reason}`, 'CUDA_UNAVAILABLE');
}

/** @internal What a binding needs from its session. */
export interface BindingContext {
  input(name: string): Slot;
  output(name: string): Slot;
  /** Checks `t` against `slot`, and returns it as checked. */
  check(t: unknown, slot: Slot, role: 'input' | 'output'): CheckedTensor;
  /** Checks a device tensor's type and dims against `slot` (its data is not here). */
  checkDevice(type: string, dims: readonly number[], slot: Slot, role: 'input' | 'output'): void;
  inputNames: readonly string[];
}

/**
 * A bound tensor as the binding keeps it: the caller's object, and for host memory the
 * array ONNX Runtime reads or writes in place, with the byte length it had when bound.
 */
interface Bound<T> {
  value: T;
  array?: ArrayBufferView;
  bytes?: number;
}

/** The array of a checked tensor that is read in place, with its byte length; none for strings (copied). */
function inPlace(t: CheckedTensor): { array?: ArrayBufferView; bytes?: number } {
  if (Array.isArray(t.data)) return {};
  return { array: t.data as ArrayBufferView, bytes: typedArrayByteLength.call(t.data) };
}

/** Options of {@link IoBinding.run}. */
export interface BindingRunOptions {
  /**
   * Cancels the run: it rejects with `ABORTED` at once if it had not started (it never
   * will), else as soon as ONNX Runtime has stopped it, between two operators; either
   * way its arrays are no longer read when it rejects.
   */
  signal?: AbortSignal;
  /** This run's log level. */
  logSeverityLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** A tag for this run's log messages. */
  tag?: string;
}

/**
 * Throws INVALID_TENSOR if a bound array has lost its memory: ONNX Runtime holds the
 * address each array had when it was bound, and one transferred (detached) since has
 * nothing there any more.
 */
function checkStillThere(bound: ReadonlyMap<string, Bound<unknown>>, role: string): void {
  for (const [name, { array, bytes }] of bound) {
    if (array !== undefined && typedArrayByteLength.call(array) !== bytes) {
      throw new OrtError(`${role} '${name}': its array was transferred or detached since it was bound; bind it again`, 'INVALID_TENSOR');
    }
  }
}

/**
 * Inputs and outputs bound to memory once, for many runs. Made by
 * {@link Session.createBinding}. Bound arrays are read and written in place: do not
 * change an input's array while a run is in flight, nor transfer a bound array while
 * one is (between runs, a transferred one is refused at the next run).
 *
 * @typeParam S - The model's signature; see {@link Signature}.
 */
export class IoBinding<S extends Signature = AnySignature> {
  #native: NativeIoBinding | undefined;
  readonly #context: BindingContext;
  /** Bound inputs by name, kept referenced while bound. */
  readonly #inputs = new Map<string, Bound<TensorLike | DeviceTensor>>();
  /** Bound outputs by name: the caller's tensor, or null for one ONNX Runtime allocates. */
  readonly #outputs = new Map<string, Bound<PlainTensor | null>>();
  #running = false;
  #ran = false;

  /** @internal Use {@link Session.createBinding}. */
  constructor(handle: NativeIoBinding, context: BindingContext) {
    this.#native = handle;
    this.#context = context;
  }

  /**
   * Binds an input to a tensor, whose array ONNX Runtime then reads in place at every
   * run. Binding a name again replaces the tensor.
   *
   * @throws {@link OrtError} the codes of {@link Session.run} for a bad name or tensor.
   */
  bindInput(name: keyof S['inputs'] & string, t: TensorLike | DeviceTensor): this {
    const handle = this.#idle();
    const slot = this.#context.input(name);
    if (t instanceof DeviceTensor) {
      this.#context.checkDevice(t.type, t.dims, slot, 'input');
      handle.bindInputDevice(slot.index, t.handle);
      this.#inputs.set(name, { value: t });
    } else {
      const checked = this.#context.check(t, slot, 'input');
      handle.bindInput(slot.index, (slot.dtype as DTypeInfo).onnx, checked.dims, checked.data);
      this.#inputs.set(name, { value: t, ...inPlace(checked) });
    }
    return this;
  }

  /**
   * Binds an output: to a tensor of the output's exact shape, which ONNX Runtime then
   * writes into at every run; with no tensor, to host memory ONNX Runtime allocates; or
   * with `{ device: 'cuda', deviceId }`, to GPU memory ONNX Runtime allocates (the
   * output then comes back as a {@link DeviceTensor}, and stays on the GPU). Read them
   * with {@link IoBinding.outputs}.
   */
  bindOutput(name: keyof S['outputs'] & string, t?: PlainTensor | { device: 'cuda'; deviceId?: number }): this {
    const handle = this.#idle();
    const slot = this.#context.output(name);
    if (t === undefined || 'device' in t) {
      if (!slot.dtype) throw new OrtError(`output '${name}' is a ${slot.meta.kind}, which onnx-native cannot return`, 'NOT_IMPLEMENTED');
      if (t === undefined) {
        handle.bindOutputToHost(slot.index);
      } else {
        if (t.device !== 'cuda') throw new OrtError(`outputs can be bound to the host or to 'cuda', not ${JSON.stringify(t.device)}`, 'INVALID_OPTION');
        cudaUsable();
        handle.bindOutputToDevice(slot.index, t.deviceId ?? 0);
      }
      this.#outputs.set(name, { value: null });
    } else {
      const checked = this.#context.check(t, slot, 'output');
      handle.bindOutput(slot.index, (slot.dtype as DTypeInfo).onnx, checked.dims, checked.data);
      this.#outputs.set(name, { value: t, ...inPlace(checked) });
    }
    return this;
  }

  /**
   * Runs the model on the bound inputs and outputs, off the JavaScript thread.
   *
   * @throws {@link OrtError} (as a rejection) `MISSING_INPUT` when an input is unbound,
   *   `INVALID_OPTION` for a bad option, `SESSION_RELEASED`, `ABORTED`, or ONNX Runtime's code.
   */
  run(options: BindingRunOptions = {}): Promise<void> {
    let runOptions;
    let handle: NativeIoBinding;
    try {
      handle = this.#ready();
      runOptions = nativeRunOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = options.signal;
    this.#running = true;
    // The bound arrays must outlive the run even if the binding is released meanwhile.
    const keepAlive = [...this.#inputs.values(), ...this.#outputs.values()];
    return new Promise((resolve, reject) => {
      // As Session.run: rejects at once only when the run had not started; otherwise
      // once ONNX Runtime has stopped using the bound arrays.
      const onAbort = () => {
        if (runOptions!.terminate()) reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      handle.run((error) => {
        void keepAlive;
        this.#running = false;
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return reject(abortError(signal));
        if (error) return reject(error);
        this.#ran = true;
        resolve();
      }, runOptions);
    });
  }

  /** Runs the model on the bound inputs and outputs, on the calling thread. */
  runSync(options: Omit<BindingRunOptions, 'signal'> = {}): void {
    const handle = this.#ready();
    const runOptions = nativeRunOptions(options);
    if (runOptions) handle.runSync(runOptions);
    else handle.runSync();
    this.#ran = true;
  }

  /**
   * The bound outputs after a run: the caller's own tensors, and for outputs bound with
   * no tensor, tensors over the memory ONNX Runtime allocated for them (outputs of up
   * to 64 bytes are copied instead). ONNX Runtime keeps that memory bound, and the next
   * run of this binding writes into it again while the shape stays the same: copy
   * (`data.slice()`) what must outlive the next run.
   */
  outputs(): Results<S> {
    const handle = this.#idle();
    if (!this.#ran) throw new OrtError('outputs() comes after a run', 'INVALID_ARGUMENT');
    const [names, meta, ...values] = handle.outputs() as [string[], Float64Array, ...unknown[]];
    const out: Record<string, AnyTensor | DeviceTensor> = {};
    const viewOf = (dtype: DTypeInfo) => new dtype.array!(meta.buffer, meta.byteOffset);
    let at = 1;
    names.forEach((name, i) => {
      const own = this.#outputs.get(name)?.value;
      const onDevice = meta[at + 2 + meta[at + 1]] === -2;
      out[name] = own ? (own as AnyTensor) : onDevice ? new DeviceTensor(values[i] as NativeDeviceTensor) : readOutput(meta, at, values[i], meta[0] * 8, viewOf)!;
      at += 3 + meta[at + 1];
    });
    return out as Results<S>;
  }

  /** Unbinds every input. */
  clearInputs(): void {
    this.#idle().clearInputs();
    this.#inputs.clear();
  }

  /** Unbinds every output. */
  clearOutputs(): void {
    this.#idle().clearOutputs();
    this.#outputs.clear();
    this.#ran = false;
  }

  /** Releases the binding; a run in flight finishes first. */
  release(): void {
    this.#native?.release();
    this.#native = undefined;
  }

  #idle(): NativeIoBinding {
    if (!this.#native) throw new OrtError('the binding has been released', 'SESSION_RELEASED');
    if (this.#running) throw new OrtError('the binding is running: wait for run() to settle', 'INVALID_ARGUMENT');
    return this.#native;
  }

  #ready(): NativeIoBinding {
    const handle = this.#idle();
    const missing = this.#context.inputNames.filter((n) => !this.#inputs.has(n));
    if (missing.length) throw new OrtError(`unbound input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`, 'MISSING_INPUT');
    if (this.#outputs.size === 0) throw new OrtError('no output is bound: bindOutput() at least one', 'INVALID_OUTPUT_NAME');
    checkStillThere(this.#inputs, 'input');
    checkStillThere(this.#outputs, 'output');
    return handle;
  }
}
