import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyTensor } from '../../../lib/core/tensor';
import { encodeInferResponse, float32Json } from '../../../lib/server/protocol/encode-response';
import type { Datatype, InferRequest, InferResponse } from '../../../lib/server/protocol/types';
import { throwsProtocol } from './protocol-helpers';

const request: InferRequest = { model: 'm', inputs: [] };

/** The JSON text of one output's `data`. */
function dataJson(datatype: Datatype, tensor: AnyTensor, nonFinite?: 'tokens' | 'strings'): string {
  const body = encodeInferResponse(
    { model_name: 'm', model_version: '1', outputs: [{ name: 'y', datatype, shape: [...tensor.dims], tensor }] },
    request,
    { nonFinite },
  );
  assert.ok('json' in body);
  const prefix = `{"model_name":"m","model_version":"1","outputs":[{"name":"y","datatype":"${datatype}","shape":[${tensor.dims.join(',')}],"data":`;
  assert.ok(body.json.startsWith(prefix), body.json);
  assert.ok(body.json.endsWith('}]}'));
  return body.json.slice(prefix.length, -3);
}

const Text = suite('JSON data text per datatype');

Text('integers, booleans and strings', () => {
  assert.is(dataJson('BOOL', { type: 'bool', dims: [3], data: new Uint8Array([1, 0, 7]) }), '[true,false,true]');
  assert.is(dataJson('INT8', { type: 'int8', dims: [3], data: new Int8Array([-128, 0, 127]) }), '[-128,0,127]');
  assert.is(dataJson('UINT32', { type: 'uint32', dims: [2], data: new Uint32Array([0, 4294967295]) }), '[0,4294967295]');
  assert.is(dataJson('BYTES', { type: 'string', dims: [3], data: ['a"b', 'ü\n', ''] }), '["a\\"b","ü\\n",""]');
  assert.is(dataJson('FP32', { type: 'float32', dims: [0], data: new Float32Array(0) }), '[]');
});

Text('INT64 and UINT64 are written as their exact decimal digits, never through a double', () => {
  const i64 = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n, -1n]);
  assert.is(dataJson('INT64', { type: 'int64', dims: [4], data: i64 }), '[-9223372036854775808,9223372036854775807,9007199254740993,-1]');
  const u64 = new BigUint64Array([2n ** 64n - 1n, 0n]);
  assert.is(dataJson('UINT64', { type: 'uint64', dims: [2], data: u64 }), '[18446744073709551615,0]');
});

Text('FP64: shortest round-trip form; -0 kept; NaN and infinities as Triton writes them, or as strings', () => {
  const f64 = new Float64Array([0.1, Math.PI, 1e300, -0, 5e-324]);
  assert.is(dataJson('FP64', { type: 'float64', dims: [5], data: f64 }), '[0.1,3.141592653589793,1e+300,-0,5e-324]');
  const odd = new Float64Array([NaN, Infinity, -Infinity, 1]);
  assert.is(dataJson('FP64', { type: 'float64', dims: [4], data: odd }), '[NaN,Infinity,-Infinity,1]');
  assert.is(dataJson('FP64', { type: 'float64', dims: [4], data: odd }, 'strings'), '["NaN","Infinity","-Infinity",1]');
});

Text('FP16 and BF16 are written as the exact values of their bit patterns', () => {
  const half = new Uint16Array([0x3c00, 0x3555, 0x0001, 0x7bff, 0xfc00, 0x7e00, 0x8000]);
  assert.is(dataJson('FP16', { type: 'float16', dims: [7], data: half }), '[1,0.333251953125,5.960464477539063e-8,65504,-Infinity,NaN,-0]');
  const bf = new Uint16Array([0x3f80, 0x3eab, 0x7f7f]);
  assert.is(dataJson('BF16', { type: 'bfloat16', dims: [3], data: bf }), '[1,0.333984375,3.3895313892515355e+38]');
});

