/**
 * Version control of the models a server serves: labels (`stable`, `canary`) pointing at
 * ready versions, a default version pinned by a rollback or a promotion, and the history
 * of the versions that served as each model's default, which a rollback walks back. Its
 * state is saved atomically after each change (state-file.ts) and restored at start, and
 * each change is in the audit log (audit-log.ts).
 *
 * The repository (server/) does the routing and keeps what it points at loaded; this
 * decides what the routing is.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ProtocolError, invalid } from '../server/protocol/types';
import type { ModelRepository, VersionRouting, VersionState } from '../server/repository/model-repository';
import type { KeyRoute, ShadowRoute, TrafficSplit } from '../server/repository/version-routing';
import type { ModelCard } from '../server/repository/model-card';
import { checkLabel } from '../server/repository/model-repository';
import { AuditLog } from './audit-log';
import { StateFile } from './state-file';

/** Options of {@link VersionControl.open}. */
export interface VersionControlOptions {
  /**
   * Where the state (`lifecycle.json`) and the audit log (`audit.log`) are kept. Default:
   * `.onnx-native/` in the repository (a hidden folder, which is not a model); where that
   * cannot be written (a read-only mount), the state is kept in memory only, with a warning.
   */
  readonly stateDir?: string;
  readonly log: Logger;
}

/** How a model's traffic is shared between versions (beyond the default and labels). */
export interface Traffic {
  /** Requests naming no version split by weight between these. */
  readonly split?: readonly TrafficSplit[];
  /** The header or parameter whose value makes a caller stick to one version of the split. */
  readonly stickyKey?: string;
  /** Requests whose key has a value go to its version (A/B by group), before the split. */
  readonly routes?: readonly KeyRoute[];
  /** A version that gets a copy of a share of the requests, its answers compared. */
  readonly shadow?: ShadowRoute;
}

/** What {@link VersionControl.status} tells of a model. */
export interface LifecycleStatus {
  readonly model: string;
  /** The version that requests naming none go to now (none while no version is ready). */
  readonly default_version?: number;
  /** Set by a rollback or a promotion: the default stays there whatever versions arrive. */
  readonly pinned_version?: number;
  readonly labels: Readonly<Record<string, number>>;
  /** The split, key routes and shadow in force, if any, as the traffic API takes them. */
  readonly traffic?: { readonly split?: readonly TrafficSplit[]; readonly sticky_key?: string; readonly routes?: readonly KeyRoute[]; readonly shadow?: ShadowRoute };
  /** The versions that served as the default, the latest last: a rollback goes back along it. */
  readonly history: readonly number[];
  readonly versions: readonly { readonly version: number; readonly state: VersionState; readonly reason?: string; readonly model_card?: ModelCard }[];
}

/** A model's saved state. */
interface ModelState {
  labels: Record<string, number>;
  pinned?: number;
  traffic?: Traffic;
  history: number[];
  /** The model's latest progressive rollout, kept by the rollout controller (progressive-rollout.ts). */
  rollout?: SavedRollout;
}

/**
 * The version number in JSON `body`'s `field` (undefined when absent), as the lifecycle's
 * bodies give it: a number, or a string of digits, since versions travel as strings in
 * the v2 protocol. Throws INVALID_ARGUMENT, naming `owner`'s field, for anything else.
 */
export function versionField(body: Readonly<Record<string, unknown>>, field: string, owner: string): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(`${owner}'s "${field}" must be a version number, got ${JSON.stringify(v)}`);
  return n;
}

/** A rollout as saved with a model's state: JSON the rollout controller reads back. */
export type SavedRollout = Readonly<Record<string, unknown>>;

/** The traffic part of `routing`, or undefined when it has none. */
function trafficOf(routing: VersionRouting): Traffic | undefined {
  const traffic: Traffic = {
    ...(routing.split !== undefined && { split: routing.split }),
    ...(routing.stickyKey !== undefined && { stickyKey: routing.stickyKey }),
    ...(routing.routes !== undefined && routing.routes.length > 0 && { routes: routing.routes }),
    ...(routing.shadow !== undefined && { shadow: routing.shadow }),
  };
  return Object.keys(traffic).length > 0 ? traffic : undefined;
}

/** `routing` with its traffic replaced by `traffic`. */
function withTraffic(routing: VersionRouting, traffic: Traffic | undefined): VersionRouting {
  return { ...(routing.default !== undefined && { default: routing.default }), labels: routing.labels, ...traffic };
}

