/**
 * @internal Moving requests' tensors into one batch and results back out: the copies
 * dynamic batching needs, and views where none is needed.
 */
import type { TensorData } from '../core/dtypes';
import { elementCount } from '../core/tensor';

/** Row-major strides of a shape, in elements. */
function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let stride = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = stride;
    stride *= dims[i];
  }
  return s;
}

/**
 * Copies the block `srcDims` of `src` starting at `srcOffsets` into `dst` (shape
 * `dstDims`) at `dstOffsets`; `blockDims` is the block's shape. Row by row along the
 * last axis, so a block of whole rows costs one `set` per row.
 */
export function copyBlock(
  src: TensorData,
  srcDims: readonly number[],
  srcOffsets: readonly number[],
  dst: TensorData,
  dstDims: readonly number[],
  dstOffsets: readonly number[],
  blockDims: readonly number[],
): void {
  const rank = blockDims.length;
  if (rank === 0) {
    (dst as unknown[])[0] = (src as unknown[])[0];
    return;
  }
  if (elementCount(blockDims) === 0) return;
  const srcStrides = strides(srcDims);
  const dstStrides = strides(dstDims);
  const rowLength = blockDims[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  const typedSrc = src as Float32Array;
  const typedDst = dst as Float32Array;
  const strings = Array.isArray(src);
  for (;;) {
    let from = srcOffsets[rank - 1];
    let to = dstOffsets[rank - 1];
    for (let a = 0; a < rank - 1; a++) {
      from += (srcOffsets[a] + index[a]) * srcStrides[a];
      to += (dstOffsets[a] + index[a]) * dstStrides[a];
    }
    if (strings) {
      for (let k = 0; k < rowLength; k++) (dst as string[])[to + k] = (src as string[])[from + k];
    } else {
      typedDst.set(typedSrc.subarray(from, from + rowLength), to);
    }
    // Next row: an odometer over the outer axes.
    let a = rank - 2;
    while (a >= 0 && ++index[a] === blockDims[a]) index[a--] = 0;
    if (a < 0) return;
  }
}

/**
 * A block of `data` (shape `dims`): `offset` rows from `start` along `axis`, and along
 * `trimAxis` (when given) only the first `trimLength`. A view when the block is one
 * contiguous run of memory, a copy otherwise.
 */
export function sliceBlock(
  data: TensorData,
  dims: readonly number[],
  axis: number,
  start: number,
  count: number,
  trim?: { axis: number; length: number },
): { data: TensorData; dims: number[] } {
  const blockDims = dims.slice();
  blockDims[axis] = count;
  if (trim) blockDims[trim.axis] = Math.min(trim.length, dims[trim.axis]);
  const offsets = new Array<number>(dims.length).fill(0);
  offsets[axis] = start;
  // Contiguous when every axis before `axis` has size 1 and no axis after it is cut.
  let contiguous = true;
  for (let a = 0; a < axis; a++) contiguous &&= dims[a] === 1;
  for (let a = axis + 1; a < dims.length; a++) contiguous &&= blockDims[a] === dims[a];
  if (contiguous && !Array.isArray(data)) {
    const inner = elementCount(dims.slice(axis + 1));
    return { data: (data as Float32Array).subarray(start * inner, (start + count) * inner), dims: blockDims };
  }
  const out = Array.isArray(data)
    ? new Array<string>(elementCount(blockDims))
    : new (data.constructor as new (n: number) => TensorData)(elementCount(blockDims));
  copyBlock(data, dims, offsets, out, blockDims, new Array<number>(dims.length).fill(0), blockDims);
  return { data: out, dims: blockDims };
}
