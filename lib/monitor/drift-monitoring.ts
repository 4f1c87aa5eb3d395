/**
 * Drift monitoring of a model server's versions: a {@link ServingObserver} that gives each
 * version with a reference profile (`reference-profile.json` in its folder, or the file
 * its configuration's `reference_profile` parameter names, relative to the model's
 * folder) a {@link ModelMonitor}, feeds it the tensors of the requests the version
 * answers, and reports every version's drift on demand (the metrics, the monitoring
 * route, the dashboard) and as log lines when a state changes.
 *
 * Off the request path: an answered request's tensors are only referenced there (a few
 * field reads); they are reduced to features a turn of the event loop later, after the
 * response has been sent, at most `maxPerSecond` requests a second per version (a token
 * bucket: a burst of a second's worth, then the rate), and at most `maxPending` waiting:
 * what is beyond is skipped and counted, never queued without bound.
 */
import { isAbsolute, join, dirname } from 'node:path';
import { stat } from 'node:fs/promises';
import { writeAtomically } from './write-atomically';
import type { Logger } from 'pino';
import type { PlainTensor } from '../core/tensor';
import type { InferRequest, InferResponse } from '../server/protocol/types';
import type { ServingObserver, ServingVersion, VersionObserver } from '../server/model/serving-observer';
import { type DriftState, FeatureWindow, type FeatureWindowOptions } from './feature-window';
import { type ModelDrift, ModelMonitor, type MonitoredFeature } from './model-monitor';
import { categoricalProfile } from './reference-profile';
import { type ModelProfile, type ModelProfileBuilder, PROFILE_FILE, readModelProfile } from './model-profile';
import type { Reduction } from './tensor-features';
import { configReductions, versionProfileBuilder } from './version-profile';

/** The configuration parameter naming a version's profile file (relative to the model's folder), instead of its folder's `reference-profile.json`. */
export const PROFILE_PARAMETER = 'reference_profile';

/**
 * Windows of the server's monitors unless told otherwise: the last 1000 values of each
 * feature, none older than an hour, and drift judged from 300 on. Fewer than a few
 * hundred values against a profile's 10 quantile bins give a PSI of 0.05 to 0.15 from
 * sampling alone, around the warning bound: a small window would warn on fair traffic.
 */
export const DEFAULT_WINDOW: Readonly<Required<Pick<FeatureWindowOptions, 'size' | 'maxAgeMs' | 'minCount'>>> = Object.freeze({ size: 1000, maxAgeMs: 3_600_000, minCount: 300 });

/** Options of {@link DriftMonitoring}. */
export interface DriftMonitoringOptions {
  /** Every feature window's options (default {@link DEFAULT_WINDOW}, PSI bounds 0.1 and 0.25). */
  readonly window?: FeatureWindowOptions;
  /** Requests observed a second, per version, at most (default 100: a window of 1000 spans 10 s or more of traffic, and observing costs a few % of a core at most). */
  readonly maxPerSecond?: number;
  /** Observed requests waiting to be reduced, at most, across versions (default 256). */
  readonly maxPending?: number;
  /** How often states are checked for changes to log, in ms (default 10000; 0: never). */
  readonly checkEveryMs?: number;
  /** Where state changes and profile problems are logged. */
  readonly log?: Logger;
  /**
   * A version with no profile captures one from the first this many rows it answers (of
   * the requests observed), writes it where a profile is looked for, and is monitored
   * against it from then on. Default: none captured.
   */
  readonly captureRows?: number;
}

/** Whether a version is monitored, and why not. */
export type MonitoringStatus = 'loading' | 'capturing' | 'monitoring' | 'no_profile' | 'invalid_profile';

/** One serving version's monitoring. */
export interface VersionMonitoring {
  readonly model: string;
  readonly version: number;
  readonly status: MonitoringStatus;
  /** Why the profile could not be used (with `invalid_profile`). */
  readonly reason?: string;
  /** The profile file looked for. */
  readonly profilePath: string;
  /** Requests whose tensors were observed. */
  readonly observed: number;
  /** Requests left out: over the rate, or with too many waiting. */
  readonly skipped: number;
  /** With `capturing`: the rows captured so far, and how many the profile takes. */
  readonly captured?: { readonly rows: number; readonly of: number };
  /** The monitor, once the profile has loaded. */
  readonly monitor?: ModelMonitor;
}

