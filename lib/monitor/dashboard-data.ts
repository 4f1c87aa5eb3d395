/**
 * The dashboard's data (`GET /dashboard/data`): a snapshot of every model version now,
 * and the arithmetic that turns two snapshots into what the page draws.
 *
 * A snapshot holds what is cumulative (request counters, histogram buckets, as the
 * server's Prometheus registry has them) and what is a level now (state, labels, traffic
 * shares, requests pending, the monitoring's windows). The page polls it and derives
 * rates and percentiles over time from the deltas between snapshots, as Prometheus'
 * `rate()` and `histogram_quantile()` do between scrapes: {@link histogramQuantile},
 * {@link histogramDelta}, {@link counterDelta} and {@link deriveWindow} below are what
 * the page runs (their source is put into its script, {@link PAGE_MATH}), and what the
 * tests check against hand-worked values.
 */
import type { Registry } from 'prom-client';
import type { VersionState, VersionStatus } from '../server/repository/model-repository';
import type { VersionRouting } from '../server/repository/version-routing';
import type { DriftMonitoring } from './drift-monitoring';
import { type VersionReport, versionReport } from './monitoring-routes';

/**
 * A histogram as the snapshot carries it: the finite upper bounds, the cumulative count
 * at each, and the count of all observations (the `+Inf` bucket, which JSON cannot write
 * as a bound).
 */
export interface HistogramSnapshot {
  /** Upper bounds (`le`), increasing, finite. */
  readonly le: readonly number[];
  /** Observations at or under each bound (cumulative, as Prometheus' `_bucket` series). */
  readonly cumulative: readonly number[];
  /** Every observation (the `+Inf` bucket, `_count`). */
  readonly count: number;
  /** Their sum (`_sum`). */
  readonly sum: number;
}

/** A version's requests answered, from `onnx_native_requests_total`. */
export interface RequestCounts {
  readonly success: number;
  /** Failures of every reason. */
  readonly failure: number;
  /** Failures by reason (invalid, queue_full, timeout, unavailable, internal), those above 0. */
  readonly failures: Readonly<Record<string, number>>;
}

/** Where a version's share of its model's traffic comes from. */
export interface VersionTraffic {
  /** Labels pointing at it (`stable`, `canary`). */
  readonly labels: readonly string[];
  /**
   * Its share of the requests that name no version: its weight in the split, or 1 for
   * the default version (pinned, else the highest ready) when there is no split; 0 for
   * the others.
   */
  readonly share: number;
  /** Whether it is in a traffic split. */
  readonly split: boolean;
  /** Whether it is the pinned default. */
  readonly pinned: boolean;
  /** The share of the traffic copied to it as the shadow version (absent: not the shadow). */
  readonly shadow?: number;
  /** Key routes to it (`group=beta`). */
  readonly routes: readonly string[];
}

/** One model version in a snapshot. */
export interface VersionSnapshot {
  readonly model: string;
  readonly version: string;
  /** Its state in the repository (absent for a version the metrics still have and the repository no longer does). */
  readonly state?: VersionState;
  readonly traffic: VersionTraffic;
  /** Absent without metrics (`metricsPort: false`), and before the version's first copy served. */
  readonly requests?: RequestCounts;
  /** Successful requests' durations, in seconds. */
  readonly requestDuration?: HistogramSnapshot;
  /** Time in the scheduler's queue, in seconds. */
  readonly queueDuration?: HistogramSnapshot;
  /** Rows of each batch run. */
  readonly batchSize?: HistogramSnapshot;
  /** Requests taken and not answered yet (queued or running). */
  readonly pending?: number;
  /** The monitoring's report with histograms (absent without the monitoring or for a version it does not know). */
  readonly monitoring?: VersionReport;
}

/** `GET /dashboard/data`. */
export interface DashboardSnapshot {
  /** When it was taken (ms since the epoch, the server's clock). */
  readonly time: number;
  /** How often the page polls, in ms. */
  readonly pollMs: number;
  /** Whether the server has metrics (without, counters and histograms are absent). */
  readonly metrics: boolean;
  /** Whether drift monitoring is on. */
  readonly monitoring: boolean;
  /** By model, then version (numerically). */
  readonly versions: readonly VersionSnapshot[];
}

/** Where the snapshot reads the versions and their routing: the model repository. */
export interface RoutingSource {
  versionStates(): readonly VersionStatus[];
  routings(): readonly (readonly [string, VersionRouting])[];
}

