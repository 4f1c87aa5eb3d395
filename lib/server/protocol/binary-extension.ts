/**
 * Triton's binary tensor data extension (docs/protocol/extension_binary_data.md in
 * triton-inference-server/server): an HTTP body that is a JSON header of
 * `Inference-Header-Content-Length` bytes followed by the raw tensor data of the inputs
 * (or outputs) that carry `parameters.binary_data_size`, in the order they are listed.
 * Data is little-endian, row-major, without padding; BOOL is one byte, 0 or 1; a BYTES
 * element is a 4-byte little-endian length followed by that many bytes.
 *
 * This file splits a body and turns one input's bytes into its tensor data (numeric
 * inputs are views over the body's own memory where they are aligned), and turns an
 * output's tensor into the bytes to send (a view over the tensor's memory). The JSON
 * header itself is read by json-tensors.ts.
 */
import { type DTypeInfo, type NumericElementType, type TensorData, type TensorDataMap, dtypeByName } from '../../core/dtypes';
import type { AnyTensor } from '../../core/tensor';
import { type Datatype, ELEMENT_TYPE_OF, ProtocolError, invalid } from './types';

/** The header that gives the JSON header's length in bytes (lower case, as Node keys headers). */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** The limits {@link decodeBinaryInput} enforces (see json-tensors.ts `DecodeLimits`). */
export interface BinaryLimits {
  /** Longest BYTES element, in bytes. */
  readonly maxBytesLength: number;
}

/** A request body split at its header length. */
export interface SplitBody {
  /** The JSON header, parsed (not yet checked). */
  readonly header: unknown;
  /**
   * The bytes after the header: a view over the body (no copy), empty when the header is
   * the whole body; undefined when there was no `Inference-Header-Content-Length`.
   */
  readonly binary: Buffer | undefined;
}

/** The byte order of this machine: the wire's is little-endian, so only a big-endian host swaps. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// fatal: invalid UTF-8 is an error, not U+FFFD. ignoreBOM: a leading U+FEFF is part of a
// BYTES element's text, not a mark to strip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Splits a request body into its JSON header and its binary section, by the value of
 * the `Inference-Header-Content-Length` header.
 *
 * @param body - The whole request body.
 * @param headerLength - The header's value as Node gives it (a string; an array when
 *   sent more than once), or undefined when absent: then the whole body is JSON.
 * @throws {@link ProtocolError} INVALID_ARGUMENT when the length is not a decimal integer,
 *   is sent twice, exceeds the body, or is 0 (Triton's raw binary request, which needs
 *   the model's metadata to interpret and is not supported here); when the header is not
 *   UTF-8 or not JSON.
 * @example
 * ```ts
 * const { header, binary } = splitInferBody(body, req.headers[INFERENCE_HEADER_CONTENT_LENGTH]);
 * const request = decodeInferRequest(header, binary, { model, version });
 * ```
 */
export function splitInferBody(body: Buffer, headerLength: string | readonly string[] | number | undefined): SplitBody {
  if (headerLength === undefined) return { header: parseHeader(body, body.length), binary: undefined };
  const length = readHeaderLength(headerLength, body.length);
  return { header: parseHeader(body, length), binary: body.subarray(length) };
}

function readHeaderLength(value: string | readonly string[] | number, bodyLength: number): number {
  let text: string;
  if (typeof value === 'number') {
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else if (value.length === 1) {
    text = value[0].trim();
  } else {
    throw invalid(`Inference-Header-Content-Length was sent ${value.length} times; send it once`);
  }
  // Digits only: Number() would also take "1e3", "0x10", " " and "-0".
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw invalid(`Inference-Header-Content-Length must be a non-negative integer, got ${JSON.stringify(text.slice(0, 40))}`);
  }
  const length = Number(text);
  if (length === 0) {
    throw invalid(
      'Inference-Header-Content-Length is 0 (a raw binary request without a JSON header), which this server does not support; send the JSON header first',
    );
  }
  if (length > bodyLength) {
    throw invalid(`Inference-Header-Content-Length is ${length}, but the body has only ${bodyLength} bytes`);
  }
  return length;
}

