/**
 * The gRPC front end's codec: `ModelInferRequest` messages (as the service definition
 * of proto.ts decodes them) into the core's {@link InferRequest}, and the core's
 * {@link InferResponse} into `ModelInferResponse` / `ModelStreamInferResponse` messages
 * (as its serializer encodes them). Everything a client sent is checked here, before
 * any tensor memory is allocated, and every failure is a {@link ProtocolError} that
 * names the input, what was expected and what came.
 *
 * Raw tensor data (`raw_input_contents`) becomes tensor data in place: a TypedArray
 * over the received message's memory where the offset suits the element type, one
 * aligned copy where it does not. Outputs go out the same way, as Buffers over the
 * output tensors' own memory. (The protocol's raw data is little-endian, as are the
 * x64 and arm64 hosts this package runs on.)
 */
import { binaryChunk } from '../protocol/binary-extension';
import { isUtf8 } from 'node:buffer';
import { dtypeByName, type DTypeInfo } from '../../core/dtypes';
import type { AnyTensor } from '../../core/tensor';
import {
  DATATYPE_OF,
  ELEMENT_TYPE_OF,
  isDatatype,
  invalid,
  ProtocolError,
  type Datatype,
  type InferInput,
  type InferRequest,
  type InferResponse,
  type ParameterValue,
  type Parameters,
  type RequestedOutput,
} from '../protocol/types';

// ---------------------------------------------------------------------------------
// Messages, as proto.ts's options decode and encode them

/** Which member of an InferParameter's `parameter_choice` oneof was sent. */
export type ParameterChoice = 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';

/**
 * An `InferParameter`. Decoded, 64-bit integers are decimal strings and
 * `parameter_choice` names the member that was sent; to encode, set one member
 * (64-bit integers as numbers or decimal strings).
 */
export interface InferParameterMessage {
  readonly bool_param?: boolean;
  readonly int64_param?: string | number;
  readonly string_param?: string;
  readonly double_param?: number;
  readonly uint64_param?: string | number;
  readonly parameter_choice?: ParameterChoice;
}

/** A `map<string, InferParameter>`. */
export type ParameterMapMessage = Readonly<Record<string, InferParameterMessage>>;

/** The typed lists of an `InferTensorContents`. */
export type ContentsField =
  | 'bool_contents'
  | 'int_contents'
  | 'int64_contents'
  | 'uint_contents'
  | 'uint64_contents'
  | 'fp32_contents'
  | 'fp64_contents'
  | 'bytes_contents';

/** An `InferTensorContents` (64-bit integers as decimal strings). */
export interface InferTensorContentsMessage {
  readonly bool_contents?: readonly boolean[];
  readonly int_contents?: readonly number[];
  readonly int64_contents?: readonly (string | number)[];
  readonly uint_contents?: readonly number[];
  readonly uint64_contents?: readonly (string | number)[];
  readonly fp32_contents?: readonly number[];
  readonly fp64_contents?: readonly number[];
  readonly bytes_contents?: readonly Uint8Array[];
}

/** A `ModelInferRequest.InferInputTensor`. */
export interface InferInputTensorMessage {
  readonly name?: string;
  readonly datatype?: string;
  /** int64s, as decimal strings once decoded. */
  readonly shape?: readonly (string | number)[];
  readonly parameters?: ParameterMapMessage;
  /** Null (or absent) when the data comes in `raw_input_contents`. */
  readonly contents?: InferTensorContentsMessage | null;
}

/** A `ModelInferRequest.InferRequestedOutputTensor`. */
export interface InferRequestedOutputTensorMessage {
  readonly name?: string;
  readonly parameters?: ParameterMapMessage;
}

/**
 * A `ModelInferRequest` as the service definition's `requestDeserialize` returns it.
 * Every field is optional so that hand-built messages type-check too; decoded ones
 * have them all (proto-loader's `defaults`).
 */
