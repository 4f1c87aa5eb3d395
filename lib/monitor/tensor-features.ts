/**
 * What of a tensor is monitored: a tensor is too big to profile value by value, so each
 * is reduced, row by row (one row per request of a batch), to a few features, each a
 * number (or a category) per row:
 * - `features`: each element of a small row its own feature (tabular inputs);
 * - `channels`: the mean of each channel along an axis (an image's colour channels);
 * - `classes`: a classifier's scores: the predicted class (categorical) and the
 *   confidence, its top score;
 * - `values`: elements of the row pooled into one feature (a large tensor's overall
 *   distribution), at most {@link VALUES_PER_ROW} of them a row, evenly strided;
 * - `centroid`: an embedding's cosine distance to the reference's centroid (the mean of
 *   its rows, which the profile keeps in the reduction).
 * {@link defaultReduction} picks one from the shape, as the config may override.
 */
import type { PlainTensor } from '../core/tensor';
import { bfloat16Value, float16Value } from '../core/float16';

/** How a tensor is reduced to features. */
export type Reduction =
  | { readonly kind: 'features' }
  | { readonly kind: 'channels'; readonly axis: number }
  | { readonly kind: 'classes' }
  | { readonly kind: 'values' }
  /** `centroid` absent while a profile is being made (the builder computes it from the reference rows). */
  | { readonly kind: 'centroid'; readonly centroid?: readonly number[] };

/** Rows of at most this many elements get a feature per element by default. */
export const MAX_ROW_FEATURES = 64;

/** Elements a row gives to a `values` feature: a window of 1000 then spans many requests, not one image's first pixels. */
export const VALUES_PER_ROW = 64;

/**
 * The reduction a tensor gets when its config names none, from its shape without the
 * batch dimension (`row`) and whether it is a model output: a classifier's scores
 * (an output of 2 to 1000 floats a row) its classes; a row of 4 dimensions or 3 with a
 * small first one (C x H x W) its channels; a small row its features; others their values.
 */
export function defaultReduction(row: readonly number[], output: boolean): Reduction {
  const size = row.reduce((a, b) => a * b, 1);
  if (output && row.length === 1 && row[0] >= 2 && row[0] <= 1000) return { kind: 'classes' };
  if (row.length === 3 && row[0] > 0 && row[0] <= 4) return { kind: 'channels', axis: 0 };
  if (size > 0 && size <= MAX_ROW_FEATURES) return { kind: 'features' };
  return { kind: 'values' };
}

/** One monitored feature of a tensor: its name (`x[3]`, `image.channel[0]`, `scores.class`) and whether it is categorical. */
export interface FeatureName {
  readonly name: string;
  readonly categorical: boolean;
}

/** The features `reduction` makes of tensor `tensor` whose rows have shape `row`. */
export function featureNames(tensor: string, row: readonly number[], reduction: Reduction): FeatureName[] {
  switch (reduction.kind) {
    case 'features':
      return Array.from({ length: row.reduce((a, b) => a * b, 1) }, (_, i) => ({ name: `${tensor}[${i}]`, categorical: false }));
    case 'channels':
      return Array.from({ length: row[reduction.axis] ?? 0 }, (_, c) => ({ name: `${tensor}.channel[${c}]`, categorical: false }));
    case 'classes':
      return [
        { name: `${tensor}.class`, categorical: true },
        { name: `${tensor}.confidence`, categorical: false },
      ];
    case 'values':
      return [{ name: `${tensor}.values`, categorical: false }];
    case 'centroid':
      return [{ name: `${tensor}.centroid_distance`, categorical: false }];
  }
}

/** 1 - the cosine of the angle between `row` (elements `start` to `start + centroid.length` read by `at`) and `centroid`: 0 alike, 1 orthogonal, 2 opposite; 1 for a zero row. */
export function cosineDistance(at: (i: number) => number, start: number, centroid: readonly number[]): number {
  let dot = 0;
  let rowNorm = 0;
  let centroidNorm = 0;
  for (let i = 0; i < centroid.length; i++) {
    const v = at(start + i);
    dot += v * centroid[i];
    rowNorm += v * v;
    centroidNorm += centroid[i] * centroid[i];
  }
  const norms = Math.sqrt(rowNorm * centroidNorm);
  return norms === 0 ? 1 : 1 - dot / norms;
}

