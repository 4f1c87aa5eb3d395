/**
 * The Open Inference Protocol's inference request over HTTP, decoded into the core's
 * {@link InferRequest}: the JSON object of KServe's "Predict Protocol - Version 2"
 * (docs/predict-api/v2/required_api.md, "Inference Request JSON Object" and "Tensor
 * Data"), with inputs given as JSON `data` or, through Triton's binary tensor data
 * extension (docs/protocol/extension_binary_data.md), as bytes after the header.
 *
 * Every field is checked once, here, with messages that name the input, what was
 * expected and what came; every input's declared shape is checked against what was sent
 * before anything of the shape's size is allocated; then each tensor is written into its
 * natural array (lib/core/dtypes.ts) in one pass.
 *
 * Where the spec is silent, this file follows Triton's HTTP server (src/http_server.cc):
 * an input carries exactly one of `data` and `parameters.binary_data_size`
 * (ValidateInputContentType), and fields the spec does not name are ignored (Triton's
 * own binary example sends a top-level `model_name`).
 */
import { OrtError } from '../../core/errors';
import { type BinaryLimits, checkBinarySize, decodeBinaryInput, numericDtype, product } from './binary-extension';
import { bfloat16Bits, float16Bits } from '../../core/float16';
import {
  type Datatype,
  ELEMENT_TYPE_OF,
  type InferInput,
  type InferRequest,
  type Parameters,
  type RequestedOutput,
  type ProtocolError,
  invalid,
  isDatatype,
} from './types';
import type { AnyTensor } from '../../core/tensor';
import type { TensorData } from '../../core/dtypes';

/** What one request may ask the decoder to build. */
export interface DecodeLimits extends BinaryLimits {
  /** Most elements in all of a request's inputs together. */
  readonly maxElements: number;
  /** Longest BYTES element, in UTF-8 bytes (JSON strings and binary elements alike). */
  readonly maxBytesLength: number;
  /** Most dimensions in an input's shape (and so the deepest nested `data`). */
  readonly maxRank: number;
}

/**
 * The default limits. Every allocation is already bounded by what was sent (shapes are
 * checked against the data first), so these bound the work one request can cause, not
 * a lie about its size:
 * - `maxElements` 2^26 (67,108,864): a batch of 64 images of 3 x 512 x 512 fits, and no
 *   request decodes to more than 512 MiB even if the body limit is raised to gigabytes.
 * - `maxBytesLength` 16 MiB: a large encoded image or document per element, far below
 *   V8's longest string (2^29 - 24 characters), so one element cannot fail the decoder.
 * - `maxRank` 64: numpy's own limit (NPY_MAXDIMS in numpy 2), and it bounds the
 *   recursion over nested data.
 */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxElements: 2 ** 26,
  maxBytesLength: 16 * 1024 * 1024,
  maxRank: 64,
});

/**
 * Checks decode limits once, at start-up, filling in the defaults.
 *
 * @param options - Any of {@link DecodeLimits}; each a positive safe integer.
 * @returns A frozen {@link DecodeLimits}.
 * @throws {@link OrtError} `INVALID_OPTION` for an unknown key or a bad value.
 * @example
 * ```ts
 * const limits = decodeLimits({ maxElements: 1 << 20 });
 * ```
 */
export function decodeLimits(options: Partial<DecodeLimits> = {}): DecodeLimits {
  const limits: Record<string, number> = { ...DEFAULT_DECODE_LIMITS };
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(DEFAULT_DECODE_LIMITS, key)) {
      throw new OrtError(`decode limits: unknown option ${JSON.stringify(key)}; expected ${Object.keys(DEFAULT_DECODE_LIMITS).join(', ')}`, 'INVALID_OPTION');
    }
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new OrtError(`decode limits: ${key} must be a positive integer, got ${String(value)}`, 'INVALID_OPTION');
    }
    limits[key] = value;
  }
  return Object.freeze(limits as unknown as DecodeLimits);
}

/** Where an input's elements come from, as the first pass found them. */
type Source =
  | { readonly kind: 'json'; readonly data: readonly unknown[]; readonly nested: boolean }
  | { readonly kind: 'binary'; readonly offset: number; readonly size: number };

/** An input as the first pass checked it, before anything of its size is allocated. */
interface InputPlan {
  readonly who: string;
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly count: number;
  readonly parameters: Parameters | undefined;
  readonly source: Source;
}