export interface ModelInferRequestMessage {
  readonly model_name?: string;
  readonly model_version?: string;
  readonly id?: string;
  readonly parameters?: ParameterMapMessage;
  readonly inputs?: readonly InferInputTensorMessage[];
  readonly outputs?: readonly InferRequestedOutputTensorMessage[];
  /** Views into the received message, one per input, in order. */
  readonly raw_input_contents?: readonly Uint8Array[];
}

/** A `ModelInferResponse.InferOutputTensor` (its data is in `raw_output_contents`). */
export interface InferOutputTensorMessage {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly parameters: ParameterMapMessage;
}

/** A `ModelInferResponse`, for the service definition's `responseSerialize`. */
export interface ModelInferResponseMessage {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: ParameterMapMessage;
  readonly outputs: readonly InferOutputTensorMessage[];
  /** One per output, in order; Buffers over the output tensors' own memory. */
  readonly raw_output_contents: readonly Buffer[];
}

/** A `ModelStreamInferResponse`: a result, or an error that ends only this request. */
export interface ModelStreamInferResponseMessage {
  /** Empty when the request succeeded. */
  readonly error_message: string;
  readonly infer_response: ModelInferResponseMessage | null;
}

// ---------------------------------------------------------------------------------
// Requests

/** Where each datatype's elements go in an `InferTensorContents`: FP16 and BF16 have no field. */
const CONTENTS_FIELD: Readonly<Record<Datatype, ContentsField | null>> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: null,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BF16: null,
  BYTES: 'bytes_contents',
};

const CONTENTS_FIELDS: readonly ContentsField[] = [
  'bool_contents',
  'int_contents',
  'int64_contents',
  'uint_contents',
  'uint64_contents',
  'fp32_contents',
  'fp64_contents',
  'bytes_contents',
];

/** int_contents and uint_contents carry 32-bit values; narrower types must fit. */
const NARROW_RANGE: Partial<Readonly<Record<Datatype, readonly [number, number]>>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  UINT8: [0, 255],
  UINT16: [0, 65535],
};

const PARAMETER_CHOICES: readonly ParameterChoice[] = ['bool_param', 'int64_param', 'string_param', 'double_param', 'uint64_param'];

/** The request parameters the core honours, and must be integers. */
const INTEGER_REQUEST_PARAMETERS = ['priority', 'timeout'] as const;

/** A check's verdict on one input, which the second pass turns into its tensor. */
type InputPlan =
  | { kind: 'raw'; dtype: DTypeInfo; bytes: Uint8Array }
  | { kind: 'raw-bytes'; bytes: Uint8Array }
  | { kind: 'typed'; field: ContentsField | null; values: readonly unknown[] };

interface CheckedInput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: number[];
  readonly count: number;
  readonly parameters: Parameters | undefined;
  readonly plan: InputPlan;
}

// Fatal, so that no byte is ever replaced; ignoreBOM, so that a leading U+FEFF is kept as
// the client sent it instead of being dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Converts a decoded `ModelInferRequest` into the core's request. Every input is
 * checked before any tensor memory is allocated: a datatype of the protocol, a shape
 * of non-negative integers whose element count matches the data sent (raw byte
 * length, or the count of typed contents), raw and typed contents not mixed, one raw
 * entry per input, BYTES elements whose lengths stay within the data and that are
 * valid UTF-8.
 *
 * Raw data becomes the tensor's data in place: a TypedArray over the received
 * message's memory when its byte offset is a multiple of the element size, else one
 * aligned copy. Typed contents are converted into a new TypedArray.
 *
 * @param message - What the service definition's `requestDeserialize` returned.
 * @returns The request; `version`, `id`, `parameters` and `outputs` are absent when not sent.
 * @throws {@link ProtocolError} INVALID_ARGUMENT naming the input (or parameter), what was
 *   expected and what came.
 * @example
 * ```ts
 * ModelInfer: (call, callback) => {
 *   const request = fromModelInferRequest(call.request);
 *   core.infer(request).then((response) => callback(null, toModelInferResponse(response)), ...);
 * }
 * ```
 */
