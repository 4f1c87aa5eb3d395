import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TensorDataMap } from '../../../lib/core/dtypes';
import { encodeInferResponse } from '../../../lib/server/protocol/encode-response';
import { DEFAULT_DECODE_LIMITS, decodeInferRequest, decodeLimits } from '../../../lib/server/protocol/json-tensors';
import type { Datatype, InferRequest, InferResponse } from '../../../lib/server/protocol/types';
import { OrtError } from '../../../lib/core/errors';
import { throwsProtocol } from './protocol-helpers';

const route = { model: 'm' };

/** A request of one input; `extra` is merged into the input. */
function one(datatype: string, shape: unknown, data: unknown, extra: Record<string, unknown> = {}): unknown {
  return { inputs: [{ name: 'x', datatype, shape, data, ...extra }] };
}

function decodeOne(datatype: string, shape: unknown, data: unknown): InferRequest['inputs'][number] {
  return decodeInferRequest(one(datatype, shape, data), undefined, route).inputs[0];
}

/** Each datatype: JSON elements for a [2, 3] tensor, and the natural array they must become. */
const CASES: { readonly [D in Datatype]: { json: unknown[]; expected: TensorDataMap[keyof TensorDataMap] } } = {
  BOOL: { json: [true, false, true, true, false, false], expected: new Uint8Array([1, 0, 1, 1, 0, 0]) },
  UINT8: { json: [0, 255, 1, 128, 127, 42], expected: new Uint8Array([0, 255, 1, 128, 127, 42]) },
  UINT16: { json: [0, 65535, 1, 32768, 7, 42], expected: new Uint16Array([0, 65535, 1, 32768, 7, 42]) },
  UINT32: { json: [0, 4294967295, 1, 2147483648, 7, 42], expected: new Uint32Array([0, 4294967295, 1, 2147483648, 7, 42]) },
  UINT64: {
    json: [0, '18446744073709551615', 9007199254740991, '9007199254740993', 7, '42'],
    expected: new BigUint64Array([0n, 2n ** 64n - 1n, 9007199254740991n, 9007199254740993n, 7n, 42n]),
  },
  INT8: { json: [-128, 127, 0, -1, 1, 42], expected: new Int8Array([-128, 127, 0, -1, 1, 42]) },
  INT16: { json: [-32768, 32767, 0, -1, 1, 42], expected: new Int16Array([-32768, 32767, 0, -1, 1, 42]) },
  INT32: { json: [-2147483648, 2147483647, 0, -1, 1, 42], expected: new Int32Array([-2147483648, 2147483647, 0, -1, 1, 42]) },
  INT64: {
    json: ['-9223372036854775808', '9223372036854775807', -9007199254740991, '-9007199254740993', 0, -1],
    expected: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -9007199254740991n, -9007199254740993n, 0n, -1n]),
  },
  FP16: { json: [1, -2, 0.1, 65504, 'Infinity', 2 ** -24], expected: new Uint16Array([0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7c00, 0x0001]) },
  BF16: { json: [1, -2, 0.1, 1 / 3, '-Infinity', 2 ** -133], expected: new Uint16Array([0x3f80, 0xc000, 0x3dcd, 0x3eab, 0xff80, 0x0001]) },
  FP32: { json: [1.5, -2, 0.1, 3.4028234663852886e38, 'Infinity', -1e-45], expected: new Float32Array([1.5, -2, 0.1, 3.4028234663852886e38, Infinity, -1e-45]) },
  FP64: { json: [Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, '-Infinity', 1e300], expected: new Float64Array([Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 1e300]) },
  BYTES: { json: ['plain', 'héllo wörld', '日本語', '', 'emoji 🎉', '\ufeffBOM kept'], expected: ['plain', 'héllo wörld', '日本語', '', 'emoji 🎉', '\ufeffBOM kept'] },
};

const EveryType = suite('JSON data: every datatype, flat and nested');

