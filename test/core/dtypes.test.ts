import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, elementTypes, tensor, type ElementType, type TensorDataMap } from '../../lib/index';
import { buildModel, identityModel, T } from '../helpers/onnx-model';

const RoundTrip = suite('element types round-trip');

/**
 * What each ONNX element type number must be called, how many bytes an element takes and
 * which array holds it: written out here from onnx-proto's own TensorProto.DataType enum
 * (`T`), never read from lib/core/dtypes.ts, so a swapped number or name, or a wrong size, in
 * that table fails these tests instead of being checked against itself.
 */
const EXPECTED: readonly { onnx: number; type: ElementType; bytes: number; array: new (n: number) => unknown }[] = [
  { onnx: T.FLOAT, type: 'float32', bytes: 4, array: Float32Array },
  { onnx: T.UINT8, type: 'uint8', bytes: 1, array: Uint8Array },
  { onnx: T.INT8, type: 'int8', bytes: 1, array: Int8Array },
  { onnx: T.UINT16, type: 'uint16', bytes: 2, array: Uint16Array },
  { onnx: T.INT16, type: 'int16', bytes: 2, array: Int16Array },
  { onnx: T.INT32, type: 'int32', bytes: 4, array: Int32Array },
  { onnx: T.INT64, type: 'int64', bytes: 8, array: BigInt64Array },
  { onnx: T.STRING, type: 'string', bytes: 0, array: Array },
  { onnx: T.BOOL, type: 'bool', bytes: 1, array: Uint8Array },
  { onnx: T.FLOAT16, type: 'float16', bytes: 2, array: Uint16Array },
  { onnx: T.DOUBLE, type: 'float64', bytes: 8, array: Float64Array },
  { onnx: T.UINT32, type: 'uint32', bytes: 4, array: Uint32Array },
  { onnx: T.UINT64, type: 'uint64', bytes: 8, array: BigUint64Array },
  { onnx: T.BFLOAT16, type: 'bfloat16', bytes: 2, array: Uint16Array },
];

/** Six values per type, chosen to hit each type's edges. */
const SAMPLES: { [T in ElementType]: TensorDataMap[T] } = {
  float32: new Float32Array([1.5, -2, 0, 3.4028234663852886e38, Infinity, -1e-45]),
  float64: new Float64Array([Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 1e300]),
  float16: new Uint16Array([0x3c00, 0xc000, 0x0000, 0x7bff, 0x7c00, 0x0001]),
  bfloat16: new Uint16Array([0x3f80, 0xc000, 0x0000, 0x7f7f, 0x7f80, 0x0001]),
  int8: new Int8Array([-128, 127, 0, -1, 1, 42]),
  int16: new Int16Array([-32768, 32767, 0, -1, 1, 4242]),
  int32: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 424242]),
  int64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 1n, 9007199254740993n]),
  uint8: new Uint8Array([0, 255, 1, 128, 127, 42]),
  uint16: new Uint16Array([0, 65535, 1, 32768, 32767, 4242]),
  uint32: new Uint32Array([0, 2 ** 32 - 1, 1, 2 ** 31, 2 ** 31 - 1, 424242]),
  uint64: new BigUint64Array([0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 2n ** 63n - 1n, 9007199254740993n]),
  bool: new Uint8Array([1, 0, 1, 1, 0, 0]),
  string: ['plain', 'héllo wörld', '日本語のテキスト', '', 'emoji 🎉🚀', 'Ελληνικά и русский'],
};

/**
 * SAMPLES as ONNX Runtime reads them, cast to float64 by its Cast op: what the bytes mean
 * to the runtime, so an element read as the wrong type or size shows. The 16-bit floats
 * are decoded by hand (float16 0x0001 is 2^-24, bfloat16 0x7f7f is 255 * 2^120 and 0x0001
 * is 2^-133); 64-bit integers as the nearest double.
 */
const AS_FLOAT64: { [T in Exclude<ElementType, 'string'>]: number[] } = {
  float32: [1.5, -2, 0, 3.4028234663852886e38, Infinity, -(2 ** -149)],
  float64: [Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 1e300],
  float16: [1, -2, 0, 65504, Infinity, 2 ** -24],
  bfloat16: [1, -2, 0, 255 * 2 ** 120, Infinity, 2 ** -133],
  int8: [-128, 127, 0, -1, 1, 42],
  int16: [-32768, 32767, 0, -1, 1, 4242],
  int32: [-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 424242],
  int64: [-(2 ** 63), 2 ** 63, 0, -1, 1, 2 ** 53],
  uint8: [0, 255, 1, 128, 127, 42],
  uint16: [0, 65535, 1, 32768, 32767, 4242],
  uint32: [0, 2 ** 32 - 1, 1, 2 ** 31, 2 ** 31 - 1, 424242],
  uint64: [0, 2 ** 64, 1, 2 ** 63, 2 ** 63, 2 ** 53],
  bool: [1, 0, 1, 1, 0, 0],
};