/** Options of {@link dashboardSnapshot}. */
export interface SnapshotOptions {
  /** The server's metrics registry (absent: no counters or histograms). */
  readonly registry?: Registry;
  /** The drift monitoring. */
  readonly drift?: DriftMonitoring;
  /** Written into the snapshot for the page. */
  readonly pollMs: number;
}

/** The metric families a snapshot reads. */
export const SNAPSHOT_METRICS = Object.freeze({
  requests: 'onnx_native_requests_total',
  requestDuration: 'onnx_native_request_duration_seconds',
  queueDuration: 'onnx_native_queue_duration_seconds',
  batchSize: 'onnx_native_batch_size',
  pending: 'onnx_native_pending_requests',
} as const);

type Labels = Readonly<Record<string, string | number | undefined>>;
interface MetricValue {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

/** Per version (`model\nversion`), what the registry says. */
interface Measured {
  requests?: { success: number; failure: number; failures: Record<string, number> };
  requestDuration?: HistogramSnapshot;
  queueDuration?: HistogramSnapshot;
  batchSize?: HistogramSnapshot;
  pending?: number;
}

/**
 * A snapshot of every version: those the repository knows (with their states), those the
 * metrics still have, and those the monitoring watches.
 */
export async function dashboardSnapshot(source: RoutingSource, options: SnapshotOptions): Promise<DashboardSnapshot> {
  const measured = options.registry === undefined ? new Map<string, Measured>() : await readRegistry(options.registry);
  const reports = new Map<string, VersionReport>();
  for (const v of options.drift?.versions() ?? []) reports.set(key(v.model, String(v.version)), versionReport(v, true));
  const states = new Map<string, VersionState>();
  for (const s of source.versionStates()) states.set(key(s.name, String(s.version)), s.state);
  const routings = new Map(source.routings());
  const keys = new Set([...states.keys(), ...measured.keys(), ...reports.keys()]);
  const versions: VersionSnapshot[] = [];
  for (const k of keys) {
    const [model, version] = k.split('\n');
    const m = measured.get(k);
    const report = reports.get(k);
    versions.push({
      model,
      version,
      ...(states.has(k) && { state: states.get(k) }),
      traffic: traffic(routings.get(model), Number(version), model, states),
      ...m,
      ...(report !== undefined && { monitoring: report }),
    });
  }
  versions.sort((a, b) => (a.model === b.model ? Number(a.version) - Number(b.version) : a.model < b.model ? -1 : 1));
  return { time: Date.now(), pollMs: options.pollMs, metrics: options.registry !== undefined, monitoring: options.drift !== undefined, versions };
}

function key(model: string, version: string): string {
  return `${model}\n${version}`;
}

/** A version's labels and shares in its model's routing. */
function traffic(routing: VersionRouting | undefined, version: number, model: string, states: ReadonlyMap<string, VersionState>): VersionTraffic {
  if (routing === undefined) return { labels: [], share: 0, split: false, pinned: false, routes: [] };
  const labels = Object.entries(routing.labels)
    .filter(([, v]) => v === version)
    .map(([label]) => label)
    .sort();
  const routes = (routing.routes ?? []).filter((r) => r.version === version).map((r) => `${r.key}=${r.value}`);
  const split = routing.split ?? [];
  let share = 0;
  if (split.length > 0) {
    const total = split.reduce((sum, s) => sum + s.weight, 0);
    const mine = split.filter((s) => s.version === version).reduce((sum, s) => sum + s.weight, 0);
    share = total > 0 ? mine / total : 0;
  } else {
    // The default: pinned, else the highest version ready.
    let fallback = -1;
    for (const [k, state] of states) {
      const [m, v] = k.split('\n');
      if (m === model && state === 'READY' && Number(v) > fallback) fallback = Number(v);
    }
    share = (routing.default ?? fallback) === version ? 1 : 0;
  }
  return {
    labels,
    share,
    split: split.some((s) => s.version === version),
    pinned: routing.default === version,
    ...(routing.shadow?.version === version && { shadow: routing.shadow.share }),
    routes,
  };
}

/** The five families, read once each from the registry, by version. */
async function readRegistry(registry: Registry): Promise<Map<string, Measured>> {
  const out = new Map<string, Measured>();
  const at = (labels: Labels): Measured | undefined => {
    if (labels.model === undefined || labels.version === undefined) return undefined;
    const k = key(String(labels.model), String(labels.version));
    let m = out.get(k);
    if (m === undefined) out.set(k, (m = {}));
    return m;
  };
  const values = async (name: string): Promise<readonly MetricValue[]> => {
    const metric = registry.getSingleMetric(name);
    return metric === undefined ? [] : ((await metric.get()).values as readonly MetricValue[]);
  };
  for (const v of await values(SNAPSHOT_METRICS.requests)) {
    const m = at(v.labels);
    if (m === undefined) continue;
    const r = (m.requests ??= { success: 0, failure: 0, failures: {} });
    if (v.labels.outcome === 'success') r.success += v.value;
    else {
      r.failure += v.value;
      if (v.value > 0) r.failures[String(v.labels.reason ?? 'unknown')] = (r.failures[String(v.labels.reason ?? 'unknown')] ?? 0) + v.value;
    }
  }
  for (const field of ['requestDuration', 'queueDuration', 'batchSize'] as const) {
    for (const [k, h] of histograms(await values(SNAPSHOT_METRICS[field]))) {
      const [model, version] = k.split('\n');
      const m = at({ model, version });
      if (m !== undefined) m[field] = h;
    }
  }
  for (const v of await values(SNAPSHOT_METRICS.pending)) {
    const m = at(v.labels);
    if (m !== undefined) m.pending = v.value;
  }
  return out;
}

/** A histogram family's values (prom-client's `_bucket`, `_sum`, `_count` rows) as one {@link HistogramSnapshot} per version. */
function histograms(values: readonly MetricValue[]): Map<string, HistogramSnapshot> {
  const rows = new Map<string, { buckets: [number, number][]; count: number; sum: number }>();
  for (const v of values) {
    if (v.labels.model === undefined || v.labels.version === undefined) continue;
    const k = key(String(v.labels.model), String(v.labels.version));
    let row = rows.get(k);
    if (row === undefined) rows.set(k, (row = { buckets: [], count: 0, sum: 0 }));
    const name = v.metricName ?? '';
    if (name.endsWith('_bucket')) {
      const le = Number(v.labels.le);
      if (Number.isFinite(le)) row.buckets.push([le, v.value]);
    } else if (name.endsWith('_sum')) row.sum = v.value;
    else if (name.endsWith('_count')) row.count = v.value;
  }
  const out = new Map<string, HistogramSnapshot>();
  for (const [k, row] of rows) {
    row.buckets.sort((a, b) => a[0] - b[0]);
    out.set(k, { le: row.buckets.map((b) => b[0]), cumulative: row.buckets.map((b) => b[1]), count: row.count, sum: row.sum });
  }
  return out;
}

// The page's arithmetic. Each function below is self-contained (no imports, no helpers
// defined inside it, no other module's names) because its source is copied into the
// page's script as it is (PAGE_MATH): keep them so.

/**
 * The `q`-quantile (0 to 1) of a histogram's observations, as Prometheus'
 * `histogram_quantile()` estimates it: find the bucket the rank `q * count` falls in,
 * and interpolate linearly between its lower bound (0 for the first bucket, whose
 * bound is above 0) and its upper bound. A rank in the `+Inf` bucket gives the highest
 * finite bound; a first bucket whose bound is 0 or less gives that bound. Null when the
 * histogram has no observations (Prometheus: NaN).
 *
 * @example
 * ```ts
 * // 10 under 0.1 s, 10 more under 0.2 s: the median is at the first bucket's top.
 * histogramQuantile(0.5, { le: [0.1, 0.2], cumulative: [10, 20], count: 20, sum: 3 }); // 0.1
 * histogramQuantile(0.75, { le: [0.1, 0.2], cumulative: [10, 20], count: 20, sum: 3 }); // 0.15
 * ```
 */
export function histogramQuantile(q: number, h: HistogramSnapshot): number | null {
  if (!(h.count > 0) || Number.isNaN(q)) return null;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const n = h.le.length;
  const rank = q * h.count;
  let b = 0;
  while (b < n && h.cumulative[b] < rank) b++;
  // The rank is beyond every finite bound: the highest one is all that is known.
  if (b === n) return n > 0 ? h.le[n - 1] : null;
  if (b === 0 && h.le[0] <= 0) return h.le[0];
  const start = b === 0 ? 0 : h.le[b - 1];
  const before = b === 0 ? 0 : h.cumulative[b - 1];
  const inBucket = h.cumulative[b] - before;
  // Only with q = 0 and an empty first bucket: the bucket's lower bound.
  if (!(inBucket > 0)) return start;
  return start + (h.le[b] - start) * ((rank - before) / inBucket);
}

/**
 * What a histogram observed between two snapshots, `before` then `now`. A reset (the
 * count went down: the version was unloaded and loaded again) or other bounds give `now`
 * itself, as Prometheus' `rate()` takes a counter that went down to have started again
 * from 0. No `before` gives `now`.
 */
export function histogramDelta(now: HistogramSnapshot, before: HistogramSnapshot | undefined): HistogramSnapshot {
  if (before === undefined || now.count < before.count || now.le.length !== before.le.length) return now;
  const cumulative: number[] = [];
  for (let i = 0; i < now.le.length; i++) {
    if (now.le[i] !== before.le[i] || now.cumulative[i] < before.cumulative[i]) return now;
    cumulative.push(now.cumulative[i] - before.cumulative[i]);
  }
  return { le: now.le, cumulative, count: now.count - before.count, sum: now.sum - before.sum };
}

/** A counter's increase from `before` to `now`: `now` itself after a reset (it went down) or with no `before`. */
export function counterDelta(now: number, before: number | undefined): number {
  if (before === undefined || now < before) return now;
  return now - before;
}

/** What the page draws of a version at one time, from two of its snapshots. */
export interface WindowPoint {
  /** Successful requests a second. */
  readonly rate: number;
  /** Failed requests a second. */
  readonly failureRate: number;
  /** Request duration quantiles, in ms (null: no request answered in the window). */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Queue wait quantiles, in ms. */
  readonly queueP50: number | null;
  readonly queueP95: number | null;
  /** Rows per batch run: the mean (exact, from the sums) and the 95th percentile (from the buckets). */
  readonly batchMean: number | null;
  readonly batchP95: number | null;
  /** Batches run a second. */
  readonly batchRate: number;
  /** Requests pending now (null: not known). */
  readonly pending: number | null;
}

/**
 * A version's rates and quantiles over the window from `before` to `now` (`seconds`
 * apart): the increase of each counter over the seconds, and the quantiles of what the
 * histograms observed in between. Null quantiles where nothing was observed; rates of 0
 * for a window of no length or with nothing measured.
 *
 * @example
 * ```ts
 * deriveWindow(later, earlier, 5); // { rate: 12, p99: 48.3, ... }
 * ```
 */
export function deriveWindow(now: VersionSnapshot, before: VersionSnapshot | undefined, seconds: number): WindowPoint {
  const per = seconds > 0 ? 1 / seconds : 0;
  const r = now.requests;
  const rb = before === undefined ? undefined : before.requests;
  const rate = r === undefined ? 0 : counterDelta(r.success, rb === undefined ? undefined : rb.success) * per;
  const failureRate = r === undefined ? 0 : counterDelta(r.failure, rb === undefined ? undefined : rb.failure) * per;
  const req = now.requestDuration === undefined ? undefined : histogramDelta(now.requestDuration, before === undefined ? undefined : before.requestDuration);
  const queue = now.queueDuration === undefined ? undefined : histogramDelta(now.queueDuration, before === undefined ? undefined : before.queueDuration);
  const batch = now.batchSize === undefined ? undefined : histogramDelta(now.batchSize, before === undefined ? undefined : before.batchSize);
  // Quantiles in ms (no helper function: see the note above histogramQuantile).
  const q = [0.5, 0.95, 0.99, 0.5, 0.95].map((p, i) => {
    const h = i < 3 ? req : queue;
    const s = h === undefined ? null : histogramQuantile(p, h);
    return s === null ? null : s * 1000;
  });
  return {
    rate,
    failureRate,
    p50: q[0],
    p95: q[1],
    p99: q[2],
    queueP50: q[3],
    queueP95: q[4],
    batchMean: batch === undefined || !(batch.count > 0) ? null : batch.sum / batch.count,
    batchP95: batch === undefined ? null : histogramQuantile(0.95, batch),
    batchRate: batch === undefined ? 0 : batch.count * per,
    pending: now.pending === undefined ? null : now.pending,
  };
}

/** The arithmetic above as the page's script runs it: the functions' own source. */
export const PAGE_MATH: string = [histogramQuantile, histogramDelta, counterDelta, deriveWindow].map((f) => f.toString()).join('\n');
