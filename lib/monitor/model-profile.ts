/**
 * A model version's reference profile: for each monitored input and output tensor, how
 * it is reduced to features (tensor-features.ts), and each feature's profile
 * (reference-profile.ts). Made from reference tensors (the training or validation data,
 * or a version's first requests), kept as `reference-profile.json` beside the model, and
 * read back checked.
 */
import { readFile } from 'node:fs/promises';
import type { PlainTensor } from '../core/tensor';
import { type FeatureProfile, categoricalProfile, numericProfile } from './reference-profile';
import { type LearnedThresholds, learnThresholds } from './learned-thresholds';
import { type Reduction, cosineDistance, defaultReduction, featureNames, reduceTensor } from './tensor-features';

/** The file a profile is kept in, beside a version's model file. */
export const PROFILE_FILE = 'reference-profile.json';

/** One monitored tensor: its reduction and its features' profiles, in featureNames' order. */
export interface TensorProfile {
  readonly reduction: Reduction;
  /** The shape of one row (the batch dimension left out when the model batches). */
  readonly row: readonly number[];
  readonly features: Readonly<Record<string, FeatureProfile>>;
}

/** A model version's reference profile, as `reference-profile.json` holds it. */
export interface ModelProfile {
  readonly format: 1;
  /** Rows (requests' examples) the profile was made from. */
  readonly rows: number;
  readonly inputs: Readonly<Record<string, TensorProfile>>;
  readonly outputs: Readonly<Record<string, TensorProfile>>;
  /**
   * Each feature's thresholds learned from the reference (learned-thresholds.ts), for
   * windows of `window` values: absent when the reference had fewer than two windows' worth.
   */
  readonly learned?: { readonly window: number; readonly features: Readonly<Record<string, LearnedThresholds>> };
}

/** Options of {@link ModelProfileBuilder.build}. */
export interface BuildOptions {
  /**
   * Learn each feature's thresholds for windows of this many values, when the reference
   * has at least two windows' worth of rows (default: none learned).
   */
  readonly learnWindow?: number;
}

/** What a {@link ModelProfileBuilder} is told of a tensor. */
export interface MonitoredTensor {
  readonly name: string;
  /** Its row shape (no batch dimension). */
  readonly row: readonly number[];
  readonly output: boolean;
  /** Default: {@link defaultReduction} of its row shape. */
  readonly reduction?: Reduction;
}

/** Collects reference tensors, row by row, and makes a {@link ModelProfile} of them. */
export class ModelProfileBuilder {
  readonly #tensors: { spec: MonitoredTensor; reduction: Reduction; names: ReturnType<typeof featureNames>; values: (number | string)[][]; rows?: Float64Array[] }[];
  #rows = 0;

  constructor(tensors: readonly MonitoredTensor[]) {
    this.#tensors = tensors.map((spec) => {
      const reduction = spec.reduction ?? defaultReduction(spec.row, spec.output);
      const names = featureNames(spec.name, spec.row, reduction);
      // An embedding's distances need the reference's centroid first: its rows are kept until build().
      return { spec, reduction, names, values: names.map(() => []), ...(reduction.kind === 'centroid' && { rows: [] }) };
    });
  }

  /** Adds a batch: `tensors` by name (those not monitored are ignored), their first dimension the batch when `batched`. */
  add(tensors: Readonly<Record<string, PlainTensor>>, batched: boolean): void {
    let rows = 0;
    for (const t of this.#tensors) {
      const tensor = tensors[t.spec.name];
      if (tensor === undefined) continue;
      const n = batched ? (tensor.dims[0] ?? 1) : 1;
      rows = Math.max(rows, n);
      if (t.rows !== undefined) {
        const size = t.spec.row.reduce((a, b) => a * b, 1);
        const data = tensor.data as unknown as ArrayLike<number | bigint>;
        for (let r = 0; r < n; r++) t.rows.push(Float64Array.from({ length: size }, (_, i) => Number(data[r * size + i])));
        continue;
      }
      reduceTensor(tensor, batched, t.reduction, (feature, value) => t.values[feature].push(t.names[feature].categorical ? String(value) : value));
    }
    this.#rows += rows;
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows;
  }

  /** The profile of what was added; throws when a monitored tensor got no rows. */
  build(options: BuildOptions = {}): ModelProfile {
    const inputs: Record<string, TensorProfile> = {};
    const outputs: Record<string, TensorProfile> = {};
    const window = options.learnWindow;
    if (window !== undefined && !(Number.isInteger(window) && window >= 1)) throw new RangeError(`learnWindow must be a whole number of 1 or more, got ${window}`);
    const learned: Record<string, LearnedThresholds> = {};
    let learning = window !== undefined;
    for (const t of this.#tensors) {
      let reduction = t.reduction;
      if (t.rows !== undefined) {
        if (t.rows.length === 0) throw new RangeError(`no rows of "${t.spec.name}" to profile`);
        const centroid = new Array<number>(t.rows[0].length).fill(0);
        for (const row of t.rows) for (let i = 0; i < row.length; i++) centroid[i] += row[i] / t.rows.length;
        t.values[0] = t.rows.map((row) => cosineDistance((i) => row[i], 0, centroid));
        reduction = { kind: 'centroid', centroid };
      }
      if (t.values[0]?.length === 0) throw new RangeError(`no rows of "${t.spec.name}" to profile`);
      const features: Record<string, FeatureProfile> = {};
      t.names.forEach((f, i) => {
        const profile = f.categorical ? categoricalProfile(t.values[i]) : numericProfile(t.values[i] as number[]);
        features[f.name] = profile;
        // A feature has a value a row: two windows' worth of rows, or nothing learned at all.
        if (learning && t.values[i].length >= 2 * (window as number)) learned[f.name] = learnThresholds(profile, t.values[i], window as number);
        else learning = false;
      });
      (t.spec.output ? outputs : inputs)[t.spec.name] = { reduction, row: t.spec.row, features };
    }
    return { format: 1, rows: this.#rows, inputs, outputs, ...(learning && { learned: { window: window as number, features: learned } }) };
  }
}

