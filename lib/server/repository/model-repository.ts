/**
 * A Triton-style model repository, loaded: each model's configuration (read, checked,
 * completed from the model), the versions its version policy serves, and their state.
 * Loading a model that is already loaded loads the new versions first and swaps them in,
 * so that requests keep being served by the old ones until the new ones are ready.
 */
import type { Logger } from 'pino';
import { ProtocolError } from '../protocol/types';
import { type ModelSource, readModelSource } from '../config/config-source';
import type { ModelConfig } from '../config/model-config';
import type { HandlerFile } from '../handlers/handler-pool';
import { type ServedModel } from '../model/served-model';
import type { ServingObserver } from '../model/serving-observer';
import { type ModelFolder, checkModelName, checkVersion, listModelNames, readModelFolder, repositoryRoot } from './repository-files';
import { describePolicy, servedVersions } from './version-policy';
import { loadModelVersion } from './load-version';

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

interface VersionEntry {
  state: VersionState;
  reason: string;
  served?: ServedModel;
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
}

/** Options of {@link ModelRepository.open}. */
export interface RepositoryOptions {
  /** Where log lines go (one per load, unload and failure). */
  readonly log: Logger;
  /**
   * `'none'` (Triton's default): every model is loaded at start and the load/unload API is
   * refused. `'explicit'`: only `startupModels` are loaded, and the API loads and unloads.
   */
  readonly modelControl?: 'none' | 'explicit';
  /** With `'explicit'`: models to load at start (`'*'` for all). */
  readonly startupModels?: readonly string[];
  /** Told of each version as it starts serving and once it has retired (the server's metrics). */
  readonly observer?: ServingObserver;
}

/** The repository and the models loaded from it. */
export class ModelRepository {
  readonly root: string;
  readonly modelControl: 'none' | 'explicit';
  readonly #log: Logger;
  readonly #models = new Map<string, LoadedModel & { versions: Map<number, VersionEntry> }>();
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
    const startup = repo.modelControl === 'none' || options.startupModels?.includes('*') ? await listModelNames(repo.root) : (options.startupModels ?? []);
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
    checkModelName(name);
    const model = this.#models.get(name);
    if (model === undefined) {
      const failed = this.#failed.get(name);
      throw new ProtocolError(failed !== undefined ? `model "${name}" failed to load: ${failed}` : `model "${name}" is not loaded`, failed !== undefined ? 'UNAVAILABLE' : 'NOT_FOUND');
    }
    return model;
  }

  /**
   * The version of `name` that serves a request for `version` (empty or absent: the
   * highest ready one). Throws NOT_FOUND for an unknown model or version, UNAVAILABLE
   * for one that is not ready.
   */
  resolve(name: string, version?: string): ServedModel {
    const model = this.model(name);
    if (version === undefined || version === '') {
      const ready = [...model.versions.values()].filter((v) => v.state === 'READY' && v.served !== undefined);
      const served = ready.at(-1)?.served;
      if (served === undefined) throw new ProtocolError(`model "${name}" has no version ready`, 'UNAVAILABLE', 1);
      return served;
    }
    checkVersion(name, version);
    const entry = model.versions.get(Number(version));
    if (entry === undefined) throw new ProtocolError(`model "${name}" has no version ${version} (served: ${[...model.versions.keys()].join(', ') || 'none'})`, 'NOT_FOUND');
    if (entry.state !== 'READY' || entry.served === undefined) throw new ProtocolError(`model "${name}" version ${version} is ${entry.state}${entry.reason ? `: ${entry.reason}` : ''}`, 'UNAVAILABLE', 1);
    return entry.served;
  }

  /**
   * Loads (or reloads) model `name`: reads its configuration, loads the versions its
   * policy serves, and only then swaps them in and unloads the versions it no longer
   * serves. On failure the versions serving before keep serving.
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
    await this.#retire(name, model.versions, graceMs);
  }

  /** Retires `versions` of `name`: each answers what it has taken, then releases its sessions. */
  async #retire(name: string, versions: ReadonlyMap<number, VersionEntry>, graceMs: number): Promise<void> {
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

  async #load(name: string): Promise<void> {
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
    const wanted = servedVersions(folder.versions, source.config.version_policy);
    if (wanted.length === 0) {
      const err = new ProtocolError(`model "${name}" has no version folder that its version policy (${describePolicy(source.config.version_policy)}) serves; found ${folder.versions.join(', ') || 'none'}`, 'NOT_FOUND');
      this.#fail(name, err);
      throw err;
    }
    const old = this.#models.get(name);
    const versions = new Map<number, VersionEntry>();
    const failures: string[] = [];
    let config: ModelConfig | undefined;
    const ignored = new Set<string>();
    for (const version of wanted) {
      const versionStarted = performance.now();
      this.#setAside(name, version, 'LOADING');
      try {
        const loaded = await loadModelVersion(this.root, folder, source, version, this.#log);
        if (this.#observer !== undefined) loaded.served.observe(this.#observer.versionServing(name, version, (performance.now() - versionStarted) / 1000));
        config = loaded.config;
        for (const line of loaded.ignored) ignored.add(line);
        versions.set(version, { state: 'READY', reason: '', served: loaded.served });
        this.#log.info({ model: name, version, ms: Math.round(performance.now() - started) }, 'model version loaded');
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        failures.push(`version ${version}: ${reason}`);
        versions.set(version, { state: 'UNAVAILABLE', reason });
        this.#log.error({ model: name, version, err: reason }, 'model version failed to load');
      } finally {
        this.#setAside(name, version, undefined);
      }
    }
    if (![...versions.values()].some((v) => v.state === 'READY')) {
      const err = new ProtocolError(`model "${name}" failed to load: ${failures.join('; ')}`, 'INVALID_ARGUMENT');
      // The versions serving before (if any) keep serving.
      if (old === undefined) {
        this.#failed.set(name, failures.join('; '));
        for (const version of versions.keys()) this.#setAside(name, version, 'UNAVAILABLE');
      }
      throw err;
    }
    for (const line of ignored) this.#log.warn({ model: name }, line);
    this.#failed.delete(name);
    this.#models.set(name, { name, config: config as ModelConfig, versions, ...(folder.handler && { handler: folder.handler }) });
    // Requests already given an old version are answered by it before it goes.
    if (old !== undefined) await this.#retire(name, old.versions, Infinity);
  }

  #fail(name: string, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (!this.#models.has(name)) this.#failed.set(name, reason);
    this.#log.error({ model: name, err: reason }, 'model failed to load');
  }
}