for (const [datatype, { json, expected }] of Object.entries(CASES) as [Datatype, (typeof CASES)[Datatype]][]) {
  EveryType(`${datatype}: flat and nested [2, 3] data give the same natural array`, () => {
    const flat = decodeOne(datatype, [2, 3], json);
    const nested = decodeOne(datatype, [2, 3], [json.slice(0, 3), json.slice(3)]);
    for (const input of [flat, nested]) {
      assert.is(input.datatype, datatype);
      assert.equal(input.shape, [2, 3]);
      assert.equal(input.tensor.dims, [2, 3]);
      assert.is(input.tensor.data.constructor, expected.constructor);
      assert.equal(Array.from(input.tensor.data as ArrayLike<unknown>), Array.from(expected as ArrayLike<unknown>));
    }
    if (datatype === 'FP64') assert.ok(Object.is((flat.tensor.data as Float64Array)[1], -0));
  });
}

EveryType('FP32 and FP64 accept "NaN", "Infinity" and "-Infinity" (JSON has no literal for them)', () => {
  const data = decodeOne('FP32', [3], ['NaN', 'Infinity', '-Infinity']).tensor.data as Float32Array;
  assert.ok(Number.isNaN(data[0]));
  assert.equal([data[1], data[2]], [Infinity, -Infinity]);
  assert.is((decodeOne('FP16', [1], ['NaN']).tensor.data as Uint16Array)[0], 0x7e00);
});

EveryType('a scalar ([] shape) takes one element; zero-size shapes take none', () => {
  assert.equal(Array.from(decodeOne('INT32', [], [7]).tensor.data as Int32Array), [7]);
  assert.is(decodeOne('FP32', [0, 3], []).tensor.data.length, 0);
  const empty = decodeOne('FP32', [3, 0], [[], [], []]);
  assert.is(empty.tensor.data.length, 0);
  assert.equal(empty.shape, [3, 0]);
  assert.is(decodeOne('BYTES', [0], []).tensor.data.length, 0);
});

EveryType('deeper nesting follows the shape: [2, 2, 2]', () => {
  const input = decodeOne('INT16', [2, 2, 2], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
  assert.equal(Array.from(input.tensor.data as Int16Array), [1, 2, 3, 4, 5, 6, 7, 8]);
});

const Request = suite('the request object');

Request('id, parameters, outputs and the route come through; unknown fields are ignored', () => {
  const request = decodeInferRequest(
    {
      id: '42',
      model_name: 'Triton sends this in its own example',
      parameters: { binary_data_output: true, priority: 2, tag: 'a', __proto__: 1 },
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1], parameters: { note: 'kept' }, contents: 'ignored' }],
      outputs: [{ name: 'y', parameters: { binary_data: false } }, { name: 'z' }],
    },
    undefined,
    { model: 'resnet', version: '3' },
  );
  assert.is(request.model, 'resnet');
  assert.is(request.version, '3');
  assert.is(request.id, '42');
  assert.equal({ ...request.parameters }, { binary_data_output: true, priority: 2, tag: 'a' });
  assert.equal(request.inputs[0].parameters, { note: 'kept' });
  assert.equal(request.outputs, [{ name: 'y', parameters: { binary_data: false } }, { name: 'z' }]);
  assert.is(Object.getPrototypeOf(request.parameters), Object.prototype, 'a "__proto__" key does not become a prototype');
});

Request('an empty version from the route means "the default": it is left out', () => {
  const request = decodeInferRequest(one('FP32', [1], [1]), undefined, { model: 'm', version: '' });
  assert.is('version' in request, false);
  assert.is('id' in request, false);
  assert.is('outputs' in request, false);
});

Request('a JSON "__proto__" key in parameters stays a plain key', () => {
  const header = JSON.parse('{"inputs":[],"parameters":{"__proto__":"x","a":1}}') as unknown;
  const request = decodeInferRequest(header, undefined, route);
  assert.is(Object.getPrototypeOf(request.parameters), Object.prototype);
  assert.is(Object.getOwnPropertyDescriptor(request.parameters, '__proto__')?.value, 'x');
});

