/**
 * Tensors reduced to monitored features, row by row: the default reduction each shape
 * gets, the features' names, and the values each reduction gives on tensors whose
 * answers are worked out by hand (channel means of a known image, a classifier's top
 * class and score, strided values, float16's bits read as values).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Reduction, VALUES_PER_ROW, defaultReduction, featureNames, reduceTensor } from '../../lib/monitor/tensor-features';
import { float16Bits } from '../../lib/core/float16';
import type { PlainTensor } from '../../lib/core/tensor';

const Features = suite('tensor features for monitoring');

function reduced(t: PlainTensor, batched: boolean, reduction: Reduction): [number, number][] {
  const out: [number, number][] = [];
  reduceTensor(t, batched, reduction, (feature, value) => out.push([feature, value]));
  return out;
}

Features('defaults from the shape: scores get classes, images channels, small rows features, the rest values', () => {
  assert.equal(defaultReduction([2], true), { kind: 'classes' });
  assert.equal(defaultReduction([2], false), { kind: 'features' });
  assert.equal(defaultReduction([3, 48, 192], false), { kind: 'channels', axis: 0 });
  assert.equal(defaultReduction([10], false), { kind: 'features' });
  assert.equal(defaultReduction([202, 512], false), { kind: 'values' });
  assert.equal(defaultReduction([5000], true), { kind: 'values' });
  assert.equal(
    featureNames('x', [3, 2, 2], { kind: 'channels', axis: 0 }).map((f) => f.name),
    ['x.channel[0]', 'x.channel[1]', 'x.channel[2]'],
  );
  assert.equal(featureNames('y', [4], { kind: 'classes' }), [
    { name: 'y.class', categorical: true },
    { name: 'y.confidence', categorical: false },
  ]);
  assert.equal(featureNames('x', [2, 2], { kind: 'features' }).map((f) => f.name), ['x[0]', 'x[1]', 'x[2]', 'x[3]']);
});

Features('channels: the mean of each channel of each row, along the axis given', () => {
  // Two images of 2 channels of 2 x 2: channel c of image r holds 10 r + c + 0, 1, 2, 3 (mean 10 r + c + 1.5).
  const data = new Float32Array(16);
  for (let r = 0; r < 2; r++) for (let c = 0; c < 2; c++) for (let i = 0; i < 4; i++) data[r * 8 + c * 4 + i] = 10 * r + c + i;
  assert.equal(reduced({ type: 'float32', dims: [2, 2, 2, 2], data }, true, { kind: 'channels', axis: 0 }), [
    [0, 1.5],
    [1, 2.5],
    [0, 11.5],
    [1, 12.5],
  ]);
  // Channels last (H x W x C, axis 2): the same numbers, interleaved.
  const last = new Float32Array([1, 10, 3, 30]);
  assert.equal(reduced({ type: 'float32', dims: [1, 2, 1, 2], data: last }, true, { kind: 'channels', axis: 2 }), [
    [0, 2],
    [1, 20],
  ]);
});

Features("classes: each row's top class and its score", () => {
  const scores = new Float32Array([0.1, 0.7, 0.2, 0.9, 0.05, 0.05]);
  assert.equal(
    reduced({ type: 'float32', dims: [2, 3], data: scores }, true, { kind: 'classes' }).map(([f, v]) => [f, Number(v.toFixed(4))]),
    [
      [0, 1],
      [1, 0.7],
      [0, 0],
      [1, 0.9],
    ],
  );
});

Features('features and values: elements as they are; values strided to a bounded count a row; float16 read as values', () => {
  assert.equal(reduced({ type: 'int64', dims: [1, 2], data: new BigInt64Array([3n, -4n]) }, true, { kind: 'features' }), [
    [0, 3],
    [1, -4],
  ]);
  const big = new Float32Array(10_000).map((_, i) => i);
  const values = reduced({ type: 'float32', dims: [1, 10_000], data: big }, true, { kind: 'values' });
  assert.ok(values.length <= VALUES_PER_ROW + 1 && values.length >= VALUES_PER_ROW, `${values.length} values`);
  assert.ok(values.every(([f]) => f === 0));
  assert.is(values[1][1] - values[0][1], Math.floor(10_000 / VALUES_PER_ROW));
  const half = new Uint16Array([float16Bits(1.5), float16Bits(-2)]);
  assert.equal(reduced({ type: 'float16', dims: [2], data: half }, false, { kind: 'features' }), [
    [0, 1.5],
    [1, -2],
  ]);
  assert.equal(reduced({ type: 'string', dims: [1], data: ['a'] }, false, { kind: 'features' }), []);
});

Features.run();
