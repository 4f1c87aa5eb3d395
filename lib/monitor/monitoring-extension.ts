/**
 * The monitoring as a server extension: `createServer({ extensions: [monitoring()] })`
 * watches every serving version that has a reference profile, keeps recent predictions
 * for ground truth sent later, exports drift and accuracy as Prometheus series on the
 * server's metrics, and mounts the monitoring and feedback routes.
 */
import type { ServerExtension, StartedExtension } from '../server/create-server';
import { DriftMonitoring, type DriftMonitoringOptions } from './drift-monitoring';
import { registerDriftMetrics } from './drift-metrics';
import { monitoringRoutes } from './monitoring-routes';
import { GroundTruth, type GroundTruthOptions } from './ground-truth';
import { registerFeedbackMetrics } from './feedback-metrics';
import { feedbackRoutes } from './feedback-routes';
import { addFeedbackService } from './feedback-grpc';

/** Options of {@link monitoring}: those of the drift monitoring (its log is the server's), and of ground truth. */
export interface MonitoringOptions extends Omit<DriftMonitoringOptions, 'log'> {
  /** The store of predictions awaiting ground truth, and the feedback windows. */
  readonly feedback?: GroundTruthOptions;
}

/** What the extension holds once the server has started. */
export interface MonitoringExtension extends ServerExtension {
  drift?: DriftMonitoring;
  truth?: GroundTruth;
}

/** Drift monitoring and ground truth for {@link createServer}'s `extensions`; `drift` and `truth` are set once the server has started. */
export function monitoring(options: MonitoringOptions = {}): MonitoringExtension {
  const { feedback, ...driftOptions } = options;
  const extension: MonitoringExtension = {
    async start(core, context): Promise<StartedExtension> {
      const drift = new DriftMonitoring({ ...driftOptions, log: core.log });
      const truth = new GroundTruth(feedback);
      extension.drift = drift;
      extension.truth = truth;
      const unobserveTruth = core.observe(truth);
      const unobserve = core.observe(drift);
      // The versions serving already are monitored (or not) from the server's first request.
      await drift.settled();
      const unregister = context.metrics === undefined ? undefined : registerDriftMetrics(context.metrics.registry, drift);
      const unregisterTruth = context.metrics === undefined ? undefined : registerFeedbackMetrics(context.metrics.registry, truth);
      return {
        routes: async (app, guards) => {
          await app.register(monitoringRoutes, { ...guards, monitoring: drift, server: core });
          await app.register(feedbackRoutes, { ...guards, truth, server: core });
        },
        grpc: (server, unary) => addFeedbackService(server, truth, unary),
        close: async () => {
          unobserve();
          unobserveTruth();
          unregister?.();
          unregisterTruth?.();
          drift.close();
        },
      };
    },
  };
  return extension;
}