Request('malformed requests are INVALID_ARGUMENT, naming the field', () => {
  const cases: [unknown, string][] = [
    [[], 'the inference request must be a JSON object, got an array of 0'],
    [null, 'the inference request must be a JSON object, got null'],
    [{}, `the request's "inputs" must be an array of inputs, got missing`],
    [{ inputs: {} }, `the request's "inputs" must be an array of inputs, got an object`],
    [{ id: 42, inputs: [] }, `the request's "id" must be a string, got 42`],
    [{ parameters: [], inputs: [] }, 'the request: "parameters" must be an object, got an array of 0'],
    [{ parameters: { a: null }, inputs: [] }, 'the request: parameter "a" must be a string, a number or a boolean, got null'],
    [{ parameters: { a: { b: 1 } }, inputs: [] }, 'the request: parameter "a" must be a string, a number or a boolean, got an object'],
    [{ parameters: { binary_data_output: 'yes' }, inputs: [] }, `the request's parameters.binary_data_output must be true or false, got "yes"`],
    [{ inputs: [7] }, 'inputs[0] must be an object, got 7'],
    [{ inputs: [{ datatype: 'FP32', shape: [1], data: [1] }] }, 'inputs[0]: "name" must be a string, got missing'],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }, { name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }, 'input "x" is given twice'],
    [one('FLOAT32', [1], [1]), 'input "x": unknown datatype "FLOAT32"; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES'],
    [one(undefined as unknown as string, [1], [1]), 'input "x": unknown datatype missing; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES'],
    [one('FP32', '1', [1]), 'input "x": "shape" must be an array of non-negative integers, got "1"'],
    [one('FP32', [2, -1], [1, 2]), 'input "x": shape dimensions must be non-negative integers; dimension 1 is -1'],
    [one('FP32', [1.5], [1]), 'input "x": shape dimensions must be non-negative integers; dimension 0 is 1.5'],
    [one('FP32', ['2'], [1, 2]), 'input "x": shape dimensions must be non-negative integers; dimension 0 is "2"'],
    [one('FP32', [2 ** 53], [1]), 'input "x": shape dimensions must be non-negative integers; dimension 0 is 9007199254740992'],
    [one('FP32', [1], 1), 'input "x": "data" must be an array, got 1'],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] }, 'input "x" has neither "data" nor parameters.binary_data_size'],
    [one('FP32', [1], [1], { parameters: { shared_memory_region: 'r' } }), 'input "x": parameters.shared_memory_region (the shared memory extension) is not supported by this server'],
    [{ inputs: [], outputs: {} }, `the request's "outputs" must be an array, got an object`],
    [{ inputs: [], outputs: ['y'] }, 'outputs[0] must be an object, got "y"'],
    [{ inputs: [], outputs: [{ name: 3 }] }, 'outputs[0]: "name" must be a string, got 3'],
    [{ inputs: [], outputs: [{ name: 'y' }, { name: 'y' }] }, 'output "y" is requested twice'],
    [{ inputs: [], outputs: [{ name: 'y', parameters: { binary_data: 1 } }] }, 'output "y": parameters.binary_data must be true or false, got 1'],
    [{ inputs: [], outputs: [{ name: 'y', parameters: { classification: 3 } }] }, 'output "y": parameters.classification (the classification extension) is not supported by this server'],
    [{ inputs: [], outputs: [{ name: 'y', parameters: { shared_memory_region: 'r' } }] }, 'output "y": parameters.shared_memory_region (the shared memory extension) is not supported by this server'],
  ];
  for (const [header, message] of cases) throwsProtocol(() => decodeInferRequest(header, undefined, route), message);
});

Request('a long name is cut short in messages', () => {
  const name = 'n'.repeat(100);
  const input = { name, datatype: 'FP32', shape: [1], data: [1] };
  throwsProtocol(() => decodeInferRequest({ inputs: [input, input] }, undefined, route), `input "${'n'.repeat(64)}"... is given twice`);
});

const Shapes = suite('shapes against data, before allocation');

