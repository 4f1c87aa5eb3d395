/**
 * The monitoring as a server extension: `createServer({ extensions: [monitoring()] })`
 * watches every serving version that has a reference profile, exports its drift as
 * Prometheus series on the server's metrics, and mounts the monitoring routes.
 */
import type { ServerExtension, StartedExtension } from '../server/create-server';
import { DriftMonitoring, type DriftMonitoringOptions } from './drift-monitoring';
import { registerDriftMetrics } from './drift-metrics';
import { monitoringRoutes } from './monitoring-routes';

/** Options of {@link monitoring}: those of the drift monitoring (its log is the server's). */
export type MonitoringOptions = Omit<DriftMonitoringOptions, 'log'>;

/** Drift monitoring for {@link createServer}'s `extensions`; `drift` is set once the server has started. */
export function monitoring(options: MonitoringOptions = {}): ServerExtension & { drift?: DriftMonitoring } {
  const extension: ServerExtension & { drift?: DriftMonitoring } = {
    async start(core, context): Promise<StartedExtension> {
      const drift = new DriftMonitoring({ ...options, log: core.log });
      extension.drift = drift;
      const unobserve = core.observe(drift);
      // The versions serving already are monitored (or not) from the server's first request.
      await drift.settled();
      const unregister = context.metrics === undefined ? undefined : registerDriftMetrics(context.metrics.registry, drift);
      return {
        routes: async (app, guards) => app.register(monitoringRoutes, { ...guards, monitoring: drift, server: core }),
        close: async () => {
          unobserve();
          unregister?.();
          drift.close();
        },
      };
    },
  };
  return extension;
}
