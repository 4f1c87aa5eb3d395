/**
 * Progressive rollouts, as Flagger and Argo Rollouts run them but in process: a candidate
 * version gets a growing share of a model's traffic, step by step (1%, 10%, 50%, 100%,
 * say); at each step its requests are watched for a window and judged against thresholds
 * (rollout-analysis.ts); a window that holds moves it on, the last one promotes it, a
 * failed one (or as many as asked) rolls it back to the baseline. A window with too few
 * requests pauses the rollout where it is, collecting on, and never fails it.
 *
 * The controller sees every request the two versions answer through the server's
 * observers (a Map lookup per request), and moves the traffic through the version
 * control, which saves it: a restart mid-rollout picks it up at the same step, with a
 * fresh window.
 */
import type { Logger } from 'pino';
import type { InferenceServer } from '../server/inference-server';
import type { ServingObserver, VersionObserver } from '../server/model/serving-observer';
import { ProtocolError, invalid } from '../server/protocol/types';
import { type WindowVerdict, judgeWindow } from './rollout-analysis';
import { type RolloutSpec, rolloutSettingsFromJson, rolloutSpecToJson } from './rollout-spec';
import { type Traffic, type VersionControl, versionField } from './version-control';
import { type WindowFigures, VersionWindow } from './version-window';

/** Where a rollout is: moving on, waiting for enough requests, or ended one of three ways. */
export type RolloutPhase = 'progressing' | 'waiting' | 'promoted' | 'rolled_back' | 'aborted';

/** A judged window, as the status shows the latest. */
export interface JudgedWindow extends WindowVerdict {
  /** ISO 8601 time of the judgement. */
  readonly time: string;
  readonly weight: number;
  readonly candidate: WindowFigures;
  readonly baseline: WindowFigures;
}

/** A rollout's state, as the API shows it and the state file keeps it. */
export interface RolloutStatus {
  readonly model: string;
  readonly phase: RolloutPhase;
  /** Its settings (`candidate`, `baseline`, `steps`, thresholds), as the API takes them. */
  readonly spec: Record<string, unknown>;
  /** The step it is at (an index into `spec.steps`), and that step's percent of the traffic. */
  readonly step: number;
  readonly weight: number;
  /** Who started it: the credential's name, or `repository` for a `rollout.json`. */
  readonly actor: string;
  readonly started_at: string;
  readonly step_started_at: string;
  readonly ended_at?: string;
  /** Why it ended, or why it waits. */
  readonly reason?: string;
  readonly windows_passed: number;
  readonly windows_failed: number;
  /** The latest window judged (pass, fail or inconclusive). */
  readonly last_window?: JudgedWindow;
  /** The window collecting now: the two versions' figures so far. */
  readonly current_window?: { readonly candidate: WindowFigures; readonly baseline: WindowFigures };
}

type MutableStatus = { -readonly [K in keyof RolloutStatus]: RolloutStatus[K] };

/** A rollout in progress. */
interface Active {
  readonly spec: RolloutSpec;
  status: MutableStatus;
  candidate: VersionWindow;
  baseline: VersionWindow;
  timer: NodeJS.Timeout | undefined;
  /** A judgement or a move under way: a second one waits for the next tick. */
  busy: Promise<void> | undefined;
}

const ACTIVE_PHASES: readonly RolloutPhase[] = ['progressing', 'waiting'];

/** The traffic of `spec` at a step of `weight` percent. */
function trafficAt(spec: RolloutSpec, weight: number): Traffic {
  return {
    // The candidate first: a sticky key's point in [0, 100) that fell on it stays on it as its weight grows.
    split: [
      { version: spec.candidate, weight },
      { version: spec.baseline, weight: 100 - weight },
    ],
    ...(spec.stickyKey !== undefined && { stickyKey: spec.stickyKey }),
    ...(spec.shadowShare !== undefined && weight < 100 && { shadow: { version: spec.candidate, share: spec.shadowShare } }),
  };
}