const REDUCTIONS = new Set(['features', 'channels', 'classes', 'values', 'centroid']);

/** Checks that `json` is a {@link ModelProfile} (read from `where`); throws naming what is wrong. */
export function checkModelProfile(json: unknown, where: string): ModelProfile {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  const object = (v: unknown, what: string) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(`${what} must be an object`));
  const numbers = (v: unknown, what: string) => (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (v as number[]) : fail(`${what} must be a list of numbers`));
  const doc = object(json, 'the profile');
  if (doc.format !== 1) fail(`format ${JSON.stringify(doc.format)}; this version reads format 1`);
  for (const side of ['inputs', 'outputs'] as const) {
    for (const [tensor, t] of Object.entries(object(doc[side], `"${side}"`))) {
      const tp = object(t, `${side}.${tensor}`);
      const reduction = object(tp.reduction, `${side}.${tensor}.reduction`);
      if (!REDUCTIONS.has(reduction.kind as string)) fail(`${side}.${tensor}.reduction.kind must be one of ${[...REDUCTIONS].join(', ')}`);
      if (reduction.kind === 'centroid') numbers(reduction.centroid, `${side}.${tensor}.reduction.centroid`);
      numbers(tp.row, `${side}.${tensor}.row`);
      for (const [name, f] of Object.entries(object(tp.features, `${side}.${tensor}.features`))) {
        const fp = object(f, `feature "${name}"`);
        const counts = numbers(fp.counts, `feature "${name}".counts`);
        if (fp.kind === 'numeric') {
          const edges = numbers(fp.edges, `feature "${name}".edges`);
          if (counts.length !== edges.length + 1) fail(`feature "${name}" has ${edges.length} edges and ${counts.length} counts; it needs one count more than edges`);
          for (let i = 1; i < edges.length; i++) if (edges[i] < edges[i - 1]) fail(`feature "${name}"'s edges must increase`);
          numbers(fp.quantileFunction, `feature "${name}".quantileFunction`);
          if (typeof fp.std !== 'number') fail(`feature "${name}".std must be a number`);
        } else if (fp.kind === 'categorical') {
          if (!Array.isArray(fp.categories) || counts.length !== fp.categories.length + 1) fail(`feature "${name}" needs one count per category, and one for unseen ones`);
        } else {
          fail(`feature "${name}".kind must be numeric or categorical`);
        }
      }
    }
  }
  if (doc.learned !== undefined) {
    const learned = object(doc.learned, '"learned"');
    if (!(Number.isInteger(learned.window) && (learned.window as number) >= 1)) fail('learned.window must be a whole number of 1 or more');
    const bounds = (v: unknown, what: string) => {
      const b = object(v, what);
      if (!(typeof b.warn === 'number' && typeof b.drift === 'number' && Number.isFinite(b.warn) && Number.isFinite(b.drift))) fail(`${what} must have numbers "warn" and "drift"`);
    };
    for (const [name, t] of Object.entries(object(learned.features, 'learned.features'))) {
      const th = object(t, `learned.features["${name}"]`);
      bounds(th.psi, `learned.features["${name}"].psi`);
      bounds(th.jensenShannon, `learned.features["${name}"].jensenShannon`);
      if (th.wasserstein !== undefined) bounds(th.wasserstein, `learned.features["${name}"].wasserstein`);
    }
  }
  return doc as unknown as ModelProfile;
}

/** Reads and checks a profile file. */
export async function readModelProfile(path: string): Promise<ModelProfile> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  return checkModelProfile(json, path);
}
