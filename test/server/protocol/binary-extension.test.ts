import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TensorDataMap } from '../../../lib/core/dtypes';
import { INFERENCE_HEADER_CONTENT_LENGTH, splitInferBody } from '../../../lib/server/protocol/binary-extension';
import { encodeInferResponse } from '../../../lib/server/protocol/encode-response';
import { decodeInferRequest, decodeLimits } from '../../../lib/server/protocol/json-tensors';
import type { Datatype, InferRequest, InferResponse } from '../../../lib/server/protocol/types';
import { binaryBody, bytesElements, bytesOf, throwsProtocol } from './protocol-helpers';

const route = { model: 'm' };

/** Decodes a whole body as a route would: split at the header length, then decode. */
function decodeBody(body: Buffer, headerLength: string | number | undefined, limits = decodeLimits()): InferRequest {
  const { header, binary } = splitInferBody(body, typeof headerLength === 'number' ? String(headerLength) : headerLength);
  return decodeInferRequest(header, binary, route, limits);
}

/** A body with one binary input `x` of `size` bytes (`sizeParam` declared). */
function oneBinary(datatype: string, shape: number[], bytes: Uint8Array, sizeParam: unknown = bytes.length) {
  return binaryBody({ inputs: [{ name: 'x', datatype, shape, parameters: { binary_data_size: sizeParam } }] }, [bytes]);
}

/** Six values of each datatype, as the natural array the binary form must become. */
const SAMPLES: { readonly [D in Datatype]: TensorDataMap[keyof TensorDataMap] } = {
  BOOL: new Uint8Array([1, 0, 1, 1, 0, 0]),
  UINT8: new Uint8Array([0, 255, 1, 128, 127, 42]),
  UINT16: new Uint16Array([0, 65535, 1, 32768, 7, 42]),
  UINT32: new Uint32Array([0, 2 ** 32 - 1, 1, 2 ** 31, 7, 42]),
  UINT64: new BigUint64Array([0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 9007199254740993n, 42n]),
  INT8: new Int8Array([-128, 127, 0, -1, 1, 42]),
  INT16: new Int16Array([-32768, 32767, 0, -1, 1, 42]),
  INT32: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 42]),
  INT64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 1n, -9007199254740993n]),
  FP16: new Uint16Array([0x3c00, 0xc000, 0x0000, 0x7bff, 0x7c00, 0x0001]),
  BF16: new Uint16Array([0x3f80, 0xc000, 0x0000, 0x7f7f, 0x7f80, 0x0001]),
  FP32: new Float32Array([1.5, -2, 0, 3.4028234663852886e38, NaN, -1e-45]),
  FP64: new Float64Array([Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, NaN]),
  BYTES: ['plain', 'héllo wörld', '日本語', '', 'emoji 🎉', '\ufeffBOM kept'],
};

function sampleBytes(datatype: Datatype): Uint8Array {
  const data = SAMPLES[datatype];
  return Array.isArray(data) ? bytesElements(data) : bytesOf(data as ArrayBufferView);
}

function sameData(actual: ArrayLike<unknown>, expected: ArrayLike<unknown>, label: string): void {
  assert.is(actual.length, expected.length, label);
  for (let i = 0; i < expected.length; i++) assert.ok(Object.is(actual[i], expected[i]), `${label}[${i}]: ${String(actual[i])} vs ${String(expected[i])}`);
}

const Split = suite('splitting a body by Inference-Header-Content-Length');

Split('the header is parsed and the rest is a view over the same memory', () => {
  const { body, headerLength } = binaryBody({ inputs: [] }, [new Uint8Array([1, 2, 3])]);
  const { header, binary } = splitInferBody(body, String(headerLength));
  assert.equal(header, { inputs: [] });
  assert.equal(Array.from(binary!), [1, 2, 3]);
  assert.is(binary!.buffer, body.buffer);
  assert.is(binary!.byteOffset, body.byteOffset + headerLength);
  assert.is(INFERENCE_HEADER_CONTENT_LENGTH, 'inference-header-content-length');
});

Split('without the header the whole body is JSON and there is no binary section', () => {
  const { header, binary } = splitInferBody(Buffer.from('{"inputs":[]}'), undefined);
  assert.equal(header, { inputs: [] });
  assert.is(binary, undefined);
});

