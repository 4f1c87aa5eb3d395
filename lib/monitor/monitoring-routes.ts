/**
 * The monitoring's HTTP API, beside the v2 routes (a fastify plugin, mounted by the
 * server as an extension; the user's token):
 *
 *   GET /v2/models/{m}/monitoring                 every serving version of the model
 *   GET /v2/models/{m}/versions/{v}/monitoring    one version
 *
 * Each version: whether it is monitored (and why not), requests observed and skipped, its
 * state, and per tensor its state and each feature's window against the reference
 * (state, values in the window, PSI, Jensen-Shannon and normed Wasserstein distances,
 * and with `?histograms=1` the reference's bins and the window's counts over them).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteGuards } from '../server/create-server';
import type { InferenceServer } from '../server/inference-server';
import { answerProtocolErrors } from '../server/http/v2-routes';
import { ProtocolError } from '../server/protocol/types';
import type { DriftState } from './feature-window';
import type { FeatureProfile } from './reference-profile';
import { type DriftMonitoring, type MonitoringStatus, type VersionMonitoring, worstFeatures } from './drift-monitoring';

/** A feature's window, as the route reports it. */
export interface FeatureReport {
  readonly state: DriftState;
  /** Values in the window. */
  readonly count: number;
  readonly psi?: number;
  readonly jensen_shannon?: number;
  readonly wasserstein?: number;
  /** With `?histograms=1`: the reference profile (its bin edges or categories, and counts). */
  readonly reference?: FeatureProfile;
  /** With `?histograms=1`: the window's counts over the reference's bins. */
  readonly live?: readonly number[];
}

/** A monitored tensor, as the route reports it. */
export interface TensorReport {
  readonly side: 'input' | 'output';
  /** Its worst feature's state. */
  readonly state: DriftState;
  readonly features: Readonly<Record<string, FeatureReport>>;
}

/** One version's monitoring, as the route reports it. */
export interface VersionReport {
  readonly version: string;
  readonly status: MonitoringStatus;
  readonly reason?: string;
  /** The profile file, looked for or read. */
  readonly profile: string;
  /** Rows the profile was made from. */
  readonly profile_rows?: number;
  readonly observed: number;
  readonly skipped: number;
  /** With `capturing`: the rows captured so far, and how many the profile takes. */
  readonly captured?: { readonly rows: number; readonly of: number };
  /** Tensors left out because their rows did not fit the profile. */
  readonly misfits?: number;
  /** The worst tensor's state (absent when not monitored). */
  readonly state?: DriftState;
  /** Whether the windows judge by thresholds learned from the reference, or by the fixed ones. */
  readonly thresholds?: 'learned' | 'fixed';
  readonly tensors: Readonly<Record<string, TensorReport>>;
}

/** `GET /v2/models/{m}/monitoring`. */
export interface ModelMonitoringReport {
  readonly model: string;
  readonly versions: readonly VersionReport[];
}

/** One version's report; `histograms` adds each feature's reference and live counts. */
export function versionReport(v: VersionMonitoring, histograms = false): VersionReport {
  const base = {
    version: String(v.version),
    status: v.status,
    ...(v.reason !== undefined && { reason: v.reason }),
    profile: v.profilePath,
    observed: v.observed,
    skipped: v.skipped,
    ...(v.captured !== undefined && { captured: v.captured }),
  };
  if (v.monitor === undefined) return { ...base, tensors: {} };
  const drift = v.monitor.drift();
  const charts = histograms ? v.monitor.histograms() : undefined;
  const tensors: Record<string, { side: 'input' | 'output'; state: DriftState; features: Record<string, FeatureReport> }> = {};
  for (const [tensor, worst] of worstFeatures(drift)) tensors[tensor] = { side: worst.drift.side, state: worst.drift.state, features: {} };
  for (const [name, f] of Object.entries(drift.features)) {
    tensors[f.tensor].features[name] = {
      state: f.state,
      count: f.count,
      ...(f.psi !== undefined && { psi: f.psi }),
      ...(f.jensenShannon !== undefined && { jensen_shannon: f.jensenShannon }),
      ...(f.wasserstein !== undefined && { wasserstein: f.wasserstein }),
      ...(charts !== undefined && { reference: charts[name].reference, live: charts[name].live }),
    };
  }
  return { ...base, profile_rows: v.monitor.profile.rows, misfits: v.monitor.misfits, state: drift.state, thresholds: v.monitor.thresholds, tensors };
}

/** Options of {@link monitoringRoutes}. */
export interface MonitoringRoutesOptions extends RouteGuards {
  readonly monitoring: DriftMonitoring;
  readonly server: InferenceServer;
}

type Params = { model: string; version?: string };
type Query = { histograms?: string };

/** The monitoring routes (see the file's comment). */
export const monitoringRoutes: FastifyPluginAsync<MonitoringRoutesOptions> = async (app, options) => {
  answerProtocolErrors(app, options.server.log);
  const { monitoring } = options;
  const user = { onRequest: options.user };
  const report = (params: Params, query: Query): ModelMonitoringReport => {
    const histograms = query.histograms === '1' || query.histograms === 'true';
    const versions = monitoring.versions(params.model).filter((v) => params.version === undefined || String(v.version) === params.version);
    if (versions.length === 0) {
      const what = params.version === undefined ? `model "${params.model}"` : `version ${params.version} of model "${params.model}"`;
      throw new ProtocolError(`${what} is not serving`, 'NOT_FOUND');
    }
    return { model: params.model, versions: versions.map((v) => versionReport(v, histograms)) };
  };
  app.get<{ Params: Params; Querystring: Query }>('/v2/models/:model/monitoring', user, async (req) => report(req.params, req.query));
  app.get<{ Params: Params; Querystring: Query }>('/v2/models/:model/versions/:version/monitoring', user, async (req) => report(req.params, req.query));
};
