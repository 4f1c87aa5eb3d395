/**
 * The core's {@link InferResponse} as an HTTP body: the "Inference Response JSON Object"
 * of KServe's Predict Protocol v2 (docs/predict-api/v2/required_api.md), with each
 * output as JSON `data` or, through Triton's binary tensor data extension
 * (docs/protocol/extension_binary_data.md), as bytes after the JSON header.
 *
 * An output goes binary when its requested output says `parameters.binary_data: true`,
 * or when the request says `parameters.binary_data_output: true` and its output does not
 * say `binary_data: false` (the extension's rule; outputs the request did not list
 * follow `binary_data_output`, as Triton's InferResponseAlloc does).
 *
 * The JSON text is written by hand rather than by JSON.stringify of an object: FP32
 * outputs are the hot path for JSON clients, and 64-bit integers must go out as their
 * exact decimal digits, which JSON.stringify cannot write.
 */
import type { AnyTensor } from '../../core/tensor';
import { binaryChunk } from './binary-extension';
import { bfloat16Value, float16Value } from '../../core/float16';
import { ELEMENT_TYPE_OF, type InferOutput, type InferRequest, type InferResponse, ProtocolError } from './types';

/** How to write what JSON has no literal for. */
export interface EncodeOptions {
  /**
   * NaN and infinities in float outputs written as JSON `data`:
   * - `'tokens'` (the default): the bare words `NaN`, `Infinity`, `-Infinity`, as Triton
   *   writes them (its TritonJson writer sets rapidjson's kWriteNanAndInfFlag, in
   *   triton-inference-server/common include/triton/common/triton_json.h). Python's json
   *   and Triton's clients read these; JSON.parse does not.
   * - `'strings'`: the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, which strict JSON
   *   parsers accept and which this server's decoder reads back as floats.
   */
  readonly nonFinite?: 'tokens' | 'strings';
}

/** A response with every output as JSON: send `json` as `application/json`. */
export interface JsonBody {
  readonly json: string;
}

/**
 * A response with at least one binary output: send `header`, then each chunk in order,
 * as `application/octet-stream` with `Inference-Header-Content-Length: headerLength`.
 * Numeric chunks are views over the output tensors' memory.
 */
export interface BinaryBody {
  readonly header: string;
  /** The header's length in UTF-8 bytes. */
  readonly headerLength: number;
  readonly chunks: readonly Buffer[];
}

/** What {@link encodeInferResponse} returns: tell them apart by `'json' in body`. */
export type EncodedResponse = JsonBody | BinaryBody;

/**
 * Encodes an inference response for HTTP.
 *
 * JSON `data` is flat, row-major. FP32 elements are written as the shortest decimal that
 * reads back as the same float32 (what numpy prints for a float32), not the float32's
 * exact value as a double (what Triton writes): half the bytes, and the same float32 for
 * every reader that rounds to float32. FP64 elements are JavaScript's shortest
 * round-trip form; FP16/BF16 their exact values; INT64/UINT64 their exact decimal digits
 * (a reader that parses JSON numbers as doubles rounds those beyond 2^53; the digits are
 * exact for one that does not); BOOL `true`/`false`; BYTES strings.
 *
 * @param response - The core's response.
 * @param request - The request it answers, for `binary_data_output` and `binary_data`.
 * @param options - See {@link EncodeOptions}.
 * @throws {@link ProtocolError} INTERNAL when an output's shape, datatype and tensor disagree.
 * @example
 * ```ts
 * const body = encodeInferResponse(response, request);
 * if ('json' in body) reply.type('application/json').send(body.json);
 * else reply
 *   .type('application/octet-stream')
 *   .header('inference-header-content-length', body.headerLength)
 *   .send(Buffer.concat([Buffer.from(body.header), ...body.chunks]));
 * ```
 */
export function encodeInferResponse(response: InferResponse, request: InferRequest, options: EncodeOptions = {}): EncodedResponse {
  const strings = options.nonFinite === 'strings';
  const all = request.parameters?.binary_data_output === true;
  let perOutput: Map<string, unknown> | undefined;
  if (request.outputs !== undefined) {
    perOutput = new Map();
    for (const o of request.outputs) perOutput.set(o.name, o.parameters?.binary_data);
  }

  let json = `{"model_name":${JSON.stringify(response.model_name)},"model_version":${JSON.stringify(response.model_version)}`;
  if (response.id !== undefined) json += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters !== undefined) json += `,"parameters":${JSON.stringify(response.parameters)}`;
  json += ',"outputs":[';
  let chunks: Buffer[] | undefined;
  for (let i = 0; i < response.outputs.length; i++) {
    const output = response.outputs[i];
    checkOutput(output);
    const asked = perOutput?.get(output.name);
    const binary = typeof asked === 'boolean' ? asked : all;
    if (i > 0) json += ',';
    json += `{"name":${JSON.stringify(output.name)},"datatype":"${output.datatype}","shape":[${output.shape.join(',')}]`;
    if (binary) {
      const chunk = binaryChunk(output.name, output.tensor);
      (chunks ??= []).push(chunk);
      json += `,"parameters":${JSON.stringify({ ...output.parameters, binary_data_size: chunk.length })}}`;
    } else {
      if (output.parameters !== undefined) json += `,"parameters":${JSON.stringify(output.parameters)}`;
      json += `,"data":${jsonData(output.tensor, strings)}}`;
    }
  }
  json += ']}';
  if (chunks === undefined) return { json };
  return { header: json, headerLength: Buffer.byteLength(json, 'utf8'), chunks };
}

