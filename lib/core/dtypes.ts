/**
 * The tensor element types: the one table that maps each to ONNX's element type
 * number, its size in bytes and the JavaScript array that holds it. The native addon
 * receives the sizes from here at start-up and keeps no table of its own.
 */

/** Maps each element type to the JavaScript array that holds its data. */
export interface TensorDataMap {
  float32: Float32Array;
  float64: Float64Array;
  /** IEEE half floats, as raw 16-bit patterns. */
  float16: Uint16Array;
  /** bfloat16 values, as raw 16-bit patterns (the top half of a float32). */
  bfloat16: Uint16Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  /** One byte per element: 0 is false, anything else true. */
  bool: Uint8Array;
  /** Copied in and out (UTF-8 inside ONNX Runtime). */
  string: string[];
}

/** A tensor element type name, as onnxruntime-common spells it. */
export type ElementType = keyof TensorDataMap;

/** The data array of any element type. */
export type TensorData = TensorDataMap[ElementType];

/** The element types whose data is a TypedArray (all but `string`). */
export type NumericElementType = Exclude<ElementType, 'string'>;

type TypedArrayConstructor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TensorData;
};

/** @internal One row of the table. */
export interface DTypeInfo {
  readonly name: ElementType;
  /** ONNX's TensorProto.DataType number, which ONNX Runtime uses as is. */
  readonly onnx: number;
  /** Bytes per element; 0 for strings. */
  readonly bytes: number;
  /** The array class of the data; null for strings. */
  readonly array: TypedArrayConstructor | null;
}

const TABLE: readonly DTypeInfo[] = [
  { name: 'float32', onnx: 1, bytes: 4, array: Float32Array },
  { name: 'uint8', onnx: 2, bytes: 1, array: Uint8Array },
  { name: 'int8', onnx: 3, bytes: 1, array: Int8Array },
  { name: 'uint16', onnx: 4, bytes: 2, array: Uint16Array },
  { name: 'int16', onnx: 5, bytes: 2, array: Int16Array },
  { name: 'int32', onnx: 6, bytes: 4, array: Int32Array },
  { name: 'int64', onnx: 7, bytes: 8, array: BigInt64Array },
  { name: 'string', onnx: 8, bytes: 0, array: null },
  { name: 'bool', onnx: 9, bytes: 1, array: Uint8Array },
  { name: 'float16', onnx: 10, bytes: 2, array: Uint16Array },
  { name: 'float64', onnx: 11, bytes: 8, array: Float64Array },
  { name: 'uint32', onnx: 12, bytes: 4, array: Uint32Array },
  { name: 'uint64', onnx: 13, bytes: 8, array: BigUint64Array },
  { name: 'bfloat16', onnx: 16, bytes: 2, array: Uint16Array },
];

/** @internal */
export const dtypeByName: ReadonlyMap<string, DTypeInfo> = new Map(TABLE.map((t) => [t.name, t]));

/** @internal Indexed by ONNX element type number. */
export const dtypeByOnnx: readonly (DTypeInfo | undefined)[] = (() => {
  const byNumber: (DTypeInfo | undefined)[] = [];
  for (const t of TABLE) byNumber[t.onnx] = t;
  return byNumber;
})();

/** @internal Bytes per element by ONNX number, as the native addon wants them. */
export const elementSizes: readonly number[] = Array.from(dtypeByOnnx, (t) => t?.bytes ?? 0);

/** Every supported element type name. */
export const elementTypes: readonly ElementType[] = TABLE.map((t) => t.name);

/**
 * ONNX element types that exist but have no natural JavaScript array here
 * (complex, float8, packed 4-bit integers). A model input or output of one of these
 * types is listed by `inspect` but cannot be fed or read.
 */
const UNSUPPORTED_NAMES: Readonly<Record<number, string>> = {
  0: 'undefined',
  14: 'complex64',
  15: 'complex128',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

/** @internal A readable name for any ONNX element type number. */
export function onnxTypeName(onnx: number): string {
  return dtypeByOnnx[onnx]?.name ?? UNSUPPORTED_NAMES[onnx] ?? `onnx-type-${onnx}`;
}

/** @internal The class name of an array as a user would recognise it. */
export function describeData(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'Array';
  if (ArrayBuffer.isView(data)) return data.constructor.name;
  return typeof data === 'object' ? (data.constructor?.name ?? 'object') : typeof data;
}