function parseHeader(body: Buffer, length: number): unknown {
  let text: string;
  try {
    text = utf8.decode(body.subarray(0, length));
  } catch {
    throw invalid(`the request's JSON header (${length} bytes) is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(`the request's JSON header (${length} bytes) is not valid JSON: ${(err as Error).message}`);
  }
}

/** @internal The table row of a numeric element type: its array class is never null. */
export interface NumericDType extends Omit<DTypeInfo, 'array'> {
  readonly array: {
    new (length: number): TensorDataMap[NumericElementType];
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorDataMap[NumericElementType];
  };
}

/** @internal The table row of a numeric datatype; null for BYTES. */
export function numericDtype(datatype: Datatype): NumericDType | null {
  const dtype = dtypeByName.get(ELEMENT_TYPE_OF[datatype])!;
  return dtype.array === null ? null : (dtype as unknown as NumericDType);
}

/**
 * @internal Checks an input's `binary_data_size` against its shape, before anything is
 * allocated: a numeric input must be exactly `count` elements; a BYTES input needs at
 * least 4 bytes per element (its lengths), so `count` can be no more than `size / 4`.
 */
export function checkBinarySize(who: string, datatype: Datatype, shape: readonly number[], count: number, size: number): void {
  const dtype = numericDtype(datatype);
  if (dtype !== null) {
    if (count * dtype.bytes !== size) {
      throw invalid(
        `${who}: shape [${shape.join(',')}] of ${datatype} (${dtype.bytes} bytes each) needs ${product(shape) * BigInt(dtype.bytes)} bytes, binary_data_size is ${size}`,
      );
    }
  } else if (count * 4 > size) {
    throw invalid(
      `${who}: shape [${shape.join(',')}] holds ${product(shape)} BYTES elements, which need at least ${product(shape) * 4n} bytes (a 4-byte length each), binary_data_size is ${size}`,
    );
  }
}

/** @internal The exact element count of a shape, for messages (a double could round it). */
export function product(shape: readonly number[]): bigint {
  let n = 1n;
  for (const d of shape) n *= BigInt(d);
  return n;
}

/**
 * @internal The data of one binary input: `size` bytes of `section` from `offset`, already
 * checked by {@link checkBinarySize} to fit `count` elements and to lie within `section`.
 * A numeric input is a view over `section`'s memory when its address is a multiple of the
 * element size (a TypedArray requires it), and a single copy otherwise. BYTES elements
 * become strings.
 *
 * @throws {@link ProtocolError} INVALID_ARGUMENT for a BOOL byte other than 0 or 1, and
 *   for BYTES elements that overrun the input's bytes, are too long, are not UTF-8,
 *   contain U+0000, or do not fill the input's bytes exactly.
 */
export function decodeBinaryInput(
  who: string,
  datatype: Datatype,
  count: number,
  section: Buffer,
  offset: number,
  size: number,
  limits: BinaryLimits,
): TensorData | string[] {
  const dtype = numericDtype(datatype);
  if (dtype === null) return decodeBytes(who, count, section, offset, size, limits);
  const address = section.byteOffset + offset;
  let data: TensorDataMap[NumericElementType];
  if (address % dtype.bytes === 0 && LITTLE_ENDIAN) {
    data = new dtype.array(section.buffer, address, count);
  } else {
    data = new dtype.array(count);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, size);
    bytes.set(section.subarray(offset, offset + size));
    if (!LITTLE_ENDIAN) swapBytes(bytes, dtype.bytes);
  }
  if (datatype === 'BOOL') {
    const bools = data as Uint8Array;
    for (let i = 0; i < bools.length; i++) {
      // The extension defines true as 1 and false as 0; ONNX Runtime's bool is a C++
      // bool, for which any other byte is undefined behaviour.
      if (bools[i] > 1) throw invalid(`${who}: BOOL element ${i} is the byte ${bools[i]}; expected 0 (false) or 1 (true)`);
    }
  }
  return data;
}

function decodeBytes(who: string, count: number, section: Buffer, offset: number, size: number, limits: BinaryLimits): string[] {
  const end = offset + size;
  // count <= size / 4 was checked, so this is bounded by what was sent.
  const out = new Array<string>(count);
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) {
      throw invalid(`${who}: BYTES element ${i}'s 4-byte length starts at byte ${at - offset} of ${size}: the input's bytes hold fewer than ${count} elements`);
    }
    const length = section.readUInt32LE(at);
    at += 4;
    if (length > limits.maxBytesLength) {
      throw invalid(`${who}: BYTES element ${i} is ${length} bytes long, more than the limit of ${limits.maxBytesLength}`);
    }
    if (at + length > end) {
      throw invalid(`${who}: BYTES element ${i} is ${length} bytes long but only ${end - at} of the input's ${size} bytes remain`);
    }
    let text: string;
    try {
      text = utf8.decode(section.subarray(at, at + length));
    } catch {
      throw invalid(`${who}: BYTES element ${i} is not valid UTF-8 (this server keeps BYTES as ONNX strings, which are text)`);
    }
    // ONNX Runtime takes strings as C strings: a NUL would silently cut one short.
    if (text.includes('\0')) throw invalid(`${who}: BYTES element ${i} contains a NUL byte, which ONNX Runtime strings cannot hold`);
    out[i] = text;
    at += length;
  }
  if (at !== end) {
    throw invalid(`${who}: its ${count} BYTES elements take ${at - offset} bytes, but binary_data_size is ${size}`);
  }
  return out;
}

/** Reverses each `width`-byte element in place (for a big-endian host). */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/**
 * @internal The bytes of an output for a binary response: for a numeric tensor, a Buffer
 * over the tensor's own memory (no copy; on a big-endian host, a swapped copy); for
 * strings, their 4-byte lengths and UTF-8 bytes in one new Buffer.
 *
 * @throws {@link ProtocolError} INTERNAL when a string is longer than a 4-byte length can say.
 */
export function binaryChunk(name: string, tensor: AnyTensor): Buffer {
  if (tensor.type === 'string') {
    const strings = tensor.data;
    let total = 0;
    const lengths = new Array<number>(strings.length);
    for (let i = 0; i < strings.length; i++) {
      const n = Buffer.byteLength(strings[i], 'utf8');
      if (n > 0xffffffff) throw new ProtocolError(`output "${name}": string ${i} is ${n} bytes, more than a BYTES length can hold`, 'INTERNAL');
      lengths[i] = n;
      total += 4 + n;
    }
    const chunk = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < strings.length; i++) {
      chunk.writeUInt32LE(lengths[i], at);
      at += 4;
      at += chunk.write(strings[i], at, lengths[i], 'utf8');
    }
    return chunk;
  }
  const data = tensor.data;
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const copy = Buffer.from(view);
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}