export function fromModelInferRequest(message: ModelInferRequestMessage): InferRequest {
  const model = message.model_name ?? '';
  if (model === '') throw invalid('ModelInferRequest: model_name is empty; expected the name of the model to run');
  const messageInputs = message.inputs ?? [];
  const raw = message.raw_input_contents ?? [];
  const parameters = readParameters(message.parameters, 'request');
  checkIntegerParameters(message.parameters, parameters);

  // An input in shared memory explains a missing raw entry better than a count would.
  messageInputs.forEach((input, i) => rejectSharedMemory(input.parameters, input.name ? `input '${input.name}'` : `inputs[${i}]`, 'raw_input_contents'));
  if (raw.length > 0 && raw.length !== messageInputs.length) {
    throw invalid(
      `ModelInferRequest: ${raw.length} raw_input_contents entries for ${messageInputs.length} inputs; ` +
        'expected one entry per input, in the order of inputs',
    );
  }

  // First pass: every check, nothing allocated but the small plan objects.
  const checked: CheckedInput[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < messageInputs.length; i++) {
    const input = messageInputs[i];
    const name = input.name ?? '';
    if (name === '') throw invalid(`ModelInferRequest: inputs[${i}] has no name`);
    const where = `input '${name}'`;
    if (seen.has(name)) throw invalid(`${where} is given twice; expected each input once`);
    seen.add(name);
    const datatype = input.datatype ?? '';
    if (!isDatatype(datatype)) {
      throw invalid(`${where}: unknown datatype ${JSON.stringify(datatype)}; expected one of ${Object.keys(CONTENTS_FIELD).join(', ')}`);
    }
    const shape = readShape(input.shape ?? [], where);
    const count = shapeElements(shape, where);
    let plan: InputPlan;
    if (raw.length > 0) {
      const typed = firstTypedField(input.contents);
      if (typed) {
        throw invalid(
          `${where}: contents.${typed} has data, but the request also has raw_input_contents; ` +
            'send every input either in raw_input_contents or in its contents, not both',
        );
      }
      plan = checkRaw(raw[i], i, datatype, shape, count, where);
    } else {
      plan = checkTyped(input.contents, datatype, shape, count, where);
    }
    checked.push({ name, datatype, shape, count, parameters: readParameters(input.parameters, where), plan });
  }

  const outputs = (message.outputs ?? []).map((output, i): RequestedOutput => {
    const name = output.name ?? '';
    if (name === '') throw invalid(`ModelInferRequest: outputs[${i}] has no name`);
    const where = `requested output '${name}'`;
    rejectSharedMemory(output.parameters, where, 'raw_output_contents');
    const outputParameters = readParameters(output.parameters, where);
    return outputParameters ? { name, parameters: outputParameters } : { name };
  });

  // Second pass: the tensors.
  const inputs = checked.map((c): InferInput => {
    const tensor = { type: ELEMENT_TYPE_OF[c.datatype], dims: c.shape, data: tensorData(c) } as AnyTensor;
    const input: InferInput = { name: c.name, datatype: c.datatype, shape: c.shape, tensor };
    return c.parameters ? { ...input, parameters: c.parameters } : input;
  });

  const request: { -readonly [K in keyof InferRequest]: InferRequest[K] } = { model, inputs };
  if (message.model_version) request.version = message.model_version;
  if (message.id) request.id = message.id;
  if (parameters) request.parameters = parameters;
  if (outputs.length > 0) request.outputs = outputs;
  return request;
}

/** The shape as numbers, or INVALID_ARGUMENT unless every dimension is a non-negative integer. */
function readShape(shape: readonly (string | number)[], where: string): number[] {
  const dims = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    // Decoded int64s are canonical decimal strings; a hand-built message may hold numbers.
    const n = typeof d === 'string' ? (/^\d+$/.test(d) ? Number(d) : NaN) : d;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw invalid(`${where}: shape must be non-negative integers, got [${shape.join(', ')}]`);
    }
    dims[i] = n;
  }
  return dims;
}

