/**
 * Quantization's arithmetic against values worked out by hand (ONNX Runtime's
 * conventions: ranges hold 0, symmetric int8 is [-127, 127], reduce range keeps 7 bits,
 * rounding half to even), and calibration's range finders on distributions whose answer
 * is known.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { entropyCut, HistogramCollector, percentileCut } from '../../lib/optimize/calibration';
import { float16Bits, float16Value } from '../../lib/core/float16';
import { quantizeBias, quantizeWeight, quantRange, roundHalfEven, scaleAndZeroPoint } from '../../lib/optimize/quantization-parameters';

const Params = suite('quantization parameters');

const close = (actual: number, expected: number, tolerance = 1e-6) => assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected}`);

Params('integer ranges by type, symmetry and reduce range', () => {
  assert.equal(quantRange('uint8'), { qmin: 0, qmax: 255 });
  assert.equal(quantRange('uint8', { reduceRange: true }), { qmin: 0, qmax: 127 });
  assert.equal(quantRange('int8'), { qmin: -128, qmax: 127 });
  assert.equal(quantRange('int8', { symmetric: true }), { qmin: -127, qmax: 127 });
  assert.equal(quantRange('int8', { symmetric: true, reduceRange: true }), { qmin: -64, qmax: 64 });
});

Params('rounding is half to even', () => {
  assert.equal([0.5, 1.5, 2.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -2, -2, 2, 3]);
  assert.is(roundHalfEven(-0.5) === 0, true);
});

Params('scale and zero point, worked by hand', () => {
  // [0, 2.55] onto [0, 255]: 0.01 a step, 0 at 0.
  let p = scaleAndZeroPoint(0, 2.55, 'uint8');
  close(p.scale, 0.01);
  assert.is(p.zeroPoint, 0);
  // [-1, 1] onto [0, 255]: 2/255 a step; 0 falls at 127.5 exactly, but the float32 scale
  // is a hair above 2/255, so in float32 (as numpy computes it) 1/scale is 127.4999924: 127.
  p = scaleAndZeroPoint(-1, 1, 'uint8');
  close(p.scale, 2 / 255);
  assert.is(p.zeroPoint, 127);
  // Symmetric uint8: the middle, (0 + 255) / 2 rounded to even.
  assert.is(scaleAndZeroPoint(-1, 1, 'uint8', { symmetric: true }).zeroPoint, 128);
  // A range that does not hold 0 is widened to: [2, 3] is quantized as [0, 3].
  p = scaleAndZeroPoint(2, 3, 'uint8');
  close(p.scale, 3 / 255);
  assert.is(p.zeroPoint, 0);
  // Symmetric int8: the larger side decides, ±1.27 onto ±127, zero point 0.
  p = scaleAndZeroPoint(-0.5, 1.27, 'int8', { symmetric: true });
  close(p.scale, 0.01);
  assert.is(p.zeroPoint, 0);
  // Reduce range: the same onto ±64.
  p = scaleAndZeroPoint(-0.5, 1.28, 'int8', { symmetric: true, reduceRange: true });
  close(p.scale, 0.02);
  // Asymmetric int8 [-1, 3] onto [-128, 127]: 4/255 a step, 0 at -128 + 1/(4/255) = -64.25 -> -64.
  p = scaleAndZeroPoint(-1, 3, 'int8');
  close(p.scale, 4 / 255);
  assert.is(p.zeroPoint, -64);
  // All zeros: a scale of 1 rather than 0 (dequantizing must stay finite).
  p = scaleAndZeroPoint(0, 0, 'uint8');
  assert.equal(p, { scale: 1, zeroPoint: 0 });
  assert.throws(() => scaleAndZeroPoint(1, -1, 'uint8'), /min <= max/);
  assert.throws(() => scaleAndZeroPoint(0, Infinity, 'uint8'), /finite/);
});

Params('weights: per tensor and per channel', () => {
  const values = Float32Array.of(1, -2, 0.5, 0.1, 0.2, -0.3);
  // Per tensor, symmetric int8: 2/127 a step.
  const whole = quantizeWeight(values, [2, 3], { type: 'int8', symmetric: true });
  close(whole.scales[0], 2 / 127);
  assert.equal(Array.from(whole.data), [64, -127, 32, 6, 13, -19]);
  // Per channel (axis 0): row 1 at 2/127 (1 -> 63.5 -> 64), row 2 at 0.3/127 (0.1 -> 42.33 -> 42).
  const rows = quantizeWeight(values, [2, 3], { type: 'int8', symmetric: true, axis: 0 });
  close(rows.scales[0], 2 / 127);
  close(rows.scales[1], 0.3 / 127, 1e-8);
  assert.equal(Array.from(rows.data), [64, -127, 32, 42, 85, -127]);
  assert.equal(Array.from(rows.zeroPoints), [0, 0]);
  // Along axis 1 (a MatMul's B [K, N]): columns {1, 0.1}, {-2, 0.2}, {0.5, -0.3}.
  const columns = quantizeWeight(values, [2, 3], { type: 'int8', symmetric: true, axis: 1 });
  assert.equal(Array.from(columns.scales, (s) => Number((s * 127).toFixed(6))), [1, 2, 0.5]);
  assert.equal(Array.from(columns.data), [127, -127, 127, 13, 13, -76]);
  assert.throws(() => quantizeWeight(values, [2, 3], { type: 'int8', axis: 2 }), /axis 2/);
});

Params('weights: per-channel scales rounded up to float16 values when asked, and only when they fit', () => {
  const values = Float32Array.of(1, -2, 0.5, 0.1, 0.2, -0.3, 0.013, 0.02, -0.007);
  const plain = quantizeWeight(values, [3, 3], { type: 'int8', symmetric: true, axis: 0 });
  const halves = quantizeWeight(values, [3, 3], { type: 'int8', symmetric: true, axis: 0, float16Scales: true });
  assert.is(halves.scalesInFloat16, true);
  for (let c = 0; c < 3; c++) {
    assert.is(float16Value(float16Bits(halves.scales[c])), halves.scales[c], 'a float16 value');
    assert.ok(halves.scales[c] >= plain.scales[c] && halves.scales[c] <= plain.scales[c] * (1 + 2 ** -10), `${halves.scales[c]} vs ${plain.scales[c]}`);
  }
  // Rounded up: the largest weight of each row still maps to 127 or -127, nothing clips past it.
  assert.equal([0, 1, 2].map((c) => Math.max(...Array.from(halves.data.subarray(c * 3, c * 3 + 3), Math.abs))), [127, 127, 127]);
  // A scale below float16's normal range (weights of 1e-6) keeps float32 scales.
  const tiny = quantizeWeight(Float32Array.of(1, 1e-6), [2, 1], { type: 'int8', symmetric: true, axis: 0, float16Scales: true });
  assert.is(tiny.scalesInFloat16, undefined);
  close(tiny.scales[1], 1e-6 / 127, 1e-12);
});

Params('biases: int32 at input scale x weight scale', () => {
  const one = quantizeBias(Float32Array.of(0.5, -0.25), 0.1, Float32Array.of(0.05));
  assert.equal(Array.from(one.data), [100, -50]);
  assert.is(one.scales.length, 1);
  close(one.scales[0], 0.005, 1e-9);
  const each = quantizeBias(Float32Array.of(0.5, 0.5), 0.1, Float32Array.of(0.05, 0.5));
  assert.equal(Array.from(each.data), [100, 10]);
  assert.throws(() => quantizeBias(Float32Array.of(0.5), 0, Float32Array.of(0.5)), /positive/);
  // An all-zero weight gets scale 1, so its bias keeps a scale that carries it.
  const zeroWeight = quantizeWeight(new Float32Array(4), [4], { type: 'int8', symmetric: true });
  assert.is(zeroWeight.scales[0], 1);
});

const Ranges = suite('calibration: ranges from histograms');

Ranges('percentile cuts off rare outliers that min-max keeps', () => {
  const h = new HistogramCollector(2048, (c) => percentileCut(c, 99.9));
  const data = new Float32Array(100_000);
  for (let i = 0; i < data.length; i++) data[i] = (i % 1000) / 1000; // uniform in [0, 1)
  data[5] = 100; // one outlier in 100,000
  h.add(data);
  const { min, max } = h.range();
  assert.is(min, 0);
  // 99.9% of |x| lie below 1 (and the bins are 100/2048 wide).
  assert.ok(max > 0.9 && max < 1.1, `percentile range max ${max}`);
});

Ranges('a histogram widened by a later batch keeps its earlier counts', () => {
  const h = new HistogramCollector(2048, (c) => percentileCut(c, 100));
  h.add(Float32Array.of(0.5, -0.25, 1));
  h.add(Float32Array.of(4, -8));
  let total = 0;
  for (const c of h.counts) total += c;
  assert.is(total, 5);
  assert.is(h.top, 8);
  assert.equal(h.range(), { min: -8, max: 4 });
});

Ranges('entropy keeps the bulk of a long-tailed distribution and drops the tail', () => {
  const h = new HistogramCollector(2048, (c) => entropyCut(c));
  const data = new Float32Array(200_000);
  // A Laplace-like bulk of scale 1 (|x| mostly below 5), plus a sparse tail out to 50.
  for (let i = 0; i < data.length; i++) {
    const u = (i + 0.5) / data.length;
    data[i] = (i % 2 ? 1 : -1) * -Math.log(1 - u * 0.9999);
  }
  for (let i = 0; i < 20; i++) data[i * 1000] = 50 - i;
  h.add(data);
  const { max } = h.range();
  assert.ok(max > 3 && max < 25, `entropy cut at ${max}, of a maximum of 50`);
});

Params.run();
Ranges.run();
