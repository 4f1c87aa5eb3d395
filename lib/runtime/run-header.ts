/**
 * @internal The run header (layout in native/run_job.h): each run's input and output
 * indices, element types and dims, packed into one Float64Array that the native side
 * reads straight from memory instead of making an N-API call per value; the native side
 * writes each run's output shapes, and small outputs' data, back into it. Every use is
 * synchronous (a native call reads it before returning; a result is read inside its
 * callback), so one buffer per thread serves every call.
 */
import type { DTypeInfo, TensorData } from '../core/dtypes';
import type { NativeAddon } from './binding';

class RunHeader {
  #buffer = new Float64Array(256);
  #length = 0;
  #addon: NativeAddon | undefined;
  /** Views of the buffer by ONNX element type, for reading small outputs' data. */
  #views: (TensorData | undefined)[] = [];

  /** The buffer the native side reads and writes now. */
  get buffer(): Float64Array {
    return this.#buffer;
  }

  /** Starts packing a run's arguments. */
  start(addon: NativeAddon): void {
    if (this.#addon !== addon) {
      addon.setRunHeader(this.#buffer);
      this.#addon = addon;
    }
    this.#length = 2;
  }

  /** A tensor: input, or caller-provided output. */
  tensor(index: number, onnxType: number, dims: readonly number[]): void {
    this.#reserve(3 + dims.length);
    const b = this.#buffer;
    let at = this.#length;
    b[at++] = index;
    b[at++] = onnxType;
    b[at++] = dims.length;
    for (let d = 0; d < dims.length; d++) b[at++] = dims[d];
    this.#length = at;
  }

  /** An output for ONNX Runtime to allocate. */
  allocate(index: number): void {
    this.#reserve(3);
    const b = this.#buffer;
    b[this.#length] = index;
    b[this.#length + 1] = 0;
    b[this.#length + 2] = 0;
    this.#length += 3;
  }

  finish(inputCount: number, outputCount: number): void {
    this.#buffer[0] = inputCount;
    this.#buffer[1] = outputCount;
  }

  /** A view of the current buffer as `dtype`'s array class. */
  view(dtype: DTypeInfo): TensorData {
    return (this.#views[dtype.onnx] ??= new dtype.array!(this.#buffer.buffer));
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    const grown = new Float64Array(Math.max(this.#buffer.length * 2, this.#length + extra));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#views = [];
    this.#addon?.setRunHeader(grown);
  }
}

export const runHeader = new RunHeader();
