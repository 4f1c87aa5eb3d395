/**
 * How far a window's distribution is from the reference's, over the reference's bins:
 * the population stability index, the Jensen-Shannon distance, and (for numeric
 * features) the Wasserstein distance normed by the reference's standard deviation, as
 * NannyML reports it. Each takes two count vectors over the same bins, so a window costs
 * O(bins) to compare whatever its size.
 */
import type { NumericProfile } from './reference-profile';

/**
 * The share below which a bin's proportion is taken as this, in PSI: an empty bin on
 * one side would make the index infinite. 1e-4 is the usual floor; a stray value in a
 * window of 1000 then adds 0.002.
 */
const PSI_FLOOR = 1e-4;

/** The two count vectors as proportions; throws unless they are over the same bins. */
function proportionsOf(reference: ArrayLike<number>, window: ArrayLike<number>): [Float64Array, Float64Array] {
  if (reference.length !== window.length) throw new RangeError(`the two distributions have ${reference.length} and ${window.length} bins; they must be over the same bins`);
  return [proportions(reference), proportions(window)];
}

function proportions(counts: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  const p = new Float64Array(counts.length);
  if (total > 0) for (let i = 0; i < counts.length; i++) p[i] = counts[i] / total;
  return p;
}

/** The population stability index of `window` against `reference` (counts over the same bins): sum of (q - p) ln(q / p). */
export function populationStabilityIndex(reference: ArrayLike<number>, window: ArrayLike<number>): number {
  const [p, q] = proportionsOf(reference, window);
  let psi = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = Math.max(p[i], PSI_FLOOR);
    const qi = Math.max(q[i], PSI_FLOOR);
    psi += (qi - pi) * Math.log(qi / pi);
  }
  return psi;
}

/** The Jensen-Shannon distance (the square root of the divergence, in bits: from 0 to 1) between the two distributions. */
export function jensenShannonDistance(reference: ArrayLike<number>, window: ArrayLike<number>): number {
  const [p, q] = proportionsOf(reference, window);
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) divergence += (p[i] * Math.log2(p[i] / m)) / 2;
    if (q[i] > 0) divergence += (q[i] * Math.log2(q[i] / m)) / 2;
  }
  // Rounding can leave a hair below 0 for equal distributions.
  return Math.sqrt(Math.max(0, divergence));
}

/**
 * The Wasserstein (earth mover's) distance between the reference and a window's
 * `values`, over the reference's standard deviation: the area between the two quantile
 * functions, the reference's interpolated on its {@link NumericProfile.quantileFunction},
 * the window's from its own sorted values. 0 for a window like the reference; a shift of
 * the whole distribution by one standard deviation gives 1. (Over the ten bins alone, the
 * tails' mass would be spread evenly over the outermost bins and the figure inflated.)
 */
export function normedWasserstein(profile: NumericProfile, values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return 0;
  const q = profile.quantileFunction;
  const steps = q.length - 1;
  let distance = 0;
  for (let i = 0; i < n; i++) {
    // The window's quantile function is sorted[i] over [i/n, (i+1)/n): the reference's at its middle.
    const at = ((i + 0.5) / n) * steps;
    const below = Math.floor(at);
    const reference = q[below] + (q[Math.min(below + 1, steps)] - q[below]) * (at - below);
    distance += Math.abs(sorted[i] - reference);
  }
  distance /= n;
  // A reference of one repeated value has no spread: the distance itself, unnormed.
  return profile.std > 0 ? distance / profile.std : distance;
}