const versionIn = (body: Record<string, unknown>, field: string) => versionField(body, field, 'the rollout');

/** Runs the progressive rollouts of one server's models. */
export class RolloutController {
  readonly #core: InferenceServer;
  readonly #control: VersionControl;
  readonly #log: Logger;
  readonly #active = new Map<string, Active>();
  /** Models whose rollout is being started (its first step's traffic being set). */
  readonly #starting = new Set<string>();
  readonly #stopObserving: () => void;
  #closed = false;

  private constructor(core: InferenceServer, control: VersionControl) {
    this.#core = core;
    this.#control = control;
    this.#log = core.log;
    this.#stopObserving = core.observe(this.#observer());
  }

  /** Starts the controller, and resumes the rollouts that were in progress when the server stopped. */
  static async open(core: InferenceServer, control: VersionControl): Promise<RolloutController> {
    const controller = new RolloutController(core, control);
    for (const [name, saved] of control.savedRollouts()) {
      const status = saved as unknown as RolloutStatus;
      if (!ACTIVE_PHASES.includes(status.phase)) continue;
      try {
        const spec = RolloutController.#specOf(status.spec);
        controller.#begin(name, spec, { ...status }, 'resumed');
      } catch (err) {
        core.log.error({ model: name, err: (err as Error).message }, 'the saved rollout cannot be resumed; left as it was');
      }
    }
    return controller;
  }