type NumericData = Exclude<PlainTensor['data'], readonly string[] | readonly boolean[]>;

/** How an element of each type reads as a number (float16 and bfloat16 travel as their bits). */
function reader(t: PlainTensor): (i: number) => number {
  const data = t.data as NumericData;
  // A Float16Array (where the platform has one) holds the values themselves.
  if (t.type === 'float16' && data instanceof Uint16Array) return (i) => float16Value(data[i]);
  if (t.type === 'bfloat16') return (i) => bfloat16Value(Number(data[i]));
  return (i) => Number(data[i]);
}

/** Data whose elements read as numbers by index: the typed arrays other than float16's and bfloat16's bits and the 64-bit integers. */
type DirectData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** `t`'s data when its elements are numbers as they are, for the loops that read every element (a closure a read costs 8x on an image). */
function directData(t: PlainTensor): DirectData | undefined {
  if (t.type === 'float16' || t.type === 'bfloat16' || t.type === 'int64' || t.type === 'uint64') return undefined;
  const d = t.data as unknown;
  return ArrayBuffer.isView(d) && !(d instanceof DataView) ? (d as DirectData) : undefined;
}

/**
 * The sum of `data[start]` to `data[end - 1]`, in four running sums: one sum's additions
 * wait for each other (a floating-point add's latency), four interleave; an image's
 * channels take a third of the time.
 */
function sumOf(data: DirectData, start: number, end: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    a += data[i];
    b += data[i + 1];
    c += data[i + 2];
    d += data[i + 3];
  }
  for (; i < end; i++) a += data[i];
  return a + b + c + d;
}

/**
 * Calls `emit(feature, value)` for each feature of each row of `t` (its first dimension
 * the batch when `batched`): `feature` indexes {@link featureNames}'s list. String and
 * boolean tensors are not reduced (their features would be categories of text: not yet).
 */
export function reduceTensor(t: PlainTensor, batched: boolean, reduction: Reduction, emit: (feature: number, value: number) => void): void {
  if (t.type === 'string' || t.type === 'bool') return;
  const numberAt = reader(t);
  const direct = directData(t);
  const rows = batched ? (t.dims[0] ?? 1) : 1;
  const row = batched ? t.dims.slice(1) : t.dims;
  const size = row.reduce((a, b) => a * b, 1);
  for (let r = 0; r < rows; r++) {
    const base = r * size;
    switch (reduction.kind) {
      case 'features':
        for (let i = 0; i < size; i++) emit(i, numberAt(base + i));
        break;
      case 'values': {
        const stride = Math.max(1, Math.floor(size / VALUES_PER_ROW));
        for (let i = 0; i < size; i += stride) emit(0, numberAt(base + i));
        break;
      }
      case 'classes': {
        let best = 0;
        for (let i = 1; i < size; i++) if (numberAt(base + i) > numberAt(base + best)) best = i;
        emit(0, best);
        emit(1, numberAt(base + best));
        break;
      }
      case 'centroid': {
        if (reduction.centroid === undefined) throw new Error('a centroid reduction needs its centroid (a profile being made keeps the rows instead)');
        emit(0, cosineDistance(numberAt, base, reduction.centroid));
        break;
      }
      case 'channels': {
        // Row-major: a channel is `inner` contiguous elements, repeated `outer` times.
        const channels = row[reduction.axis] ?? 0;
        const inner = row.slice(reduction.axis + 1).reduce((a, b) => a * b, 1);
        const outer = row.slice(0, reduction.axis).reduce((a, b) => a * b, 1);
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let o = 0; o < outer; o++) {
            const start = base + (o * channels + c) * inner;
            if (direct !== undefined) sum += sumOf(direct, start, start + inner);
            else for (let i = 0; i < inner; i++) sum += numberAt(start + i);
          }
          emit(c, sum / (outer * inner));
        }
        break;
      }
    }
  }
}
