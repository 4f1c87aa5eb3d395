/**
 * Rollouts declared in the repository, for GitOps: a model folder with a `rollout.json`
 * (the rollout settings, as the API takes them, without versions) has each new version
 * rolled out progressively instead of taking all of its traffic at once.
 *
 * While the file is there, the model's default is held at the version serving (pinned, as
 * a promotion pins it); when a higher version becomes ready, a rollout of it starts from
 * that default, as the repository's actor. A version rolled back or aborted is not rolled
 * out again by the file: a new version number is (or a rollout started by hand). The file
 * is read at each change of the model, so a commit that edits it applies to the next
 * version.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { InferenceServer } from '../server/inference-server';
import { inside } from '../server/repository/repository-files';
import type { RolloutController } from './progressive-rollout';
import { rolloutSettingsFromJson } from './rollout-spec';
import type { VersionControl } from './version-control';

/** The file in a model's folder that declares its rollouts. */
export const ROLLOUT_FILE = 'rollout.json';

/** The actor of what a `rollout.json` does, in the audit log. */
const ACTOR = 'repository';

/** Applies the models' `rollout.json` files as the repository changes. */
export class DeclaredRollouts {
  readonly #core: InferenceServer;
  readonly #control: VersionControl;
  readonly #rollouts: RolloutController;
  readonly #log: Logger;
  /** One check at a time per model: a change during a check is looked at after it. */
  readonly #checking = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  /** The last error each model's file gave, logged once until it changes. */
  readonly #errors = new Map<string, string>();
  readonly #unsubscribe: () => void;

  private constructor(core: InferenceServer, control: VersionControl, rollouts: RolloutController) {
    this.#core = core;
    this.#control = control;
    this.#rollouts = rollouts;
    this.#log = core.log;
    this.#unsubscribe = core.repository.subscribe((name) => this.#changed(name));
  }

  /** Starts following the repository, and applies the files of the models loaded now. */
  static async open(core: InferenceServer, control: VersionControl, rollouts: RolloutController): Promise<DeclaredRollouts> {
    const declared = new DeclaredRollouts(core, control, rollouts);
    for (const name of core.repository.loadedNames()) declared.#changed(name);
    await declared.settled();
    return declared;
  }

  /** Resolves when the checks under way are done. */
  async settled(): Promise<void> {
    while (this.#checking.size > 0) await Promise.all(this.#checking.values());
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    await this.settled();
  }

  #changed(name: string): void {
    if (this.#checking.has(name)) {
      this.#again.add(name);
      return;
    }
    const check = this.#check(name)
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (this.#errors.get(name) !== message) this.#log.error({ model: name, err: message }, `${ROLLOUT_FILE} cannot be applied`);
        this.#errors.set(name, message);
      })
      .finally(() => {
        this.#checking.delete(name);
        if (this.#again.delete(name)) this.#changed(name);
      });
    this.#checking.set(name, check);
  }

  async #check(name: string): Promise<void> {
    const repository = this.#core.repository;
    if (!repository.loadedNames().includes(name) || this.#rollouts.active(name)) return;
    const settings = await this.#read(name);
    if (settings === undefined) return;
    this.#errors.delete(name);
    const current = repository.defaultVersion(name);
    if (current === undefined) return;
    const model = repository.model(name);
    // Held where it is: a new version must not take the default before its rollout starts.
    if (model.routing.default === undefined) await this.#control.promote(name, current, ACTOR);
    const ready = [...model.versions].filter(([, v]) => v.state === 'READY').map(([version]) => version);
    const newest = Math.max(...ready);
    if (!(newest > current)) return;
    const last = this.#rollouts.status(name);
    if (last !== undefined && last.spec.candidate === newest && last.phase !== 'promoted') return;
    await this.#rollouts.start(name, { ...settings, candidate: newest, baseline: current }, ACTOR);
  }

  /** The model's `rollout.json`, read and checked; undefined when it has none. */
  async #read(name: string): Promise<Record<string, unknown> | undefined> {
    const root = this.#core.repository.root;
    const path = await inside(root, join(root, name, ROLLOUT_FILE));
    if (path === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      throw new Error(`${join(name, ROLLOUT_FILE)}: ${(err as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${join(name, ROLLOUT_FILE)} must hold a JSON object of rollout settings`);
    try {
      rolloutSettingsFromJson(json as Record<string, unknown>);
    } catch (err) {
      throw new Error(`${join(name, ROLLOUT_FILE)}: ${(err as Error).message}`);
    }
    return json as Record<string, unknown>;
  }
}
