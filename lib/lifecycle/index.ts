/**
 * The folder lifecycle/ is what happens to a model after its first deploy, over the
 * model server (server/), and `onnx-native/lifecycle` its entry:
 * - version-control.ts: labels, a pinned default, rollback along the history of the
 *   versions that served, traffic splits and shadow traffic, restored at start;
 * - state-file.ts, audit-log.ts: the state saved atomically, and every change logged;
 * - progressive-rollout.ts: rollouts step by step, each window judged by
 *   rollout-analysis.ts on version-window.ts's figures, with rollout-spec.ts's settings;
 *   declared-rollouts.ts: the same declared by a model folder's `rollout.json`;
 * - lifecycle-routes.ts: its HTTP API; lifecycle-extension.ts: all of it as an extension
 *   of `createServer()`.
 */
export { lifecycle, type LifecycleOptions } from './lifecycle-extension';
export { VersionControl, type VersionControlOptions, type LifecycleStatus, type Traffic } from './version-control';
export { lifecycleRoutes, type LifecycleRoutesOptions, type ModelLifecycle } from './lifecycle-routes';
export { RolloutController, type RolloutPhase, type RolloutStatus, type JudgedWindow } from './progressive-rollout';
export { type RolloutSpec, type RolloutSettings, ROLLOUT_DEFAULTS, rolloutSettingsFromJson } from './rollout-spec';
export { judgeWindow, type WindowCheck, type WindowVerdict } from './rollout-analysis';
export { VersionWindow, type WindowFigures } from './version-window';
export { DeclaredRollouts, ROLLOUT_FILE } from './declared-rollouts';
export { AuditLog, type AuditEntry } from './audit-log';
export { StateFile } from './state-file';
