/**
 * @internal The header of a native run call (layout in native/run_job.h): every
 * input's and output's index, element type and dims, packed into one reused
 * Float64Array so that the native side reads them from memory instead of making an
 * N-API call per value. The native call reads it before returning, so one buffer per
 * thread serves every call.
 */
class RunHeader {
  #buffer = new Float64Array(256);
  #length = 0;

  start(): void {
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

  finish(inputCount: number, outputCount: number): Float64Array {
    this.#buffer[0] = inputCount;
    this.#buffer[1] = outputCount;
    return this.#buffer;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    const grown = new Float64Array(Math.max(this.#buffer.length * 2, this.#length + extra));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}

export const runHeader = new RunHeader();
