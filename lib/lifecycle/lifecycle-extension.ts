/**
 * The lifecycle as a server extension: `createServer({ extensions: [lifecycle()] })`
 * opens the version control over the server's repository and mounts its routes.
 */
import type { ServerExtension, StartedExtension } from '../server/create-server';
import { lifecycleRoutes } from './lifecycle-routes';
import { VersionControl } from './version-control';
import { RolloutController } from './progressive-rollout';
import { DeclaredRollouts } from './declared-rollouts';

/** Options of {@link lifecycle}. */
export interface LifecycleOptions {
  /** Where the state and the audit log are kept (see {@link VersionControlOptions.stateDir}). */
  readonly stateDir?: string;
}

/** The lifecycle (labels, pins, rollback, traffic, progressive rollouts, their state and audit log) for {@link createServer}'s `extensions`. */
export function lifecycle(options: LifecycleOptions = {}): ServerExtension & { control?: VersionControl; rollouts?: RolloutController } {
  const extension: ServerExtension & { control?: VersionControl; rollouts?: RolloutController } = {
    async start(core): Promise<StartedExtension> {
      const control = await VersionControl.open(core.repository, { stateDir: options.stateDir, log: core.log });
      const rollouts = await RolloutController.open(core, control);
      const declared = await DeclaredRollouts.open(core, control, rollouts);
      extension.control = control;
      extension.rollouts = rollouts;
      return {
        routes: async (app, guards) => app.register(lifecycleRoutes, { ...guards, control, rollouts, server: core }),
        close: async () => {
          await declared.close();
          await rollouts.close();
          await control.close();
        },
      };
    },
  };
  return extension;
}