Split('a header that is the whole body leaves an empty binary section', () => {
  const body = Buffer.from('{"inputs":[]}');
  const { binary } = splitInferBody(body, String(body.length));
  assert.is(binary!.length, 0);
  assert.is(splitInferBody(body, [` ${body.length} `]).binary!.length, 0, 'one value in an array, with spaces, is fine');
});

Split('bad header lengths are INVALID_ARGUMENT', () => {
  const body = Buffer.from('{"inputs":[]}'); // 13 bytes
  const cases: [string | string[], string][] = [
    ['14', 'Inference-Header-Content-Length is 14, but the body has only 13 bytes'],
    ['99999999999', 'Inference-Header-Content-Length is 99999999999, but the body has only 13 bytes'],
    ['0', 'Inference-Header-Content-Length is 0 (a raw binary request without a JSON header), which this server does not support; send the JSON header first'],
    ['12abc', 'Inference-Header-Content-Length must be a non-negative integer, got "12abc"'],
    ['-1', 'Inference-Header-Content-Length must be a non-negative integer, got "-1"'],
    ['1e1', 'Inference-Header-Content-Length must be a non-negative integer, got "1e1"'],
    ['0x0d', 'Inference-Header-Content-Length must be a non-negative integer, got "0x0d"'],
    ['12.0', 'Inference-Header-Content-Length must be a non-negative integer, got "12.0"'],
    ['', 'Inference-Header-Content-Length must be a non-negative integer, got ""'],
    ['1'.repeat(17), 'Inference-Header-Content-Length must be a non-negative integer, got "11111111111111111"'],
    [['13', '13'], 'Inference-Header-Content-Length was sent 2 times; send it once'],
  ];
  for (const [value, message] of cases) throwsProtocol(() => splitInferBody(body, value), message);
});

Split('a header that is not JSON or not UTF-8 is INVALID_ARGUMENT', () => {
  throwsProtocol(() => splitInferBody(Buffer.from('{"inputs":[]}xyz'), '5'), /^the request's JSON header \(5 bytes\) is not valid JSON: /);
  throwsProtocol(() => splitInferBody(Buffer.from([0x7b, 0xff, 0x7d]), '3'), "the request's JSON header (3 bytes) is not valid UTF-8");
});

const EveryType = suite('binary inputs: every datatype');

for (const datatype of Object.keys(SAMPLES) as Datatype[]) {
  EveryType(`${datatype}: [2, 3] from its binary form`, () => {
    const bytes = sampleBytes(datatype);
    const { body, headerLength } = oneBinary(datatype, [2, 3], bytes);
    const input = decodeBody(body, headerLength).inputs[0];
    assert.is(input.datatype, datatype);
    assert.equal(input.shape, [2, 3]);
    assert.equal(input.tensor.dims, [2, 3]);
    assert.is(input.tensor.data.constructor, SAMPLES[datatype].constructor);
    sameData(input.tensor.data as ArrayLike<unknown>, SAMPLES[datatype] as ArrayLike<unknown>, datatype);
    assert.is('parameters' in input, false, 'binary_data_size, a transport detail, is not passed on');
  });
}

EveryType('several inputs, binary and JSON mixed, take their bytes in order', () => {
  const a = new Int32Array([1, 2, 3]);
  const c = new Float64Array([0.5, 0.25]);
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        { name: 'a', datatype: 'INT32', shape: [3], parameters: { binary_data_size: 12, keep: 'me' } },
        { name: 'b', datatype: 'FP32', shape: [1], data: [7] },
        { name: 'c', datatype: 'FP64', shape: [2], parameters: { binary_data_size: 16 } },
        { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 14 } },
      ],
    },
    [bytesOf(a), bytesOf(c), bytesElements(['hi', 'four'])],
    400,
  );
  const [ia, ib, ic, is] = decodeBody(body, headerLength).inputs;
  assert.equal(Array.from(ia.tensor.data as Int32Array), [1, 2, 3]);
  assert.equal(ia.parameters, { keep: 'me' });
  assert.equal(Array.from(ib.tensor.data as Float32Array), [7]);
  assert.equal(Array.from(ic.tensor.data as Float64Array), [0.5, 0.25]);
  assert.equal(is.tensor.data, ['hi', 'four']);
});

const Alignment = suite('binary inputs: in place where aligned, one copy where not');

