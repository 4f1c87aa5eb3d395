import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, elementTypes, tensor, type ElementType, type TensorDataMap } from '../lib/index';
import { dtypeByName } from '../lib/dtypes';
import { identityModel } from './helpers/onnx-model';

const RoundTrip = suite('element types round-trip');

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

function slice<T extends ElementType>(type: T, n: number): TensorDataMap[T] {
  const data = SAMPLES[type];
  return (Array.isArray(data) ? data.slice(0, n) : (data as Float32Array).slice(0, n)) as TensorDataMap[T];
}

for (const type of elementTypes) {
  const onnx = dtypeByName.get(type)!.onnx;
  RoundTrip(`${type}: [2, 3], [0, 3] and a scalar come back unchanged`, async () => {
    const session = await createSession(identityModel(onnx, ['a', 'b']));
    assert.equal(session.inputs[0].type, type);

    const { y } = await session.run({ x: tensor(type, SAMPLES[type], [2, 3]) });
    assert.is(y.type, type);
    assert.equal(y.dims, [2, 3]);
    assert.equal(Array.from(y.data as ArrayLike<unknown>), Array.from(SAMPLES[type] as ArrayLike<unknown>));
    if (type !== 'string') assert.is(y.data.constructor, dtypeByName.get(type)!.array);

    const empty = session.runSync({ x: tensor(type, slice(type, 0), [0, 3]) }).y;
    assert.equal(empty.dims, [0, 3]);
    assert.is(empty.data.length, 0);
    assert.is(empty.data.constructor, type === 'string' ? Array : dtypeByName.get(type)!.array);
    session.release();

    const scalarSession = await createSession(identityModel(onnx, []));
    const scalar = await scalarSession.run({ x: tensor(type, slice(type, 1), []) });
    assert.equal(scalar.y.dims, []);
    assert.equal(Array.from(scalar.y.data as ArrayLike<unknown>), Array.from(slice(type, 1) as ArrayLike<unknown>));
    scalarSession.release();
  });
}

RoundTrip('onnxruntime-common Tensors are accepted as inputs', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Tensor: CommonTensor } = require('onnxruntime-common') as typeof import('onnxruntime-common');
  const session = await createSession(identityModel(dtypeByName.get('int64')!.onnx, ['a']));
  const input = new CommonTensor('int64', new BigInt64Array([5n, -6n, 7n]), [3]);
  const { y } = await session.run({ x: input });
  assert.equal(Array.from(y.data as BigInt64Array), [5n, -6n, 7n]);
  const strings = await createSession(identityModel(dtypeByName.get('string')!.onnx, ['a']));
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