Shapes('flat data must hold exactly the shape\'s elements', () => {
  throwsProtocol(() => decodeOne('FP32', [1, 3], [1, 2, 3, 4]), 'input "x": shape [1,3] holds 3 elements, data has 4');
  throwsProtocol(() => decodeOne('FP32', [4], [1, 2, 3]), 'input "x": shape [4] holds 4 elements, data has 3');
  throwsProtocol(() => decodeOne('FP32', [], []), 'input "x": shape [] holds 1 elements, data has 0');
});

Shapes('nested data must match the shape exactly at every level', () => {
  throwsProtocol(() => decodeOne('FP32', [2, 2], [[1, 2]]), 'input "x": shape [2,2] needs 2 elements at data, which has 1');
  throwsProtocol(() => decodeOne('FP32', [2, 2], [[1, 2], [3]]), 'input "x": shape [2,2] needs 2 elements at data[1], which has 1');
  throwsProtocol(() => decodeOne('FP32', [2, 2], [[1, 2], 3]), 'input "x": shape [2,2] needs an array of 2 at data[1], which is 3');
  throwsProtocol(() => decodeOne('FP32', [2, 2, 1], [[[1], [2]], [[3], [4, 5]]]), 'input "x": shape [2,2,1] needs 1 elements at data[1][1], which has 2');
  // Nested one level less deep than the shape: a row of numbers where arrays belong.
  throwsProtocol(() => decodeOne('FP32', [2, 2, 1], [[1, 2], [3, 4]]), 'input "x": shape [2,2,1] needs an array of 1 at data[0][0], which is 1');
  // Deeper than the shape: the leaves are arrays.
  throwsProtocol(() => decodeOne('FP32', [2, 1], [[[1]], [[2]]]), 'input "x": element 0 of FP32 data is an array of 1; expected a number (or "NaN", "Infinity", "-Infinity")');
});

Shapes('[1000000000] with 8 values is refused, and nothing of its size is allocated', () => {
  const before = process.memoryUsage().arrayBuffers;
  for (const datatype of ['FP64', 'BYTES', 'INT64']) {
    throwsProtocol(() => decodeOne(datatype, [1_000_000_000], [1, 2, 3, 4, 5, 6, 7, 8]), 'input "x": shape [1000000000] holds 1000000000 elements, data has 8');
  }
  throwsProtocol(() => decodeOne('FP32', [1_000_000_000, 1], [[1], [2]]), 'input "x": shape [1000000000,1] needs 1000000000 elements at data, which has 2');
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'no gigabyte array was allocated');
});

Shapes('a shape whose product overflows 2^53 is refused before any allocation (which would throw a RangeError)', () => {
  throwsProtocol(
    () => decodeOne('FP32', [2 ** 31, 2 ** 31, 2 ** 31], [1, 2]),
    'input "x": shape [2147483648,2147483648,2147483648] holds 9903520314283042199192993792 elements, data has 2',
  );
  throwsProtocol(() => decodeOne('FP32', [2 ** 53 - 1, 2 ** 53 - 1], []), /^input "x": shape \[9007199254740991,9007199254740991\] holds 81129638414606663681390495662081 elements, data has 0$/);
  // A zero dimension makes any product 0, whatever the others.
  assert.is(decodeOne('FP32', [2 ** 53 - 1, 0, 2 ** 53 - 1], []).tensor.data.length, 0);
});

Shapes('100,000-deep nested data is refused without deep recursion', () => {
  let deep: unknown = [1];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  throwsProtocol(() => decodeOne('FP32', [1], deep), 'input "x": element 0 of FP32 data is an array of 1; expected a number (or "NaN", "Infinity", "-Infinity")');
  throwsProtocol(() => decodeOne('FP32', [1, 1], deep), 'input "x": element 0 of FP32 data is an array of 1; expected a number (or "NaN", "Infinity", "-Infinity")');
  // A shape as deep as the data is refused by its rank.
  throwsProtocol(() => decodeOne('FP32', new Array(100_001).fill(1), deep), 'input "x": shape has 100001 dimensions, more than the limit of 64');
  assert.is(decodeOne('FP32', new Array(64).fill(1), [5]).tensor.data.length, 1, '64 dimensions are fine');
});

