/**
 * The model server's Prometheus metrics: per model version, what Triton's metrics count
 * (requests, inferences, executions, and their durations as histograms), plus the
 * version's state and load time, and Node's process metrics; all on a registry of their
 * own (not prom-client's global one), so that an application embedding the server keeps
 * its own metrics apart, or merges them (`Registry.merge`).
 *
 * The repository's versions report to it as a {@link ServingObserver}. Counters and
 * histograms are updated as requests and batches happen, through label children made once
 * per version (no label objects on the request path); gauges (pending requests, load
 * time, state) are read when scraped. A version's series go once its last copy has
 * retired: a reload of the same version keeps them, an unload removes them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FAILURE_REASONS, type FailureReason, SHADOW_OUTCOMES, type ServingObserver, type ShadowOutcome, type VersionObserver } from '../model/serving-observer';
import { ROUTE_KINDS, type RouteKind, type VersionRouting } from '../repository/version-routing';
import type { VersionState, VersionStatus } from '../repository/model-repository';

/**
 * Buckets of the duration histograms, in seconds: 0.5 ms to 10 s, about x2 to x2.5 a
 * step, so that a small model's sub-millisecond runs and a large one's seconds both
 * resolve.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** Buckets of the batch size histogram, in rows: powers of two up to 256. */
export const BATCH_SIZE_BUCKETS: readonly number[] = Object.freeze([1, 2, 4, 8, 16, 32, 64, 128, 256]);

/** The states `onnx_native_model_state` has a series for, for each version. */
const STATES: readonly VersionState[] = ['READY', 'LOADING', 'UNAVAILABLE', 'UNLOADING'];

type VersionLabel = 'model' | 'version';

/** Where the versions' states are read from at each scrape: the model repository. */
export interface VersionStateSource {
  versionStates(): readonly VersionStatus[];
  /** Each model's routing: its labels and traffic shares as metrics. */
  routings?(): readonly (readonly [string, VersionRouting])[];
}

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /**
   * Also Node's process metrics (prom-client's `collectDefaultMetrics`: CPU, memory,
   * handles, event loop lag, GC). Default: true.
   */
  readonly processMetrics?: boolean;
}

/** The metric families, shared by every version's {@link VersionMetrics}. */
interface Families {
  readonly requests: Counter<VersionLabel | 'outcome' | 'reason'>;
  readonly inferences: Counter<VersionLabel>;
  readonly executions: Counter<VersionLabel>;
  readonly requestDuration: Histogram<VersionLabel>;
  readonly queueDuration: Histogram<VersionLabel>;
  readonly computeDuration: Histogram<VersionLabel>;
  readonly batchSize: Histogram<VersionLabel>;
  readonly loadFailures: Counter<VersionLabel>;
  readonly routed: Counter<VersionLabel | 'route'>;
  readonly shadowed: Counter<VersionLabel | 'outcome'>;
  readonly shadowDuration: Histogram<VersionLabel>;
}

/**
 * Prometheus metrics of a model server, as a prom-client registry. `createServer()` makes
 * one and serves it on its metrics port; an application that runs the core itself passes
 * one as the core's `observer` and serves `metrics()` where it likes.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics();
 * const core = await InferenceServer.open({ repository: './models', log, observer: metrics });
 * metrics.watch(core.repository);
 * app.get('/metrics', async (req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
 * ```
 */
export class ServerMetrics implements ServingObserver {
  /** The registry: add an application's own metrics to it, or merge it with another. */
  readonly registry: Registry;
  readonly #families: Families;
  /** By `model` and `version`, each version that has a copy serving or retiring. */
  readonly #versions = new Map<string, VersionMetrics>();
  #states: VersionStateSource | undefined;