Text('FP32: the shortest decimal that reads back as the same float32', () => {
  const cases: [number, string][] = [
    [0.1, '0.1'],
    [1 / 3, '0.33333334'],
    [1, '1'],
    [-2.5, '-2.5'],
    [100, '100'],
    [123456792, '123456790'],
    [16777216, '16777216'],
    [1e10, '10000000000'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [3.4028234663852886e38, '3.4028234663852886e+38'], // beyond the exact powers of ten: the double's own form
    [0.001, '0.001'],
    [1.5e-5, '0.000015'],
    [1e-6, '0.000001'],
    [1e-7, '1e-7'],
    [2.5e-7, '2.5e-7'],
    [-1.2345678e-10, '-1.2345679e-10'], // the float32 is -1.23456786...e-10
    [1.17549435e-38, '1.1754943508222875e-38'], // the smallest normal: the double's own form
    [1e-45, '1.401298464324817e-45'], // a subnormal: the double's own form
    [0, '0'],
    [-0, '-0'],
  ];
  const data = new Float32Array(cases.map(([x]) => x));
  assert.is(float32Json(data), `[${cases.map(([, s]) => s).join(',')}]`);
  assert.is(float32Json(new Float32Array([NaN, Infinity, -Infinity])), '[NaN,Infinity,-Infinity]');
  assert.is(float32Json(new Float32Array([NaN, Infinity, -Infinity]), true), '["NaN","Infinity","-Infinity"]');
});

Text('FP32: as short as the shortest toPrecision that round-trips, and always round-trips, for 50,000 random floats', () => {
  let s = 7;
  const u32 = new Uint32Array(50_000).map(() => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0));
  const f32 = new Float32Array(u32.buffer);
  const written = JSON.parse(float32Json(f32, true)) as (number | string)[];
  for (let i = 0; i < f32.length; i++) {
    const x = f32[i];
    if (!Number.isFinite(x)) continue;
    const got = written[i] as number;
    if (Math.fround(got) !== x) assert.unreachable(`${x} written as ${got}`);
    let digits = 1;
    while (Math.fround(Number(x.toPrecision(digits))) !== x) digits++;
    const ours = String(got).replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    // Shortest where every power of ten the search needs is exact (1e-14 <= |x| < 1e23);
    // elsewhere the digits still round-trip but may be more than needed.
    const inRange = Math.abs(x) >= 1e-14 && Math.abs(x) < 1e23;
    if (inRange && ours.length > digits) assert.unreachable(`${x}: ${got} has ${ours.length} digits, ${x.toPrecision(digits)} has ${digits}`);
  }
});

Text('the FP32 writer reuses its buffer without mixing responses', () => {
  const big = new Float32Array(10_000).fill(0.5);
  const a = float32Json(big);
  const small = float32Json(new Float32Array([2]));
  assert.is(small, '[2]');
  assert.is(float32Json(big), a);
});

const Body = suite('the response object');

Body('model_name, model_version, id, parameters and output parameters are written', () => {
  const response: InferResponse = {
    model_name: 'résnet "50"',
    model_version: '3',
    id: 'req-1',
    parameters: { took_us: 12, ok: true },
    outputs: [{ name: 'y', datatype: 'INT32', shape: [1], tensor: { type: 'int32', dims: [1], data: new Int32Array([5]) }, parameters: { p: 'q' } }],
  };
  const body = encodeInferResponse(response, request);
  assert.ok('json' in body);
  assert.equal(JSON.parse(body.json), {
    model_name: 'résnet "50"',
    model_version: '3',
    id: 'req-1',
    parameters: { took_us: 12, ok: true },
    outputs: [{ name: 'y', datatype: 'INT32', shape: [1], parameters: { p: 'q' }, data: [5] }],
  });
});

Body('an output whose datatype, shape and tensor disagree is an INTERNAL error', () => {
  const bad = (datatype: Datatype, shape: number[], tensor: AnyTensor) => () =>
    encodeInferResponse({ model_name: 'm', model_version: '1', outputs: [{ name: 'y', datatype, shape, tensor }] }, request);
  throwsProtocol(bad('FP32', [3], { type: 'float32', dims: [2], data: new Float32Array(2) }), 'output "y": datatype FP32 and shape [3] do not describe its float32 tensor of 2 elements', 'INTERNAL');
  throwsProtocol(bad('FP64', [2], { type: 'float32', dims: [2], data: new Float32Array(2) }), 'output "y": datatype FP64 and shape [2] do not describe its float32 tensor of 2 elements', 'INTERNAL');
});

Text.run();
Body.run();
