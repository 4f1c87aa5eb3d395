/**
 * One model version's drift: a sliding window per feature of its profile
 * (model-profile.ts), fed with the tensors of each request it serves, compared with the
 * profile on demand. The model's state is its worst feature's (not enough data only when
 * every feature has too little).
 */
import type { PlainTensor } from '../core/tensor';
import { DEFAULT_WINDOW_SIZE, type DriftState, type FeatureDrift, FeatureWindow, type FeatureWindowOptions } from './feature-window';
import type { ModelProfile, TensorProfile } from './model-profile';
import type { FeatureProfile } from './reference-profile';
import { featureNames, reduceTensor } from './tensor-features';

/** A feature's drift, and the tensor it is of. */
export interface MonitoredFeature extends FeatureDrift {
  readonly tensor: string;
  readonly side: 'input' | 'output';
}

/** What {@link ModelMonitor.drift} tells. */
export interface ModelDrift {
  readonly state: DriftState;
  readonly features: Readonly<Record<string, MonitoredFeature>>;
}

const RANK: Record<DriftState, number> = { not_enough_data: 0, ok: 1, warn: 2, drift: 3 };

/** A model version's features over sliding windows, against its profile. */
export class ModelMonitor {
  readonly profile: ModelProfile;
  #misfits = 0;
  readonly #tensors: { name: string; side: 'input' | 'output'; profile: TensorProfile; features: string[]; windows: FeatureWindow[] }[] = [];

  /** Whether the windows judge by the profile's learned thresholds (else by `options`' fixed ones). */
  readonly thresholds: 'learned' | 'fixed';

  /**
   * `options` go to every feature's window (size, age, minimum count, thresholds). The
   * profile's learned thresholds replace the fixed ones when they were learned for
   * windows of the size these have.
   */
  constructor(profile: ModelProfile, options: FeatureWindowOptions = {}) {
    this.profile = profile;
    const learned = profile.learned !== undefined && profile.learned.window === (options.size ?? DEFAULT_WINDOW_SIZE) ? profile.learned.features : undefined;
    this.thresholds = learned === undefined ? 'fixed' : 'learned';
    for (const [side, tensors] of [
      ['input', profile.inputs],
      ['output', profile.outputs],
    ] as const) {
      for (const [name, t] of Object.entries(tensors)) {
        const names = featureNames(name, t.row, t.reduction);
        const windows = names.map((f) => {
          const feature = t.features[f.name];
          if (feature === undefined) throw new Error(`the profile of "${name}" has no feature "${f.name}" (its reduction makes ${names.map((n) => n.name).join(', ')})`);
          const bounds = learned?.[f.name];
          return new FeatureWindow(feature, bounds === undefined ? options : { ...options, psi: bounds.psi, jensenShannon: bounds.jensenShannon, ...(bounds.wasserstein !== undefined && { wasserstein: bounds.wasserstein }) });
        });
        this.#tensors.push({ name, side, profile: t, features: names.map((f) => f.name), windows });
      }
    }
  }

  /**
   * A request served: its inputs and outputs by name (those not monitored ignored), the
   * first dimension the batch when `batched`. A tensor whose rows do not fit its profile
   * (another element count for per-element features, another channel count) is left out
   * and counted in {@link ModelMonitor.misfits}: its values would land on the wrong features.
   */
  observe(inputs: Readonly<Record<string, PlainTensor>>, outputs: Readonly<Record<string, PlainTensor>>, batched: boolean): void {
    for (const t of this.#tensors) {
      const tensor = (t.side === 'input' ? inputs : outputs)[t.name];
      if (tensor === undefined) continue;
      if (!rowFits(t.profile, batched ? tensor.dims.slice(1) : tensor.dims)) {
        this.#misfits++;
        continue;
      }
      reduceTensor(tensor, batched, t.profile.reduction, (feature, value) => t.windows[feature].add(value));
    }
  }

  /** Tensors left out of {@link ModelMonitor.observe} because their rows did not fit the profile. */
  get misfits(): number {
    return this.#misfits;
  }

  /** Each feature's reference profile and its window's counts over the profile's bins now (for charts of the two side by side). */
  histograms(): Record<string, { readonly reference: FeatureProfile; readonly live: number[] }> {
    const out: Record<string, { reference: FeatureProfile; live: number[] }> = {};
    for (const t of this.#tensors) t.windows.forEach((w, i) => (out[t.features[i]] = { reference: w.profile, live: Array.from(w.counts()) }));
    return out;
  }

  /** Every feature's window against the profile now. */
  drift(): ModelDrift {
    const features: Record<string, MonitoredFeature> = {};
    let state: DriftState = 'not_enough_data';
    for (const t of this.#tensors) {
      t.windows.forEach((w, i) => {
        const d = w.drift();
        features[t.features[i]] = { ...d, tensor: t.name, side: t.side };
        if (RANK[d.state] > RANK[state]) state = d.state;
      });
    }
    return { state, features };
  }
}

/** Whether rows of shape `row` reduce to the features of `profile` (their count and meaning fixed by the profile's row). */
function rowFits(profile: TensorProfile, row: readonly number[]): boolean {
  const reduction = profile.reduction;
  switch (reduction.kind) {
    case 'features':
      return row.reduce((a, b) => a * b, 1) === profile.row.reduce((a, b) => a * b, 1);
    case 'centroid':
      return row.reduce((a, b) => a * b, 1) === (reduction.centroid?.length ?? -1);
    case 'channels':
      return row.length === profile.row.length && row[reduction.axis] === profile.row[reduction.axis];
    default:
      return true;
  }
}