  constructor(options: ServerMetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: registry });
      // prom-client's totals of active handles, requests and resources are gauges named
      // `_total`, which `promtool check metrics` rejects (the suffix is for counters); the
      // same counts stay, by type, in nodejs_active_handles, _requests and _resources.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
    }
    const registers = [registry];
    const labelNames = ['model', 'version'] as const;
    const versions = this.#versions;
    this.#families = {
      requests: new Counter({
        name: 'onnx_native_requests_total',
        help: 'Inference requests a model version answered, by outcome (success, failure) and, for failures, reason (invalid, queue_full, timeout, unavailable, internal)',
        labelNames: [...labelNames, 'outcome', 'reason'],
        registers,
      }),
      inferences: new Counter({ name: 'onnx_native_inferences_total', help: 'Rows run (a batch of n rows counts n), successful runs only', labelNames, registers }),
      executions: new Counter({ name: 'onnx_native_executions_total', help: 'Batches run (model executions), successful runs only', labelNames, registers }),
      requestDuration: new Histogram({
        name: 'onnx_native_request_duration_seconds',
        help: 'Successful requests: from the model version taking the decoded request to its answer being ready',
        labelNames,
        buckets: [...DURATION_BUCKETS],
        registers,
      }),
      queueDuration: new Histogram({
        name: 'onnx_native_queue_duration_seconds',
        help: "Requests whose batch started: from entering the scheduler's queue to their batch (or run) starting",
        labelNames,
        buckets: [...DURATION_BUCKETS],
        registers,
      }),
      computeDuration: new Histogram({
        name: 'onnx_native_compute_duration_seconds',
        help: 'Batches run: time in ONNX Runtime for each batch',
        labelNames,
        buckets: [...DURATION_BUCKETS],
        registers,
      }),
      batchSize: new Histogram({ name: 'onnx_native_batch_size', help: 'Rows of each batch run', labelNames, buckets: [...BATCH_SIZE_BUCKETS], registers }),
      loadFailures: new Counter({
        name: 'onnx_native_model_load_failures_total',
        help: 'Loads of a model version that failed (bad file, configuration, warm-up); the version gets no requests, a copy loaded before goes on serving',
        labelNames,
        registers,
      }),
      routed: new Counter({
        name: 'onnx_native_routed_requests_total',
        help: 'Requests by how their version was picked: route = version (named), label, route (a key route), split (the traffic split), default',
        labelNames: [...labelNames, 'route'],
        registers,
      }),
      shadowed: new Counter({
        name: 'onnx_native_shadow_requests_total',
        help: "Copies of requests sent to a model's shadow version, by outcome: agree, disagree (with the serving version's answer), failed, skipped (too many in flight)",
        labelNames: [...labelNames, 'outcome'],
        registers,
      }),
      shadowDuration: new Histogram({
        name: 'onnx_native_shadow_duration_seconds',
        help: "Shadow requests that answered: the shadow version's time for the copy",
        labelNames,
        buckets: [...DURATION_BUCKETS],
        registers,
      }),
    };
    // The gauges are read from the versions (and the repository) when scraped: nothing to
    // update on the request path, and a version gone is a series gone.
    new Gauge({
      name: 'onnx_native_pending_requests',
      help: 'Requests a model version has taken and not answered yet (queued or running)',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const v of versions.values()) this.set(v.labels, v.pending);
      },
    });
    new Gauge({
      name: 'onnx_native_model_load_duration_seconds',
      help: 'How long the version serving took to load (sessions, warm-up)',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const v of versions.values()) this.set(v.labels, v.loadSeconds);
      },
    });
    const states = () => this.#states?.versionStates() ?? [];
    new Gauge({
      name: 'onnx_native_model_state',
      help: "A model version's state: 1 for the state it is in (READY, LOADING, UNAVAILABLE, UNLOADING), 0 for the others",
      labelNames: [...labelNames, 'state'],
      registers,
      collect() {
        this.reset();
        for (const row of states()) {
          const version = String(row.version);
          for (const state of STATES) this.set({ model: row.name, version, state }, row.state === state ? 1 : 0);
        }
      },
    });
    const routings = () => this.#states?.routings?.() ?? [];
    new Gauge({
      name: 'onnx_native_version_label',
      help: 'A version label (stable, canary, ...): 1 for the version it points at; join on model and version to label other series',
      labelNames: [...labelNames, 'label'],
      registers,
      collect() {
        this.reset();
        for (const [model, routing] of routings()) for (const [label, version] of Object.entries(routing.labels)) this.set({ model, version: String(version), label }, 1);
      },
    });
    new Gauge({
      name: 'onnx_native_traffic_share',
      help: "A version's share of its model's traffic: route split (of the requests naming no version, as the split's weights make it; a rollout's steps move it), or shadow (the share copied to it)",
      labelNames: [...labelNames, 'route'],
      registers,
      collect() {
        this.reset();
        for (const [model, routing] of routings()) {
          const total = (routing.split ?? []).reduce((sum, s) => sum + s.weight, 0);
          for (const s of routing.split ?? []) this.set({ model, version: String(s.version), route: 'split' }, s.weight / total);
          if (routing.shadow) this.set({ model, version: String(routing.shadow.version), route: 'shadow' }, routing.shadow.share);
        }
      },
    });
  }

  /** Reads the versions' states from `source` (the core's repository) at each scrape. */
  watch(source: VersionStateSource): void {
    this.#states = source;
  }

  /** The exposition, in Prometheus's text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's content type (`text/plain; version=0.0.4; charset=utf-8`). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Makes the version's series (all at 0) the first time; a copy of it that is already there (a reload) shares them. */
  versionServing(model: string, version: number, loadSeconds: number): VersionObserver {
    const key = `${model}\n${version}`;
    let v = this.#versions.get(key);
    if (v === undefined) this.#versions.set(key, (v = new VersionMetrics(this.#families, model, String(version))));
    v.copies++;
    v.loadSeconds = loadSeconds;
    return v;
  }

  /** Counts a failed load; the series stays (a failure is worth seeing after the version is gone). */
  versionFailed(model: string, version: number): void {
    this.#families.loadFailures.inc({ model, version: String(version) });
  }

  /** Counts a request by the way its version was picked. */
  routed(model: string, version: number, route: RouteKind): void {
    this.#versions.get(`${model}\n${version}`)?.routed(route);
  }

  /** Counts a shadow request to `version` by its outcome (and times the ones that answered). */
  shadowed(model: string, version: number, outcome: ShadowOutcome, seconds: number): void {
    this.#versions.get(`${model}\n${version}`)?.shadowed(outcome, seconds);
  }

  /** Removes the version's series once its last copy has retired. */
  versionRetired(model: string, version: number): void {
    const key = `${model}\n${version}`;
    const v = this.#versions.get(key);
    if (v === undefined || --v.copies > 0) return;
    this.#versions.delete(key);
    v.remove();
  }
}

