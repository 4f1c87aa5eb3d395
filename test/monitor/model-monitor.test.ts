/**
 * A model version's profile and drift on a real model, PP-OCR's text-direction
 * classifier: a profile made from 1000 reference images (noise around a brightness drawn
 * per image), kept as JSON and read back checked; windows of 300 served images from the
 * same distribution stay ok, brighter ones drift on every input channel; a window too
 * small says so; broken profile files are refused with the reason.
 *
 * The sizes: a fair window's PSI averages (bins - 1)(1/n + 1/N) with a standard deviation
 * of sqrt(2 (bins - 1)) (1/n + 1/N): 0.039 and 0.018 for n = 300, N = 1000, so the 0.1
 * warning is 3.4 deviations away (at n = 100, N = 200, 0.135 on average: windows that
 * small need learned thresholds, learned-thresholds.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../lib/index';
import type { PlainTensor } from '../../lib/core/tensor';
import { ModelMonitor } from '../../lib/monitor/model-monitor';
import { ModelProfileBuilder, PROFILE_FILE, checkModelProfile, readModelProfile } from '../../lib/monitor/model-profile';
import { CLS_MODEL, clsImage, seededUniform as uniform } from '../helpers/common';

const Monitor = suite('model profiles and drift on the PP-OCR classifier');

const image = clsImage;

let session: Awaited<ReturnType<typeof createSession>>;
let output: string;

Monitor.before(async () => {
  session = await createSession(CLS_MODEL);
  output = session.outputNames[0];
});

Monitor.after(() => session.release());

async function served(images: PlainTensor<'float32'>[], each: (x: PlainTensor, y: PlainTensor) => void): Promise<void> {
  for (const x of images) {
    const outputs = (await session.run({ x })) as unknown as Record<string, PlainTensor>;
    each(x, outputs[output]);
  }
}

Monitor('a profile from 1000 images, kept as JSON; same-distribution windows ok, brighter ones drift on each channel', async () => {
  const u = uniform(1);
  const builder = new ModelProfileBuilder([
    { name: 'x', row: [3, 48, 192], output: false },
    { name: output, row: [2], output: true },
  ]);
  await served(
    Array.from({ length: 1000 }, () => image(u, 0)),
    (x, y) => builder.add({ x, [output]: y }, true),
  );
  assert.is(builder.rows, 1000);
  const built = builder.build();
  assert.equal(built.inputs.x.reduction, { kind: 'channels', axis: 0 });
  assert.equal(Object.keys(built.inputs.x.features), ['x.channel[0]', 'x.channel[1]', 'x.channel[2]']);
  assert.equal(Object.keys(built.outputs[output].features), [`${output}.class`, `${output}.confidence`]);
  const mean = (built.inputs.x.features['x.channel[0]'] as { mean: number }).mean;
  assert.ok(Math.abs(mean) < 0.03, `channel mean ${mean}`);

  const dir = mkdtempSync(join(tmpdir(), 'profile-'));
  try {
    writeFileSync(join(dir, PROFILE_FILE), JSON.stringify(built));
    const profile = await readModelProfile(join(dir, PROFILE_FILE));
    const options = { size: 300, minCount: 100 };
    const same = new ModelMonitor(profile, options);
    await served(
      Array.from({ length: 300 }, () => image(u, 0)),
      (x, y) => same.observe({ x }, { [output]: y }, true),
    );
    const fair = same.drift();
    for (const c of [0, 1, 2]) assert.is(fair.features[`x.channel[${c}]`].state, 'ok', JSON.stringify(fair.features[`x.channel[${c}]`]));
    assert.is(fair.features[`x.channel[0]`].count, 300);
    assert.is(fair.features[`${output}.class`].side, 'output');

    const brighter = new ModelMonitor(profile, options);
    await served(
      Array.from({ length: 300 }, () => image(u, 0.3)),
      (x, y) => brighter.observe({ x }, { [output]: y }, true),
    );
    const shifted = brighter.drift();
    assert.is(shifted.state, 'drift');
    for (const c of [0, 1, 2]) {
      const f = shifted.features[`x.channel[${c}]`];
      assert.is(f.state, 'drift');
      // The brightness moved by 0.3 where images spread by 0.4 / sqrt(12) = 0.115: 2.6 standard deviations.
      assert.ok((f.wasserstein as number) > 2 && (f.wasserstein as number) < 3.2, `channel ${c}: Wasserstein ${f.wasserstein}`);
    }

    const few = new ModelMonitor(profile, options);
    await served([image(u, 0.3)], (x, y) => few.observe({ x }, { [output]: y }, true));
    assert.is(few.drift().state, 'not_enough_data');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Monitor('a profile file that is not one is refused, naming what is wrong', () => {
  const feature = { kind: 'numeric', edges: [0, 1], counts: [0, 5, 0], count: 5, mean: 0.5, std: 0.1, quantiles: {}, quantileFunction: [0, 1] };
  const good = { format: 1, rows: 5, inputs: { x: { reduction: { kind: 'features' }, row: [1], features: { 'x[0]': feature } } }, outputs: {} };
  assert.is(checkModelProfile(good, 'p.json').rows, 5);
  const bad: [unknown, RegExp][] = [
    [{ ...good, format: 2 }, /p\.json: format 2; this version reads format 1/],
    [{ ...good, inputs: { x: { ...good.inputs.x, reduction: { kind: 'pixels' } } } }, /reduction\.kind must be one of/],
    [{ ...good, inputs: { x: { ...good.inputs.x, features: { 'x[0]': { ...feature, counts: [5] } } } } }, /has 2 edges and 1 counts/],
    [{ ...good, inputs: { x: { ...good.inputs.x, features: { 'x[0]': { ...feature, edges: [1, 0] } } } } }, /edges must increase/],
    [{ ...good, inputs: { x: { ...good.inputs.x, features: { 'x[0]': { ...feature, kind: 'ordinal' } } } } }, /numeric or categorical/],
    [[], /the profile must be an object/],
  ];
  for (const [json, message] of bad) assert.throws(() => checkModelProfile(json, 'p.json'), message);
  // A profile whose features do not fit its reduction cannot make a monitor.
  const mismatched = checkModelProfile({ ...good, inputs: { x: { ...good.inputs.x, row: [2] } } }, 'p.json');
  assert.throws(() => new ModelMonitor(mismatched), /has no feature "x\[1\]"/);
});

Monitor('embeddings: the cosine distance to the reference centroid; a window of other directions drifts, the same stays ok', () => {
  const u = uniform(13);
  const D = 128;
  // Rows around a direction: `direction` (a unit vector's coordinates) plus noise.
  const around = (n: number, direction: (i: number) => number) => {
    const data = new Float32Array(n * D);
    for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) data[r * D + i] = direction(i) + (u() - 0.5) * 0.15;
    return { type: 'float32' as const, dims: [n, D], data };
  };
  const first = (i: number) => Math.cos(i) / 8;
  const other = (i: number) => Math.sin(i * 3) / 8;
  const builder = new ModelProfileBuilder([{ name: 'emb', row: [D], output: true, reduction: { kind: 'centroid' } }]);
  builder.add({ emb: around(1000, first) }, true);
  const profile = checkModelProfile(JSON.parse(JSON.stringify(builder.build())), 'p.json');
  const reduction = profile.outputs.emb.reduction as { kind: 'centroid'; centroid: number[] };
  assert.is(reduction.centroid.length, D);
  // The centroid is the reference's mean: the direction, to the noise's 0.15 / sqrt(12 * 1000).
  assert.ok(reduction.centroid.every((c, i) => Math.abs(c - first(i)) < 0.01), 'centroid off the direction');
  assert.equal(Object.keys(profile.outputs.emb.features), ['emb.centroid_distance']);
  const watch = (rows: ReturnType<typeof around>) => {
    const m = new ModelMonitor(profile, { size: 300, minCount: 300 });
    m.observe({}, { emb: rows }, true);
    return m.drift().features['emb.centroid_distance'];
  };
  assert.ok(watch(around(300, first)).state !== 'drift', JSON.stringify(watch(around(300, first))));
  const moved = watch(around(300, (i) => 0.6 * first(i) + 0.4 * other(i)));
  assert.is(moved.state, 'drift', JSON.stringify(moved));
  assert.throws(() => checkModelProfile({ ...profile, outputs: { emb: { ...profile.outputs.emb, reduction: { kind: 'centroid' } } } }, 'p.json'), /reduction\.centroid must be a list of numbers/);
});

Monitor('thresholds learned from the reference (NannyML\'s mean + 3 std over its chunks) replace the fixed ones for windows of their size', () => {
  const u = uniform(9);
  // Near-normal values: the sum of 4 uniforms, centred (sd 0.577).
  const draw = (n: number, shift: number) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = u() + u() + u() + u() - 2 + shift;
    return { type: 'float32' as const, dims: [n, 1], data };
  };
  const builder = new ModelProfileBuilder([{ name: 'x', row: [1], output: false }]);
  builder.add({ x: draw(4000, 0) }, true);
  assert.is(builder.build({ learnWindow: 2001 }).learned, undefined, 'under two windows of rows: none learned');
  const profile = checkModelProfile(JSON.parse(JSON.stringify(builder.build({ learnWindow: 200 }))), 'p.json');
  assert.is(profile.learned?.window, 200);
  const psi = profile.learned?.features['x[0]'].psi as { warn: number; drift: number };
  // A fair window of 200 against 12 bins: PSI about 0.058 on average, sd 0.025.
  assert.ok(psi.warn > 0.06 && psi.warn < 0.15 && psi.drift > psi.warn && psi.drift < 0.2, JSON.stringify(psi));
  const judge = (size: number, shift: number) => {
    const m = new ModelMonitor(profile, { size, minCount: size });
    const x = draw(size, shift);
    for (let i = 0; i < size; i++) m.observe({ x: { ...x, dims: [1, 1], data: x.data.subarray(i, i + 1) } }, {}, true);
    return { thresholds: m.thresholds, state: m.drift().state, psi: m.drift().features['x[0]'].psi };
  };
  const fair = judge(200, 0);
  assert.is(fair.thresholds, 'learned');
  assert.ok(fair.state !== 'drift', JSON.stringify(fair));
  // A shift of 0.35 sd: PSI about 0.12 + 0.06, under the fixed 0.25, over the learned drift bound.
  const shifted = judge(200, 0.2);
  assert.is(shifted.state, 'drift', JSON.stringify(shifted));
  const fixed = new ModelMonitor({ ...profile, learned: undefined }, { size: 200, minCount: 200 });
  const x = draw(200, 0.2);
  for (let i = 0; i < 200; i++) fixed.observe({ x: { ...x, dims: [1, 1], data: x.data.subarray(i, i + 1) } }, {}, true);
  assert.is(fixed.thresholds, 'fixed');
  assert.ok(fixed.drift().state !== 'drift', JSON.stringify(fixed.drift().features['x[0]']));
  // Windows of another size than learned for: the fixed bounds.
  assert.is(new ModelMonitor(profile, { size: 300 }).thresholds, 'fixed');
  assert.throws(() => checkModelProfile({ ...profile, learned: { window: 0, features: {} } }, 'p.json'), /learned\.window must be a whole number/);
});

Monitor.run();