Shapes('the total element limit covers all inputs together', () => {
  const limits = decodeLimits({ maxElements: 5 });
  const header = {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
      { name: 'b', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
    ],
  };
  throwsProtocol(() => decodeInferRequest(header, undefined, route, limits), 'input "b": the request\'s inputs hold 6 elements up to this one, more than the limit of 5');
  assert.is(decodeInferRequest(header, undefined, route, decodeLimits({ maxElements: 6 })).inputs.length, 2);
});

const Elements = suite('element values per datatype');

Elements('out-of-range and wrongly typed elements are refused, naming the element and what was expected', () => {
  const cases: [string, unknown, string][] = [
    ['BOOL', 1, 'input "x": element 1 of BOOL data is 1; expected true or false'],
    ['BOOL', 'true', 'input "x": element 1 of BOOL data is "true"; expected true or false'],
    ['INT8', 128, 'input "x": element 1 of INT8 data is 128; expected an integer in [-128, 127]'],
    ['INT8', 1.5, 'input "x": element 1 of INT8 data is 1.5; expected an integer in [-128, 127]'],
    ['UINT8', -1, 'input "x": element 1 of UINT8 data is -1; expected an integer in [0, 255]'],
    ['INT16', '5', 'input "x": element 1 of INT16 data is "5"; expected an integer in [-32768, 32767]'],
    ['UINT16', 65536, 'input "x": element 1 of UINT16 data is 65536; expected an integer in [0, 65535]'],
    ['INT32', 2 ** 31, 'input "x": element 1 of INT32 data is 2147483648; expected an integer in [-2147483648, 2147483647]'],
    ['UINT32', null, 'input "x": element 1 of UINT32 data is null; expected an integer in [0, 4294967295]'],
    ['INT64', 2 ** 53, 'input "x": element 1 of INT64 data is 9007199254740992, beyond ±(2^53 - 1), where a JSON number may already have been rounded; send it as a decimal string, such as "9007199254740993"'],
    ['UINT64', 1e20, 'input "x": element 1 of UINT64 data is 100000000000000000000, beyond ±(2^53 - 1), where a JSON number may already have been rounded; send it as a decimal string, such as "9007199254740993"'],
    ['INT64', '9223372036854775808', 'input "x": element 1 of INT64 data is "9223372036854775808"; expected an integer in [-2^63, 2^63 - 1], as a JSON number (exact up to ±(2^53 - 1)) or a decimal string'],
    ['UINT64', -1, 'input "x": element 1 of UINT64 data is -1; expected an integer in [0, 2^64 - 1], as a JSON number (exact up to ±(2^53 - 1)) or a decimal string'],
    ['UINT64', '18446744073709551616', 'input "x": element 1 of UINT64 data is "18446744073709551616"; expected an integer in [0, 2^64 - 1], as a JSON number (exact up to ±(2^53 - 1)) or a decimal string'],
    ['INT64', '1e3', 'input "x": element 1 of INT64 data is "1e3"; expected an integer in [-2^63, 2^63 - 1], as a JSON number (exact up to ±(2^53 - 1)) or a decimal string'],
    ['INT64', 1.5, 'input "x": element 1 of INT64 data is 1.5; expected an integer in [-2^63, 2^63 - 1], as a JSON number (exact up to ±(2^53 - 1)) or a decimal string'],
    ['INT64', '1'.repeat(30), 'input "x": element 1 of INT64 data is "111111111111111111111111111111"; expected an integer in [-2^63, 2^63 - 1], as a JSON number (exact up to ±(2^53 - 1)) or a decimal string'],
    ['FP32', 'nan', 'input "x": element 1 of FP32 data is "nan"; expected a number (or "NaN", "Infinity", "-Infinity")'],
    ['FP64', true, 'input "x": element 1 of FP64 data is true; expected a number (or "NaN", "Infinity", "-Infinity")'],
    ['FP16', {}, 'input "x": element 1 of FP16 data is an object; expected a number (or "NaN", "Infinity", "-Infinity")'],
    ['BF16', [], 'input "x": element 1 of BF16 data is an array of 0; expected a number (or "NaN", "Infinity", "-Infinity")'],
    ['BYTES', 5, 'input "x": element 1 of BYTES data is 5; expected a string'],
    ['BYTES', 'a\0b', 'input "x": element 1 of BYTES data contains U+0000, which ONNX Runtime strings cannot hold'],
    ['BYTES', 'lone \ud800', 'input "x": element 1 of BYTES data contains a lone surrogate, which is not text'],
  ];
  for (const [datatype, bad, message] of cases) {
    const ok = CASES[datatype as Datatype].json[0];
    throwsProtocol(() => decodeOne(datatype, [2], [ok, bad]), message);
  }
});

