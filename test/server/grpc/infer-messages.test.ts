import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  fromModelInferRequest,
  toModelInferResponse,
  toModelStreamInferError,
  toModelStreamInferResponse,
  wireLongs,
} from '../../../lib/server/grpc/infer-messages';
import { inferenceProtocol } from '../../../lib/server/grpc/proto';
import { ProtocolError, type Datatype, type InferRequest, type InferResponse } from '../../../lib/server/protocol/types';
import type { ElementType } from '../../../lib/core/dtypes';
import { bytesOf, clientDecode, clientEncode, lengthPrefixed, placeAt, serverDecode, serverEncode } from './wire';

/** A request as a client sends it, through grpc-js's deserializer, into the core's form. */
function convert(request: Record<string, unknown>): InferRequest {
  return fromModelInferRequest(serverDecode(clientEncode('ModelInferRequest', request)));
}

/** Asserts that converting `request` fails with INVALID_ARGUMENT and exactly `message`. */
function rejects(request: Record<string, unknown>, message: string | RegExp): ProtocolError {
  let caught: unknown;
  try {
    convert(request);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${String(caught)}`);
  const err = caught as ProtocolError;
  assert.is(err.status, 'INVALID_ARGUMENT');
  if (typeof message === 'string') assert.is(err.message, message);
  else assert.match(err.message, message);
  return err;
}

/** One input with raw data, the way Triton's clients send every tensor. */
function rawRequest(datatype: string, shape: readonly (number | string)[], raw: Uint8Array, extra: Record<string, unknown> = {}) {
  return { model_name: 'm', inputs: [{ name: 'x', datatype, shape, ...extra }], raw_input_contents: [raw] };
}

/** One input with typed contents. */
function typedRequest(datatype: string, shape: readonly (number | string)[], contents: Record<string, unknown>) {
  return { model_name: 'm', inputs: [{ name: 'x', datatype, shape, contents }] };
}

/**
 * Each protocol datatype, the element type and array it must become (written out here
 * from the protocol's table, not read from lib/), and six values at the type's edges.
 */
const RAW_CASES: readonly { datatype: Datatype; type: ElementType; values: ArrayBufferView & ArrayLike<unknown> & { BYTES_PER_ELEMENT: number } }[] = [
  { datatype: 'BOOL', type: 'bool', values: new Uint8Array([1, 0, 1, 1, 0, 0]) },
  { datatype: 'UINT8', type: 'uint8', values: new Uint8Array([0, 255, 1, 128, 127, 42]) },
  { datatype: 'UINT16', type: 'uint16', values: new Uint16Array([0, 65535, 1, 32768, 32767, 4242]) },
  { datatype: 'UINT32', type: 'uint32', values: new Uint32Array([0, 2 ** 32 - 1, 1, 2 ** 31, 2 ** 31 - 1, 424242]) },
  { datatype: 'UINT64', type: 'uint64', values: new BigUint64Array([0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 2n ** 63n - 1n, 9007199254740993n]) },
  { datatype: 'INT8', type: 'int8', values: new Int8Array([-128, 127, 0, -1, 1, 42]) },
  { datatype: 'INT16', type: 'int16', values: new Int16Array([-32768, 32767, 0, -1, 1, 4242]) },
  { datatype: 'INT32', type: 'int32', values: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 424242]) },
  { datatype: 'INT64', type: 'int64', values: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 1n, 9007199254740993n]) },
  { datatype: 'FP16', type: 'float16', values: new Uint16Array([0x3c00, 0xc000, 0x0000, 0x7bff, 0x7c00, 0x0001]) },
  { datatype: 'FP32', type: 'float32', values: new Float32Array([1.5, -2, 0, 3.4028234663852886e38, Infinity, -1e-45]) },
  { datatype: 'FP64', type: 'float64', values: new Float64Array([Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 1e300]) },
  { datatype: 'BF16', type: 'bfloat16', values: new Uint16Array([0x3f80, 0xc000, 0x0000, 0x7f7f, 0x7f80, 0x0001]) },
];

const STRINGS = ['plain', 'héllo wörld', '日本語のテキスト', '', 'emoji 🎉🚀', '\uFEFFa leading byte-order mark stays'];

// ---------------------------------------------------------------------------------
const Raw = suite('fromModelInferRequest: raw_input_contents');

for (const { datatype, type, values } of RAW_CASES) {
  Raw(`${datatype} becomes ${type}, [2, 3], read in place from the received message`, () => {
    const raw = bytesOf(values);
    const encoded = placeAt(clientEncode('ModelInferRequest', rawRequest(datatype, [2, 3], raw)), raw, 0);
    const request = fromModelInferRequest(serverDecode(encoded));
    const [input] = request.inputs;
    assert.is(input.name, 'x');
    assert.is(input.datatype, datatype);
    assert.equal(input.shape, [2, 3]);
    assert.is(input.tensor.type, type);
    assert.equal(input.tensor.dims, [2, 3]);
    assert.is(input.tensor.data.constructor, values.constructor);
    assert.equal(Array.from(input.tensor.data as ArrayLike<unknown>), Array.from(values));
    const data = input.tensor.data as ArrayBufferView;
    assert.is(data.buffer, encoded.buffer, 'an aligned raw input is a view over the received message');
    assert.is(data.byteOffset, encoded.byteOffset + encoded.indexOf(raw));
  });
}

for (const { datatype, values } of RAW_CASES.filter((c) => c.values.BYTES_PER_ELEMENT > 1)) {
  Raw(`${datatype} at an odd offset is copied once into aligned memory`, () => {
    const raw = bytesOf(values);
    const encoded = placeAt(clientEncode('ModelInferRequest', rawRequest(datatype, [6], raw)), raw, 1);
    const data = fromModelInferRequest(serverDecode(encoded)).inputs[0].tensor.data as ArrayBufferView & ArrayLike<unknown>;
    assert.is.not(data.buffer, encoded.buffer);
    // One copy, of exactly the tensor's bytes: not a slice of a larger buffer, not a copy of a copy.
    assert.is(data.byteOffset, 0);
    assert.is(data.buffer.byteLength, raw.length);
    assert.equal(Array.from(data), Array.from(values));
    encoded.fill(0);
    assert.equal(Array.from(data), Array.from(values), 'the copy does not follow later changes to the message');
  });

  Raw(`${datatype} at an offset that is even but not a multiple of its size is copied (or viewed) as its size says`, () => {
    const raw = bytesOf(values);
    const encoded = placeAt(clientEncode('ModelInferRequest', rawRequest(datatype, [6], raw)), raw, 2);
    const data = fromModelInferRequest(serverDecode(encoded)).inputs[0].tensor.data as ArrayBufferView;
    assert.is(data.buffer === encoded.buffer, values.BYTES_PER_ELEMENT === 2);
  });
}

Raw('one-byte types are views at any offset', () => {
  const raw = Buffer.from([1, 2, 3, 250]);
  const encoded = placeAt(clientEncode('ModelInferRequest', rawRequest('UINT8', [4], raw)), raw, 3);
  const data = fromModelInferRequest(serverDecode(encoded)).inputs[0].tensor.data as Uint8Array;
  assert.is(data.buffer, encoded.buffer);
  assert.equal(Array.from(data), [1, 2, 3, 250]);
});

Raw('BYTES: each element a 4-byte little-endian length then its UTF-8, into strings', () => {
  const request = convert(rawRequest('BYTES', [2, 3], lengthPrefixed(STRINGS)));
  const { tensor } = request.inputs[0];
  assert.is(tensor.type, 'string');
  assert.equal(tensor.dims, [2, 3]);
  assert.equal(tensor.data, STRINGS);
});

Raw('several inputs take their raw entries in order; empty tensors take empty entries', () => {
  const a = new Float32Array([1, 2, 3]);
  const b = new BigInt64Array([5n, -6n]);
  const request = convert({
    model_name: 'm',
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [3] },
      { name: 'empty', datatype: 'FP32', shape: [0, 4] },
      { name: 'b', datatype: 'INT64', shape: [1, 2] },
      { name: 's', datatype: 'BYTES', shape: [0] },
    ],
    raw_input_contents: [bytesOf(a), Buffer.alloc(0), bytesOf(b), Buffer.alloc(0)],
  });
  assert.equal(
    request.inputs.map((i) => [i.name, i.tensor.type, i.shape, Array.from(i.tensor.data as ArrayLike<unknown>)]),
    [
      ['a', 'float32', [3], [1, 2, 3]],
      ['empty', 'float32', [0, 4], []],
      ['b', 'int64', [1, 2], [5n, -6n]],
      ['s', 'string', [0], []],
    ],
  );
});

Raw('a scalar (shape []) holds one element', () => {
  const request = convert(rawRequest('FP64', [], bytesOf(new Float64Array([2.5]))));
  assert.equal(request.inputs[0].shape, []);
  assert.equal(Array.from(request.inputs[0].tensor.data as Float64Array), [2.5]);
});

// ---------------------------------------------------------------------------------
const Typed = suite('fromModelInferRequest: InferTensorContents');

const TYPED_CASES: readonly { datatype: Datatype; field: string; sent: readonly unknown[]; type: ElementType; expected: readonly unknown[] }[] = [
  { datatype: 'BOOL', field: 'bool_contents', sent: [true, false, true, true, false, false], type: 'bool', expected: [1, 0, 1, 1, 0, 0] },
  { datatype: 'INT8', field: 'int_contents', sent: [-128, 127, 0, -1, 1, 42], type: 'int8', expected: [-128, 127, 0, -1, 1, 42] },
  { datatype: 'INT16', field: 'int_contents', sent: [-32768, 32767, 0, -1, 1, 4242], type: 'int16', expected: [-32768, 32767, 0, -1, 1, 4242] },
  { datatype: 'INT32', field: 'int_contents', sent: [-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 424242], type: 'int32', expected: [-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 424242] },
  {
    datatype: 'INT64',
    field: 'int64_contents',
    sent: ['-9223372036854775808', '9223372036854775807', '0', '-1', '1', '9007199254740993'],
    type: 'int64',
    expected: [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 1n, 9007199254740993n],
  },
  { datatype: 'UINT8', field: 'uint_contents', sent: [0, 255, 1, 128, 127, 42], type: 'uint8', expected: [0, 255, 1, 128, 127, 42] },
  { datatype: 'UINT16', field: 'uint_contents', sent: [0, 65535, 1, 32768, 32767, 4242], type: 'uint16', expected: [0, 65535, 1, 32768, 32767, 4242] },
  { datatype: 'UINT32', field: 'uint_contents', sent: [0, 2 ** 32 - 1, 1, 2 ** 31, 2 ** 31 - 1, 424242], type: 'uint32', expected: [0, 2 ** 32 - 1, 1, 2 ** 31, 2 ** 31 - 1, 424242] },
  {
    datatype: 'UINT64',
    field: 'uint64_contents',
    sent: ['0', '18446744073709551615', '1', '9223372036854775808', '9223372036854775807', '9007199254740993'],
    type: 'uint64',
    expected: [0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 2n ** 63n - 1n, 9007199254740993n],
  },
  { datatype: 'FP32', field: 'fp32_contents', sent: [1.5, -2, 0, 3.4028234663852886e38, Infinity, -(2 ** -149)], type: 'float32', expected: [1.5, -2, 0, 3.4028234663852886e38, Infinity, -(2 ** -149)] },
  { datatype: 'FP64', field: 'fp64_contents', sent: [Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 1e300], type: 'float64', expected: [Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 1e300] },
  { datatype: 'BYTES', field: 'bytes_contents', sent: STRINGS.map((s) => Buffer.from(s, 'utf8')), type: 'string', expected: STRINGS },
];

for (const { datatype, field, sent, type, expected } of TYPED_CASES) {
  Typed(`${datatype} in contents.${field} becomes ${type}`, () => {
    const { tensor } = convert(typedRequest(datatype, [2, 3], { [field]: sent })).inputs[0];
    assert.is(tensor.type, type);
    assert.equal(tensor.dims, [2, 3]);
    assert.equal(Array.from(tensor.data as ArrayLike<unknown>), expected);
  });
}

Typed('an empty tensor needs no contents at all', () => {
  const { tensor } = convert({ model_name: 'm', inputs: [{ name: 'x', datatype: 'FP16', shape: [3, 0] }] }).inputs[0];
  assert.is(tensor.type, 'float16');
  assert.is(tensor.data.length, 0);
});

// ---------------------------------------------------------------------------------
const Request = suite('fromModelInferRequest: the request around the inputs');

Request('model, version, id, parameters of each kind, input and output parameters, requested outputs', () => {
  const request = convert({
    model_name: 'resnet',
    model_version: '3',
    id: 'req-7',
    parameters: {
      priority: { uint64_param: 2 },
      timeout: { int64_param: 5000 },
      flag: { bool_param: false },
      label: { string_param: 'x' },
      ratio: { double_param: 0.25 },
      big: { int64_param: '-9223372036854775808' },
      huge: { uint64_param: '18446744073709551615' },
    },
    inputs: [{ name: 'x', datatype: 'INT32', shape: [1], parameters: { note: { string_param: 'n' } }, contents: { int_contents: [1] } }],
    outputs: [{ name: 'y', parameters: { classification: { int64_param: 3 } } }, { name: 'z' }],
  });
  assert.is(request.model, 'resnet');
  assert.is(request.version, '3');
  assert.is(request.id, 'req-7');
  assert.equal(request.parameters, {
    priority: 2,
    timeout: 5000,
    flag: false,
    label: 'x',
    ratio: 0.25,
    // Past 2^53 a number would be rounded: such values stay exact, as decimal strings.
    big: '-9223372036854775808',
    huge: '18446744073709551615',
  });
  assert.equal(request.inputs[0].parameters, { note: 'n' });
  assert.equal(request.outputs, [{ name: 'y', parameters: { classification: 3 } }, { name: 'z' }]);
});

Request('what was not sent is absent: version, id, parameters, outputs', () => {
  const request = convert({ model_name: 'm', inputs: [] });
  assert.equal(request, { model: 'm', inputs: [] });
});

Request('a parameter named __proto__ (written by hand: protobufjs clients cannot send one) stays an ordinary key', () => {
  const value = Buffer.from([0x1a, 0x01, 0x78]); // InferParameter { string_param (3): "x" }
  const key = Buffer.from('__proto__');
  const entry = Buffer.concat([Buffer.from([0x0a, key.length]), key, Buffer.from([0x12, value.length]), value]);
  const bytes = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6d]), Buffer.from([0x22, entry.length]), entry]);
  const request = fromModelInferRequest(serverDecode(bytes));
  assert.is(request.model, 'm');
  assert.ok(Object.hasOwn(request.parameters!, '__proto__'));
  assert.is(request.parameters!['__proto__'], 'x');
  assert.is(Object.getPrototypeOf(request.parameters), Object.prototype);
  assert.is(({} as Record<string, unknown>).string_param, undefined);
});

// ---------------------------------------------------------------------------------
const Errors = suite('fromModelInferRequest: what it rejects, before allocating anything');

Errors('a declared shape of 10^9 FP32 with 8 bytes sent: INVALID_ARGUMENT, nothing allocated', () => {
  const before = process.memoryUsage().arrayBuffers;
  rejects(rawRequest('FP32', ['1000000000'], Buffer.alloc(8)), "input 'x': shape [1000000000] of FP32 needs 4000000000 bytes, but raw_input_contents[0] has 8");
  rejects(rawRequest('BYTES', ['1000000000'], Buffer.alloc(8)), "input 'x': shape [1000000000] of BYTES holds 1000000000 elements, each at least a 4-byte length, but raw_input_contents[0] has 8 bytes");
  rejects(typedRequest('FP32', ['1000000000'], { fp32_contents: [1, 2] }), "input 'x': shape [1000000000] holds 1000000000 elements, but contents.fp32_contents has 2");
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, 'no tensor-sized allocation happened');
});

Errors('the first input is not allocated when a later one fails its checks', () => {
  const big = bytesOf(new Float32Array(2 ** 20));
  const before = process.memoryUsage().arrayBuffers;
  const encoded = placeAt(
    clientEncode('ModelInferRequest', {
      model_name: 'm',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2 ** 20] },
        { name: 'b', datatype: 'FP32', shape: [3] },
      ],
      raw_input_contents: [big, Buffer.alloc(4)],
    }),
    big,
    1,
  );
  const afterEncode = process.memoryUsage().arrayBuffers;
  assert.throws(() => fromModelInferRequest(serverDecode(encoded)), /input 'b': shape \[3\] of FP32 needs 12 bytes, but raw_input_contents\[1\] has 4/);
  // The misaligned 4 MiB input 'a' would have been copied had it been converted first.
  assert.ok(process.memoryUsage().arrayBuffers - afterEncode < 2 ** 21, `copied ${process.memoryUsage().arrayBuffers - afterEncode} bytes`);
  assert.ok(afterEncode >= before);
});

Errors('datatype and shape', () => {
  rejects(typedRequest('FLOAT', [1], {}), "input 'x': unknown datatype \"FLOAT\"; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES");
  rejects(typedRequest('', [1], {}), /^input 'x': unknown datatype ""/);
  rejects(rawRequest('FP32', [-1, 3], Buffer.alloc(12)), "input 'x': shape must be non-negative integers, got [-1, 3]");
  rejects(rawRequest('FP32', ['-9223372036854775808'], Buffer.alloc(0)), "input 'x': shape must be non-negative integers, got [-9223372036854775808]");
  rejects(rawRequest('FP32', ['9007199254740993'], Buffer.alloc(0)), "input 'x': shape must be non-negative integers, got [9007199254740993]");
  rejects(rawRequest('INT8', [2 ** 30, 2 ** 30, 2 ** 30], Buffer.alloc(1)), "input 'x': shape [1073741824, 1073741824, 1073741824] holds more than 2^53 elements");
});

Errors('a zero dimension makes an empty tensor, whatever the others', () => {
  const request = convert(rawRequest('INT8', [2 ** 30, 2 ** 30, 2 ** 30, 0], Buffer.alloc(0)));
  assert.is(request.inputs[0].tensor.data.length, 0);
});

Errors('raw sizes', () => {
  rejects(rawRequest('INT32', [2, 2], Buffer.alloc(15)), "input 'x': shape [2, 2] of INT32 needs 16 bytes, but raw_input_contents[0] has 15");
  rejects(rawRequest('FP16', [3], Buffer.alloc(8)), "input 'x': shape [3] of FP16 needs 6 bytes, but raw_input_contents[0] has 8");
  rejects(rawRequest('BOOL', [0], Buffer.alloc(1)), "input 'x': shape [0] of BOOL needs 0 bytes, but raw_input_contents[0] has 1");
});

Errors('raw and typed contents mixed, and raw entries that do not match the inputs', () => {
  rejects(
    {
      model_name: 'm',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1] },
        { name: 'b', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } },
      ],
      raw_input_contents: [Buffer.alloc(4), Buffer.alloc(4)],
    },
    "input 'b': contents.fp32_contents has data, but the request also has raw_input_contents; send every input either in raw_input_contents or in its contents, not both",
  );
  rejects(
    { model_name: 'm', inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }, { name: 'b', datatype: 'FP32', shape: [1] }], raw_input_contents: [Buffer.alloc(4)] },
    'ModelInferRequest: 1 raw_input_contents entries for 2 inputs; expected one entry per input, in the order of inputs',
  );
  rejects({ model_name: 'm', inputs: [], raw_input_contents: [Buffer.alloc(4)] }, 'ModelInferRequest: 1 raw_input_contents entries for 0 inputs; expected one entry per input, in the order of inputs');
});

Errors('typed contents: count, field, and types that only travel raw', () => {
  rejects(typedRequest('FP32', [2, 3], { fp32_contents: [1, 2, 3, 4, 5] }), "input 'x': shape [2, 3] holds 6 elements, but contents.fp32_contents has 5");
  rejects(typedRequest('FP32', [2], { int_contents: [1, 2] }), "input 'x': FP32 data goes in contents.fp32_contents, but contents.int_contents has 2 values");
  rejects(typedRequest('INT64', [1], { int64_contents: [1], fp64_contents: [1] }), "input 'x': INT64 data goes in contents.int64_contents, but contents.fp64_contents has 1 values");
  rejects(
    typedRequest('FP16', [2], { uint_contents: [0x3c00, 0] }),
    "input 'x': FP16 data can only come in raw_input_contents (InferTensorContents has no field for it), but contents.uint_contents has 2 values",
  );
  rejects(
    { model_name: 'm', inputs: [{ name: 'x', datatype: 'BF16', shape: [2] }] },
    "input 'x': BF16 data can only come in raw_input_contents (InferTensorContents has no field for it), and the request has none",
  );
  rejects(
    { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }] },
    "input 'x': shape [2] holds 2 elements, but contents.fp32_contents has 0 (no contents, and the request has no raw_input_contents)",
  );
});

Errors('narrow integers must fit their type', () => {
  rejects(typedRequest('INT8', [2], { int_contents: [1, 128] }), "input 'x': INT8 value 128 at contents.int_contents[1] is out of range [-128, 127]");
  rejects(typedRequest('INT16', [1], { int_contents: [-40000] }), "input 'x': INT16 value -40000 at contents.int_contents[0] is out of range [-32768, 32767]");
  rejects(typedRequest('UINT8', [1], { uint_contents: [256] }), "input 'x': UINT8 value 256 at contents.uint_contents[0] is out of range [0, 255]");
  rejects(typedRequest('UINT16', [1], { uint_contents: [65536] }), "input 'x': UINT16 value 65536 at contents.uint_contents[0] is out of range [0, 65535]");
});

Errors('BYTES: lengths within the data, no bytes left over, UTF-8, no NUL', () => {
  rejects(rawRequest('BYTES', [2], Buffer.concat([lengthPrefixed(['ab']), Buffer.from([1, 0])])), "input 'x': raw_input_contents[0] ends at byte 8, inside the 4-byte length of element 1 of the 2 that shape [2] holds");
  rejects(rawRequest('BYTES', [1], Buffer.from([9, 0, 0, 0, 0x61, 0x62])), "input 'x': element 0 of raw_input_contents[0] is 9 bytes long, but only 2 bytes remain");
  rejects(rawRequest('BYTES', [1], Buffer.from([0xff, 0xff, 0xff, 0xff, 0x61])), "input 'x': element 0 of raw_input_contents[0] is 4294967295 bytes long, but only 1 bytes remain");
  rejects(rawRequest('BYTES', [1], Buffer.concat([lengthPrefixed(['ab']), Buffer.from([0, 0, 0, 0])])), "input 'x': raw_input_contents[0] has 4 bytes left after the 1 elements that shape [1] holds");
  rejects(rawRequest('BYTES', [2], lengthPrefixed(['ok', Buffer.from([0x61, 0xff])])), "input 'x': BYTES element 1 is not valid UTF-8");
  rejects(rawRequest('BYTES', [1], lengthPrefixed([Buffer.from([0xed, 0xa0, 0x80])])), "input 'x': BYTES element 0 is not valid UTF-8");
  rejects(rawRequest('BYTES', [1], lengthPrefixed(['a\0b'])), "input 'x': BYTES element 0 contains a NUL byte, which ONNX Runtime strings cannot hold");
  rejects(typedRequest('BYTES', [2], { bytes_contents: [Buffer.from('ok'), Buffer.from([0xc3])] }), "input 'x': BYTES element 1 is not valid UTF-8");
});

Errors('names: model, inputs, outputs', () => {
  rejects({ inputs: [] }, 'ModelInferRequest: model_name is empty; expected the name of the model to run');
  rejects({ model_name: 'm', inputs: [{ datatype: 'FP32', shape: [0] }] }, 'ModelInferRequest: inputs[0] has no name');
  rejects(
    { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [0] }, { name: 'x', datatype: 'FP32', shape: [0] }] },
    "input 'x' is given twice; expected each input once",
  );
  rejects({ model_name: 'm', inputs: [], outputs: [{}] }, 'ModelInferRequest: outputs[0] has no name');
});

Errors('parameters: a value must be set; priority and timeout are integers from 0 to 2^53', () => {
  rejects({ model_name: 'm', inputs: [], parameters: { p: {} } }, "request parameter 'p' has no value; expected one of bool_param, int64_param, string_param, double_param, uint64_param");
  rejects(
    { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [0], parameters: { q: {} } }] },
    "input 'x' parameter 'q' has no value; expected one of bool_param, int64_param, string_param, double_param, uint64_param",
  );
  rejects({ model_name: 'm', inputs: [], parameters: { priority: { string_param: '1' } } }, "request parameter 'priority' must be an int64_param or a uint64_param, got string_param");
  rejects({ model_name: 'm', inputs: [], parameters: { timeout: { double_param: 1.5 } } }, "request parameter 'timeout' must be an int64_param or a uint64_param, got double_param");
  rejects({ model_name: 'm', inputs: [], parameters: { timeout: { int64_param: -1 } } }, "request parameter 'timeout' must be an integer from 0 to 2^53, got -1");
  rejects(
    { model_name: 'm', inputs: [], parameters: { priority: { uint64_param: '18446744073709551615' } } },
    "request parameter 'priority' must be an integer from 0 to 2^53, got 18446744073709551615",
  );
});

Errors('shared-memory inputs and outputs: this server keeps no regions', () => {
  rejects(
    { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [4], parameters: { shared_memory_region: { string_param: 'r0' }, shared_memory_byte_size: { int64_param: 16 } } }] },
    "input 'x' names shared-memory region \"r0\", but this server does not implement the shared-memory extension; send the data in raw_input_contents",
  );
  rejects(
    { model_name: 'm', inputs: [], outputs: [{ name: 'y', parameters: { shared_memory_region: { string_param: 'out' } } }] },
    "requested output 'y' names shared-memory region \"out\", but this server does not implement the shared-memory extension; send the data in raw_output_contents",
  );
});

// ---------------------------------------------------------------------------------
const Response = suite('toModelInferResponse: as a client decodes it');

function response(outputs: InferResponse['outputs'], extra: Partial<InferResponse> = {}): InferResponse {
  return { model_name: 'm', model_version: '1', outputs, ...extra };
}

for (const { datatype, type, values } of RAW_CASES) {
  Response(`${datatype}: raw_output_contents is a Buffer over the output tensor's memory, and decodes to the same bytes`, () => {
    const data = values.constructor === Uint8Array ? new Uint8Array(values as Uint8Array) : values;
    const tensor = { type, dims: [2, 3], data } as unknown as InferResponse['outputs'][number]['tensor'];
    const message = toModelInferResponse(response([{ name: 'y', datatype, shape: [2, 3], tensor }]));
    const [raw] = message.raw_output_contents;
    assert.is(raw.buffer, (data as ArrayBufferView).buffer, 'no copy');
    assert.is(raw.byteOffset, (data as ArrayBufferView).byteOffset);
    const decoded = clientDecode('ModelInferResponse', serverEncode('ModelInfer', message)) as {
      outputs: { name: string; datatype: string; shape: string[] }[];
      raw_output_contents: Uint8Array[];
    };
    assert.equal(decoded.outputs.map((o) => [o.name, o.datatype, o.shape]), [['y', datatype, ['2', '3']]]);
    assert.equal(Buffer.from(decoded.raw_output_contents[0]), bytesOf(values));
  });
}