/**
 * One model version's series: the label children of each family, made once. Shared by the
 * copies of the version that serve at once (the old and the new one during a reload).
 */
class VersionMetrics implements VersionObserver {
  readonly labels: Readonly<Record<VersionLabel, string>>;
  /** Copies of the version serving or retiring. */
  copies = 0;
  pending = 0;
  loadSeconds = 0;
  /** Set once its series are removed: calls from requests answered after that are dropped, not counted into new series. */
  #removed = false;
  readonly #families: Families;
  readonly #success: Counter.Internal;
  readonly #failures: Readonly<Record<FailureReason, Counter.Internal>>;
  readonly #inferences: Counter.Internal;
  readonly #executions: Counter.Internal;
  readonly #requestDuration: Histogram.Internal<VersionLabel>;
  readonly #queueDuration: Histogram.Internal<VersionLabel>;
  readonly #computeDuration: Histogram.Internal<VersionLabel>;
  readonly #batchSize: Histogram.Internal<VersionLabel>;
  readonly #routed: Readonly<Record<RouteKind, Counter.Internal>>;
  readonly #shadowed: Readonly<Record<ShadowOutcome, Counter.Internal>>;
  readonly #shadowDuration: Histogram.Internal<VersionLabel>;

  constructor(families: Families, model: string, version: string) {
    const labels = { model, version };
    this.labels = labels;
    this.#families = families;
    this.#success = families.requests.labels({ ...labels, outcome: 'success' });
    this.#failures = Object.fromEntries(FAILURE_REASONS.map((reason) => [reason, families.requests.labels({ ...labels, outcome: 'failure', reason })])) as Record<
      FailureReason,
      Counter.Internal
    >;
    this.#inferences = families.inferences.labels(labels);
    this.#executions = families.executions.labels(labels);
    this.#requestDuration = families.requestDuration.labels(labels);
    this.#queueDuration = families.queueDuration.labels(labels);
    this.#computeDuration = families.computeDuration.labels(labels);
    this.#batchSize = families.batchSize.labels(labels);
    this.#routed = Object.fromEntries(ROUTE_KINDS.map((route) => [route, families.routed.labels({ ...labels, route })])) as Record<RouteKind, Counter.Internal>;
    this.#shadowed = Object.fromEntries(SHADOW_OUTCOMES.map((outcome) => [outcome, families.shadowed.labels({ ...labels, outcome })])) as Record<ShadowOutcome, Counter.Internal>;
    this.#shadowDuration = families.shadowDuration.labels(labels);
    // Every series from the start, at 0: rate() and alerts see a version before its first
    // request (or first failure of each kind), and absent means unloaded.
    for (const c of [this.#success, ...Object.values(this.#failures), this.#inferences, this.#executions, ...Object.values(this.#routed), ...Object.values(this.#shadowed)]) c.inc(0);
    for (const h of [families.requestDuration, families.queueDuration, families.computeDuration, families.batchSize, families.shadowDuration]) h.zero(labels);
  }

  routed(route: RouteKind): void {
    if (!this.#removed) this.#routed[route].inc();
  }

  shadowed(outcome: ShadowOutcome, seconds: number): void {
    if (this.#removed) return;
    this.#shadowed[outcome].inc();
    if (outcome === 'agree' || outcome === 'disagree') this.#shadowDuration.observe(seconds);
  }

  onRequestStart(): void {
    this.pending++;
  }

  onRequestEnd(failure: FailureReason | undefined, seconds: number): void {
    this.pending--;
    if (this.#removed) return;
    if (failure === undefined) {
      this.#success.inc();
      this.#requestDuration.observe(seconds);
    } else {
      this.#failures[failure].inc();
    }
  }

  onQueued(seconds: number): void {
    if (!this.#removed) this.#queueDuration.observe(seconds);
  }

  onBatch(rows: number, seconds: number): void {
    if (this.#removed) return;
    this.#executions.inc();
    this.#inferences.inc(rows);
    this.#computeDuration.observe(seconds);
    this.#batchSize.observe(rows);
  }

  /** Removes its series from every family. */
  remove(): void {
    this.#removed = true;
    const f = this.#families;
    f.requests.remove({ ...this.labels, outcome: 'success' });
    for (const reason of FAILURE_REASONS) f.requests.remove({ ...this.labels, outcome: 'failure', reason });
    for (const route of ROUTE_KINDS) f.routed.remove({ ...this.labels, route });
    for (const outcome of SHADOW_OUTCOMES) f.shadowed.remove({ ...this.labels, outcome });
    for (const family of [f.inferences, f.executions, f.requestDuration, f.queueDuration, f.computeDuration, f.batchSize, f.shadowDuration]) family.remove(this.labels);
  }
}
