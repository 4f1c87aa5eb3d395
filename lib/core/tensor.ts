/**
 * The folder core/ is what every other folder builds on, and imports nothing of the
 * package's: tensors and their element types (dtypes.ts), the error class (errors.ts),
 * typed signatures (signature.ts), option-name checks (check-keys.ts) and a limit on work
 * in flight (run-gate.ts).
 *
 * Tensors: `{ type, dims, data }` with `data` the natural array of `type`. Any object of
 * that shape is accepted as an input, including onnxruntime-common's `Tensor`.
 */
import { type DTypeInfo, type ElementType, type TensorData, type TensorDataMap, describeData, dtypeByName, elementTypes } from './dtypes';
import { OrtError } from './errors';

/**
 * A tensor as this package's sessions return it: a plain `{ type, dims, data }` object
 * (the package's `Tensor` is onnxruntime-common's class, for onnxruntime-node's API).
 * Inputs are read from `data` in place (never copied, except strings); outputs are
 * TypedArrays over the memory ONNX Runtime wrote them to.
 *
 * @typeParam T - The element type.
 */
export interface PlainTensor<T extends ElementType = ElementType> {
  /** The element type. */
  readonly type: T;
  /** The shape; `[]` for a scalar. */
  readonly dims: readonly number[];
  /** The elements in row-major order: `dims.reduce((a, b) => a * b, 1)` of them. */
  readonly data: TensorDataMap[T];
}

/** A tensor of any element type, discriminated by `type`. */
export type AnyTensor = { [T in ElementType]: PlainTensor<T> }[ElementType];

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
): PlainTensor<T> {
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
  const t = { type, dims: shape, data: array } as PlainTensor<T>;
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

/**
 * @internal A copy of `dims`, or INVALID_SHAPE unless they are non-negative integers:
 * what was checked is what is used, whatever a getter or a Proxy would answer next time.
 */
export function readDims(dims: unknown, role: string, name?: string): number[] {
  if (!Array.isArray(dims)) {
    throw new OrtError(`${label(role, name)}: dims must be an array of integers, got ${describeData(dims)}`, 'INVALID_SHAPE');
  }
  const copy = new Array<number>(dims.length);
  for (let i = 0; i < copy.length; i++) {
    const d: unknown = dims[i];
    if (!Number.isSafeInteger(d) || (d as number) < 0) {
      throw new OrtError(`${label(role, name)}: dims must be non-negative integers, got [${dims.join(', ')}]`, 'INVALID_SHAPE');
    }
    copy[i] = d as number;
  }
  return copy;
}

/** @internal The element count of `dims`, or INVALID_SHAPE unless they are non-negative integers. */
export function shapeCount(dims: unknown, role: string, name?: string): number {
  return elementCount(readDims(dims, role, name));
}

/** @internal A tensor as {@link readTensor} checked it. */
export interface CheckedTensor {
  readonly dtype: DTypeInfo;
  /** A copy of the tensor's dims. */
  readonly dims: readonly number[];
  readonly data: TensorData | string[];
}

// TypedArray and ArrayBuffer internals, read through the built-in getters: a subclass can
// override `length` or `buffer`, and the addon reads the real memory.
const typedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype) as object;
const builtInGetter = <T>(name: string) => Object.getOwnPropertyDescriptor(typedArrayPrototype, name)!.get as (this: unknown) => T;
const typedArrayLength = builtInGetter<number>('length');
/** @internal A TypedArray's real buffer, byte offset and byte length, whatever a subclass says. */
export const typedArrayBuffer = builtInGetter<ArrayBufferLike>('buffer');
/** @internal */
export const typedArrayByteOffset = builtInGetter<number>('byteOffset');
/** @internal */
export const typedArrayByteLength = builtInGetter<number>('byteLength');
const arrayBufferResizable = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get as ((this: ArrayBuffer) => boolean) | undefined;

/**
 * @internal Checks a tensor-like value and returns what it checked. Each field is read
 * once and the dims are copied, so that what reaches the native layer is what was
 * checked. `role` and `name` name it in messages (built only when there is something to
 * say: this runs per call).
 */
export function readTensor(value: unknown, role: string, name?: string, expected?: DTypeInfo): CheckedTensor {
  if (typeof value !== 'object' || value === null) {
    throw new OrtError(`${label(role, name)} must be a tensor { type, dims, data }, got ${describeData(value)}`, 'INVALID_TENSOR');
  }
  const t = value as TensorLike;
  const type = t.type;
  const data = t.data;
  const rawDims = t.dims;
  // The expected type is the common case, and needs no lookup.
  const dtype = expected !== undefined && type === expected.name ? expected : dtypeOf(type, role, name);
  let length: number;
  if (dtype.array === null) {
    if (!Array.isArray(data)) {
      throw new OrtError(`${label(role, name)}: string data must be an array of strings, got ${describeData(data)}`, 'INVALID_DTYPE');
    }
    length = data.length;
    // Index by index, holes included (every() and findIndex() would skip or trip on them).
    for (let i = 0; i < length; i++) {
      const s: unknown = data[i];
      if (typeof s !== 'string') {
        throw new OrtError(`${label(role, name)}: string data must be an array of strings; element ${i} is ${describeData(s)}`, 'INVALID_DTYPE');
      }
      // ONNX Runtime takes strings as C strings: a NUL would silently cut one short.
      if (s.includes('\0')) {
        throw new OrtError(`${label(role, name)}: string ${i} contains U+0000, which ONNX Runtime strings cannot hold`, 'INVALID_TENSOR');
      }
    }
  } else {
    if (!(data instanceof dtype.array) && !(dtype.name === 'float16' && Float16ArrayClass && data instanceof Float16ArrayClass)) {
      throw new OrtError(
        `${label(role, name)}: ${dtype.name} data must be a ${dtype.array.name}, got ${describeData(data)}`,
        'INVALID_DTYPE',
      );
    }
    const buffer = typedArrayBuffer.call(data);
    // ONNX Runtime reads and writes the memory in place, on another thread: a buffer that
    // can shrink could be cut from under it. (A growable SharedArrayBuffer never shrinks.)
    if (arrayBufferResizable !== undefined && buffer instanceof ArrayBuffer && arrayBufferResizable.call(buffer)) {
      throw new OrtError(
        `${label(role, name)}: its data is over a resizable ArrayBuffer, which could shrink while ONNX Runtime reads it; use a fixed-length one`,
        'INVALID_TENSOR',
      );
    }
    length = typedArrayLength.call(data);
  }
  const dims = readDims(rawDims, role, name);
  const count = elementCount(dims);
  if (count !== length) {
    throw new OrtError(`${label(role, name)}: dims [${dims.join(', ')}] hold ${count} elements, but data has ${length}`, 'INVALID_SHAPE');
  }
  return { dtype, dims, data: data as TensorData | string[] };
}

/** @internal {@link readTensor}'s dtype, for callers that need nothing else. */
export function checkTensor(value: unknown, role: string, name?: string, expected?: DTypeInfo): DTypeInfo {
  return readTensor(value, role, name, expected).dtype;
}