Response('a tensor over part of a larger buffer sends only its own bytes', () => {
  const backing = new Float32Array([9, 1, 2, 3, 9]);
  const data = backing.subarray(1, 4);
  const message = toModelInferResponse(response([{ name: 'y', datatype: 'FP32', shape: [3], tensor: { type: 'float32', dims: [3], data } }]));
  const decoded = clientDecode('ModelInferResponse', serverEncode('ModelInfer', message)) as { raw_output_contents: Uint8Array[] };
  assert.equal(Array.from(new Float32Array(Uint8Array.from(decoded.raw_output_contents[0]).buffer)), [1, 2, 3]);
});

Response('BYTES outputs are length-prefixed UTF-8; model, version, id and parameters come through', () => {
  const message = toModelInferResponse(
    response([{ name: 's', datatype: 'BYTES', shape: [6], tensor: { type: 'string', dims: [6], data: STRINGS } }], {
      id: 'req-1',
      parameters: { sequence_end: true, note: 'n', count: 3, ratio: 0.5, negative: -7 },
    }),
  );
  const decoded = clientDecode('ModelInferResponse', serverEncode('ModelInfer', message)) as Record<string, unknown> & { raw_output_contents: Uint8Array[] };
  assert.is(decoded.model_name, 'm');
  assert.is(decoded.model_version, '1');
  assert.is(decoded.id, 'req-1');
  assert.equal(decoded.parameters, {
    sequence_end: { bool_param: true, parameter_choice: 'bool_param' },
    note: { string_param: 'n', parameter_choice: 'string_param' },
    count: { int64_param: '3', parameter_choice: 'int64_param' },
    ratio: { double_param: 0.5, parameter_choice: 'double_param' },
    negative: { int64_param: '-7', parameter_choice: 'int64_param' },
  });
  assert.equal(Buffer.from(decoded.raw_output_contents[0]), lengthPrefixed(STRINGS));
  // And what the server sends, its own decoder reads back as the same strings.
  const back = convert(rawRequest('BYTES', [6], Buffer.from(decoded.raw_output_contents[0])));
  assert.equal(back.inputs[0].tensor.data, STRINGS);
});

