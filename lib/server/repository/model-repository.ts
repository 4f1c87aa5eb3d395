/**
 * A Triton-style model repository, loaded: each model's configuration (read, checked,
 * completed from the model), the versions its version policy serves, and their state.
 * Loading a model that is already loaded loads what changed (new versions, changed model
 * files, or all of them when the configuration changed) and keeps the rest as they are;
 * the new copies are warmed up, then swapped in at once, and the old ones answer what they
 * took before they go. A version that fails to load never gets a request.
 *
 * Each model also has its routing: the version that requests naming none go to (by
 * default the highest ready one) and labels (`stable`, `canary`) naming versions. The
 * repository keeps the versions that routing points at loaded even where the version
 * policy would drop them; what sets the routing (rollback, labels, rollouts) is the
 * lifecycle's, above this folder.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ProtocolError, invalid } from '../protocol/types';
import { type ModelSource, readModelSource } from '../config/config-source';
import type { ModelConfig } from '../config/model-config';
import type { HandlerFile } from '../handlers/handler-pool';
import { type ServedModel } from '../model/served-model';
import type { ServingObserver } from '../model/serving-observer';
import { type ModelFolder, checkModelName, checkVersion, listModelNames, readModelFolder, repositoryRoot } from './repository-files';
import { describePolicy, servedVersions } from './version-policy';
import { loadModelVersion, versionStamp } from './load-version';
import type { ModelCard } from './model-card';
import { type RouteKind, type VersionRouting, checkLabel, checkRouting, pickVersion, pruneRouting, routedVersions } from './version-routing';

export { checkLabel, type VersionRouting } from './version-routing';

/** A version's state, as Triton names them. */
export type VersionState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** One row of the repository index (Triton's `POST /v2/repository/index`). */
export interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: VersionState;
  readonly reason?: string;
}

/** A version and its state now (see {@link ModelRepository.versionStates}). */
export interface VersionStatus {
  readonly name: string;
  readonly version: number;
  readonly state: VersionState;
}

/** A version as the repository holds it. */
export interface VersionEntry {
  readonly state: VersionState;
  /** Why it is not READY; or, READY, why its files' new copy is not the one serving. */
  readonly reason: string;
  readonly served?: ServedModel;
  /** Its model card, if its folder has one. */
  readonly card?: ModelCard;
}

interface HeldVersion extends VersionEntry {
  state: VersionState;
  reason: string;
  /** Its files as loaded (see versionStamp): unchanged files are not loaded again. */
  stamp?: string;
  /** The configuration in force for it. */
  config?: ModelConfig;
}

/** A model as the repository holds it. */
export interface LoadedModel {
  readonly name: string;
  /** The configuration in force: the file's (if any), completed from the latest version's model. */
  readonly config: ModelConfig;
  /** Served versions by number, ascending. */
  readonly versions: ReadonlyMap<number, VersionEntry>;
  /** Its custom handler (handler.mjs), if its folder has one. */
  readonly handler?: HandlerFile;
  /** Where requests naming no version, or a label, go. */
  readonly routing: VersionRouting;
}

interface HeldModel extends LoadedModel {
  readonly versions: Map<number, HeldVersion>;
  routing: VersionRouting;
  /** The configuration as its file gave it: when it changes, every version loads again. */
  readonly configKey: string;
}

/** How models get loaded and unloaded (see {@link RepositoryOptions.modelControl}). */
export type ModelControl = 'none' | 'explicit' | 'poll';

/** Told that model `name` changed: loaded, reloaded, unloaded, or routed anew. */
export type RepositoryListener = (name: string) => void;

/** Options of {@link ModelRepository.open}. */
export interface RepositoryOptions {
  /** Where log lines go (one per load, unload and failure). */
  readonly log: Logger;
  /**
   * `'none'` (Triton's default): every model is loaded at start and the load/unload API is
   * refused. `'explicit'`: only `startupModels` are loaded, and the API loads and unloads.
   * `'poll'`: every model is loaded at start, and a watcher of the folder (see
   * repository-watcher.ts) loads what changes; the API is refused.
   */
  readonly modelControl?: ModelControl;
  /** With `'explicit'`: models to load at start (`'*'` for all). */
  readonly startupModels?: readonly string[];
  /** Told of each version as it starts serving and once it has retired (the server's metrics). */
  readonly observer?: ServingObserver;
}