interface StateDocument {
  readonly format: 1;
  readonly models: Record<string, ModelState>;
}

const STATE_FILE = 'lifecycle.json';
/** History kept per model: enough to walk back through any real sequence of deploys. */
const HISTORY_LENGTH = 100;

/** Labels, pins, rollbacks and their history over one repository. */
export class VersionControl {
  readonly #repository: ModelRepository;
  readonly #log: Logger;
  readonly #file: StateFile<StateDocument> | undefined;
  readonly #audit: AuditLog | undefined;
  readonly #models = new Map<string, ModelState>();
  /** Models whose saved state has been given to the repository (until then, the repository's routing is not saved over it). */
  readonly #restored = new Set<string>();
  readonly #restoring = new Map<string, Promise<void>>();
  readonly #unsubscribe: () => void;

  private constructor(repository: ModelRepository, options: VersionControlOptions, folder: string | undefined, saved: StateDocument | undefined) {
    this.#repository = repository;
    this.#log = options.log;
    this.#file = folder === undefined ? undefined : new StateFile<StateDocument>(folder, STATE_FILE);
    this.#audit = folder === undefined ? undefined : new AuditLog(folder);
    for (const [name, state] of Object.entries(saved?.models ?? {})) {
      this.#models.set(name, {
        labels: { ...state.labels },
        history: [...state.history],
        ...(state.pinned !== undefined && { pinned: state.pinned }),
        ...(state.traffic !== undefined && { traffic: state.traffic }),
        ...(state.rollout !== undefined && { rollout: state.rollout }),
      });
    }
    this.#unsubscribe = repository.subscribe((name) => this.#changed(name));
  }

  /** Reads the saved state and gives it to the models loaded now (and to others as they load). */
  static async open(repository: ModelRepository, options: VersionControlOptions): Promise<VersionControl> {
    let folder: string | undefined = options.stateDir ?? join(repository.root, '.onnx-native');
    try {
      await mkdir(folder, { recursive: true, mode: 0o700 });
    } catch (err) {
      if (options.stateDir !== undefined) throw new Error(`cannot use ${folder} as the state folder: ${(err as Error).message}`);
      options.log.warn({ folder, err: (err as Error).message }, 'cannot write the lifecycle state next to the repository: labels, pins and rollbacks are kept in memory only (give a state folder to keep them)');
      folder = undefined;
    }
    const saved = folder === undefined ? undefined : await new StateFile<StateDocument>(folder, STATE_FILE).read();
    if (saved !== undefined && saved.format !== 1) throw new Error(`${join(folder as string, STATE_FILE)} has format ${String(saved.format)}; this version reads format 1`);
    const control = new VersionControl(repository, options, folder, saved);
    for (const name of repository.loadedNames()) await control.#restore(name);
    return control;
  }

  /** Where the audit log is, if it is kept on disk. */
  get auditLog(): AuditLog | undefined {
    return this.#audit;
  }

  /** Model `name`'s versions, default, pin, labels and history. Throws NOT_FOUND for a model that is not loaded. */
  status(name: string): LifecycleStatus {
    const model = this.#repository.model(name);
    const state = this.#state(name);
    const defaultVersion = this.#repository.defaultVersion(name);
    const traffic = trafficOf(model.routing);
    return {
      model: name,
      ...(defaultVersion !== undefined && { default_version: defaultVersion }),
      ...(model.routing.default !== undefined && { pinned_version: model.routing.default }),
      labels: { ...model.routing.labels },
      ...(traffic !== undefined && {
        traffic: {
          ...(traffic.split && { split: traffic.split }),
          ...(traffic.stickyKey !== undefined && { sticky_key: traffic.stickyKey }),
          ...(traffic.routes && { routes: traffic.routes }),
          ...(traffic.shadow && { shadow: traffic.shadow }),
        },
      }),
      history: [...state.history],
      versions: [...model.versions].map(([version, v]) => ({
        version,
        state: v.state,
        ...(v.reason !== '' && { reason: v.reason }),
        ...(v.card && { model_card: v.card }),
      })),
    };
  }

  /** Points `label` of model `name` at `version`, which must be ready. */
  async setLabel(name: string, label: string, version: number, actor: string): Promise<void> {
    checkLabel(label);
    await this.#whenRestored(name);
    const routing = this.#repository.model(name).routing;
    const from = routing.labels[label];
    await this.#repository.route(name, { ...routing, labels: { ...routing.labels, [label]: version } });
    await this.#record({ actor, action: 'label', model: name, label, version, ...(from !== undefined && { from }) });
  }

  /** Removes `label` of model `name` (NOT_FOUND if it has none). */
  async removeLabel(name: string, label: string, actor: string): Promise<void> {
    checkLabel(label);
    await this.#whenRestored(name);
    const routing = this.#repository.model(name).routing;
    const from = routing.labels[label];
    if (from === undefined) throw new ProtocolError(`model "${name}" has no label "${label}"`, 'NOT_FOUND');
    const labels = { ...routing.labels };
    delete labels[label];
    await this.#repository.route(name, { ...routing, labels });
    await this.#record({ actor, action: 'unlabel', model: name, label, from });
  }

  /**
   * Moves model `name`'s default back to the version that served as the default before
   * the current one, and pins it there: no reload when it is still loaded, a load of its
   * folder when not. Throws INVALID_ARGUMENT (HTTP 400) when no earlier version served.
   */
  async rollback(name: string, actor: string): Promise<{ readonly from?: number; readonly to: number }> {
    await this.#whenRestored(name);
    const state = this.#state(name);
    const current = this.#repository.defaultVersion(name);
    const history = [...state.history];
    while (history.length > 0 && history.at(-1) === current) history.pop();
    const to = history.at(-1);
    if (to === undefined) {
      throw new ProtocolError(`model "${name}" has no earlier version to roll back to (it has served ${state.history.length > 0 ? `only version ${state.history.join(', ')}` : 'no version yet'})`, 'INVALID_ARGUMENT');
    }
    const routing = this.#repository.model(name).routing;
    await this.#repository.route(name, { ...routing, default: to }, { loadMissing: true });
    // The version rolled back from leaves the history: another rollback goes further back.
    state.history = history;
    await this.#record({ actor, action: 'rollback', model: name, version: to, ...(current !== undefined && { from: current }) });
    return { ...(current !== undefined && { from: current }), to };
  }

  /**
   * Pins model `name`'s default at `version` (loaded first if need be); or, with no
   * version, unpins it, so that the highest ready version serves by default again.
   */
  async promote(name: string, version: number | undefined, actor: string): Promise<void> {
    await this.#whenRestored(name);
    const routing = this.#repository.model(name).routing;
    const from = this.#repository.defaultVersion(name);
    const labels = routing.labels;
    await this.#repository.route(name, version === undefined ? { labels } : { labels, default: version }, { loadMissing: true });
    await this.#record({ actor, action: version === undefined ? 'follow-latest' : 'promote', model: name, ...(version !== undefined && { version }), ...(from !== undefined && { from }) });
  }

  /**
   * Shares model `name`'s traffic as `traffic` says (its versions loaded first if need
   * be), or, with undefined, sends it all to the default again.
   */
  async setTraffic(name: string, traffic: Traffic | undefined, actor: string): Promise<void> {
    await this.#whenRestored(name);
    const routing = this.#repository.model(name).routing;
    await this.#repository.route(name, withTraffic(routing, traffic), { loadMissing: true });
    await this.#record({ actor, action: traffic === undefined ? 'traffic-cleared' : 'traffic', model: name, ...(traffic !== undefined && { traffic }) });
  }

  /**
   * Sets model `name`'s pinned default and its traffic in one change (a rollout's step,
   * promotion or rollback), recorded in the audit log as `entry` says.
   */
  async route(name: string, change: { readonly default: number; readonly traffic?: Traffic }, entry: Omit<Parameters<AuditLog['append']>[0], 'model'>): Promise<void> {
    await this.#whenRestored(name);
    const labels = this.#repository.model(name).routing.labels;
    await this.#repository.route(name, withTraffic({ labels, default: change.default }, change.traffic), { loadMissing: true });
    await this.#record({ ...entry, model: name });
  }

  /** The rollout saved with model `name`'s state, if any. */
  savedRollout(name: string): SavedRollout | undefined {
    return this.#models.get(name)?.rollout;
  }

  /** Every model's saved rollout, loaded or not. */
  savedRollouts(): [string, SavedRollout][] {
    return [...this.#models].flatMap(([name, s]) => (s.rollout === undefined ? [] : [[name, s.rollout] as [string, SavedRollout]]));
  }

  /** Saves `rollout` with model `name`'s state (resolves once it is on disk). */
  async saveRollout(name: string, rollout: SavedRollout): Promise<void> {
    this.#state(name).rollout = rollout;
    this.#save();
    await this.#file?.flushed();
  }

  /** Stops following the repository; resolves when the state on disk is up to date. */
  async close(): Promise<void> {
    this.#unsubscribe();
    await Promise.all(this.#restoring.values());
    await this.#file?.flushed();
  }

  #state(name: string): ModelState {
    let state = this.#models.get(name);
    if (state === undefined) this.#models.set(name, (state = { labels: {}, history: [] }));
    return state;
  }

  /** Waits for model `name`'s saved state to be given to the repository (it may be loading). */
  async #whenRestored(name: string): Promise<void> {
    this.#repository.model(name);
    await this.#restoring.get(name);
    if (!this.#restored.has(name)) await this.#restore(name);
  }

  /** Gives model `name`'s saved labels and pin to the repository: each on its own, so that one that cannot be (its version gone) leaves the others. */
  #restore(name: string): Promise<void> {
    const running = this.#restoring.get(name);
    if (running !== undefined) return running;
    const restore = (async () => {
      const saved = this.#models.get(name);
      if (saved !== undefined) {
        const pieces: { what: string; routing: (r: VersionRouting) => VersionRouting; version: number; label?: string }[] = [
          ...(saved.pinned === undefined ? [] : [{ what: 'pinned default', routing: (r: VersionRouting) => ({ ...r, default: saved.pinned }), version: saved.pinned }]),
          ...Object.entries(saved.labels).map(([label, version]) => ({ what: `label "${label}"`, routing: (r: VersionRouting) => ({ ...r, labels: { ...r.labels, [label]: version } }), version, label })),
          ...(saved.traffic === undefined ? [] : [{ what: 'traffic split', routing: (r: VersionRouting) => withTraffic(r, saved.traffic), version: -1 }]),
        ];
        for (const piece of pieces) {
          try {
            await this.#repository.route(name, piece.routing(this.#repository.model(name).routing), { loadMissing: true });
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            const version = piece.version >= 0 ? { version: piece.version } : {};
            this.#log.warn({ model: name, ...version, err: error }, `the saved ${piece.what} cannot be restored; dropped`);
            await this.#audit?.append({ actor: 'startup', action: 'restore', model: name, ...version, ...(piece.label && { label: piece.label }), error }).catch(() => undefined);
          }
        }
      }
      this.#restored.add(name);
      this.#changed(name);
    })().finally(() => this.#restoring.delete(name));
    this.#restoring.set(name, restore);
    return restore;
  }

  /** The repository changed model `name`: its routing and default are saved (once its saved state is in). */
  #changed(name: string): void {
    let model;
    try {
      model = this.#repository.model(name);
    } catch {
      return; // unloaded: its state stays saved for when it loads again
    }
    if (!this.#restored.has(name)) {
      if (!this.#restoring.has(name)) void this.#restore(name);
      return;
    }
    const state = this.#state(name);
    const before = JSON.stringify(state);
    state.labels = { ...model.routing.labels };
    if (model.routing.default === undefined) delete state.pinned;
    else state.pinned = model.routing.default;
    const traffic = trafficOf(model.routing);
    if (traffic === undefined) delete state.traffic;
    else state.traffic = traffic;
    const current = this.#repository.defaultVersion(name);
    if (current !== undefined && state.history.at(-1) !== current) {
      state.history.push(current);
      state.history.splice(0, Math.max(0, state.history.length - HISTORY_LENGTH));
    }
    if (JSON.stringify(state) !== before) this.#save();
  }

  async #record(entry: Parameters<AuditLog['append']>[0]): Promise<void> {
    this.#log.info({ ...entry }, `lifecycle: ${entry.action}`);
    this.#changed(entry.model);
    this.#save();
    await Promise.all([this.#audit?.append(entry), this.#file?.flushed()]);
  }

  #save(): void {
    const models = Object.fromEntries(
      [...this.#models].map(([name, s]) => [
        name,
        {
          labels: s.labels,
          history: s.history,
          ...(s.pinned !== undefined && { pinned: s.pinned }),
          ...(s.traffic !== undefined && { traffic: s.traffic }),
          ...(s.rollout !== undefined && { rollout: s.rollout }),
        },
      ]),
    );
    this.#file?.write({ format: 1, models }).catch((err: unknown) => this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot save the lifecycle state'));
  }
}