Response('several outputs keep their order, raw entries matching outputs', () => {
  const message = toModelInferResponse(
    response([
      { name: 'a', datatype: 'INT32', shape: [2], tensor: { type: 'int32', dims: [2], data: new Int32Array([1, -2]) } },
      { name: 'b', datatype: 'FP32', shape: [0], tensor: { type: 'float32', dims: [0], data: new Float32Array(0) } },
      { name: 'c', datatype: 'BOOL', shape: [], tensor: { type: 'bool', dims: [], data: new Uint8Array([1]) } },
    ]),
  );
  const decoded = clientDecode('ModelInferResponse', serverEncode('ModelInfer', message)) as { outputs: { name: string }[]; raw_output_contents: Uint8Array[] };
  assert.equal(decoded.outputs.map((o) => o.name), ['a', 'b', 'c']);
  assert.equal(decoded.raw_output_contents.map((r) => Array.from(r)), [[1, 0, 0, 0, 254, 255, 255, 255], [], [1]]);
});

Response('an output whose tensor disagrees with its datatype or shape is an INTERNAL error', () => {
  assert.throws(
    () => toModelInferResponse(response([{ name: 'y', datatype: 'FP64', shape: [1], tensor: { type: 'float32', dims: [1], data: new Float32Array(1) } }])),
    (err: unknown) => err instanceof ProtocolError && err.status === 'INTERNAL' && err.message === "output 'y': datatype FP64, but its tensor is float32",
  );
  assert.throws(
    () => toModelInferResponse(response([{ name: 'y', datatype: 'FP32', shape: [2], tensor: { type: 'float32', dims: [2], data: new Float32Array(3) } }])),
    (err: unknown) => err instanceof ProtocolError && err.status === 'INTERNAL' && err.message === "output 'y': shape [2] holds 2 elements, but its tensor has 3",
  );
});

