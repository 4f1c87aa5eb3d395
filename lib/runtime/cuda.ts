/**
 * GPU memory from JavaScript: device tensors (uploaded from host data, or outputs ONNX
 * Runtime left on the GPU), page-locked host tensors for fast copies, and CUDA streams.
 * The CUDA runtime is loaded when first needed, never linked: on a machine without CUDA
 * these fail with `CUDA_UNAVAILABLE`, saying why. None of it has run on a GPU yet.
 */
import { native } from './binding';
import { dtypeByName, dtypeByOnnx, type ElementType, type NumericElementType, type TensorDataMap } from '../core/dtypes';
import { OrtError } from '../core/errors';
import { type PlainTensor, checkTensor, shapeCount } from '../core/tensor';

/** @internal The addon's device tensor. */
export interface NativeDeviceTensor {
  info(): { elementType: number; dims: number[]; deviceId: number; bytes: number };
  download(callback: (error: Error | null, buffer?: ArrayBuffer) => void): void;
  downloadSync(): ArrayBuffer;
  release(): void;
}

/** Whether CUDA can be used here, and if not, why. */
export interface CudaStatus {
  available: boolean;
  /** Why not: no CUDA runtime library, or no usable GPU. */
  reason?: string;
  /**
   * The CUDA toolkit version (as `'13.0'`) whose headers this build of the addon was
   * checked against at compile time: set in a CUDA-enabled build, absent in a CPU-only
   * one. Either build loads any CUDA 12 or 13 runtime; this only says what was verified.
   */
  checkedAgainst?: string;
}

/** Whether the CUDA runtime loads and sees a GPU (loads it on first call). */
export function cudaStatus(): CudaStatus {
  const addon = native();
  const reason = addon.cudaStatus();
  const status: CudaStatus = reason === '' ? { available: true } : { available: false, reason };
  const toolkit = addon.cudaToolkitChecked;
  if (toolkit > 0) status.checkedAgainst = `${Math.floor(toolkit / 1000)}.${(toolkit % 1000) / 10}`;
  return status;
}

/**
 * A tensor in GPU memory. Bind it as an input (`binding.bindInput(name, deviceTensor)`)
 * to run without a host-to-device copy; outputs bound to a device come back as these.
 */
export class DeviceTensor<T extends NumericElementType = NumericElementType> {
  readonly type: T;
  readonly dims: readonly number[];
  /** The GPU it is on. */
  readonly deviceId: number;
  /** Its size in bytes. */
  readonly byteLength: number;
  #native: NativeDeviceTensor | undefined;

  /** @internal */
  constructor(handle: NativeDeviceTensor) {
    const info = handle.info();
    this.#native = handle;
    this.type = dtypeByOnnx[info.elementType]!.name as T;
    this.dims = Object.freeze(info.dims);
    this.deviceId = info.deviceId;
    this.byteLength = info.bytes;
  }

  /**
   * Copies a host tensor to a GPU (synchronously: about 10 GB/s over PCIe).
   *
   * @throws {@link OrtError} `CUDA_UNAVAILABLE` (no CUDA runtime, no GPU), or the
   *   tensor's own errors.
   */
  static upload<T extends NumericElementType>(t: PlainTensor<T>, options: { deviceId?: number } = {}): DeviceTensor<T> {
    const dtype = checkTensor(t, 'upload()');
    if (dtype.array === null) throw new OrtError('string tensors cannot go to a GPU', 'INVALID_DTYPE');
    const deviceId = options.deviceId ?? 0;
    if (!Number.isInteger(deviceId) || deviceId < 0) throw new OrtError('deviceId must be a non-negative integer', 'INVALID_OPTION');
    return new DeviceTensor<T>(native().uploadToDevice(dtype.onnx, t.dims, t.data, deviceId) as NativeDeviceTensor);
  }

  /** @internal The addon's object, for bindings. */
  get handle(): NativeDeviceTensor {
    if (!this.#native) throw new OrtError('the device tensor has been released', 'SESSION_RELEASED');
    return this.#native;
  }

  /** Copies the tensor to host memory, off the JavaScript thread. */
  download(): Promise<PlainTensor<T>> {
    return new Promise((resolve, reject) => {
      try {
        this.handle.download((error, buffer) => (error ? reject(error) : resolve(this.#tensor(buffer!))));
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Copies the tensor to host memory, on the calling thread. */
  downloadSync(): PlainTensor<T> {
    return this.#tensor(this.handle.downloadSync());
  }

  /** Frees the GPU memory (once nothing in flight uses it). */
  release(): void {
    this.#native?.release();
    this.#native = undefined;
  }

  #tensor(buffer: ArrayBuffer): PlainTensor<T> {
    const dtype = dtypeByName.get(this.type)!;
    return { type: this.type, dims: this.dims, data: new dtype.array!(buffer) as TensorDataMap[T] };
  }
}

/**
 * A host tensor in page-locked (pinned) memory: copies between it and a GPU go faster,
 * and can overlap with computation. Freed when garbage-collected.
 *
 * @throws {@link OrtError} `CUDA_UNAVAILABLE`.
 */
export function pinnedTensor<T extends NumericElementType>(type: T, dims: readonly number[]): PlainTensor<T> {
  const dtype = dtypeByName.get(type as ElementType);
  if (!dtype?.array) throw new OrtError(`pinned tensors hold numeric types, not ${String(type)}`, 'INVALID_DTYPE');
  const count = shapeCount(dims, 'pinnedTensor()');
  const buffer = native().allocatePinned(count * dtype.bytes);
  return { type, dims, data: new dtype.array(buffer) as TensorDataMap[T] };
}

/**
 * A CUDA stream of the caller's, for sessions to run on: pass it as a provider's
 * `stream` option, so that independent sessions can overlap on one GPU. Release it
 * after the sessions that use it.
 */
export class CudaStream {
  readonly #native: { handle: bigint; synchronize(): void; release(): void };

  /** @throws {@link OrtError} `CUDA_UNAVAILABLE`. */
  constructor(deviceId = 0) {
    this.#native = new (native().CudaStream)(deviceId);
  }

  /** The `cudaStream_t`, as a number (0n once released). */
  get handle(): bigint {
    return this.#native.handle;
  }

  /** @internal The addon's stream, which sessions created on it hold. */
  get native(): unknown {
    return this.#native;
  }

  /** Waits until everything queued on the stream has finished. */
  synchronize(): void {
    this.#native.synchronize();
  }

  /**
   * Releases the stream: it is destroyed once no session created on it (with this object
   * as a provider's `stream` option) is left. A stream given to a session as a bare
   * handle is the caller's to keep alive.
   */
  release(): void {
    this.#native.release();
  }
}