/** The element count of a checked shape, or INVALID_ARGUMENT past 2^53. */
function shapeElements(shape: readonly number[], where: string): number {
  // A zero anywhere makes an empty tensor, however large the other dimensions.
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw invalid(`${where}: shape [${shape.join(', ')}] holds more than 2^53 elements`);
  }
  return count;
}

/** The first typed list of `contents` that holds values, if any. */
function firstTypedField(contents: InferTensorContentsMessage | null | undefined): ContentsField | undefined {
  if (!contents) return undefined;
  return CONTENTS_FIELDS.find((f) => (contents[f]?.length ?? 0) > 0);
}

/** Checks one raw entry against the input's datatype and shape. */
function checkRaw(bytes: Uint8Array, index: number, datatype: Datatype, shape: readonly number[], count: number, where: string): InputPlan {
  const source = `raw_input_contents[${index}]`;
  if (datatype === 'BYTES') {
    checkLengthPrefixed(bytes, count, shape, where, source);
    return { kind: 'raw-bytes', bytes };
  }
  const dtype = dtypeByName.get(ELEMENT_TYPE_OF[datatype])!;
  const expected = count * dtype.bytes;
  if (bytes.byteLength !== expected) {
    throw invalid(`${where}: shape [${shape.join(', ')}] of ${datatype} needs ${expected} bytes, but ${source} has ${bytes.byteLength}`);
  }
  return { kind: 'raw', dtype, bytes };
}

/**
 * Walks BYTES raw data (each element a 4-byte little-endian length, then its bytes)
 * without allocating: element count, lengths within the data, no trailing bytes, UTF-8.
 */