const RANK: Record<DriftState, number> = { not_enough_data: 0, ok: 1, warn: 2, drift: 3 };

/** One loaded copy of a version, as monitored. */
class MonitoredCopy implements VersionObserver {
  status: MonitoringStatus = 'loading';
  reason: string | undefined;
  monitor: ModelMonitor | undefined;
  /** A profile being captured from the version's first requests. */
  capture: { readonly rows: number; readonly reductions: ReadonlyMap<string, Reduction | undefined>; builder?: ModelProfileBuilder } | undefined;
  observed = 0;
  skipped = 0;
  /** The states last logged: the version's, and each tensor's. */
  logged = new Map<string, DriftState>();
  #tokens: number;
  #refilledAt = performance.now();

  constructor(
    readonly model: string,
    readonly version: number,
    readonly served: ServingVersion,
    readonly profilePath: string,
    readonly owner: DriftMonitoring,
    readonly maxPerSecond: number,
  ) {
    this.#tokens = maxPerSecond;
  }

  onRequestStart(): void {}
  onRequestEnd(): void {}
  onQueued(): void {}
  onBatch(): void {}

  onInference(request: InferRequest, response: InferResponse): void {
    if (this.monitor !== undefined || this.capture !== undefined) this.owner.enqueue(this, request, response);
  }