/**
 * Decodes and checks an inference request.
 *
 * @param header - The request's JSON object, parsed (the whole body of an
 *   `application/json` request, or binary-extension.ts `splitInferBody`'s `header`).
 * @param binary - The bytes after the JSON header (binary tensor data extension), or
 *   undefined when the request has none.
 * @param route - The model and version named by the URL.
 * @param limits - From {@link decodeLimits}; defaults to {@link DEFAULT_DECODE_LIMITS}.
 * @returns The request, each input's tensor in its natural array: numeric binary inputs
 *   are views over `binary` where aligned, so `binary` must not be reused while the
 *   request lives. `binary_data_size` is removed from inputs' parameters;
 *   `binary_data_output` and `binary_data` stay for encode-response.ts.
 * @throws {@link ProtocolError} INVALID_ARGUMENT for anything malformed, naming the field.
 *
 * Elements, per datatype: BOOL `true`/`false`; integers as JSON numbers within their
 * type's range; INT64/UINT64 as JSON numbers only up to ±(2^53 - 1), beyond which a JSON
 * number may already have been rounded by the parser, and as decimal strings
 * (`"9007199254740993"`) for every 64-bit value; FP16/BF16/FP32/FP64 as numbers, rounded
 * to nearest, ties to even, or as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`;
 * BYTES as strings (kept as ONNX strings: well-formed text without U+0000).
 * @example
 * ```ts
 * const request = decodeInferRequest(
 *   { inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4]] }] },
 *   undefined,
 *   { model: 'resnet' },
 * );
 * request.inputs[0].tensor; // { type: 'float32', dims: [2, 2], data: Float32Array [1, 2, 3, 4] }
 * ```
 */
export function decodeInferRequest(
  header: unknown,
  binary: Buffer | undefined,
  route: { readonly model: string; readonly version?: string },
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): InferRequest {
  if (!isObject(header)) throw invalid(`the inference request must be a JSON object, got ${describe(header)}`);
  const id = header.id;
  if (id !== undefined && typeof id !== 'string') throw invalid(`the request's "id" must be a string, got ${describe(id)}`);
  const parameters = readParameters(header.parameters, 'the request');
  if (parameters !== undefined) {
    const all = parameters.binary_data_output;
    if (all !== undefined && typeof all !== 'boolean') {
      throw invalid(`the request's parameters.binary_data_output must be true or false, got ${describe(all)}`);
    }
  }
  const plans = planInputs(header.inputs, binary, limits);
  const outputs = readOutputs(header.outputs);

  // Second pass: every size is known to match what was sent; build the tensors.
  const inputs = new Array<InferInput>(plans.length);
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i];
    const data =
      p.source.kind === 'binary'
        ? decodeBinaryInput(p.who, p.datatype, p.count, binary!, p.source.offset, p.source.size, limits)
        : buildFromJson(p, p.source.data, p.source.nested, limits);
    const tensor = { type: ELEMENT_TYPE_OF[p.datatype], dims: p.shape, data } as AnyTensor;
    inputs[i] = p.parameters === undefined
      ? { name: p.name, datatype: p.datatype, shape: p.shape, tensor }
      : { name: p.name, datatype: p.datatype, shape: p.shape, tensor, parameters: p.parameters };
  }

  const request: { -readonly [K in keyof InferRequest]: InferRequest[K] } = { model: route.model, inputs };
  if (route.version !== undefined && route.version !== '') request.version = route.version;
  if (id !== undefined) request.id = id;
  if (parameters !== undefined) request.parameters = parameters;
  if (outputs !== undefined) request.outputs = outputs;
  return request;
}