Alignment('an aligned input is a view over the body\'s own ArrayBuffer', () => {
  const values = new Float32Array([1, 2, 3, 4]);
  const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [4], parameters: { binary_data_size: 16 } }] }, [bytesOf(values)], 128);
  const data = decodeBody(body, headerLength).inputs[0].tensor.data as Float32Array;
  assert.is(data.buffer, body.buffer);
  assert.is(data.byteOffset, body.byteOffset + 128);
  body.writeFloatLE(42, 128);
  assert.is(data[0], 42, 'the same memory, not a copy');
});

Alignment('an input at an odd offset is copied once into aligned memory', () => {
  const values = new Float64Array([1.5, -2.25, Math.PI]);
  const { body, headerLength } = binaryBody(
    { inputs: [{ name: 'x', datatype: 'FP64', shape: [3], parameters: { binary_data_size: 24 } }] },
    [bytesOf(values)],
    129,
  );
  const data = decodeBody(body, headerLength).inputs[0].tensor.data as Float64Array;
  assert.is.not(data.buffer, body.buffer);
  assert.is(data.byteOffset % 8, 0);
  assert.is(data.buffer.byteLength, 24, 'one allocation of exactly the tensor');
  assert.equal(Array.from(data), [1.5, -2.25, Math.PI]);
});

Alignment('alignment is per element size: a 2-byte type at an even offset stays in place, an 8-byte one after it does not', () => {
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        { name: 'h', datatype: 'FP16', shape: [1], parameters: { binary_data_size: 2 } },
        { name: 'i', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
        { name: 'u', datatype: 'UINT8', shape: [3], parameters: { binary_data_size: 3 } },
      ],
    },
    [bytesOf(new Uint16Array([0x3c00])), bytesOf(new BigInt64Array([-5n])), new Uint8Array([9, 8, 7])],
    400,
  );
  const [h, i, u] = decodeBody(body, headerLength).inputs.map((input) => input.tensor.data as ArrayBufferView);
  assert.is(h.buffer, body.buffer);
  assert.is.not(i.buffer, body.buffer, 'offset 402 is not a multiple of 8');
  assert.equal(Array.from(i as BigInt64Array), [-5n]);
  assert.is(u.buffer, body.buffer, 'bytes are always aligned');
});

const Hostile = suite('binary inputs: sizes, truncation and hostile bodies');

Hostile('binary_data_size must equal shape x element size, checked before allocating', () => {
  const before = process.memoryUsage().arrayBuffers;
  const big = oneBinary('FP32', [1_000_000_000], new Uint8Array(8));
  throwsProtocol(() => decodeBody(big.body, big.headerLength), 'input "x": shape [1000000000] of FP32 (4 bytes each) needs 4000000000 bytes, binary_data_size is 8');
  const huge = oneBinary('INT64', [2 ** 31, 2 ** 31, 2 ** 31], new Uint8Array(8));
  throwsProtocol(() => decodeBody(huge.body, huge.headerLength), 'input "x": shape [2147483648,2147483648,2147483648] of INT64 (8 bytes each) needs 79228162514264337593543950336 bytes, binary_data_size is 8');
  const bytes = oneBinary('BYTES', [1_000_000_000], bytesElements(['a', 'b']));
  throwsProtocol(() => decodeBody(bytes.body, bytes.headerLength), 'input "x": shape [1000000000] holds 1000000000 BYTES elements, which need at least 4000000000 bytes (a 4-byte length each), binary_data_size is 10');
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'nothing of the declared size was allocated');
  const small = oneBinary('FP32', [2], new Uint8Array(7));
  throwsProtocol(() => decodeBody(small.body, small.headerLength), 'input "x": shape [2] of FP32 (4 bytes each) needs 8 bytes, binary_data_size is 7');
});

Hostile('a truncated body is a 400 naming the input that does not fit', () => {
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
        { name: 'b', datatype: 'FP32', shape: [4], parameters: { binary_data_size: 16 } },
      ],
    },
    [new Uint8Array(8), new Uint8Array(10)],
  );
  const err = throwsProtocol(
    () => decodeBody(body, headerLength),
    'input "b": its 16 bytes of binary data would start at byte 8 of the binary section, which has only 18 bytes (is the body truncated?)',
  );
  assert.is(err.status, 'INVALID_ARGUMENT');
});

Hostile('extra bytes after the last input are refused', () => {
  const { body, headerLength } = oneBinary('UINT8', [2], new Uint8Array([1, 2, 3]), 2);
  throwsProtocol(() => decodeBody(body, headerLength), "the binary section has 3 bytes, but the inputs' binary_data_size add up to 2");
  const noBinaryInputs = binaryBody({ inputs: [] }, [new Uint8Array([1])]);
  throwsProtocol(() => decodeBody(noBinaryInputs.body, noBinaryInputs.headerLength), "the binary section has 1 bytes, but the inputs' binary_data_size add up to 0");
});