/** The core's promise (`tensor.dims` equals `shape`, data fits), checked because a wrong one would corrupt the body. */
function checkOutput(output: InferOutput): void {
  const t = output.tensor;
  let count = 1;
  for (const d of output.shape) count *= d;
  if (ELEMENT_TYPE_OF[output.datatype] !== t.type || t.data.length !== count) {
    throw new ProtocolError(
      `output "${output.name}": datatype ${output.datatype} and shape [${output.shape.join(',')}] do not describe its ${t.type} tensor of ${t.data.length} elements`,
      'INTERNAL',
    );
  }
}

/** A tensor's elements as a flat JSON array. */
function jsonData(tensor: AnyTensor, strings: boolean): string {
  switch (tensor.type) {
    case 'float32':
      return float32Json(tensor.data, strings);
    case 'float64':
      return float64Json(tensor.data, strings);
    case 'float16':
    case 'bfloat16': {
      const value = tensor.type === 'float16' ? float16Value : bfloat16Value;
      const bits = tensor.data;
      const values = new Float64Array(bits.length);
      for (let i = 0; i < bits.length; i++) values[i] = value(bits[i]);
      return float64Json(values, strings);
    }
    case 'int64':
    case 'uint64':
      // BigInt's toString is its exact decimal digits.
      return `[${tensor.data.join(',')}]`;
    case 'bool':
      return JSON.stringify(Array.from(tensor.data, (b) => b !== 0));
    case 'string':
      return JSON.stringify(tensor.data);
    default:
      // 8- to 32-bit integers: V8's JSON.stringify of a plain array of numbers is its fastest path.
      return JSON.stringify(Array.from(tensor.data));
  }
}

/** A non-finite number as {@link EncodeOptions.nonFinite} says. */
function nonFiniteJson(x: number, strings: boolean): string {
  const word = x !== x ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  return strings ? `"${word}"` : word;
}

function float64Json(data: Float64Array, strings: boolean): string {
  // JSON.stringify writes NaN and infinities as null and -0 as 0: only take its fast
  // path when there are none.
  let plain = true;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x - x !== 0 || (x === 0 && 1 / x < 0)) {
      plain = false;
      break;
    }
  }
  if (plain) return JSON.stringify(Array.from(data));
  let s = '[';
  for (let i = 0; i < data.length; i++) {
    if (i > 0) s += ',';
    const x = data[i];
    s += x - x === 0 ? (x === 0 && 1 / x < 0 ? '-0' : String(x)) : nonFiniteJson(x, strings);
  }
  return s + ']';
}

/** 10^0 ... 10^22, every one exact as a double. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** POW10_FROM[e + 46] is (the double nearest) 10^e, for e in [-46, 39]: a float32's range. */
const POW10_FROM: readonly number[] = Array.from({ length: 86 }, (_, i) => Number(`1e${i - 46}`));
const LOG10_2 = Math.log10(2);

/** Reused between calls (a response is written synchronously), up to this size. */
let scratch = Buffer.allocUnsafe(0);
const MAX_KEPT_SCRATCH = 16 * 1024 * 1024;

/**
 * @internal A Float32Array as a JSON array, each element the shortest decimal whose
 * nearest double rounds to the same float32: fewer digits than the double's own
 * shortest form (0.1 rather than 0.10000000149011612), written as bytes into one buffer
 * rather than as a string per element. Shortest for 1e-14 <= |x| < 1e23, where the
 * powers of ten it tries are exact doubles; other values (and subnormals) are written as
 * JavaScript writes their double: longer, and still read back as the same float32.
 */