/** First pass over the inputs: names, datatypes, shapes, and what was sent against them. */
function planInputs(value: unknown, binary: Buffer | undefined, limits: DecodeLimits): InputPlan[] {
  if (!Array.isArray(value)) throw invalid(`the request's "inputs" must be an array of inputs, got ${describe(value)}`);
  const plans = new Array<InputPlan>(value.length);
  const names = new Set<string>();
  let binaryOffset = 0;
  let total = 0;
  for (let i = 0; i < value.length; i++) {
    const input: unknown = value[i];
    if (!isObject(input)) throw invalid(`inputs[${i}] must be an object, got ${describe(input)}`);
    const name = input.name;
    if (typeof name !== 'string') throw invalid(`inputs[${i}]: "name" must be a string, got ${describe(name)}`);
    const who = `input ${quoteName(name)}`;
    if (names.has(name)) throw invalid(`${who} is given twice`);
    names.add(name);
    const datatype = input.datatype;
    if (!isDatatype(datatype)) {
      throw invalid(`${who}: unknown datatype ${describe(datatype)}; expected one of ${Object.keys(ELEMENT_TYPE_OF).join(', ')}`);
    }
    const shape = readShape(input.shape, who, limits.maxRank);
    const count = shapeCount(shape);
    const given = readParameters(input.parameters, who);
    let parameters = given;
    let binarySize: number | undefined;
    if (given !== undefined) {
      if (given.shared_memory_region !== undefined) {
        throw invalid(`${who}: parameters.shared_memory_region (the shared memory extension) is not supported by this server`);
      }
      const size = given.binary_data_size;
      if (size !== undefined) {
        if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
          throw invalid(`${who}: parameters.binary_data_size must be a non-negative integer, got ${describe(size)}`);
        }
        binarySize = size;
        // A transport detail: the core sees the tensor, not how it travelled.
        const rest = Object.entries(given).filter(([key]) => key !== 'binary_data_size');
        parameters = rest.length === 0 ? undefined : Object.fromEntries(rest);
      }
    }
    const data = input.data;
    let source: Source;
    if (binarySize !== undefined) {
      if (data !== undefined) throw invalid(`${who} has both "data" and parameters.binary_data_size; give one`);
      if (binary === undefined) {
        throw invalid(
          `${who}: parameters.binary_data_size is ${binarySize}, but the request has no binary data (send the JSON header's length in Inference-Header-Content-Length, then the data)`,
        );
      }
      checkBinarySize(who, datatype, shape, count, binarySize);
      if (binaryOffset + binarySize > binary.length) {
        throw invalid(
          `${who}: its ${binarySize} bytes of binary data would start at byte ${binaryOffset} of the binary section, which has only ${binary.length} bytes (is the body truncated?)`,
        );
      }
      source = { kind: 'binary', offset: binaryOffset, size: binarySize };
      binaryOffset += binarySize;
    } else {
      if (data === undefined) throw invalid(`${who} has neither "data" nor parameters.binary_data_size`);
      source = planJson(who, data, shape, count);
    }
    total += count;
    if (total > limits.maxElements) {
      throw invalid(`${who}: the request's inputs hold ${total} elements up to this one, more than the limit of ${limits.maxElements}`);
    }
    plans[i] = { who, name, datatype, shape, count, parameters, source };
  }
  if (binary !== undefined && binaryOffset !== binary.length) {
    throw invalid(
      `the binary section has ${binary.length} bytes, but the inputs' binary_data_size add up to ${binaryOffset}`,
    );
  }
  return plans;
}

function readShape(value: unknown, who: string, maxRank: number): number[] {
  if (!Array.isArray(value)) throw invalid(`${who}: "shape" must be an array of non-negative integers, got ${describe(value)}`);
  if (value.length > maxRank) throw invalid(`${who}: shape has ${value.length} dimensions, more than the limit of ${maxRank}`);
  const shape = new Array<number>(value.length);
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = value[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw invalid(`${who}: shape dimensions must be non-negative integers; dimension ${i} is ${describe(d)}`);
    }
    shape[i] = d;
  }
  return shape;
}

/** Elements in a checked shape; Infinity when more than 2^53 - 1 (no tensor can be that big). */
function shapeCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

/** Checks JSON `data` against the shape, allocating nothing. */
function planJson(who: string, data: unknown, shape: readonly number[], count: number): Source {
  if (!Array.isArray(data)) throw invalid(`${who}: "data" must be an array, got ${describe(data)}`);
  // Nested when the first element is itself an array; the spec allows the natural
  // multi-dimensional form or the flat one, nothing in between.
  if (shape.length >= 2 && data.length > 0 && Array.isArray(data[0])) {
    checkNested(who, data, shape, 0, []);
    return { kind: 'json', data, nested: true };
  }
  if (data.length !== count) {
    throw invalid(`${who}: shape [${shape.join(',')}] holds ${product(shape)} elements, data has ${data.length}`);
  }
  return { kind: 'json', data, nested: false };
}

