/**
 * The lifecycle as a server extension: `createServer({ extensions: [lifecycle()] })`
 * opens the version control over the server's repository and mounts its routes.
 */
import type { ServerExtension, StartedExtension } from '../server/create-server';
import { lifecycleRoutes } from './lifecycle-routes';
import { VersionControl } from './version-control';

/** Options of {@link lifecycle}. */
export interface LifecycleOptions {
  /** Where the state and the audit log are kept (see {@link VersionControlOptions.stateDir}). */
  readonly stateDir?: string;
}

/** The lifecycle (labels, pins, rollback, their state and audit log) for {@link createServer}'s `extensions`. */
export function lifecycle(options: LifecycleOptions = {}): ServerExtension & { control?: VersionControl } {
  const extension: ServerExtension & { control?: VersionControl } = {
    async start(core): Promise<StartedExtension> {
      const control = await VersionControl.open(core.repository, { stateDir: options.stateDir, log: core.log });
      extension.control = control;
      return {
        routes: async (app, guards) => app.register(lifecycleRoutes, { ...guards, control, server: core }),
        close: () => control.close(),
      };
    },
  };
  return extension;
}