Hostile('binary_data_size without a binary section, with data, or of the wrong type', () => {
  const header = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] };
  throwsProtocol(
    () => decodeInferRequest(header, undefined, route),
    'input "x": parameters.binary_data_size is 4, but the request has no binary data (send the JSON header\'s length in Inference-Header-Content-Length, then the data)',
  );
  throwsProtocol(
    () => decodeInferRequest({ inputs: [{ ...header.inputs[0], data: [1] }] }, Buffer.alloc(4), route),
    'input "x" has both "data" and parameters.binary_data_size; give one',
  );
  for (const bad of [-4, 4.5, '4', true]) {
    const { body, headerLength } = oneBinary('FP32', [1], new Uint8Array(4), bad);
    throwsProtocol(() => decodeBody(body, headerLength), `input "x": parameters.binary_data_size must be a non-negative integer, got ${typeof bad === 'string' ? '"4"' : String(bad)}`);
  }
});

Hostile('BOOL bytes other than 0 and 1 are refused', () => {
  const { body, headerLength } = oneBinary('BOOL', [3], new Uint8Array([1, 0, 2]));
  throwsProtocol(() => decodeBody(body, headerLength), 'input "x": BOOL element 2 is the byte 2; expected 0 (false) or 1 (true)');
});

Hostile('BYTES: lengths past the end, too few or too many elements, bad UTF-8, NUL, over the limit', () => {
  const decodeBytes = (shape: number[], bytes: Uint8Array, limits = decodeLimits()) => {
    const { body, headerLength } = oneBinary('BYTES', shape, bytes);
    return decodeBody(body, headerLength, limits).inputs[0].tensor.data;
  };
  const pastEnd = Buffer.alloc(8);
  pastEnd.writeUInt32LE(0xfffffff0, 0);
  throwsProtocol(() => decodeBytes([1], pastEnd), 'input "x": BYTES element 0 is 4294967280 bytes long, more than the limit of 16777216');
  pastEnd.writeUInt32LE(100, 0);
  throwsProtocol(() => decodeBytes([1], pastEnd), "input \"x\": BYTES element 0 is 100 bytes long but only 4 of the input's 8 bytes remain");
  // Two elements declared; the first one's bytes take the room of the second's length.
  throwsProtocol(() => decodeBytes([2], bytesElements(['abcdefgh'])), "input \"x\": BYTES element 1's 4-byte length starts at byte 12 of 12: the input's bytes hold fewer than 2 elements");
  // The second element's bytes cut off.
  throwsProtocol(() => decodeBytes([2], bytesElements(['abcd', 'e']).subarray(0, 12)), "input \"x\": BYTES element 1 is 1 bytes long but only 0 of the input's 12 bytes remain");
  throwsProtocol(() => decodeBytes([1], bytesElements(['a', 'b'])), 'input "x": its 1 BYTES elements take 5 bytes, but binary_data_size is 10');
  throwsProtocol(() => decodeBytes([1], bytesElements([new Uint8Array([0x61, 0xc3])])), 'input "x": BYTES element 0 is not valid UTF-8 (this server keeps BYTES as ONNX strings, which are text)');
  throwsProtocol(() => decodeBytes([1], bytesElements([new Uint8Array([0xed, 0xa0, 0x80])])), 'input "x": BYTES element 0 is not valid UTF-8 (this server keeps BYTES as ONNX strings, which are text)', 'INVALID_ARGUMENT');
  throwsProtocol(() => decodeBytes([1], bytesElements(['a\0b'])), 'input "x": BYTES element 0 contains a NUL byte, which ONNX Runtime strings cannot hold');
  throwsProtocol(() => decodeBytes([1], bytesElements(['1234567']), decodeLimits({ maxBytesLength: 6 })), 'input "x": BYTES element 0 is 7 bytes long, more than the limit of 6');
  assert.equal(decodeBytes([1], bytesElements(['123456']), decodeLimits({ maxBytesLength: 6 })), ['123456']);
  assert.equal(decodeBytes([0], new Uint8Array(0)), []);
  assert.equal(decodeBytes([2, 0], new Uint8Array(0)), []);
});

const Responses = suite('binary responses');