/** Checks that nested data has exactly the shape's lengths at each level above the last. */
function checkNested(who: string, node: readonly unknown[], shape: readonly number[], level: number, path: number[]): void {
  if (node.length !== shape[level]) {
    throw invalid(
      `${who}: shape [${shape.join(',')}] needs ${shape[level]} elements at data${path.map((i) => `[${i}]`).join('')}, which has ${node.length}`,
    );
  }
  if (level === shape.length - 1) return; // the leaves are checked as they are written
  for (let i = 0; i < node.length; i++) {
    const child: unknown = node[i];
    path.push(i);
    if (!Array.isArray(child)) {
      throw invalid(
        `${who}: shape [${shape.join(',')}] needs an array of ${shape[level + 1]} at data${path.map((j) => `[${j}]`).join('')}, which is ${describe(child)}`,
      );
    }
    checkNested(who, child, shape, level + 1, path);
    path.pop();
  }
}

/** Writes checked JSON data into a new array of the input's element type. */
function buildFromJson(p: InputPlan, data: readonly unknown[], nested: boolean, limits: DecodeLimits): TensorData | string[] {
  const dtype = numericDtype(p.datatype);
  const out = dtype === null ? new Array<string>(p.count) : new dtype.array(p.count);
  if (!nested) {
    fillRow(p, out, 0, data, limits);
  } else {
    let offset = 0;
    const walk = (node: readonly unknown[], level: number): void => {
      if (level === p.shape.length - 1) {
        fillRow(p, out, offset, node, limits);
        offset += node.length;
        return;
      }
      for (const child of node) walk(child as unknown[], level + 1);
    };
    walk(data, 0);
  }
  return out;
}

/** A writable view of any tensor array, for the fill loops below. */
type Slots<T> = { [index: number]: T };

/** Writes one row of JSON elements from `offset`, converting each per the datatype. */
function fillRow(p: InputPlan, out: TensorData | string[], offset: number, row: readonly unknown[], limits: DecodeLimits): void {
  // One loop per kind of conversion, so each stays monomorphic.
  switch (p.datatype) {
    case 'FP32':
    case 'FP64': {
      const o = out as Slots<number>;
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        o[offset + i] = typeof v === 'number' ? v : floatString(p, offset + i, v, limits);
      }
      return;
    }
    case 'FP16':
    case 'BF16': {
      const o = out as Slots<number>;
      const bits = p.datatype === 'FP16' ? float16Bits : bfloat16Bits;
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        o[offset + i] = bits(typeof v === 'number' ? v : floatString(p, offset + i, v, limits));
      }
      return;
    }
    case 'INT8':
    case 'INT16':
    case 'INT32':
    case 'UINT8':
    case 'UINT16':
    case 'UINT32': {
      const o = out as Slots<number>;
      const [min, max] = INT_RANGE[p.datatype];
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badElement(p, offset + i, v, limits);
        o[offset + i] = v;
      }
      return;
    }
    case 'INT64':
    case 'UINT64': {
      const o = out as Slots<bigint>;
      const signed = p.datatype === 'INT64';
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        let b: bigint | undefined;
        if (typeof v === 'number') {
          if (Number.isSafeInteger(v) && (signed || v >= 0)) b = BigInt(v);
        } else if (typeof v === 'string' && DECIMAL.test(v)) {
          const n = BigInt(v);
          if (signed ? n >= -(2n ** 63n) && n < 2n ** 63n : n >= 0n && n < 2n ** 64n) b = n;
        }
        if (b === undefined) throw badElement(p, offset + i, v, limits);
        o[offset + i] = b;
      }
      return;
    }
    case 'BOOL': {
      const o = out as Slots<number>;
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        if (typeof v !== 'boolean') throw badElement(p, offset + i, v, limits);
        o[offset + i] = v ? 1 : 0;
      }
      return;
    }
    case 'BYTES': {
      const o = out as Slots<string>;
      const max = limits.maxBytesLength;
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        // UTF-8 takes at least one byte per UTF-16 unit and at most three, so the byte
        // count is needed only between max / 3 and max units.
        if (typeof v !== 'string' || v.includes('\0') || !isWellFormed(v) || v.length > max || (v.length * 3 > max && Buffer.byteLength(v) > max)) {
          throw badElement(p, offset + i, v, limits);
        }
        o[offset + i] = v;
      }
      return;
    }
  }
}

/** An integer as a decimal string: at most 20 digits (2^64 has 20), so BigInt() stays cheap. */
const DECIMAL = /^-?\d{1,20}$/;

