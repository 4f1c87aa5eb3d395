/**
 * Thresholds learned from the reference itself, as NannyML sets them: the reference cut
 * into chunks of a window's size, each chunk compared with the whole, and a statistic's
 * bound put at its mean over the chunks plus 3 standard deviations (2 for a warning). A
 * bound so made fits the feature and the window size, where a fixed one (PSI's 0.1 and
 * 0.25) is too loose for small windows of some features and too tight for others.
 */
import { FeatureWindow, type Thresholds } from './feature-window';
import type { FeatureProfile } from './reference-profile';

/** Learned bounds of each statistic. */
export interface LearnedThresholds {
  readonly psi: Thresholds;
  readonly jensenShannon: Thresholds;
  /** Numeric features only. */
  readonly wasserstein?: Thresholds;
  /** The chunks they were learned from. */
  readonly chunks: number;
}

/**
 * Learns thresholds for windows of `windowSize` values of a feature from its reference
 * `values` (those `profile` was made from). Needs at least 2 whole chunks.
 */
export function learnThresholds(profile: FeatureProfile, values: ArrayLike<number> | readonly (number | string)[], windowSize: number): LearnedThresholds {
  const chunks = Math.floor(values.length / windowSize);
  if (chunks < 2) throw new RangeError(`learning thresholds for windows of ${windowSize} takes at least ${2 * windowSize} reference values, got ${values.length}`);
  const figures = { psi: [] as number[], jensenShannon: [] as number[], wasserstein: [] as number[] };
  for (let c = 0; c < chunks; c++) {
    const window = new FeatureWindow(profile, { size: windowSize, minCount: windowSize });
    for (let i = c * windowSize; i < (c + 1) * windowSize; i++) window.add(values[i]);
    const d = window.drift();
    figures.psi.push(d.psi as number);
    figures.jensenShannon.push(d.jensenShannon as number);
    if (d.wasserstein !== undefined) figures.wasserstein.push(d.wasserstein);
  }
  const bounds = (xs: number[]): Thresholds => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    return { warn: mean + 2 * std, drift: mean + 3 * std };
  };
  return {
    psi: bounds(figures.psi),
    jensenShannon: bounds(figures.jensenShannon),
    ...(figures.wasserstein.length > 0 && { wasserstein: bounds(figures.wasserstein) }),
    chunks,
  };
}