  static #specOf(json: Record<string, unknown>): RolloutSpec {
    const candidate = versionIn(json, 'candidate');
    const baseline = versionIn(json, 'baseline');
    if (candidate === undefined || baseline === undefined) throw invalid('the rollout names no candidate or baseline');
    return { ...rolloutSettingsFromJson(json, ['candidate', 'baseline']), candidate, baseline };
  }

  /** Whether model `name` has a rollout in progress. */
  active(name: string): boolean {
    return this.#active.has(name) || this.#starting.has(name);
  }

  /** Model `name`'s rollout in progress, else its latest one; undefined when it never had one. */
  status(name: string): RolloutStatus | undefined {
    const active = this.#active.get(name);
    if (active === undefined) return this.#control.savedRollout(name) as RolloutStatus | undefined;
    return { ...active.status, current_window: { candidate: active.candidate.figures(), baseline: active.baseline.figures() } };
  }

  /**
   * Starts rolling out `body.candidate` of model `name` from `body.baseline` (default: the
   * version serving by default now), with the settings `body` gives (JSON, as the API
   * takes it). Throws INVALID_ARGUMENT for bad settings, a rollout already in progress, or
   * versions that cannot serve.
   */
  async start(name: string, body: Record<string, unknown>, actor: string): Promise<RolloutStatus> {
    this.#core.repository.model(name);
    const running = this.#active.get(name);
    if (running !== undefined) {
      throw invalid(`model "${name}" has a rollout of version ${running.spec.candidate} in progress (at ${running.status.weight}%); abort or promote it first`);
    }
    if (this.#starting.has(name)) throw invalid(`model "${name}" has a rollout starting; abort or promote it first`);
    const candidate = versionIn(body, 'candidate');
    if (candidate === undefined) throw invalid('the rollout needs a "candidate" version');
    const baseline = versionIn(body, 'baseline') ?? this.#core.repository.defaultVersion(name);
    if (baseline === undefined) throw invalid(`model "${name}" has no version serving to roll out from; give a "baseline"`);
    if (baseline === candidate) throw invalid(`version ${candidate} of model "${name}" is the baseline already`);
    const spec: RolloutSpec = { ...rolloutSettingsFromJson(body, ['candidate', 'baseline']), candidate, baseline };
    const now = new Date().toISOString();
    const status: MutableStatus = { model: name, phase: 'progressing', spec: rolloutSpecToJson(spec), step: 0, weight: spec.steps[0], actor, started_at: now, step_started_at: now, windows_passed: 0, windows_failed: 0 };
    // The first step's traffic is set before the rollout counts as started: versions that cannot serve refuse it here.
    this.#starting.add(name);
    try {
      await this.#control.route(name, { default: baseline, traffic: trafficAt(spec, spec.steps[0]) }, { actor, action: 'rollout-start', version: candidate, from: baseline, weight: spec.steps[0], rollout: status.spec });
    } finally {
      this.#starting.delete(name);
    }
    this.#begin(name, spec, status, 'started');
    await this.#save(name, status);
    return this.status(name) as RolloutStatus;
  }

  /** Ends model `name`'s rollout now, all traffic back on the baseline. Throws NOT_FOUND without one in progress. */
  async abort(name: string, actor: string): Promise<RolloutStatus> {
    const active = await this.#settled(name);
    await this.#end(name, active, 'aborted', `aborted by ${actor}`, actor);
    return this.status(name) as RolloutStatus;
  }

  /** Ends model `name`'s rollout now by promoting its candidate, whatever its windows say. Throws NOT_FOUND without one in progress. */
  async promote(name: string, actor: string): Promise<RolloutStatus> {
    const active = await this.#settled(name);
    await this.#end(name, active, 'promoted', `promoted by ${actor}`, actor);
    return this.status(name) as RolloutStatus;
  }

  /** Stops judging (rollouts in progress stay saved as they are, to resume at the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopObserving();
    for (const active of this.#active.values()) clearTimeout(active.timer);
    await Promise.all([...this.#active.values()].map((a) => a.busy));
    this.#active.clear();
  }

  /** Model `name`'s rollout in progress, once a judgement under way is done (it may end it). */
  async #settled(name: string): Promise<Active> {
    await this.#active.get(name)?.busy;
    const active = this.#active.get(name);
    if (active === undefined) throw new ProtocolError(`model "${name}" has no rollout in progress`, 'NOT_FOUND');
    clearTimeout(active.timer);
    return active;
  }

  /** Sees the two versions' requests of each rollout. */
  #observer(): ServingObserver {
    const windowOf = (model: string, version: number): VersionWindow | undefined => {
      const active = this.#active.get(model);
      if (active === undefined) return undefined;
      return version === active.spec.candidate ? active.candidate : version === active.spec.baseline ? active.baseline : undefined;
    };
    return {
      versionServing: (model, version): VersionObserver => ({
        onRequestStart: () => undefined,
        onQueued: () => undefined,
        onBatch: () => undefined,
        onRequestEnd: (failure, seconds) => windowOf(model, version)?.record(failure, seconds),
      }),
      versionRetired: () => undefined,
      shadowed: (model, version, outcome) => {
        const active = this.#active.get(model);
        if (active !== undefined && version === active.spec.candidate) active.candidate.shadow(outcome);
      },
    };
  }

  #begin(name: string, spec: RolloutSpec, status: MutableStatus, how: string): void {
    const active: Active = { spec, status, candidate: new VersionWindow(), baseline: new VersionWindow(), timer: undefined, busy: undefined };
    this.#active.set(name, active);
    this.#log.info({ model: name, candidate: spec.candidate, baseline: spec.baseline, step: status.step, weight: status.weight }, `rollout ${how}`);
    this.#schedule(name, active);
  }

  #schedule(name: string, active: Active): void {
    if (this.#closed) return;
    active.timer = setTimeout(() => {
      active.busy = this.#judge(name, active)
        .catch((err: unknown) => this.#log.error({ model: name, err: err instanceof Error ? err.message : String(err) }, 'rollout: a judgement failed; tried again at the next window'))
        .finally(() => {
          active.busy = undefined;
          if (this.#active.get(name) === active) this.#schedule(name, active);
        });
    }, active.spec.intervalMs);
    // A rollout waiting for its next window does not keep the process up.
    active.timer.unref();
  }

  /** Judges `active`'s window and moves the rollout as it says. */
  async #judge(name: string, active: Active): Promise<void> {
    const { spec, status } = active;
    // An unloaded model is judged once it is back.
    if (!this.#core.repository.loadedNames().includes(name)) return;
    const version = this.#core.repository.model(name).versions.get(spec.candidate);
    if (version === undefined || version.state === 'UNAVAILABLE') {
      // Its folder removed, or it failed to reload: there is nothing left to roll out.
      await this.#end(name, active, 'aborted', `candidate version ${spec.candidate} is no longer ready`, 'rollout');
      return;
    }
    const candidate = active.candidate.figures();
    const baseline = active.baseline.figures();
    const verdict = judgeWindow(spec, status.weight, candidate, baseline);
    status.last_window = { time: new Date().toISOString(), weight: status.weight, ...verdict, candidate, baseline };
    const entry = { actor: 'rollout', version: spec.candidate, from: spec.baseline, weight: status.weight, reason: verdict.reason };
    if (verdict.outcome === 'inconclusive') {
      // The window goes on collecting: the rollout waits here until it can tell.
      if (status.phase !== 'waiting') {
        status.phase = 'waiting';
        status.reason = verdict.reason;
        this.#log.warn({ model: name, weight: status.weight, reason: verdict.reason }, 'rollout waiting: the window is inconclusive');
        await this.#control.auditLog?.append({ ...entry, model: name, action: 'rollout-waiting' });
      }
      await this.#save(name, status);
      return;
    }
    active.candidate = new VersionWindow();
    active.baseline = new VersionWindow();
    status.phase = 'progressing';
    delete status.reason;
    if (verdict.outcome === 'fail') {
      status.windows_failed++;
      if (status.windows_failed >= spec.rollbackAfter) return this.#end(name, active, 'rolled_back', verdict.reason, 'rollout');
      this.#log.warn({ model: name, weight: status.weight, reason: verdict.reason }, 'rollout: a window failed');
      await this.#control.auditLog?.append({ ...entry, model: name, action: 'rollout-window-failed' });
      await this.#save(name, status);
      return;
    }
    status.windows_passed++;
    if (status.step + 1 >= spec.steps.length) return this.#end(name, active, 'promoted', verdict.reason, 'rollout');
    status.step++;
    status.weight = spec.steps[status.step];
    status.step_started_at = new Date().toISOString();
    await this.#control.route(name, { default: spec.baseline, traffic: trafficAt(spec, status.weight) }, { ...entry, weight: status.weight, action: 'rollout-step' });
    this.#log.info({ model: name, step: status.step, weight: status.weight }, 'rollout: next step');
    await this.#save(name, status);
  }

  /** Ends `active` as `phase`: the default pinned at the candidate (promoted) or the baseline, the split gone. */
  async #end(name: string, active: Active, phase: 'promoted' | 'rolled_back' | 'aborted', reason: string, actor: string): Promise<void> {
    const { spec, status } = active;
    clearTimeout(active.timer);
    this.#active.delete(name);
    const to = phase === 'promoted' ? spec.candidate : spec.baseline;
    const action = phase === 'promoted' ? 'rollout-promoted' : phase === 'rolled_back' ? 'rollout-rolled-back' : 'rollout-aborted';
    let why = reason;
    try {
      await this.#control.route(name, { default: to }, { actor, action, version: to, from: phase === 'promoted' ? spec.baseline : spec.candidate, reason });
    } catch (err) {
      // The traffic could not be moved (the version to move to is gone): the rollout has ended all the same.
      why = `${reason}; then moving the traffic to version ${to} failed: ${(err as Error).message}`;
    }
    Object.assign(status, { phase, reason: why, ended_at: new Date().toISOString() });
    (phase === 'rolled_back' ? this.#log.warn : this.#log.info).call(this.#log, { model: name, candidate: spec.candidate, baseline: spec.baseline, reason: status.reason }, `rollout ${phase.replace('_', ' ')}`);
    await this.#save(name, status);
  }

  #save(name: string, status: MutableStatus): Promise<void> {
    // A copy: the status goes on changing, the saved one only when saved again.
    return this.#control.saveRollout(name, structuredClone(status) as unknown as Record<string, unknown>);
  }
}