/** The repository and the models loaded from it. */
export class ModelRepository {
  readonly root: string;
  readonly modelControl: ModelControl;
  readonly #log: Logger;
  readonly #models = new Map<string, HeldModel>();
  readonly #listeners = new Set<RepositoryListener>();
  /** Models whose load failed, and why (they appear in the index as UNAVAILABLE). */
  readonly #failed = new Map<string, string>();
  /** A model's load or unload in progress: the next waits for it. */
  readonly #busy = new Map<string, Promise<unknown>>();
  /**
   * States of versions that #models does not hold: loading (not swapped in yet),
   * unloading (swapped out, answering what they took), or failed on a model's first load
   * (so that no version of it serves).
   */
  readonly #aside = new Map<string, Map<number, VersionState>>();
  readonly #observer: ServingObserver | undefined;

  private constructor(root: string, options: RepositoryOptions) {
    this.root = root;
    this.modelControl = options.modelControl ?? 'none';
    this.#log = options.log;
    this.#observer = options.observer;
  }

  /**
   * Opens the repository at `path` and loads its models (all of them, or with explicit
   * model control the `startupModels`). A model that fails to load is logged and left
   * UNAVAILABLE; the others serve.
   */
  static async open(path: string, options: RepositoryOptions): Promise<ModelRepository> {
    const repo = new ModelRepository(await repositoryRoot(path), options);
    const startup = repo.modelControl !== 'explicit' || options.startupModels?.includes('*') ? await listModelNames(repo.root) : (options.startupModels ?? []);
    for (const name of startup) {
      try {
        await repo.load(name);
      } catch {
        // Logged and recorded by load(); the other models still load.
      }
    }
    return repo;
  }

  /** Whether every model asked for has a version ready (Triton's strict readiness). */
  get allReady(): boolean {
    if (this.#failed.size > 0) return false;
    for (const model of this.#models.values()) {
      for (const v of model.versions.values()) if (v.state !== 'READY') return false;
    }
    return true;
  }

  /** Triton's repository index: every model folder, with the state of each loaded version. */
  async index(readyOnly = false): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    for (const name of await listModelNames(this.root)) {
      const model = this.#models.get(name);
      const failed = this.#failed.get(name);
      if (model !== undefined) {
        for (const [version, v] of model.versions) entries.push({ name, version: String(version), state: v.state, reason: v.reason });
      } else if (failed !== undefined) {
        entries.push({ name, state: 'UNAVAILABLE', reason: failed });
      } else if (!readyOnly) {
        entries.push({ name });
      }
    }
    return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
  }

  /**
   * The state of each version the repository knows of now: those of loaded models (READY,
   * or UNAVAILABLE where that version failed), and those loading, unloading, or failed
   * when no version of their model loaded. Synchronous and cheap: the metrics read it at
   * each scrape.
   */
  /** Each loaded model's routing (labels, split, shadow), for the metrics. */
  routings(): [string, VersionRouting][] {
    return [...this.#models].map(([name, model]) => [name, model.routing]);
  }

  versionStates(): VersionStatus[] {
    const rows: VersionStatus[] = [];
    for (const [name, model] of this.#models) {
      for (const [version, v] of model.versions) rows.push({ name, version, state: v.state });
    }
    for (const [name, versions] of this.#aside) {
      // A version swapped in wins over its old copy unloading, or its new one loading.
      const served = this.#models.get(name)?.versions;
      for (const [version, state] of versions) if (served?.has(version) !== true) rows.push({ name, version, state });
    }
    return rows;
  }

  #setAside(name: string, version: number, state: VersionState | undefined): void {
    let versions = this.#aside.get(name);
    if (state === undefined) {
      versions?.delete(version);
      if (versions?.size === 0) this.#aside.delete(name);
      return;
    }
    if (versions === undefined) this.#aside.set(name, (versions = new Map()));
    versions.set(version, state);
  }

  /** The loaded model `name`; throws NOT_FOUND if it is not loaded. */
  model(name: string): LoadedModel {
    return this.#held(name);
  }

