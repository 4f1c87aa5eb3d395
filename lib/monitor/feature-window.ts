/**
 * One feature's live values over a sliding window (the last `size` values, none older
 * than `maxAgeMs`), binned by its reference profile as they come (O(log bins) a value),
 * and compared with the reference on demand in O(bins) (plus a sort of the window's
 * values for the Wasserstein distance). A window with fewer than `minCount`
 * values reports not enough data, never drift: a handful of requests says nothing about
 * a distribution.
 */
import { jensenShannonDistance, normedWasserstein, populationStabilityIndex } from './drift-statistics';
import { type FeatureProfile, binOf } from './reference-profile';

/** Bounds of a statistic: at `warn` or above it warns, at `drift` or above it is drift. */
export interface Thresholds {
  readonly warn: number;
  readonly drift: number;
}

/** PSI's common convention, the default for every feature. */
export const PSI_THRESHOLDS: Thresholds = Object.freeze({ warn: 0.1, drift: 0.25 });

/** What a window tells of its feature. */
export type DriftState = 'not_enough_data' | 'ok' | 'warn' | 'drift';

/** A window compared with its reference. */
export interface FeatureDrift {
  readonly state: DriftState;
  /** Values in the window. */
  readonly count: number;
  /** Absent with not enough data. */
  readonly psi?: number;
  readonly jensenShannon?: number;
  /** Numeric features only. */
  readonly wasserstein?: number;
}

/** A window's size unless told otherwise. */
export const DEFAULT_WINDOW_SIZE = 1000;

/** Options of a {@link FeatureWindow}. */
export interface FeatureWindowOptions {
  /** The values the window keeps, the newest (default {@link DEFAULT_WINDOW_SIZE}). */
  readonly size?: number;
  /** Values older than this leave the window (default: none leave by age). */
  readonly maxAgeMs?: number;
  /** Fewer values than this: not enough data (default 100). */
  readonly minCount?: number;
  /** The PSI bounds of the state (default {@link PSI_THRESHOLDS}). */
  readonly psi?: Thresholds;
  /** Optional bounds of the other statistics, which then move the state too (learned ones, say). */
  readonly jensenShannon?: Thresholds;
  readonly wasserstein?: Thresholds;
  /** The clock, in milliseconds (tests give their own). */
  readonly now?: () => number;
}

/** A feature's values over a sliding window, against its reference profile. */
export class FeatureWindow {
  readonly profile: FeatureProfile;
  readonly #options: Required<Pick<FeatureWindowOptions, 'size' | 'minCount' | 'psi' | 'now'>> & FeatureWindowOptions;
  readonly #counts: Float64Array;
  /** A ring of the window's values' bins, their values and their times; `#start` is the oldest. */
  readonly #bins: Int32Array;
  readonly #values: Float64Array;
  readonly #times: Float64Array;
  readonly #index: Map<string, number> | undefined;
  #start = 0;
  #length = 0;

  constructor(profile: FeatureProfile, options: FeatureWindowOptions = {}) {
    this.profile = profile;
    const size = options.size ?? DEFAULT_WINDOW_SIZE;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a window's size must be a whole number of 1 or more, got ${size}`);
    this.#options = { ...options, size, minCount: options.minCount ?? 100, psi: options.psi ?? PSI_THRESHOLDS, now: options.now ?? (() => performance.now()) };
    this.#counts = new Float64Array(profile.counts.length);
    this.#bins = new Int32Array(size);
    this.#values = new Float64Array(size);
    this.#times = new Float64Array(size);
    this.#index = profile.kind === 'categorical' ? new Map(profile.categories.map((c, i) => [c, i])) : undefined;
  }

  /** Adds a value (a number; for a categorical feature, a category, by its name or index). NaN is left out. */
  add(value: number | string): void {
    const bin = this.#binOf(value);
    if (bin < 0) return;
    const { size } = this.#options;
    if (this.#length === size) {
      this.#counts[this.#bins[this.#start]]--;
      this.#start = (this.#start + 1) % size;
      this.#length--;
    }
    const at = (this.#start + this.#length) % size;
    this.#bins[at] = bin;
    this.#values[at] = typeof value === 'number' ? value : Number.NaN;
    this.#times[at] = this.#options.now();
    this.#counts[bin]++;
    this.#length++;
  }

  /** Adds every value of `values`. */
  addAll(values: ArrayLike<number> | readonly (number | string)[]): void {
    for (let i = 0; i < values.length; i++) this.add(values[i]);
  }

  /** The window compared with the reference now. */
  drift(): FeatureDrift {
    this.#expire();
    const count = this.#length;
    if (count < this.#options.minCount) return { state: 'not_enough_data', count };
    const reference = this.profile.counts;
    const psi = populationStabilityIndex(reference, this.#counts);
    const jensenShannon = jensenShannonDistance(reference, this.#counts);
    let wasserstein: number | undefined;
    if (this.profile.kind === 'numeric') wasserstein = normedWasserstein(this.profile, this.#windowValues());
    const levels = [level(psi, this.#options.psi), level(jensenShannon, this.#options.jensenShannon), wasserstein === undefined ? 0 : level(wasserstein, this.#options.wasserstein)];
    const state = (['ok', 'warn', 'drift'] as const)[Math.max(...levels)];
    return { state, count, psi, jensenShannon, ...(wasserstein !== undefined && { wasserstein }) };
  }

  /** The window's counts over the reference's bins (for a chart beside the reference's). */
  counts(): Float64Array {
    this.#expire();
    return Float64Array.from(this.#counts);
  }

  #binOf(value: number | string): number {
    if (this.profile.kind === 'numeric') return typeof value === 'number' ? binOf(this.profile, value) : -1;
    if (typeof value === 'number' && Number.isNaN(value)) return -1;
    return (this.#index as Map<string, number>).get(String(value)) ?? this.profile.categories.length;
  }

  #expire(): void {
    const { maxAgeMs, size } = this.#options;
    if (maxAgeMs === undefined) return;
    const oldest = this.#options.now() - maxAgeMs;
    while (this.#length > 0 && this.#times[this.#start] < oldest) {
      this.#counts[this.#bins[this.#start]]--;
      this.#start = (this.#start + 1) % size;
      this.#length--;
    }
  }

  /** The numeric values in the window, oldest first. */
  #windowValues(): Float64Array {
    const out = new Float64Array(this.#length);
    for (let i = 0; i < this.#length; i++) out[i] = this.#values[(this.#start + i) % this.#options.size];
    return out;
  }
}

function level(value: number, thresholds: Thresholds | undefined): number {
  if (thresholds === undefined) return 0;
  return value >= thresholds.drift ? 2 : value >= thresholds.warn ? 1 : 0;
}
