/**
 * Ground truth's Prometheus series, read from the windows when scraped:
 * - `onnx_native_accuracy{model,version}`: the share of classifications right over the window;
 * - `onnx_native_route_accuracy{model,version,route}`: the same, of the requests routed each way;
 * - `onnx_native_prediction_error{model,version,statistic}`: `mae` and `rmse` of regressions;
 * - `onnx_native_reward{model,version}`: the mean reward;
 * - `onnx_native_feedback_samples{model,version,kind}`: what each figure is over
 *   (`classified`, `regressed`, `rewarded`), for alerts to require enough of them;
 * - `onnx_native_feedback_requests_total{outcome}`: feedback `matched`, for an `unknown`
 *   id (never kept, evicted or too old), `taken` (given already), `invalid`.
 * A figure with no value in its window has no series.
 */
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import type { GroundTruth } from './ground-truth';

const NAMES = ['onnx_native_accuracy', 'onnx_native_route_accuracy', 'onnx_native_prediction_error', 'onnx_native_reward', 'onnx_native_feedback_samples', 'onnx_native_feedback_requests_total'];

/** Adds the ground truth's series to `registry`; returns the function that removes them. */
export function registerFeedbackMetrics(registry: Registry, truth: GroundTruth): () => void {
  const metrics = [
    new Gauge({
      name: 'onnx_native_accuracy',
      help: "The share of a version's classifications that its ground truth found right, over the feedback window",
      labelNames: ['model', 'version'],
      registers: [],
      collect() {
        this.reset();
        for (const v of truth.versions()) if (v.accuracy !== undefined) this.set({ model: v.model, version: String(v.version) }, v.accuracy);
      },
    }),
    new Gauge({
      name: 'onnx_native_route_accuracy',
      help: "The share of a version's classifications right over the feedback window, by how their requests were routed to it (split, label, default, ...)",
      labelNames: ['model', 'version', 'route'],
      registers: [],
      collect() {
        this.reset();
        for (const v of truth.versions()) {
          for (const [route, f] of Object.entries(v.routes)) if (f.accuracy !== undefined) this.set({ model: v.model, version: String(v.version), route }, f.accuracy);
        }
      },
    }),
    new Gauge({
      name: 'onnx_native_prediction_error',
      help: "A version's regression error against its ground truth over the feedback window: mae, rmse",
      labelNames: ['model', 'version', 'statistic'],
      registers: [],
      collect() {
        this.reset();
        for (const v of truth.versions()) {
          if (v.mae === undefined || v.rmse === undefined) continue;
          this.set({ model: v.model, version: String(v.version), statistic: 'mae' }, v.mae);
          this.set({ model: v.model, version: String(v.version), statistic: 'rmse' }, v.rmse);
        }
      },
    }),
    new Gauge({
      name: 'onnx_native_reward',
      help: "The mean reward of a version's predictions over the feedback window",
      labelNames: ['model', 'version'],
      registers: [],
      collect() {
        this.reset();
        for (const v of truth.versions()) if (v.reward !== undefined) this.set({ model: v.model, version: String(v.version) }, v.reward);
      },
    }),
    new Gauge({
      name: 'onnx_native_feedback_samples',
      help: 'Feedback in the window behind each figure: classified (accuracy), regressed (errors), rewarded (reward)',
      labelNames: ['model', 'version', 'kind'],
      registers: [],
      collect() {
        this.reset();
        for (const v of truth.versions()) {
          const labels = { model: v.model, version: String(v.version) };
          this.set({ ...labels, kind: 'classified' }, v.classified);
          this.set({ ...labels, kind: 'regressed' }, v.regressed);
          this.set({ ...labels, kind: 'rewarded' }, v.rewarded);
        }
      },
    }),
    new Counter({
      name: 'onnx_native_feedback_requests_total',
      help: 'Feedback requests: matched to a kept prediction, for an unknown id, for one given already (taken), invalid',
      labelNames: ['outcome'],
      registers: [],
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(truth.outcomes)) this.inc({ outcome }, n);
      },
    }),
  ];
  for (const m of metrics) registry.registerMetric(m as Metric);
  return () => {
    for (const name of NAMES) registry.removeSingleMetric(name);
  };
}