  #held(name: string): HeldModel {
    checkModelName(name);
    const model = this.#models.get(name);
    if (model === undefined) {
      const failed = this.#failed.get(name);
      throw new ProtocolError(failed !== undefined ? `model "${name}" failed to load: ${failed}` : `model "${name}" is not loaded`, failed !== undefined ? 'UNAVAILABLE' : 'NOT_FOUND');
    }
    return model;
  }

  /**
   * The version of `name` that serves a request for `version`, or for `label` (neither:
   * the routing's routes and split by the request's keys, else its default, else the
   * highest ready one). Throws NOT_FOUND for an unknown model, version or label,
   * UNAVAILABLE for a version that is not ready.
   *
   * @param key - Reads a request key (a header, a parameter) for routes and sticky splits.
   */
  resolve(name: string, version?: string, label?: string, key?: (name: string) => string | undefined): ServedModel {
    return this.resolveRoute(name, version, label, key).served;
  }

  /** {@link ModelRepository.resolve}, with how the version was picked. */
  resolveRoute(name: string, version?: string, label?: string, key: (name: string) => string | undefined = () => undefined): { readonly served: ServedModel; readonly kind: RouteKind } {
    const model = this.#held(name);
    if (label !== undefined && label !== '') {
      if (version !== undefined && version !== '') throw invalid(`a request names version ${version} or label "${label}", not both`);
      checkLabel(label);
      const labelled = model.routing.labels[label];
      if (labelled === undefined) {
        const labels = Object.keys(model.routing.labels);
        throw new ProtocolError(`model "${name}" has no label "${label}" (labels: ${labels.join(', ') || 'none'})`, 'NOT_FOUND');
      }
      return { served: this.#ready(model, labelled, ` (label "${label}")`), kind: 'label' };
    }
    if (version === undefined || version === '') {
      const picked = pickVersion(model.routing, key);
      if (picked !== undefined) return { served: this.#ready(model, picked.version, ` (by the model's ${picked.kind === 'route' ? 'routes' : 'traffic split'})`), kind: picked.kind };
      if (model.routing.default !== undefined) return { served: this.#ready(model, model.routing.default, ' (the default version)'), kind: 'default' };
      const served = highestReady(model)?.served;
      if (served === undefined) throw new ProtocolError(`model "${name}" has no version ready`, 'UNAVAILABLE', 1);
      return { served, kind: 'default' };
    }
    checkVersion(name, version);
    return { served: this.#ready(model, Number(version), ''), kind: 'version' };
  }

  #ready(model: HeldModel, version: number, what: string): ServedModel {
    const entry = model.versions.get(version);
    if (entry === undefined) throw new ProtocolError(`model "${model.name}" has no version ${version}${what} (served: ${[...model.versions.keys()].join(', ') || 'none'})`, 'NOT_FOUND');
    if (entry.state !== 'READY' || entry.served === undefined) {
      throw new ProtocolError(`model "${model.name}" version ${version}${what} is ${entry.state}${entry.reason ? `: ${entry.reason}` : ''}`, 'UNAVAILABLE', 1);
    }
    return entry.served;
  }

  /** The version that requests naming none go to now, if one is ready. */
  defaultVersion(name: string): number | undefined {
    const model = this.#models.get(name);
    if (model === undefined) return undefined;
    if (model.routing.default !== undefined) return model.versions.get(model.routing.default)?.state === 'READY' ? model.routing.default : undefined;
    return highestReady(model)?.served?.version;
  }

  /**
   * Sets model `name`'s routing. Every version it points at must be ready; with
   * `loadMissing`, versions that are not loaded but have folders are loaded first (a
   * rollback to a version the policy had dropped), kept loaded from then on.
   *
   * @throws {@link ProtocolError} NOT_FOUND for an unknown model or a version with no
   *   folder, UNAVAILABLE for one that is not ready, INVALID_ARGUMENT for a bad label.
   */
  async route(name: string, routing: VersionRouting, options: { loadMissing?: boolean } = {}): Promise<void> {
    checkModelName(name);
    checkRouting(routing);
    await this.#exclusive(name, async () => {
      let model = this.#held(name);
      const missing = routedVersions(routing).filter((v) => model.versions.get(v)?.state !== 'READY');
      if (missing.length > 0 && options.loadMissing === true) {
        // Another version failing is not this call's business: #ready below checks the ones it needs.
        await this.#load(name, { alsoServe: missing, retryFailed: false }).catch(() => undefined);
        model = this.#held(name);
      }
      for (const v of routedVersions(routing)) this.#ready(model, v, '');
      model.routing = structuredClone(routing);
      this.#notify(name);
      // Versions kept only for the routing before, and no longer pointed at, go.
      await this.#load(name, { retryFailed: false }).catch((err: unknown) =>
        this.#log.warn({ model: name, err: err instanceof Error ? err.message : String(err) }, 'a reload after routing failed; the routing is set'),
      );
    });
  }

  /** Calls `listener` after each change of a model (see {@link RepositoryListener}); returns what stops it. */
  subscribe(listener: RepositoryListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(name: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(name);
      } catch (err) {
        this.#log.error({ model: name, err: err instanceof Error ? err.message : String(err) }, 'a repository listener failed');
      }
    }
  }

  /**
   * Loads (or reloads) model `name`: reads its configuration, loads the versions its
   * policy serves (and those its routing points at) that are new or whose files changed,
   * and only then swaps them in and unloads the copies it no longer serves. A version
   * that fails keeps its old copy serving, if it had one. Throws when any version failed,
   * after the others are in.
   */
  load(name: string): Promise<void> {
    return this.#exclusive(name, () => this.#load(name));
  }

  /** Unloads model `name`: it stops taking requests, those in flight finish, its sessions are released. */
  unload(name: string): Promise<void> {
    checkModelName(name);
    return this.#exclusive(name, () => this.#unload(name, Infinity));
  }

  async #unload(name: string, graceMs: number): Promise<void> {
    const model = this.#models.get(name);
    this.#failed.delete(name);
    this.#aside.delete(name);
    if (model === undefined) return;
    this.#models.delete(name);
    this.#notify(name);
    await this.#retire(name, model.versions, graceMs);
  }

  /** Retires `versions` of `name`: each answers what it has taken, then releases its sessions. */
  async #retire(name: string, versions: ReadonlyMap<number, HeldVersion>, graceMs: number): Promise<void> {
    await Promise.all(
      [...versions].map(async ([version, v]) => {
        v.state = 'UNLOADING';
        if (v.served !== undefined) this.#setAside(name, version, 'UNLOADING');
        await v.served?.retire(graceMs);
        if (v.served !== undefined) {
          this.#setAside(name, version, undefined);
          this.#observer?.versionRetired(name, version);
        }
        this.#log.info({ model: name, version }, 'model version unloaded');
      }),
    );
  }

  /** The names of the loaded models. */
  loadedNames(): string[] {
    return [...this.#models.keys()].sort();
  }

  /** Unloads every model, giving each `graceMs` to answer the requests it has taken. */
  async close(graceMs = Infinity): Promise<void> {
    await Promise.all([...this.#models.keys()].map((name) => this.#exclusive(name, () => this.#unload(name, graceMs))));
  }

  async #exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(name) ?? Promise.resolve();
    const next = before.catch(() => undefined).then(work);
    this.#busy.set(name, next);
    try {
      return await next;
    } finally {
      if (this.#busy.get(name) === next) this.#busy.delete(name);
    }
  }

  /**
   * `alsoServe`: versions to load beyond the policy's and the routing's. `retryFailed`:
   * whether a version that failed with the same files is tried again (what a load call
   * asks for), or left failed (reloads the repository makes for itself).
   */
  async #load(name: string, { alsoServe = [], retryFailed = true }: { alsoServe?: readonly number[]; retryFailed?: boolean } = {}): Promise<void> {
    const started = performance.now();
    // What an earlier load left here (versions that failed) is stale from now on.
    this.#aside.delete(name);
    let folder: ModelFolder;
    let source: ModelSource;
    try {
      folder = await readModelFolder(this.root, name);
      source = readModelSource(folder);
    } catch (err) {
      this.#fail(name, err);
      throw err;
    }
    const old = this.#models.get(name);
    const routing = old?.routing ?? { labels: {} };
    const onDisk = new Set(folder.versions);
    // The policy's versions, and those the routing points at while their folders exist.
    const wanted = [...new Set([...servedVersions(folder.versions, source.config.version_policy), ...[...routedVersions(routing), ...alsoServe].filter((v) => onDisk.has(v))])].sort((a, b) => a - b);
    if (wanted.length === 0) {
      const err = new ProtocolError(`model "${name}" has no version folder that its version policy (${describePolicy(source.config.version_policy)}) serves; found ${folder.versions.join(', ') || 'none'}`, 'NOT_FOUND');
      this.#fail(name, err);
      throw err;
    }
    const configKey = folder.config?.text ?? '';
    const versions = new Map<number, HeldVersion>();
    const failures: string[] = [];
    const ignored = new Set<string>();
    for (const version of wanted) {
      const stamp = await versionStamp(this.root, folder, source, version);
      const current = old?.versions.get(version);
      const serving = current?.state === 'READY' && current.served !== undefined ? current : undefined;
      if (serving !== undefined && serving.stamp === stamp && old?.configKey === configKey) {
        versions.set(version, serving);
        continue;
      }
      if (!retryFailed && current !== undefined && serving === undefined && current.state === 'UNAVAILABLE' && current.stamp === stamp && old?.configKey === configKey) {
        versions.set(version, current);
        continue;
      }
      const versionStarted = performance.now();
      this.#setAside(name, version, 'LOADING');
      try {
        const loaded = await loadModelVersion(this.root, folder, source, version, this.#log);
        if (this.#observer !== undefined) {
          const served = { folder: join(folder.path, String(version)), plan: loaded.served.plan, parameters: loaded.config.parameters };
          loaded.served.observe(this.#observer.versionServing(name, version, (performance.now() - versionStarted) / 1000, served));
        }
        for (const line of loaded.ignored) ignored.add(line);
        versions.set(version, { state: 'READY', reason: '', served: loaded.served, stamp, config: loaded.config, ...(loaded.card && { card: loaded.card }) });
        this.#log.info({ model: name, version, ms: Math.round(performance.now() - versionStarted) }, 'model version loaded');
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        failures.push(`version ${version}: ${reason}`);
        this.#observer?.versionFailed?.(name, version, reason);
        this.#log.error({ model: name, version, err: reason }, serving ? 'model version failed to reload; the copy loaded before keeps serving' : 'model version failed to load');
        // The copy that served before (if any) goes on serving; a new version gets no request.
        versions.set(version, serving ? { ...serving, reason: `its new files failed to load, so the copy loaded before serves: ${reason}` } : { state: 'UNAVAILABLE', reason, stamp });
      } finally {
        this.#setAside(name, version, undefined);
      }
    }
    if (![...versions.values()].some((v) => v.state === 'READY')) {
      const err = new ProtocolError(`model "${name}" failed to load: ${failures.join('; ')}`, 'INVALID_ARGUMENT');
      if (old === undefined) {
        this.#failed.set(name, failures.join('; '));
        for (const version of versions.keys()) this.#setAside(name, version, 'UNAVAILABLE');
      } else {
        // The versions serving before keep serving; the index shows the new ones' failures.
        for (const [version, v] of versions) if (!old.versions.has(version)) old.versions.set(version, v);
      }
      throw err;
    }
    for (const line of ignored) this.#log.warn({ model: name }, line);
    this.#failed.delete(name);
    // Routing to versions no longer ready (their folders gone, or failed) is dropped, loudly.
    const ready = (v: number) => versions.get(v)?.state === 'READY';
    const kept = pruneRouting(routing, ready);
    for (const dropped of routedVersions(routing).filter((v) => !ready(v))) {
      this.#log.warn({ model: name, version: dropped }, 'routing pointed at a version that is no longer served; dropped');
    }
    const config = highestReady({ versions })?.config ?? old?.config;
    this.#models.set(name, { name, config: config as ModelConfig, versions, routing: kept, configKey, ...(folder.handler && { handler: folder.handler }) });
    this.#notify(name);
    if (old !== undefined) {
      // Requests already given an old copy are answered by it before it goes.
      const kept = new Set([...versions.values()].map((v) => v.served));
      await this.#retire(name, new Map([...old.versions].filter(([, v]) => !kept.has(v.served))), Infinity);
    }
    if (failures.length > 0) throw new ProtocolError(`model "${name}": ${failures.join('; ')}`, 'INVALID_ARGUMENT');
    this.#log.debug({ model: name, ms: Math.round(performance.now() - started) }, 'model loaded');
  }

  #fail(name: string, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (!this.#models.has(name)) this.#failed.set(name, reason);
    this.#log.error({ model: name, err: reason }, 'model failed to load');
  }
}


/** The highest version of `model` that is ready. */
function highestReady<V extends VersionEntry>(model: { readonly versions: ReadonlyMap<number, V> }): V | undefined {
  let best: [number, V] | undefined;
  for (const [version, v] of model.versions) if (v.state === 'READY' && v.served !== undefined && (best === undefined || version > best[0])) best = [version, v];
  return best?.[1];
}