function response(outputs: InferResponse['outputs']): InferResponse {
  return { model_name: 'm', model_version: '1', id: 'r', outputs };
}

const f32 = new Float32Array([1, 2, 3, 4, 5, 6]);
const words = ['héllo', '', 'wörld'];
const outputs: InferResponse['outputs'] = [
  { name: 'scores', datatype: 'FP32', shape: [2, 3], tensor: { type: 'float32', dims: [2, 3], data: f32 } },
  { name: 'wörds', datatype: 'BYTES', shape: [3], tensor: { type: 'string', dims: [3], data: words }, parameters: { note: 'x' } },
];

Responses('binary_data_output makes every output binary; chunks are views over the tensors', () => {
  const body = encodeInferResponse(response(outputs), { model: 'm', inputs: [], parameters: { binary_data_output: true } });
  assert.ok(!('json' in body));
  assert.is(body.headerLength, Buffer.byteLength(body.header), 'bytes, not UTF-16 units: the header has non-ASCII names');
  assert.ok(body.headerLength > body.header.length);
  const header = JSON.parse(body.header) as { outputs: { name: string; parameters: Record<string, unknown>; data?: unknown }[] };
  assert.equal(header.outputs[0], { name: 'scores', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } });
  assert.equal(header.outputs[1], { name: 'wörds', datatype: 'BYTES', shape: [3], parameters: { note: 'x', binary_data_size: 24 } });
  assert.is(body.chunks.length, 2);
  assert.is(body.chunks[0].buffer, f32.buffer, 'no copy of a numeric output');
  assert.is(body.chunks[0].byteOffset, f32.byteOffset);
  assert.is(body.chunks[0].length, 24);
  assert.equal(Array.from(body.chunks[1]), Array.from(bytesElements(words)));
});

Responses('per-output binary_data overrides binary_data_output, both ways; unlisted outputs follow the request', () => {
  const off = encodeInferResponse(response(outputs), { model: 'm', inputs: [], parameters: { binary_data_output: true }, outputs: [{ name: 'scores', parameters: { binary_data: false } }] });
  assert.ok(!('json' in off));
  const h1 = JSON.parse(off.header) as { outputs: { parameters?: Record<string, unknown>; data?: unknown }[] };
  assert.equal(h1.outputs[0].data, [1, 2, 3, 4, 5, 6]);
  assert.equal(h1.outputs[1].parameters, { note: 'x', binary_data_size: 24 });
  assert.is(off.chunks.length, 1);

  const on = encodeInferResponse(response(outputs), { model: 'm', inputs: [], outputs: [{ name: 'wörds', parameters: { binary_data: true } }, { name: 'scores' }] });
  assert.ok(!('json' in on));
  const h2 = JSON.parse(on.header) as { outputs: { parameters?: Record<string, unknown>; data?: unknown }[] };
  assert.equal(h2.outputs[0].data, [1, 2, 3, 4, 5, 6]);
  assert.equal(h2.outputs[1].parameters, { note: 'x', binary_data_size: 24 });

  const none = encodeInferResponse(response(outputs), { model: 'm', inputs: [] });
  assert.ok('json' in none, 'no binary output: plain JSON');
});

Responses('round trip: every datatype, encoded binary, then decoded as a request body', () => {
  const all = (Object.keys(SAMPLES) as Datatype[]).map((datatype) => {
    const data = SAMPLES[datatype];
    const type = { BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64', INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64', FP16: 'float16', FP32: 'float32', FP64: 'float64', BF16: 'bfloat16', BYTES: 'string' }[datatype];
    return { name: datatype, datatype, shape: [3, 2], tensor: { type, dims: [3, 2], data } } as InferResponse['outputs'][number];
  });
  const body = encodeInferResponse(response(all), { model: 'm', inputs: [], parameters: { binary_data_output: true } });
  assert.ok(!('json' in body));
  const header = JSON.parse(body.header) as { outputs: unknown[] };
  // The response's outputs, sent back as a request's inputs: the same JSON shape.
  const { body: request, headerLength } = binaryBody({ inputs: header.outputs }, body.chunks);
  const decoded = decodeBody(request, headerLength);
  for (const input of decoded.inputs) {
    sameData(input.tensor.data as ArrayLike<unknown>, SAMPLES[input.datatype] as ArrayLike<unknown>, input.name);
    assert.equal(input.shape, [3, 2]);
  }
});

Split.run();
EveryType.run();
Alignment.run();
Hostile.run();
Responses.run();