Response('ModelStreamInfer: a result, and an error that names the failed request', () => {
  const ok = toModelStreamInferResponse(response([{ name: 'y', datatype: 'UINT8', shape: [1], tensor: { type: 'uint8', dims: [1], data: new Uint8Array([7]) } }], { id: 'a' }));
  const okDecoded = clientDecode('ModelStreamInferResponse', serverEncode('ModelStreamInfer', ok)) as {
    error_message: string;
    infer_response: { id: string; raw_output_contents: Uint8Array[] };
  };
  assert.is(okDecoded.error_message, '');
  assert.is(okDecoded.infer_response.id, 'a');
  assert.equal(Array.from(okDecoded.infer_response.raw_output_contents[0]), [7]);

  const failed = toModelStreamInferError(new ProtocolError("input 'x': bad", 'INVALID_ARGUMENT'), { model: 'm', version: '2', id: 'b' });
  const failedDecoded = clientDecode('ModelStreamInferResponse', serverEncode('ModelStreamInfer', failed)) as {
    error_message: string;
    infer_response: { model_name: string; model_version: string; id: string };
  };
  assert.is(failedDecoded.error_message, "input 'x': bad");
  assert.equal([failedDecoded.infer_response.model_name, failedDecoded.infer_response.model_version, failedDecoded.infer_response.id], ['m', '2', 'b']);

  const anonymous = clientDecode('ModelStreamInferResponse', serverEncode('ModelStreamInfer', toModelStreamInferError('boom'))) as { error_message: string; infer_response: unknown };
  assert.is(anonymous.error_message, 'boom');
  assert.is(anonymous.infer_response, null);
});

