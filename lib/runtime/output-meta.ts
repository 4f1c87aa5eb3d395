/**
 * @internal Reading outputs back from the native layer: per output, its entry in the
 * meta list (element type, rank, dims, where its data is; layout in native/run_job.h)
 * and its JavaScript value.
 */
import { type DTypeInfo, type TensorData, dtypeByOnnx } from '../core/dtypes';
import type { AnyTensor } from '../core/tensor';

/**
 * The tensor whose meta entry starts at `meta[at]`, or undefined when its data went
 * into the caller's own array. `value` is its JavaScript value (an ArrayBuffer or
 * strings) unless its data came back inline, in `meta`'s buffer `inlineStart` bytes
 * in; `viewOf` gives a view of that buffer as a dtype's array. The entry is
 * `3 + rank` numbers long.
 */
export function readOutput(meta: Float64Array, at: number, value: unknown, inlineStart: number, viewOf: (dtype: DTypeInfo) => TensorData): AnyTensor | undefined {
  const type = meta[at];
  if (type === 0) return undefined;
  const rank = meta[at + 1];
  const dims = new Array<number>(rank);
  let count = 1;
  for (let d = 0; d < rank; d++) count *= dims[d] = meta[at + 2 + d];
  const inlineAt = meta[at + 2 + rank];
  const dtype = dtypeByOnnx[type]!;
  let data: TensorData | string[];
  if (inlineAt >= 0) {
    // Copied off the meta buffer into a new array: one this small lives on V8's heap,
    // with no backing store to allocate and track.
    const view = viewOf(dtype) as Float32Array;
    const from = (inlineStart + inlineAt * 8) / dtype.bytes;
    const copy = new dtype.array!(count) as Float32Array;
    for (let k = 0; k < count; k++) copy[k] = view[from + k];
    data = copy;
  } else {
    data = dtype.array ? new dtype.array(value as ArrayBuffer) : (value as string[]);
  }
  return { type: dtype.name, dims, data } as AnyTensor;
}