function checkLengthPrefixed(bytes: Uint8Array, count: number, shape: readonly number[], where: string, source: string): void {
  const length = bytes.byteLength;
  // Each element takes at least its 4-byte length: a huge shape fails here at once.
  if (count * 4 > length) {
    throw invalid(
      `${where}: shape [${shape.join(', ')}] of BYTES holds ${count} elements, each at least a 4-byte length, but ${source} has ${length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > length) {
      throw invalid(`${where}: ${source} ends at byte ${length}, inside the 4-byte length of element ${i} of the ${count} that shape [${shape.join(', ')}] holds`);
    }
    const n = view.getUint32(pos, true);
    pos += 4;
    if (n > length - pos) {
      throw invalid(`${where}: element ${i} of ${source} is ${n} bytes long, but only ${length - pos} bytes remain`);
    }
    checkString(bytes.subarray(pos, pos + n), i, where);
    pos += n;
  }
  if (pos !== length) {
    throw invalid(`${where}: ${source} has ${length - pos} bytes left after the ${count} elements that shape [${shape.join(', ')}] holds`);
  }
}

/** A BYTES element must be UTF-8 (it becomes a string) without NUL (ONNX Runtime strings are C strings). */
function checkString(bytes: Uint8Array, index: number, where: string): void {
  if (!isUtf8(bytes)) throw invalid(`${where}: BYTES element ${index} is not valid UTF-8`);
  if (bytes.includes(0)) throw invalid(`${where}: BYTES element ${index} contains a NUL byte, which ONNX Runtime strings cannot hold`);
}

/** Checks typed contents against the input's datatype and shape. */
function checkTyped(
  contents: InferTensorContentsMessage | null | undefined,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  where: string,
): InputPlan {
  const field = CONTENTS_FIELD[datatype];
  const stray = CONTENTS_FIELDS.find((f) => f !== field && (contents?.[f]?.length ?? 0) > 0);
  if (stray) {
    const n = contents![stray]!.length;
    throw invalid(
      field
        ? `${where}: ${datatype} data goes in contents.${field}, but contents.${stray} has ${n} values`
        : `${where}: ${datatype} data can only come in raw_input_contents (InferTensorContents has no field for it), but contents.${stray} has ${n} values`,
    );
  }
  if (field === null) {
    if (count > 0) {
      throw invalid(`${where}: ${datatype} data can only come in raw_input_contents (InferTensorContents has no field for it), and the request has none`);
    }
    return { kind: 'typed', field, values: [] };
  }
  const values = (contents?.[field] ?? []) as readonly unknown[];
  if (values.length !== count) {
    throw invalid(
      `${where}: shape [${shape.join(', ')}] holds ${count} elements, but contents.${field} has ${values.length}` +
        (contents ? '' : ' (no contents, and the request has no raw_input_contents)'),
    );
  }
  const range = NARROW_RANGE[datatype];
  if (range) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v < range[0] || v > range[1]) {
        throw invalid(`${where}: ${datatype} value ${v} at contents.${field}[${i}] is out of range [${range[0]}, ${range[1]}]`);
      }
    }
  } else if (datatype === 'BYTES') {
    for (let i = 0; i < values.length; i++) checkString(values[i] as Uint8Array, i, where);
  }
  return { kind: 'typed', field, values };
}

/** The tensor data of a checked input: the second pass, where memory is allocated. */
function tensorData(c: CheckedInput): AnyTensor['data'] {
  const { plan } = c;
  switch (plan.kind) {
    case 'raw': {
      const { dtype, bytes } = plan;
      const View = dtype.array!;
      if (bytes.byteOffset % dtype.bytes === 0) return new View(bytes.buffer, bytes.byteOffset, c.count);
      // A TypedArray cannot start at an offset its element size does not divide: copy once.
      const copy = new View(c.count) as Exclude<AnyTensor['data'], string[]>;
      new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength).set(bytes);
      return copy;
    }
    case 'raw-bytes': {
      const { bytes } = plan;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const strings = new Array<string>(c.count);
      let pos = 0;
      for (let i = 0; i < c.count; i++) {
        const n = view.getUint32(pos, true);
        strings[i] = decodeString(bytes.subarray(pos + 4, pos + 4 + n), i, c.name);
        pos += 4 + n;
      }
      return strings;
    }
    case 'typed':
      return typedData(c.datatype, plan.values, c.count, c.name);
  }
}

function typedData(datatype: Datatype, values: readonly unknown[], count: number, name: string): AnyTensor['data'] {
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(values as readonly boolean[], (v) => (v ? 1 : 0));
    case 'INT64':
    case 'UINT64': {
      const data = datatype === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
      for (let i = 0; i < count; i++) {
        try {
          data[i] = BigInt(values[i] as string | number);
        } catch {
          throw invalid(`input '${name}': ${datatype} value ${String(values[i])} at index ${i} is not an integer`);
        }
      }
      return data;
    }
    case 'BYTES':
      return (values as readonly Uint8Array[]).map((v, i) => decodeString(v, i, name));
    case 'FP16':
    case 'BF16':
      return new Uint16Array(0);
    default: {
      // INT8...UINT32, FP32, FP64: the TypedArray constructor converts each number.
      const dtype = dtypeByName.get(ELEMENT_TYPE_OF[datatype])!;
      const Numbers = dtype.array as unknown as new (values: readonly number[]) => AnyTensor['data'];
      return new Numbers(values as readonly number[]);
    }
  }
}

function decodeString(bytes: Uint8Array, index: number, name: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    // checkString saw it first; this is only here so that nothing else could escape.
    throw invalid(`input '${name}': BYTES element ${index} is not valid UTF-8`);
  }
}

/** The member of an InferParameter that was sent, if one was. */
function parameterChoice(p: InferParameterMessage): ParameterChoice | undefined {
  if (p.parameter_choice) return p.parameter_choice;
  return PARAMETER_CHOICES.find((c) => p[c] !== undefined && p[c] !== null);
}

/**
 * A parameter map as the core's Parameters: int64 and uint64 values as numbers, or as
 * decimal strings where a number could not hold them exactly (past 2^53).
 */
function readParameters(map: ParameterMapMessage | undefined, where: string): Parameters | undefined {
  if (!map) return undefined;
  const keys = Object.keys(map);
  if (keys.length === 0) return undefined;
  // fromEntries defines own properties, so a key such as "__proto__" stays a plain key.
  return Object.fromEntries(keys.map((key) => [key, readParameter(map[key], `${where} parameter '${key}'`)]));
}

function readParameter(p: InferParameterMessage, where: string): ParameterValue {
  const choice = parameterChoice(p);
  switch (choice) {
    case 'bool_param':
      return Boolean(p.bool_param);
    case 'string_param':
      return String(p.string_param);
    case 'double_param':
      return Number(p.double_param);
    case 'int64_param':
    case 'uint64_param': {
      const v = p[choice]!;
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : String(v);
    }
    default:
      throw invalid(`${where} has no value; expected one of ${PARAMETER_CHOICES.join(', ')}`);
  }
}

/** `priority` and `timeout` are the core's to honour: integers, sent as int64 or uint64. */
function checkIntegerParameters(map: ParameterMapMessage | undefined, parameters: Parameters | undefined): void {
  if (!map || !parameters) return;
  for (const key of INTEGER_REQUEST_PARAMETERS) {
    if (!Object.hasOwn(map, key)) continue;
    const choice = parameterChoice(map[key]);
    if (choice !== 'int64_param' && choice !== 'uint64_param') {
      throw invalid(`request parameter '${key}' must be an int64_param or a uint64_param, got ${choice}`);
    }
    const value = parameters[key];
    if (typeof value !== 'number' || value < 0) {
      throw invalid(`request parameter '${key}' must be an integer from 0 to 2^53, got ${String(value)}`);
    }
  }
}

/** This server keeps no shared-memory regions: data named by one would never arrive. */
function rejectSharedMemory(map: ParameterMapMessage | undefined, where: string, instead: string): void {
  if (map && Object.hasOwn(map, 'shared_memory_region')) {
    const region = map.shared_memory_region.string_param ?? '';
    throw invalid(
      `${where} names shared-memory region ${JSON.stringify(region)}, but this server does not implement the shared-memory extension; send the data in ${instead}`,
    );
  }
}

// ---------------------------------------------------------------------------------
// Responses

/**
 * Converts the core's response into a `ModelInferResponse` message. Every output's data
 * goes in `raw_output_contents` (Triton's Python client reads non-string outputs only
 * from there): numeric outputs as Buffers over the tensor's own memory, no copy;
 * BYTES outputs encoded as each element's 4-byte little-endian length then its UTF-8.
 *
 * @param response - What the core's `infer` resolved with.
 * @returns The message, for the service definition's `responseSerialize` (grpc-js calls
 *   it on `callback(null, message)`).
 * @throws {@link ProtocolError} INTERNAL when an output's tensor disagrees with its
 *   datatype or shape (a core bug that would otherwise send corrupt data).
 * @example
 * ```ts
 * callback(null, toModelInferResponse(await core.infer(fromModelInferRequest(call.request))));
 * ```
 */
export function toModelInferResponse(response: InferResponse): ModelInferResponseMessage {
  const outputs: InferOutputTensorMessage[] = [];
  const raw: Buffer[] = [];
  for (const output of response.outputs) {
    const { tensor } = output;
    const where = `output '${output.name}'`;
    if (DATATYPE_OF[tensor.type] !== output.datatype) {
      throw new ProtocolError(`${where}: datatype ${output.datatype}, but its tensor is ${tensor.type}`, 'INTERNAL');
    }
    let count = 1;
    for (const d of output.shape) count *= d;
    if (count !== tensor.data.length) {
      throw new ProtocolError(`${where}: shape [${output.shape.join(', ')}] holds ${count} elements, but its tensor has ${tensor.data.length}`, 'INTERNAL');
    }
    outputs.push({ name: output.name, datatype: output.datatype, shape: output.shape, parameters: toParameterMap(output.parameters) });
    // The same bytes as the HTTP binary extension's: a view over the tensor's memory, or BYTES length-prefixed.
    raw.push(binaryChunk(output.name, tensor));
  }
  return {
    model_name: response.model_name,
    model_version: response.model_version,
    id: response.id ?? '',
    parameters: toParameterMap(response.parameters),
    outputs,
    raw_output_contents: raw,
  };
}

/**
 * A successful `ModelStreamInfer` result: `error_message` empty, the response as
 * {@link toModelInferResponse} converts it.
 *
 * @param response - What the core's `infer` resolved with.
 * @throws {@link ProtocolError} as {@link toModelInferResponse}.
 * @example
 * ```ts
 * call.write(toModelStreamInferResponse(response));
 * ```
 */
export function toModelStreamInferResponse(response: InferResponse): ModelStreamInferResponseMessage {
  return { error_message: '', infer_response: toModelInferResponse(response) };
}

/**
 * A failed `ModelStreamInfer` request. A stream carries many requests, so one failure
 * is a message on the stream, not the stream's status; it names the request's model,
 * version and id (when known) so that the client can tell which request failed.
 *
 * @param error - The failure: its `message` becomes `error_message`.
 * @param request - The request that failed, when it was decoded far enough to know.
 * @example
 * ```ts
 * call.write(toModelStreamInferError(error, { model: msg.model_name, id: msg.id }));
 * ```
 */
export function toModelStreamInferError(error: unknown, request?: Pick<InferRequest, 'model' | 'version' | 'id'>): ModelStreamInferResponseMessage {
  const message = error instanceof Error ? error.message : String(error);
  return {
    error_message: message === '' ? 'inference failed' : message,
    infer_response: request
      ? { model_name: request.model, model_version: request.version ?? '', id: request.id ?? '', parameters: {}, outputs: [], raw_output_contents: [] }
      : null,
  };
}

/**
 * Parameters as an InferParameter map: booleans as `bool_param`, strings as
 * `string_param`, integers (to 2^53) as `int64_param`, other numbers as `double_param`.
 */
function toParameterMap(parameters: Parameters | undefined): Record<string, InferParameterMessage> {
  if (!parameters) return {};
  return Object.fromEntries(
    Object.entries(parameters).map(([key, v]): [string, InferParameterMessage] => {
      if (typeof v === 'boolean') return [key, { bool_param: v }];
      if (typeof v === 'string') return [key, { string_param: v }];
      return [key, Number.isSafeInteger(v) ? { int64_param: v } : { double_param: v }];
    }),
  );
}

// ---------------------------------------------------------------------------------
// The other rpcs

/** `T` with every bigint, however deep, as its decimal string. */
export type WireLongs<T> = T extends bigint
  ? string
  : T extends Uint8Array
    ? T
    : T extends readonly (infer U)[]
      ? WireLongs<U>[]
      : T extends object
        ? { [K in keyof T]: WireLongs<T[K]> }
        : T;

/**
 * A response object with each bigint replaced by its decimal string, for the other
 * rpcs' int64/uint64 fields (ModelStatistics counters, ModelMetadata shapes, shared
 * memory sizes). Plain objects need no converting otherwise: the serializer takes
 * numbers (exact to 2^53, negative ones too) and decimal strings for 64-bit fields.
 * A bigint is encoded correctly only where the installed `long` package converts
 * bigints (5.3 does); this makes it not depend on that. Buffers are left as they are.
 *
 * @param value - A plain response object (or array, or value).
 * @returns A copy with bigints as strings; the same value when there are none to find.
 * @example
 * ```ts
 * callback(null, wireLongs({ model_stats: [{ name, inference_count: 12n }] }));
 * ```
 */
export function wireLongs<T>(value: T): WireLongs<T> {
  if (typeof value === 'bigint') return value.toString() as WireLongs<T>;
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value as WireLongs<T>;
  if (Array.isArray(value)) return value.map((v: unknown) => wireLongs(v)) as WireLongs<T>;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wireLongs(v)])) as WireLongs<T>;
}