// ---------------------------------------------------------------------------------
const Other = suite('the other rpcs: plain objects, 64-bit fields');

Other('ModelMetadataResponse: shapes as plain numbers, -1 included, reach a client as int64', () => {
  const { service } = inferenceProtocol();
  const bytes = service.ModelMetadata.responseSerialize({
    name: 'm',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 224, 224] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1000] }],
  });
  const decoded = clientDecode('ModelMetadataResponse', bytes) as { inputs: { shape: string[] }[]; outputs: { shape: string[] }[] };
  assert.equal(decoded.inputs[0].shape, ['-1', '3', '224', '224']);
  assert.equal(decoded.outputs[0].shape, ['-1', '1000']);
});

Other('ModelStatisticsResponse: uint64 counters as numbers, decimal strings, or bigints through wireLongs', () => {
  const { service } = inferenceProtocol();
  const stats = {
    model_stats: [
      {
        name: 'm',
        version: '1',
        last_inference: 1_700_000_000_000,
        inference_count: '18446744073709551615',
        execution_count: 2n ** 63n + 1n,
        inference_stats: { success: { count: 3n, ns: 2n ** 64n - 1n } },
        batch_stats: [{ batch_size: 4n, compute_infer: { count: 1, ns: 10 } }],
        memory_usage: [{ type: 'CPU', id: -(2n ** 63n), byte_size: 12n }],
      },
    ],
  };
  const wire = wireLongs(stats);
  assert.is(wire.model_stats[0].execution_count, '9223372036854775809');
  assert.is(typeof wire.model_stats[0].last_inference, 'number');
  const decoded = clientDecode('ModelStatisticsResponse', service.ModelStatistics.responseSerialize(wire)) as {
    model_stats: Record<string, unknown>[];
  };
  const [m] = decoded.model_stats as {
    last_inference: string;
    inference_count: string;
    execution_count: string;
    inference_stats: { success: { count: string; ns: string } };
    batch_stats: { batch_size: string }[];
    memory_usage: { id: string; byte_size: string }[];
  }[];
  assert.equal(
    [m.last_inference, m.inference_count, m.execution_count, m.inference_stats.success.count, m.inference_stats.success.ns, m.batch_stats[0].batch_size],
    ['1700000000000', '18446744073709551615', '9223372036854775809', '3', '18446744073709551615', '4'],
  );
  assert.equal([m.memory_usage[0].id, m.memory_usage[0].byte_size], ['-9223372036854775808', '12']);
});

Other('wireLongs leaves Buffers and values without bigints as they are', () => {
  const buffer = Buffer.from([1, 2]);
  const out = wireLongs({ a: [1, 'x', { b: buffer, c: null, d: true }] });
  assert.equal(out, { a: [1, 'x', { b: buffer, c: null, d: true }] });
  assert.is((out.a[2] as { b: Buffer }).b, buffer);
});

Raw.run();
Typed.run();
Request.run();
Errors.run();
Response.run();
Other.run();