function slice<T extends ElementType>(type: T, n: number): TensorDataMap[T] {
  const data = SAMPLES[type];
  return (Array.isArray(data) ? data.slice(0, n) : (data as Float32Array).slice(0, n)) as TensorDataMap[T];
}

/** d = Cast(x, to: DOUBLE), x of ONNX element type `onnx`, [6]. */
function castToDoubleModel(onnx: number): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: onnx, dims: [6] }],
    outputs: [{ name: 'd', type: T.DOUBLE, dims: [6] }],
    nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['d'], attributes: { to: T.DOUBLE } }],
  });
}

RoundTrip('every element type lib/ supports is in this test\'s own table', () => {
  assert.equal([...elementTypes].sort(), EXPECTED.map((e) => e.type).sort());
  assert.is(new Set(EXPECTED.map((e) => e.onnx)).size, EXPECTED.length);
});

for (const { onnx, type, bytes, array } of EXPECTED) {
  RoundTrip(`${type} (ONNX ${onnx}): [2, 3], [0, 3] and a scalar come back unchanged`, async () => {
    const session = await createSession(identityModel(onnx, ['a', 'b']));
    assert.is(session.inputs[0].type, type, `an ONNX ${onnx} input is reported as ${session.inputs[0].type}`);
    assert.is(session.outputs[0].type, type);

    const { y } = await session.run({ x: tensor(type, SAMPLES[type], [2, 3]) });
    assert.is(y.type, type);
    assert.equal(y.dims, [2, 3]);
    assert.equal(Array.from(y.data as ArrayLike<unknown>), Array.from(SAMPLES[type] as ArrayLike<unknown>));
    assert.is(y.data.constructor, array);
    if (type !== 'string') assert.is((y.data as Uint8Array).byteLength, 6 * bytes, `${type}: bytes of 6 elements`);

    const empty = session.runSync({ x: tensor(type, slice(type, 0), [0, 3]) }).y;
    assert.equal(empty.dims, [0, 3]);
    assert.is(empty.data.length, 0);
    assert.is(empty.data.constructor, array);
    session.release();

    const scalarSession = await createSession(identityModel(onnx, []));
    const scalar = await scalarSession.run({ x: tensor(type, slice(type, 1), []) });
    assert.equal(scalar.y.dims, []);
    assert.equal(Array.from(scalar.y.data as ArrayLike<unknown>), Array.from(slice(type, 1) as ArrayLike<unknown>));
    scalarSession.release();
  });

  if (type === 'string') continue;
  RoundTrip(`${type} (ONNX ${onnx}): ONNX Runtime reads the values as ${type}, ${bytes} byte(s) each`, async () => {
    const session = await createSession(castToDoubleModel(onnx));
    const { d } = await session.run({ x: tensor(type, SAMPLES[type], [6]) });
    assert.is(d.type, 'float64');
    assert.equal(Array.from(d.data as Float64Array), AS_FLOAT64[type]);
    session.release();
  });
}

RoundTrip('onnxruntime-common Tensors are accepted as inputs', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Tensor: CommonTensor } = require('onnxruntime-common') as typeof import('onnxruntime-common');
  const session = await createSession(identityModel(T.INT64, ['a']));
  const input = new CommonTensor('int64', new BigInt64Array([5n, -6n, 7n]), [3]);
  const { y } = await session.run({ x: input });
  assert.equal(Array.from(y.data as BigInt64Array), [5n, -6n, 7n]);
  const strings = await createSession(identityModel(T.STRING, ['a']));
  const words = new CommonTensor('string', ['naïve', 'façade'], [2]);
  assert.equal((await strings.run({ x: words })).y.data, ['naïve', 'façade']);
});

RoundTrip('tensor() converts plain arrays into the natural TypedArray', () => {
  assert.instance(tensor('int64', [1, 2, 3]).data, BigInt64Array);
  assert.instance(tensor('bool', [true, false]).data, Uint8Array);
  assert.instance(tensor('float16', [0x3c00]).data, Uint16Array);
  assert.equal(tensor('float32', [1, 2, 3, 4], [2, 2]).dims, [2, 2]);
});

RoundTrip.run();
