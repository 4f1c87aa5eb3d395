/**
 * The folder lifecycle/ is what happens to a model after its first deploy, over the
 * model server (server/), and `onnx-native/lifecycle` its entry:
 * - version-control.ts: labels, a pinned default, rollback along the history of the
 *   versions that served, traffic splits and shadow traffic, restored at start;
 * - state-file.ts, audit-log.ts: the state saved atomically, and every change logged;
 * - lifecycle-routes.ts: its HTTP API; lifecycle-extension.ts: all of it as an extension
 *   of `createServer()`.
 */
export { lifecycle, type LifecycleOptions } from './lifecycle-extension';
export { VersionControl, type VersionControlOptions, type LifecycleStatus, type Traffic } from './version-control';
export { lifecycleRoutes, type LifecycleRoutesOptions } from './lifecycle-routes';
export { AuditLog, type AuditEntry } from './audit-log';
export { StateFile } from './state-file';