  /** A token of the rate, if one is left. */
  take(): boolean {
    if (this.#tokens < 1) {
      const now = performance.now();
      this.#tokens = Math.min(this.maxPerSecond, this.#tokens + ((now - this.#refilledAt) / 1000) * this.maxPerSecond);
      this.#refilledAt = now;
      if (this.#tokens < 1) return false;
    }
    this.#tokens--;
    return true;
  }

  /** Reduces an observed request into the monitor's windows, or into the profile being captured. */
  reduce(request: InferRequest, response: InferResponse): void {
    const inputs: Record<string, PlainTensor> = {};
    const outputs: Record<string, PlainTensor> = {};
    for (const i of request.inputs) inputs[i.name] = i.tensor;
    for (const o of response.outputs) outputs[o.name] = o.tensor;
    const batched = this.served.plan.maxBatchSize > 0;
    this.observed++;
    if (this.monitor !== undefined) return this.monitor.observe(inputs, outputs, batched);
    const capture = this.capture;
    if (capture === undefined) return;
    const tensors = { ...inputs, ...outputs };
    capture.builder ??= versionProfileBuilder(this.served.plan, capture.reductions, tensors);
    capture.builder.add(tensors, batched);
    if (capture.builder.rows >= capture.rows) this.owner.captured(this);
  }
}

/** Drift monitoring of every serving version that has a profile. */
export class DriftMonitoring implements ServingObserver {
  readonly #options: DriftMonitoringOptions;
  readonly #window: FeatureWindowOptions;
  readonly #maxPerSecond: number;
  readonly #maxPending: number;
  /** The loaded copies of each version (`model\0version`), oldest first: a reload overlaps two. */
  readonly #copies = new Map<string, MonitoredCopy[]>();
  #pending: { copy: MonitoredCopy; request: InferRequest; response: InferResponse }[] = [];
  #draining = false;
  /** Profiles being read. */
  readonly #opening = new Set<Promise<void>>();
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: DriftMonitoringOptions = {}) {
    this.#options = options;
    this.#window = { ...DEFAULT_WINDOW, ...options.window };
    this.#maxPerSecond = positive(options.maxPerSecond ?? 100, 'maxPerSecond');
    this.#maxPending = positive(options.maxPending ?? 256, 'maxPending');
    if (options.captureRows !== undefined && !(Number.isInteger(options.captureRows) && options.captureRows >= 1)) throw new RangeError(`captureRows must be a whole number of 1 or more, got ${options.captureRows}`);
    const every = options.checkEveryMs ?? 10_000;
    if (!(every >= 0)) throw new RangeError(`checkEveryMs must be 0 or more, got ${every}`);
    // A window made once with the options, so that a mistake in them fails the server's start, not each version's load.
    new FeatureWindow(categoricalProfile(['-']), this.#window);
    if (every > 0) {
      this.#timer = setInterval(() => this.checkStates(), every);
      this.#timer.unref();
    }
  }

  versionServing(model: string, version: number, _loadSeconds: number, served: ServingVersion): VersionObserver {
    const named = served.parameters[PROFILE_PARAMETER]?.string_value;
    const copy = new MonitoredCopy(model, version, served, profilePath(served.folder, served.parameters), this, this.#maxPerSecond);
    const key = `${model}\0${version}`;
    const copies = this.#copies.get(key);
    if (copies === undefined) this.#copies.set(key, [copy]);
    else copies.push(copy);
    const opening = this.#open(copy, named !== undefined && named !== '');
    this.#opening.add(opening);
    void opening.finally(() => this.#opening.delete(opening));
    return copy;
  }

  versionRetired(model: string, version: number): void {
    const key = `${model}\0${version}`;
    const copies = this.#copies.get(key);
    copies?.shift();
    if (copies?.length === 0) this.#copies.delete(key);
  }

  /** Reads the copy's profile, checks it against the version's tensors, and starts its monitor. */
  async #open(copy: MonitoredCopy, named: boolean): Promise<void> {
    const where = `model "${copy.model}" version ${copy.version}`;
    try {
      // A missing file is no profile, unless the configuration names it.
      const exists = await stat(copy.profilePath).then(
        () => true,
        (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' && !named ? false : Promise.reject(err)),
      );
      if (!exists) {
        const rows = this.#options.captureRows;
        if (rows === undefined) {
          copy.status = 'no_profile';
          return;
        }
        copy.capture = { rows, reductions: configReductions(copy.model, copy.served.plan, copy.served.parameters) };
        copy.status = 'capturing';
        this.#options.log?.info({ model: copy.model, version: copy.version, rows }, 'capturing a reference profile from the first requests');
        return;
      }
      const profile = await readModelProfile(copy.profilePath);
      checkAgainstPlan(profile, copy.served);
      copy.monitor = new ModelMonitor(profile, this.#window);
      copy.status = 'monitoring';
      this.#options.log?.info({ model: copy.model, version: copy.version, profile: copy.profilePath }, 'drift monitoring started');
    } catch (err) {
      copy.status = 'invalid_profile';
      copy.reason = err instanceof Error ? err.message : String(err);
      this.#options.log?.error({ model: copy.model, version: copy.version, err: copy.reason }, `${where}: its reference profile cannot be used; the version serves unmonitored`);
    }
  }

  /**
   * Called by a copy whose capture has its rows: makes its profile (thresholds learned
   * for this monitoring's windows, when there are rows enough), monitors against it from
   * now on, and writes it where profiles are looked for (a write that fails is logged:
   * the profile still serves, until the version is loaded again).
   */
  captured(copy: MonitoredCopy): void {
    const builder = copy.capture?.builder as ModelProfileBuilder;
    copy.capture = undefined;
    const profile = builder.build({ learnWindow: this.#window.size ?? DEFAULT_WINDOW.size });
    copy.monitor = new ModelMonitor(profile, this.#window);
    copy.status = 'monitoring';
    const line = { model: copy.model, version: copy.version, rows: profile.rows, profile: copy.profilePath };
    writeAtomically(copy.profilePath, JSON.stringify(profile)).then(
      () => this.#options.log?.info(line, 'reference profile captured from traffic; drift monitoring started'),
      (err: Error) => this.#options.log?.warn({ ...line, err: err.message }, 'reference profile captured from traffic but not written; drift monitoring started'),
    );
  }

  /** Resolves once the profiles being read now have been (each version's status is then known). */
  async settled(): Promise<void> {
    await Promise.all(this.#opening);
  }

  /** Called by a copy on the request path: keeps the tensors for the next turn, or skips them when too many wait. */
  enqueue(copy: MonitoredCopy, request: InferRequest, response: InferResponse): void {
    if (this.#closed || this.#pending.length >= this.#maxPending || !copy.take()) {
      copy.skipped++;
      return;
    }
    this.#pending.push({ copy, request, response });
    if (!this.#draining) {
      this.#draining = true;
      setImmediate(() => this.#drain());
    }
  }

  #drain(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#draining = false;
    for (const { copy, request, response } of batch) {
      try {
        copy.reduce(request, response);
      } catch (err) {
        // A tensor the reductions cannot read must not take the server down; it is skipped.
        copy.skipped++;
        this.#options.log?.warn({ model: copy.model, version: copy.version, err: err instanceof Error ? err.message : String(err) }, 'a request could not be monitored');
      }
    }
  }

  /** Every serving version's monitoring (the newest copy of each), of `model` or of all. */
  versions(model?: string): VersionMonitoring[] {
    const out: VersionMonitoring[] = [];
    for (const copies of this.#copies.values()) {
      const c = copies[copies.length - 1];
      if (model !== undefined && c.model !== model) continue;
      out.push({
        model: c.model,
        version: c.version,
        status: c.status,
        ...(c.reason !== undefined && { reason: c.reason }),
        profilePath: c.profilePath,
        observed: c.observed,
        skipped: c.skipped,
        ...(c.capture !== undefined && { captured: { rows: c.capture.builder?.rows ?? 0, of: c.capture.rows } }),
        ...(c.monitor !== undefined && { monitor: c.monitor }),
      });
    }
    return out.sort((a, b) => (a.model === b.model ? a.version - b.version : a.model < b.model ? -1 : 1));
  }

  /** The tensors observed but not yet reduced (the next turn reduces them). */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Compares every monitored version with its profile and logs each change of state: of
   * a version (its worst tensor's), at `warn` when it becomes warn or drift.
   */
  checkStates(): void {
    for (const copies of this.#copies.values()) {
      const c = copies[copies.length - 1];
      if (c.monitor === undefined) continue;
      for (const [tensor, worst] of worstFeatures(c.monitor.drift())) {
        const state = worst.drift.state;
        const before = c.logged.get(tensor) ?? 'not_enough_data';
        if (before === state) continue;
        c.logged.set(tensor, state);
        const line = { model: c.model, version: c.version, tensor, from: before, to: state, feature: worst.feature, psi: worst.drift.psi };
        if (RANK[state] >= RANK.warn) this.#options.log?.warn(line, 'drift state changed');
        else this.#options.log?.info(line, 'drift state changed');
      }
    }
  }

  /** Stops the state checks; what is pending is dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#pending = [];
  }
}

/**
 * Where the profile of the version in `folder` is: the file the configuration's
 * `reference_profile` parameter names (relative to the model's folder), else
 * `reference-profile.json` in the version's folder.
 */
export function profilePath(folder: string, parameters: Readonly<Record<string, { readonly string_value: string }>>): string {
  const named = parameters[PROFILE_PARAMETER]?.string_value;
  if (named === undefined || named === '') return join(folder, PROFILE_FILE);
  return isAbsolute(named) ? named : join(dirname(folder), named);
}

/** A tensor's worst feature: the one whose state is worst, and of those the highest PSI. */
export interface WorstFeature {
  readonly feature: string;
  readonly drift: MonitoredFeature;
}

/**
 * Each monitored tensor's worst feature, whose state is the tensor's (not enough data
 * only when every feature of it has too little).
 */
export function worstFeatures(drift: ModelDrift): Map<string, WorstFeature> {
  const worst = new Map<string, WorstFeature>();
  for (const [feature, f] of Object.entries(drift.features)) {
    const w = worst.get(f.tensor)?.drift;
    if (w === undefined || RANK[f.state] > RANK[w.state] || (f.state === w.state && (f.psi ?? 0) > (w.psi ?? 0))) worst.set(f.tensor, { feature, drift: f });
  }
  return worst;
}

/** Throws unless every tensor of `profile` is one of the version's, with rows of its rank. */
function checkAgainstPlan(profile: ModelProfile, served: ServingVersion): void {
  for (const [side, tensors, plans] of [
    ['input', profile.inputs, served.plan.inputs],
    ['output', profile.outputs, served.plan.outputs],
  ] as const) {
    for (const [name, t] of Object.entries(tensors)) {
      const plan = plans.find((p) => p.name === name);
      if (plan === undefined) throw new Error(`the profile has ${side} "${name}", which the version has not; its ${side}s are ${plans.map((p) => `"${p.name}"`).join(', ')}`);
      const fits = plan.dims.length === t.row.length && plan.dims.every((d, i) => d < 0 || d === t.row[i]);
      if (!fits) throw new Error(`the profile's rows of ${side} "${name}" are [${t.row.join(',')}], the version's [${plan.dims.join(',')}]`);
    }
  }
}

function positive(value: number, what: string): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${what} must be a number above 0, got ${value}`);
  return value;
}