Elements('the flat index is named in nested data too', () => {
  throwsProtocol(() => decodeOne('INT8', [2, 2], [[1, 2], [3, 300]]), 'input "x": element 3 of INT8 data is 300; expected an integer in [-128, 127]');
});

Elements('a long string in a message is cut short', () => {
  throwsProtocol(() => decodeOne('INT32', [1], ['x'.repeat(1000)]), 'input "x": element 0 of INT32 data is "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"... (a string of 1000); expected an integer in [-2147483648, 2147483647]');
});

Elements('BYTES elements longer than maxBytesLength (in UTF-8 bytes) are refused', () => {
  const limits = decodeLimits({ maxBytesLength: 6 });
  const decode = (s: string) => decodeInferRequest(one('BYTES', [1], [s]), undefined, route, limits);
  assert.equal(decode('abcdef').inputs[0].tensor.data, ['abcdef']);
  assert.equal(decode('éé').inputs[0].tensor.data, ['éé'], '4 bytes');
  assert.equal(decode('日本').inputs[0].tensor.data, ['日本'], '6 bytes');
  throwsProtocol(() => decode('abcdefg'), 'input "x": element 0 of BYTES data is 7 bytes long in UTF-8, more than the limit of 6');
  throwsProtocol(() => decode('日本語'), 'input "x": element 0 of BYTES data is 9 bytes long in UTF-8, more than the limit of 6');
  throwsProtocol(() => decode('éééé'), 'input "x": element 0 of BYTES data is 8 bytes long in UTF-8, more than the limit of 6');
});

Elements('INT64 as JSON numbers is exact up to 2^53 - 1 and as strings everywhere', () => {
  const data = decodeOne('INT64', [4], [9007199254740991, -9007199254740991, '-0', '007']).tensor.data as BigInt64Array;
  assert.equal(Array.from(data), [9007199254740991n, -9007199254740991n, 0n, 7n]);
});

const Limits = suite('decodeLimits');

Limits('fills in the defaults and freezes', () => {
  const limits = decodeLimits({ maxRank: 8 });
  assert.equal({ ...limits }, { ...DEFAULT_DECODE_LIMITS, maxRank: 8 });
  assert.ok(Object.isFrozen(limits));
  assert.equal({ ...DEFAULT_DECODE_LIMITS }, { maxElements: 2 ** 26, maxBytesLength: 16 * 1024 * 1024, maxRank: 64 });
});

Limits('refuses unknown keys and bad values with INVALID_OPTION', () => {
  for (const [options, message] of [
    [{ maxElement: 5 }, 'decode limits: unknown option "maxElement"; expected maxElements, maxBytesLength, maxRank'],
    [{ maxElements: 0 }, 'decode limits: maxElements must be a positive integer, got 0'],
    [{ maxRank: 1.5 }, 'decode limits: maxRank must be a positive integer, got 1.5'],
    [{ maxBytesLength: '5' }, 'decode limits: maxBytesLength must be a positive integer, got 5'],
  ] as const) {
    try {
      decodeLimits(options as never);
      assert.unreachable(message);
    } catch (err) {
      assert.instance(err, OrtError);
      assert.is((err as OrtError).code, 'INVALID_OPTION');
      assert.is((err as Error).message, message);
    }
  }
});

