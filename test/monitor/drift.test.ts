/**
 * Reference profiles and drift statistics on data drawn from known distributions (a
 * seeded generator, so each run draws the same numbers): the bins and figures a profile
 * must have; a window from the same distribution below the thresholds, shifted ones
 * (mean, variance, class priors) above them, each at the window size stated; small
 * windows with not enough data; sliding by count and by age; thresholds learned from
 * the reference.
 *
 * The bounds: for a window of n values and a reference of N over k bins, PSI from the
 * same distribution is about (k - 1)(1/n + 1/N) on average with a standard deviation of
 * about sqrt(2(k - 1))(1/n + 1/N): 0.0099 and 0.0047 for n = 1000, N = 20000, k = 10 (12
 * bins with the two out-of-range ones, nearly empty). A mean shift of d standard
 * deviations gives a PSI of about d^2 for a normal feature, a variance ratio r about
 * (r + 1/r - 2) / 2.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jensenShannonDistance, normedWasserstein, populationStabilityIndex } from '../../lib/monitor/drift-statistics';
import { FeatureWindow } from '../../lib/monitor/feature-window';
import { learnThresholds } from '../../lib/monitor/learned-thresholds';
import { binCounts, binOf, categoricalProfile, numericProfile } from '../../lib/monitor/reference-profile';
import { seededUniform as uniform } from '../helpers/common';

const Drift = suite('reference profiles and drift');

/** `n` draws of a normal distribution (Box-Muller). */
function normal(n: number, seed: number, mean = 0, std = 1): Float64Array {
  const u = uniform(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** `n` classes drawn with probabilities `priors`. */
function classes(n: number, seed: number, priors: readonly number[]): number[] {
  const u = uniform(seed);
  return Array.from({ length: n }, () => {
    let x = u();
    for (let c = 0; c < priors.length; c++) if ((x -= priors[c]) < 0) return c;
    return priors.length - 1;
  });
}

const round = (x: number) => Math.round(x * 1e9) / 1e9;

const REFERENCE = normal(20_000, 1);
const PROFILE = numericProfile(REFERENCE);

function windowOf(values: ArrayLike<number>, size = 1000) {
  const w = new FeatureWindow(PROFILE, { size });
  w.addAll(values);
  return w.drift();
}

Drift("a numeric profile: equal-frequency bins at the reference's quantiles, empty out-of-range bins, its figures", () => {
  assert.is(PROFILE.edges.length, 11);
  assert.is(PROFILE.counts.length, 12);
  assert.is(PROFILE.counts[0], 0);
  assert.is(PROFILE.counts[11], 0);
  for (let i = 1; i <= 10; i++) assert.ok(Math.abs(PROFILE.counts[i] - 2000) <= 1, `bin ${i}: ${PROFILE.counts[i]}`);
  assert.is(PROFILE.counts.reduce((a, b) => a + b, 0), 20_000);
  // The normal's deciles: ±1.2816, ±0.8416, ±0.5244, ±0.2533, 0 (sampling error about 0.02 at N = 20000).
  const deciles = [-1.2816, -0.8416, -0.5244, -0.2533, 0, 0.2533, 0.5244, 0.8416, 1.2816];
  deciles.forEach((q, i) => assert.ok(Math.abs(PROFILE.edges[i + 1] - q) < 0.05, `edge ${i + 1}: ${PROFILE.edges[i + 1]} for ${q}`));
  assert.ok(Math.abs(PROFILE.mean) < 0.03 && Math.abs(PROFILE.std - 1) < 0.03, `mean ${PROFILE.mean}, std ${PROFILE.std}`);
  assert.ok(Math.abs(PROFILE.quantiles.p95 - 1.645) < 0.06, `p95 ${PROFILE.quantiles.p95}`);
  assert.is(PROFILE.edges[0], Math.min(...REFERENCE));
  // Bins: below the minimum, each [edge, next), the maximum in the last inner bin, above it.
  assert.equal([binOf(PROFILE, -100), binOf(PROFILE, PROFILE.edges[0]), binOf(PROFILE, PROFILE.edges[5]), binOf(PROFILE, PROFILE.edges[10]), binOf(PROFILE, 100), binOf(PROFILE, Number.NaN)], [0, 1, 6, 10, 11, -1]);
});

Drift('repeated values make fewer bins, not empty ones; bad input is refused', () => {
  // Deciles of 0 x 6, 1, 1, 2, 3 (numpy's interpolation): 0 five times, 0.4, 1, 1.2, 2.1.
  const p = numericProfile([0, 0, 0, 0, 0, 0, 1, 1, 2, 3]);
  assert.equal(p.edges.map(round), [0, 0.4, 1, 1.2, 2.1, 3]);
  assert.equal(Array.from(binCounts(p, [0, 0.5, 1, 3, 4, -1])), [1, 1, 1, 1, 0, 1, 1]);
  assert.equal(numericProfile([5, 5, 5]).edges, [5, 5]);
  assert.throws(() => numericProfile([]), /at least one value/);
  assert.throws(() => numericProfile([1, Number.NaN]), /finite values, got NaN/);
  assert.throws(() => numericProfile([1, 2], 0), /bins must be/);
  assert.throws(() => populationStabilityIndex([1, 2], [1, 2, 3]), /same bins/);
});

Drift('a window of 1000 from the same distribution stays below every threshold', () => {
  for (const seed of [2, 3, 4]) {
    const d = windowOf(normal(1000, seed));
    assert.is(d.state, 'ok');
    // 0.05: 8 standard deviations above the mean PSI of a fair window.
    assert.ok((d.psi as number) < 0.05, `seed ${seed}: PSI ${d.psi}`);
    assert.ok((d.jensenShannon as number) < 0.1, `seed ${seed}: JS ${d.jensenShannon}`);
    assert.ok((d.wasserstein as number) < 0.1, `seed ${seed}: Wasserstein ${d.wasserstein}`);
  }
});

Drift('a mean shift, a variance change: over the thresholds at a window of 1000, by the figures expected', () => {
  const shifted = windowOf(normal(1000, 5, 1));
  assert.is(shifted.state, 'drift');
  assert.ok((shifted.psi as number) > 0.5, `PSI ${shifted.psi} for a shift of 1 std`);
  // Sampling error of the window's mean alone: 1 / sqrt(1000) = 0.03.
  assert.ok(Math.abs((shifted.wasserstein as number) - 1) < 0.1, `Wasserstein ${shifted.wasserstein} for a shift of 1 std`);
  const half = windowOf(normal(1000, 6, 0.5));
  assert.ok((half.psi as number) > 0.1, `PSI ${half.psi} for a shift of half a std`);
  assert.ok(half.state === 'warn' || half.state === 'drift');
  assert.ok(Math.abs((half.wasserstein as number) - 0.5) < 0.1, `Wasserstein ${half.wasserstein}`);
  // Twice the spread: quantiles twice as far from the mean, E|2z - z| = E|z| = 0.8 standard deviations.
  assert.ok(Math.abs((windowOf(normal(1000, 7, 0, 2)).wasserstein as number) - 0.8) < 0.1);
  const wider = windowOf(normal(1000, 7, 0, 2));
  assert.is(wider.state, 'drift');
  assert.ok((wider.psi as number) > 0.5, `PSI ${wider.psi} for twice the std`);
  assert.ok((wider.jensenShannon as number) > 0.2, `JS ${wider.jensenShannon}`);
});

Drift('class priors: the same ones stay ok, 50/50 to 80/20 is drift (PSI 0.42 expected), an unseen class counts', () => {
  const profile = categoricalProfile(classes(10_000, 8, [0.5, 0.5]));
  assert.equal(profile.categories, ['0', '1']);
  assert.is(profile.counts.length, 3);
  const fair = new FeatureWindow(profile, { size: 1000 });
  fair.addAll(classes(1000, 9, [0.5, 0.5]));
  assert.is(fair.drift().state, 'ok');
  assert.ok((fair.drift().psi as number) < 0.02, `PSI ${fair.drift().psi}`);
  const skewed = new FeatureWindow(profile, { size: 1000 });
  skewed.addAll(classes(1000, 10, [0.8, 0.2]));
  const d = skewed.drift();
  assert.is(d.state, 'drift');
  assert.ok(Math.abs((d.psi as number) - 0.416) < 0.08, `PSI ${d.psi}`);
  assert.is(d.wasserstein, undefined);
  const unseen = new FeatureWindow(profile, { size: 200, minCount: 10 });
  unseen.addAll([...classes(100, 11, [0.5, 0.5]), ...Array(100).fill(2)]);
  assert.is(unseen.counts()[2], 100);
  assert.is(unseen.drift().state, 'drift');
});

Drift('a small window reports not enough data, never drift, however far its values are', () => {
  const w = new FeatureWindow(PROFILE, { size: 1000, minCount: 100 });
  w.addAll(normal(99, 12, 50));
  assert.equal(w.drift(), { state: 'not_enough_data', count: 99 });
  w.add(50);
  assert.is(w.drift().state, 'drift');
});

Drift('the window slides: by count it keeps the newest values, by age it lets the old ones go', () => {
  const w = new FeatureWindow(PROFILE, { size: 1000 });
  w.addAll(normal(1000, 13, 3));
  assert.is(w.drift().state, 'drift');
  w.addAll(normal(1000, 14));
  assert.is(w.drift().count, 1000);
  assert.is(w.drift().state, 'ok', 'the shifted values have all left');
  let now = 0;
  const aged = new FeatureWindow(PROFILE, { size: 5000, maxAgeMs: 60_000, minCount: 10, now: () => now });
  aged.addAll(normal(500, 15, 3));
  now = 30_000;
  aged.addAll(normal(500, 16));
  assert.is(aged.drift().count, 1000);
  now = 61_000;
  const d = aged.drift();
  assert.is(d.count, 500);
  assert.is(d.state, 'ok');
  assert.is(aged.counts().reduce((a, b) => a + b, 0), 500);
});

Drift('thresholds learned from the reference catch a shift the fixed PSI bounds miss', () => {
  const learned = learnThresholds(PROFILE, REFERENCE, 1000);
  assert.is(learned.chunks, 20);
  // Chunks of the reference against itself: PSI about 0.01 (k - 1 over n), the drift bound a few hundredths.
  assert.ok(learned.psi.drift > 0.01 && learned.psi.drift < 0.05, `learned PSI bound ${learned.psi.drift}`);
  const slight = normal(1000, 17, 0.2);
  const fixed = windowOf(slight);
  assert.is(fixed.state, 'ok', `PSI ${fixed.psi} is under the fixed 0.1`);
  const w = new FeatureWindow(PROFILE, { size: 1000, psi: learned.psi, jensenShannon: learned.jensenShannon, wasserstein: learned.wasserstein });
  w.addAll(slight);
  assert.is(w.drift().state, 'drift');
  const fair = new FeatureWindow(PROFILE, { size: 1000, psi: learned.psi, jensenShannon: learned.jensenShannon, wasserstein: learned.wasserstein });
  fair.addAll(normal(1000, 18));
  assert.is(fair.drift().state, 'ok');
  assert.throws(() => learnThresholds(PROFILE, REFERENCE.subarray(0, 1500), 1000), /at least 2000 reference values/);
});

Drift('the statistics themselves: 0 for equal distributions, their known values for disjoint ones', () => {
  assert.is(populationStabilityIndex([1, 2, 3], [2, 4, 6]), 0);
  assert.is(jensenShannonDistance([1, 2, 3], [2, 4, 6]), 0);
  assert.is(jensenShannonDistance([1, 0], [0, 1]), 1);
  // Half the reference at 0, half at 1 (std 0.5); a window all at 1: half the mass moves by 1, 0.5 / 0.5.
  // (The quantile function between its two values is interpolated, numpy's way: the area is still 0.5.)
  const p = numericProfile([0, 0, 1, 1]);
  assert.ok(Math.abs(normedWasserstein(p, [1, 1, 1, 1]) - 1) < 0.01, String(normedWasserstein(p, [1, 1, 1, 1])));
  // The reference's own values, as a window of 4: its steps against the interpolated ramp, 0.0625 / 0.5.
  assert.ok(Math.abs(normedWasserstein(p, [0, 0, 1, 1]) - 0.125) < 0.01);
  // Beyond the reference: all at 3, two and three units from its values: 2.5 / 0.5.
  assert.ok(Math.abs(normedWasserstein(p, [3, 3]) - 5) < 0.01);
});

Drift.run();
