/**
 * A feature's reference profile: what its values looked like in the reference data, in a
 * form a live window is compared with in O(bins). Numeric features get fixed bin edges
 * from the reference's quantiles alone (equal-frequency bins, as NannyML bins), plus an
 * out-of-range bin on each side for values beyond anything the reference held; and
 * summary figures (mean, standard deviation, quantiles). Categorical features (a
 * classifier's predicted class) get their categories' counts, plus one bin for a
 * category the reference never had. Profiles are plain JSON, made once and kept in a
 * file beside the model.
 */

/** A numeric feature's reference. */
export interface NumericProfile {
  readonly kind: 'numeric';
  /**
   * The bin edges, increasing: `edges[0]` is the reference's minimum, the last its
   * maximum, those between its quantiles. Bin 0 holds values below `edges[0]`, bin i
   * (1 to edges.length - 1) values in [edges[i-1], edges[i]) (the last one closed), the
   * last bin values above the maximum.
   */
  readonly edges: readonly number[];
  /** The reference's count in each bin (edges.length + 1 of them; the two out-of-range bins 0). */
  readonly counts: readonly number[];
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  /** Quantiles by name: `p1`, `p5`, `p25`, `p50`, `p75`, `p95`, `p99`. */
  readonly quantiles: Readonly<Record<string, number>>;
  /**
   * The quantile function at 0, 1/Q, ..., 1 ({@link QUANTILE_STEPS} + 1 values, the
   * first the minimum, the last the maximum): what the Wasserstein distance is taken
   * against, finer than the bins.
   */
  readonly quantileFunction: readonly number[];
}

/** Steps of a numeric profile's quantile function: 101 numbers a feature. */
export const QUANTILE_STEPS = 100;

/** A categorical feature's reference. */
export interface CategoricalProfile {
  readonly kind: 'categorical';
  /** The categories seen, in order of first appearance in the sorted reference. */
  readonly categories: readonly string[];
  /** The count of each category, then of categories the reference never had (0). */
  readonly counts: readonly number[];
  readonly count: number;
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

/** Bins a numeric profile gets when it is not told otherwise: NannyML's default count. */
export const DEFAULT_BINS = 10;

const QUANTILES: readonly [string, number][] = [
  ['p1', 0.01],
  ['p5', 0.05],
  ['p25', 0.25],
  ['p50', 0.5],
  ['p75', 0.75],
  ['p95', 0.95],
  ['p99', 0.99],
];

/** The `q` quantile of sorted `values`, interpolated linearly between neighbours (numpy's default). */
function quantile(sorted: Float64Array, q: number): number {
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/**
 * The profile of numeric `values` with at most `bins` equal-frequency bins (fewer when
 * values repeat so that quantiles coincide). Throws for no values or a value that is
 * not finite (NaN has no bin).
 */
export function numericProfile(values: ArrayLike<number>, bins = DEFAULT_BINS): NumericProfile {
  if (values.length === 0) throw new RangeError('a numeric profile needs at least one value');
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a whole number of 1 or more, got ${bins}`);
  const sorted = Float64Array.from(values);
  let sum = 0;
  for (const v of sorted) {
    if (!Number.isFinite(v)) throw new RangeError(`a numeric profile takes finite values, got ${v}`);
    sum += v;
  }
  sorted.sort();
  const mean = sum / sorted.length;
  let squares = 0;
  for (const v of sorted) squares += (v - mean) ** 2;
  const edges: number[] = [sorted[0]];
  for (let i = 1; i < bins; i++) {
    const edge = quantile(sorted, i / bins);
    if (edge > edges[edges.length - 1]) edges.push(edge);
  }
  if (sorted[sorted.length - 1] > edges[edges.length - 1] || edges.length === 1) edges.push(sorted[sorted.length - 1]);
  const quantileFunction = Array.from({ length: QUANTILE_STEPS + 1 }, (_, i) => quantile(sorted, i / QUANTILE_STEPS));
  const profile = { kind: 'numeric' as const, edges, counts: [] as number[], count: sorted.length, mean, std: Math.sqrt(squares / sorted.length), quantiles: {} as Record<string, number>, quantileFunction };
  profile.counts = Array.from(binCounts(profile, sorted));
  for (const [name, q] of QUANTILES) profile.quantiles[name] = quantile(sorted, q);
  return profile;
}

/** The profile of categorical `values` (class indices, labels). Throws for no values. */
export function categoricalProfile(values: Iterable<string | number>): CategoricalProfile {
  const counts = new Map<string, number>();
  let count = 0;
  for (const v of values) {
    const key = String(v);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    count++;
  }
  if (count === 0) throw new RangeError('a categorical profile needs at least one value');
  const categories = [...counts.keys()].sort((a, b) => (isNumeric(a) && isNumeric(b) ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0));
  return { kind: 'categorical', categories, counts: [...categories.map((c) => counts.get(c) as number), 0], count };
}

const isNumeric = (s: string) => s !== '' && Number.isFinite(Number(s));

/**
 * The index of the bin of `profile` that `value` falls in (see {@link NumericProfile.edges});
 * NaN falls in none (-1).
 */
export function binOf(profile: NumericProfile, value: number): number {
  const { edges } = profile;
  if (!(value >= edges[0])) return Number.isNaN(value) ? -1 : 0;
  const last = edges.length - 1;
  if (value > edges[last]) return last + 1;
  if (value === edges[last]) return last;
  // The first edge above the value: its bin is the one that edge closes.
  let lo = 1;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The counts of `values` in `profile`'s bins (NaN values left out). */
export function binCounts(profile: NumericProfile, values: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(profile.edges.length + 1);
  for (let i = 0; i < values.length; i++) {
    const bin = binOf(profile, values[i]);
    if (bin >= 0) counts[bin]++;
  }
  return counts;
}
