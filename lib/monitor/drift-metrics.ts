/**
 * The drift monitoring's Prometheus series, on the server's registry, computed when
 * scraped (one comparison of each monitored version with its profile per scrape):
 * - `onnx_native_drift_state{model,version,tensor,state}`: 1 for each monitored tensor's
 *   state (its worst feature's), 0 for the others, as `onnx_native_model_state` does;
 * - `onnx_native_drift_score{model,version,tensor,statistic}`: the largest PSI,
 *   Jensen-Shannon distance and normed Wasserstein distance over the tensor's features
 *   (absent while its window has too little data);
 * - `onnx_native_monitored_requests_total{model,version,outcome}`: requests observed, and
 *   skipped (over the rate, or too many waiting).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DriftState } from './feature-window';
import { type DriftMonitoring, worstFeatures } from './drift-monitoring';

const STATES: readonly DriftState[] = ['not_enough_data', 'ok', 'warn', 'drift'];
const STATISTICS = [
  ['psi', 'psi'],
  ['jensen_shannon', 'jensenShannon'],
  ['wasserstein', 'wasserstein'],
] as const;

/** Adds the drift series of `monitoring` to `registry`; returns the function that removes them. */
/** What one scrape reads of a version. */
interface Reading {
  readonly labels: { readonly model: string; readonly version: string };
  readonly observed: number;
  readonly skipped: number;
  /** Each tensor's state. */
  readonly states: ReadonlyMap<string, DriftState>;
  /** The largest of each statistic over each tensor's features, by `tensor\0statistic`. */
  readonly scores: ReadonlyMap<string, number>;
}

function read(monitoring: DriftMonitoring): Reading[] {
  return monitoring.versions().map((v) => {
    const states = new Map<string, DriftState>();
    const scores = new Map<string, number>();
    if (v.monitor !== undefined) {
      const drift = v.monitor.drift();
      for (const [tensor, worst] of worstFeatures(drift)) states.set(tensor, worst.drift.state);
      for (const f of Object.values(drift.features)) {
        for (const [label, field] of STATISTICS) {
          const value = f[field];
          if (value === undefined) continue;
          const key = `${f.tensor}\0${label}`;
          scores.set(key, Math.max(scores.get(key) ?? -Infinity, value));
        }
      }
    }
    return { labels: { model: v.model, version: String(v.version) }, observed: v.observed, skipped: v.skipped, states, scores };
  });
}

/** Adds the drift series of `monitoring` to `registry`; returns the function that removes them. */
export function registerDriftMetrics(registry: Registry, monitoring: DriftMonitoring): () => void {
  // The three series of a scrape share one comparison of each version with its profile,
  // taken by the first of them to be collected in a turn of the event loop.
  let readings: Reading[] | undefined;
  const current = (): Reading[] => {
    if (readings === undefined) {
      readings = read(monitoring);
      setImmediate(() => (readings = undefined));
    }
    return readings;
  };
  const metrics = [
    new Gauge({
      name: 'onnx_native_drift_state',
      help: "Each monitored tensor's drift state against its version's reference profile: 1 for the current state (not_enough_data, ok, warn, drift), 0 for the others",
      labelNames: ['model', 'version', 'tensor', 'state'],
      registers: [],
      collect() {
        this.reset();
        for (const r of current()) for (const [tensor, now] of r.states) for (const state of STATES) this.set({ ...r.labels, tensor, state }, state === now ? 1 : 0);
      },
    }),
    new Gauge({
      name: 'onnx_native_drift_score',
      help: "The largest drift statistic (psi, jensen_shannon, wasserstein) over a monitored tensor's features, over the sliding window; absent while the window has too little data",
      labelNames: ['model', 'version', 'tensor', 'statistic'],
      registers: [],
      collect() {
        this.reset();
        for (const r of current()) {
          for (const [key, value] of r.scores) {
            const [tensor, statistic] = key.split('\0');
            this.set({ ...r.labels, tensor, statistic }, value);
          }
        }
      },
    }),
    new Counter({
      name: 'onnx_native_monitored_requests_total',
      help: 'Requests whose tensors the drift monitoring observed (outcome observed), or left out over its rate (outcome skipped)',
      labelNames: ['model', 'version', 'outcome'],
      registers: [],
      collect() {
        this.reset();
        for (const r of current()) {
          this.inc({ ...r.labels, outcome: 'observed' }, r.observed);
          this.inc({ ...r.labels, outcome: 'skipped' }, r.skipped);
        }
      },
    }),
  ];
  for (const m of metrics) registry.registerMetric(m);
  return () => {
    for (const name of ['onnx_native_drift_state', 'onnx_native_drift_score', 'onnx_native_monitored_requests_total']) registry.removeSingleMetric(name);
  };
}