const RoundTrip = suite('JSON round trips: decode(encode(x)) is x');

RoundTrip('every datatype, through the JSON text (non-finite floats as strings)', () => {
  const request = decodeInferRequest(
    { inputs: Object.entries(CASES).map(([datatype, { json }]) => ({ name: datatype, datatype, shape: [2, 3], data: json })) },
    undefined,
    route,
  );
  const response: InferResponse = {
    model_name: 'm',
    model_version: '1',
    outputs: request.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, tensor: i.tensor })),
  };
  const body = encodeInferResponse(response, request, { nonFinite: 'strings' });
  assert.ok('json' in body);
  // 64-bit integers are written as their exact digits, which JSON.parse would round (and
  // the decoder then refuse): read them as a client that keeps integers exact does (as
  // Python's json does), here by quoting the long integer literals (no float in CASES
  // is written as one).
  const exact = body.json.replace(/(?<=[[,])(-?\d{16,})(?=[,\]])/g, '"$1"');
  assert.ok(exact.includes('"18446744073709551615"'));
  const parsed = JSON.parse(exact) as { outputs: unknown[] };
  const again = decodeInferRequest({ inputs: parsed.outputs }, undefined, route);
  for (let i = 0; i < request.inputs.length; i++) {
    const a = request.inputs[i].tensor.data as ArrayLike<unknown>;
    const b = again.inputs[i].tensor.data as ArrayLike<unknown>;
    assert.is(again.inputs[i].tensor.type, request.inputs[i].tensor.type);
    assert.equal(Array.from(b), Array.from(a), request.inputs[i].name);
  }
});

RoundTrip('random float32, float16 and bfloat16 bit patterns come back bit for bit', () => {
  let s = 99;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const f32 = new Float32Array(20_000);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < u32.length; i++) u32[i] = next();
  const half = new Uint16Array(20_000).map(() => next() >>> 16);
  const bf = new Uint16Array(20_000).map(() => next() >>> 16);
  const request: InferRequest = { model: 'm', inputs: [] };
  const response: InferResponse = {
    model_name: 'm',
    model_version: '1',
    outputs: [
      { name: 'f', datatype: 'FP32', shape: [f32.length], tensor: { type: 'float32', dims: [f32.length], data: f32 } },
      { name: 'h', datatype: 'FP16', shape: [half.length], tensor: { type: 'float16', dims: [half.length], data: half } },
      { name: 'b', datatype: 'BF16', shape: [bf.length], tensor: { type: 'bfloat16', dims: [bf.length], data: bf } },
    ],
  };
  const body = encodeInferResponse(response, request, { nonFinite: 'strings' });
  assert.ok('json' in body);
  const again = decodeInferRequest({ inputs: (JSON.parse(body.json) as { outputs: unknown[] }).outputs }, undefined, route);
  const nanOf = { f: (i: number) => Number.isNaN(f32[i]), h: (i: number) => (half[i] & 0x7c00) === 0x7c00 && (half[i] & 0x3ff) !== 0, b: (i: number) => (bf[i] & 0x7f80) === 0x7f80 && (bf[i] & 0x7f) !== 0 };
  const sent = { f: u32, h: half, b: bf };
  for (const input of again.inputs) {
    const name = input.name as 'f' | 'h' | 'b';
    const got = name === 'f' ? new Uint32Array((input.tensor.data as Float32Array).buffer) : (input.tensor.data as Uint16Array);
    for (let i = 0; i < got.length; i++) {
      if (nanOf[name](i)) continue; // a NaN comes back as NaN, its payload not kept
      if (got[i] !== sent[name][i]) assert.unreachable(`${name}[${i}]: sent 0x${sent[name][i].toString(16)}, got 0x${got[i].toString(16)}`);
    }
  }
});

EveryType.run();
Request.run();
Shapes.run();
Elements.run();
Limits.run();
RoundTrip.run();
