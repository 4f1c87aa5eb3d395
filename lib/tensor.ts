/**
 * Tensors: `{ type, dims, data }` with `data` the natural array of `type`. Any object of
 * that shape is accepted as an input, including onnxruntime-common's `Tensor`.
 */
import { type DTypeInfo, type ElementType, type TensorDataMap, describeData, dtypeByName, elementTypes } from './dtypes';
import { OrtError } from './errors';

/**
 * A tensor. Inputs are read from `data` in place (never copied, except strings); outputs
 * are TypedArrays over the memory ONNX Runtime wrote them to.
 *
 * @typeParam T - The element type.
 */
export interface Tensor<T extends ElementType = ElementType> {
  /** The element type. */
  readonly type: T;
  /** The shape; `[]` for a scalar. */
  readonly dims: readonly number[];
  /** The elements in row-major order: `dims.reduce((a, b) => a * b, 1)` of them. */
  readonly data: TensorDataMap[T];
}

/** A tensor of any element type, discriminated by `type`. */
export type AnyTensor = { [T in ElementType]: Tensor<T> }[ElementType];

/**
 * What an input may be: any `{ type, dims, data }` object, such as onnxruntime-common's
 * `Tensor`. It is checked at run time against the model's inputs.
 */
export interface TensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** Values a plain array may hold for {@link tensor} to convert. */
type PlainElement<T extends ElementType> = T extends 'string'
  ? string
  : T extends 'int64' | 'uint64'
    ? bigint | number
    : T extends 'bool'
      ? boolean | number
      : number;

/**
 * Makes a tensor, checking that `dims` fit `data`. The natural array is used as is; a
 * plain array is converted into one (a copy).
 *
 * @param type - The element type.
 * @param data - The elements, row-major.
 * @param dims - The shape; defaults to `[data.length]`.
 * @throws {@link OrtError} `INVALID_DTYPE` for an unknown type or the wrong array class,
 *   `INVALID_SHAPE` when `dims` do not hold `data.length` elements.
 * @example
 * ```ts
 * const x = tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const ids = tensor('int64', [101, 2023, 102], [1, 3]); // converted to BigInt64Array
 * ```
 */
export function tensor<T extends ElementType>(
  type: T,
  data: TensorDataMap[T] | readonly PlainElement<T>[],
  dims?: readonly number[],
): Tensor<T> {
  const dtype = dtypeOf(type, 'tensor()');
  let array: unknown = data;
  if (Array.isArray(data) && dtype.array) {
    const typed = new dtype.array(data.length);
    const big = type === 'int64' || type === 'uint64';
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as unknown as number | bigint | boolean;
      (typed as unknown as (number | bigint)[])[i] = big ? BigInt(v) : Number(v);
    }
    array = typed;
  }
  const shape = dims ?? [(array as { length: number }).length];
  const t = { type, dims: shape, data: array } as Tensor<T>;
  checkTensor(t, 'tensor()');
  return t;
}

/** @internal The dtype for a type name, or an INVALID_DTYPE error. */
export function dtypeOf(type: unknown, role: string, name?: string): DTypeInfo {
  const dtype = typeof type === 'string' ? dtypeByName.get(type) : undefined;
  if (!dtype) {
    throw new OrtError(
      `${label(role, name)}: unknown element type ${JSON.stringify(type)}; expected one of ${elementTypes.join(', ')}`,
      'INVALID_DTYPE',
    );
  }
  return dtype;
}

/** Node 20 has no Float16Array; where one exists, it holds float16 data too. */
const Float16ArrayClass = (globalThis as { Float16Array?: abstract new (...args: never[]) => unknown }).Float16Array;

/** @internal How messages name a tensor: "input 'x'", or "tensor()" with no name. */
export function label(role: string, name?: string): string {
  return name === undefined ? role : `${role} '${name}'`;
}

/** Elements in a shape already known to be valid (see {@link shapeCount} for one that is not). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** @internal The element count of `dims`, or INVALID_SHAPE unless they are non-negative integers. */
export function shapeCount(dims: unknown, role: string, name?: string): number {
  if (!Array.isArray(dims)) {
    throw new OrtError(`${label(role, name)}: dims must be an array of integers, got ${describeData(dims)}`, 'INVALID_SHAPE');
  }
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new OrtError(`${label(role, name)}: dims must be non-negative integers, got [${dims.join(', ')}]`, 'INVALID_SHAPE');
    }
    count *= d;
  }
  return count;
}

/**
 * @internal Checks a tensor-like value's shape and returns its dtype. `role` and `name`
 * name it in messages (built only when there is something to say: this runs per call).
 */
export function checkTensor(value: unknown, role: string, name?: string, expected?: DTypeInfo): DTypeInfo {
  if (typeof value !== 'object' || value === null) {
    throw new OrtError(`${label(role, name)} must be a tensor { type, dims, data }, got ${describeData(value)}`, 'INVALID_TENSOR');
  }
  const t = value as TensorLike;
  // The expected type is the common case, and needs no lookup.
  const dtype = expected !== undefined && t.type === expected.name ? expected : dtypeOf(t.type, role, name);
  const data = t.data;
  if (dtype.array === null) {
    if (!Array.isArray(data) || !data.every((s) => typeof s === 'string')) {
      throw new OrtError(`${label(role, name)}: string data must be an array of strings, got ${describeData(data)}`, 'INVALID_DTYPE');
    }
    // ONNX Runtime takes strings as C strings: a NUL would silently cut one short.
    const cut = data.findIndex((s: string) => s.includes('\0'));
    if (cut !== -1) {
      throw new OrtError(`${label(role, name)}: string ${cut} contains U+0000, which ONNX Runtime strings cannot hold`, 'INVALID_TENSOR');
    }
  } else if (!(data instanceof dtype.array) && !(dtype.name === 'float16' && Float16ArrayClass && data instanceof Float16ArrayClass)) {
    throw new OrtError(
      `${label(role, name)}: ${dtype.name} data must be a ${dtype.array.name}, got ${describeData(data)}`,
      'INVALID_DTYPE',
    );
  }
  const dims = t.dims;
  const count = shapeCount(dims, role, name);
  const length = (data as { length: number }).length;
  if (count !== length) {
    throw new OrtError(
      `${label(role, name)}: dims [${dims.join(', ')}] hold ${count} elements, but data has ${length}`,
      'INVALID_SHAPE',
    );
  }
  return dtype;
}