const INT_RANGE: Readonly<Record<'INT8' | 'INT16' | 'INT32' | 'UINT8' | 'UINT16' | 'UINT32', readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
};

/** What a float element may be besides a number: JSON has no NaN or infinities. */
function floatString(p: InputPlan, index: number, v: unknown, limits: DecodeLimits): number {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw badElement(p, index, v, limits);
}

/** The error for element `index` (row-major) of an input, saying what its datatype takes. */
function badElement(p: InputPlan, index: number, v: unknown, limits: DecodeLimits): Error {
  const at = `${p.who}: element ${index} of ${p.datatype} data`;
  const d = p.datatype;
  if (d === 'BYTES') {
    if (typeof v !== 'string') return invalid(`${at} is ${describe(v)}; expected a string`);
    if (v.includes('\0')) return invalid(`${at} contains U+0000, which ONNX Runtime strings cannot hold`);
    if (!isWellFormed(v)) return invalid(`${at} contains a lone surrogate, which is not text`);
    return invalid(`${at} is ${Buffer.byteLength(v)} bytes long in UTF-8, more than the limit of ${limits.maxBytesLength}`);
  }
  if (d === 'BOOL') return invalid(`${at} is ${describe(v)}; expected true or false`);
  if (d === 'INT64' || d === 'UINT64') {
    const range = d === 'INT64' ? '[-2^63, 2^63 - 1]' : '[0, 2^64 - 1]';
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
      return invalid(
        `${at} is ${describe(v)}, beyond ±(2^53 - 1), where a JSON number may already have been rounded; send it as a decimal string, such as "9007199254740993"`,
      );
    }
    return invalid(`${at} is ${describe(v)}; expected an integer in ${range}, as a JSON number (exact up to ±(2^53 - 1)) or a decimal string`);
  }
  if (d in INT_RANGE) {
    const [min, max] = INT_RANGE[d as keyof typeof INT_RANGE];
    return invalid(`${at} is ${describe(v)}; expected an integer in [${min}, ${max}]`);
  }
  return invalid(`${at} is ${describe(v)}; expected a number (or "NaN", "Infinity", "-Infinity")`);
}

/** Requested outputs: names, and parameters whose types this layer relies on. */
function readOutputs(value: unknown): RequestedOutput[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid(`the request's "outputs" must be an array, got ${describe(value)}`);
  const outputs = new Array<RequestedOutput>(value.length);
  const names = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const output: unknown = value[i];
    if (!isObject(output)) throw invalid(`outputs[${i}] must be an object, got ${describe(output)}`);
    const name = output.name;
    if (typeof name !== 'string') throw invalid(`outputs[${i}]: "name" must be a string, got ${describe(name)}`);
    const who = `output ${quoteName(name)}`;
    if (names.has(name)) throw invalid(`${who} is requested twice`);
    names.add(name);
    const parameters = readParameters(output.parameters, who);
    if (parameters !== undefined) {
      const binary = parameters.binary_data;
      if (binary !== undefined && typeof binary !== 'boolean') throw invalid(`${who}: parameters.binary_data must be true or false, got ${describe(binary)}`);
      // Rather than answer with the raw tensor where the client asked for classes.
      if (parameters.classification !== undefined) {
        throw invalid(`${who}: parameters.classification (the classification extension) is not supported by this server`);
      }
      if (parameters.shared_memory_region !== undefined) {
        throw invalid(`${who}: parameters.shared_memory_region (the shared memory extension) is not supported by this server`);
      }
    }
    outputs[i] = parameters === undefined ? { name } : { name, parameters };
  }
  return outputs;
}

/** A `$parameters` object: string keys to strings, finite numbers or booleans; copied. */
function readParameters(value: unknown, who: string): Parameters | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid(`${who}: "parameters" must be an object, got ${describe(value)}`);
  const entries = Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw invalid(`${who}: parameter ${JSON.stringify(key)} must be a string, a number or a boolean, got ${describe(v)}`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(entries) as Parameters;
}

/** ES2024's String.prototype.isWellFormed (Node 20 has it; this project's TypeScript lib is ES2023). */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** A tensor's name as messages quote it: a long one cut short, since every message repeats it. */
function quoteName(name: string): string {
  return name.length > 64 ? `${JSON.stringify(name.slice(0, 64))}...` : JSON.stringify(name);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as a message shows it: short, never the whole of a large or deep value. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}... (a string of ${value.length})` : JSON.stringify(value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'missing';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}