export function float32Json(data: Float32Array, strings = false): string {
  // The longest element: a sign and String() of a double (23), or 21 integer digits.
  const need = data.length * 25 + 2;
  let out = scratch;
  if (out.length < need) {
    out = Buffer.allocUnsafe(need);
    if (need <= MAX_KEPT_SCRATCH) scratch = out;
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  let pos = 0;
  out[pos++] = 0x5b; // [
  for (let i = 0; i < data.length; i++) {
    if (i > 0) out[pos++] = 0x2c; // ,
    pos = writeFloat32(out, pos, data[i], bits[i], strings);
  }
  out[pos++] = 0x5d; // ]
  return out.toString('latin1', 0, pos);
}

/** Writes one float32 (`x`, with bit pattern `b`) at `pos`; returns the new position. */
function writeFloat32(out: Buffer, pos: number, x: number, b: number, strings: boolean): number {
  const field = (b >>> 23) & 0xff;
  if (field === 0xff) return pos + out.write(nonFiniteJson(x, strings), pos, 'latin1');
  if (x === 0) {
    if (b >>> 31) out[pos++] = 0x2d; // -0 stays -0
    out[pos++] = 0x30;
    return pos;
  }
  // Subnormals: rare, and outside the exact powers of ten below.
  if (field === 0) return pos + out.write(String(x), pos, 'latin1');
  let a = x;
  if (b >>> 31) {
    out[pos++] = 0x2d;
    a = -x;
  }
  // The decimal exponent: floor(log10(a)), from the binary one, one step too low at most.
  let e = Math.floor((field - 127) * LOG10_2);
  if (a >= POW10_FROM[e + 47]) e++;
  // m = round(a * 10^p) has 8 significant digits at p = 7 - e. Fewer digits round-trip
  // whenever more do, so: try 8, go down while they still round-trip, or up to 9, which
  // always do. A candidate is checked as a reader would parse it: m / 10^p with an exact
  // power of ten is the correctly rounded double, then rounded to float32.
  let p = 7 - e;
  if (p > 21 || p < -22) return pos + out.write(String(a), pos, 'latin1');
  let m = scale(a, p);
  if (Math.fround(unscale(m, p)) !== a) {
    p++;
    m = scale(a, p);
    if (Math.fround(unscale(m, p)) !== a) return pos + out.write(String(a), pos, 'latin1');
  } else {
    while (p > -22) {
      const m2 = scale(a, p - 1);
      if (Math.fround(unscale(m2, p - 1)) !== a) break;
      m = m2;
      p--;
    }
  }
  while (m % 10 === 0) {
    m /= 10;
    p--;
  }
  // m has nd digits; the value is m * 10^-p, its decimal point nd - p digits in.
  let nd = 1;
  while (nd < 10 && m >= POW10[nd]) nd++;
  const point = nd - p;
  if (point > -6 && point <= 21) {
    if (p <= 0) {
      pos = writeDigits(out, pos, m, nd);
      for (let z = 0; z < -p; z++) out[pos++] = 0x30;
    } else if (point > 0) {
      // ddd.ddd: the digits from the last, stepping over the point.
      const dot = pos + point;
      for (let at = pos + nd; at >= pos; at--) {
        if (at === dot) {
          out[at] = 0x2e;
          continue;
        }
        const q = (m / 10) | 0;
        out[at] = 0x30 + m - q * 10;
        m = q;
      }
      pos += nd + 1;
    } else {
      out[pos++] = 0x30;
      out[pos++] = 0x2e;
      for (let z = 0; z < -point; z++) out[pos++] = 0x30;
      pos = writeDigits(out, pos, m, nd);
    }
    return pos;
  }
  // d.ddde±x, as JavaScript writes numbers outside [1e-6, 1e21).
  writeDigits(out, pos + 1, m, nd);
  out[pos] = out[pos + 1];
  if (nd > 1) {
    out[pos + 1] = 0x2e;
    pos += nd + 1;
  } else {
    pos += 1;
  }
  out[pos++] = 0x65; // e
  const exponent = point - 1;
  out[pos++] = exponent < 0 ? 0x2d : 0x2b;
  return writeDigits(out, pos, Math.abs(exponent), Math.abs(exponent) >= 10 ? 2 : 1);
}

function scale(a: number, p: number): number {
  return p >= 0 ? Math.round(a * POW10[p]) : Math.round(a / POW10[-p]);
}

function unscale(m: number, p: number): number {
  return p >= 0 ? m / POW10[p] : m * POW10[-p];
}

/** Writes the `nd` decimal digits of `m` at `pos`; returns the position after them. */
function writeDigits(out: Buffer, pos: number, m: number, nd: number): number {
  // m < 2^31 (at most 9 digits), so int32 arithmetic is exact.
  for (let at = pos + nd - 1; at >= pos; at--) {
    const q = (m / 10) | 0;
    out[at] = 0x30 + m - q * 10;
    m = q;
  }
  return pos + nd;
}
