/**
 * One version of a model, loaded and serving: its sessions (the instance groups), the
 * dynamic batcher or a plain limit on runs in flight in front of them, the checks of a
 * request against the configuration, warm-up, and Triton's statistics.
 */
import { randomFillSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Batcher } from '../../batching/batcher';
import { dtypeByName } from '../../core/dtypes';
import { RunGate } from '../../core/run-gate';
import type { AnyTensor, PlainTensor } from '../../core/tensor';
import type { ExecutionProvider } from '../../runtime/providers';
import { createSession, type Session } from '../../runtime/session';
import { ELEMENT_TYPE_OF, type InferOutput, type InferRequest, type InferResponse, ProtocolError, invalid } from '../protocol/types';
import { type Instance, InstanceRunner } from './instance-runner';
import { type VersionObserver, failureReason } from './serving-observer';
import type { RouteKind } from '../repository/version-routing';
import type { ServingPlan, TensorPlan, WarmupPlan } from './serving-plan';

/** Count and total time, as Triton's statistics report each duration. */
export interface Duration {
  count: number;
  ns: number;
}

/** Triton's statistics of one model version (`GET /v2/models/{m}/versions/{v}/stats`). */
export interface ModelVersionStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output' | 'cache_hit' | 'cache_miss', Duration>;
  batch_stats: { batch_size: number; compute_input: Duration; compute_infer: Duration; compute_output: Duration }[];
}

const zero = (): Duration => ({ count: 0, ns: 0 });

/** How a request failed, in the protocol's terms, from what the runtime threw (read as serving-observer.ts's failureReason reads it). */
export function protocolErrorOf(err: unknown, model: string): ProtocolError {
  if (err instanceof ProtocolError) return err;
  const message = err instanceof Error ? err.message : String(err);
  switch (failureReason(err)) {
    case 'invalid':
      return invalid(`model "${model}": ${message}`);
    case 'queue_full':
      return new ProtocolError(`model "${model}": the queue is full; try again later`, 'UNAVAILABLE', 1);
    case 'timeout':
      return new ProtocolError(`model "${model}": the request timed out in the queue`, 'UNAVAILABLE', 1);
    case 'unavailable':
      return new ProtocolError(`model "${model}" is not serving (unloaded or shutting down)`, 'UNAVAILABLE', 1);
    default:
      return new ProtocolError(`model "${model}": inference failed: ${message}`, 'INTERNAL');
  }
}

/** A model version that serves requests. */
export class ServedModel {
  readonly name: string;
  readonly version: number;
  readonly plan: ServingPlan;
  /** The model's own inputs and outputs, from its first session. */
  readonly session: Session;
  readonly #runner: InstanceRunner;
  readonly #batcher: Batcher | undefined;
  readonly #gate: RunGate | undefined;
  readonly #inputs: ReadonlyMap<string, TensorPlan>;
  readonly #outputs: ReadonlyMap<string, TensorPlan>;
  readonly #stats = { success: zero(), fail: zero(), queue: zero() };
  /** Requests taken and not yet answered. */
  #pending = 0;
  #onIdle: (() => void) | undefined;
  #observer: VersionObserver | undefined;

  private constructor(name: string, version: number, plan: ServingPlan, runner: InstanceRunner, session: Session) {
    this.name = name;
    this.version = version;
    this.plan = plan;
    this.session = session;
    this.#runner = runner;
    this.#inputs = new Map(plan.inputs.map((t) => [t.name, t]));
    this.#outputs = new Map(plan.outputs.map((t) => [t.name, t]));
    if (plan.batching !== undefined) {
      const b = plan.batching;
      this.#batcher = new Batcher(runner, {
        maxBatchSize: plan.maxBatchSize,
        maxQueueDelayMicros: b.maxQueueDelayMicros,
        preferredBatchSizes: b.preferredBatchSizes.filter((n) => n <= plan.maxBatchSize),
        maxQueueSize: b.maxQueueSize,
        maxInFlight: runner.slots,
        // Triton's timeouts are for the queue: a request whose batch has started runs to the end.
        queueTimeoutMs: b.defaultTimeoutMicros === undefined ? undefined : b.defaultTimeoutMicros / 1000,
        // Every input is batched along its first dimension (the configuration's dims
        // leave it out), whatever the model calls it.
        batchAxes: Object.fromEntries(plan.inputs.map((t) => [t.name, 0])),
      });
    } else {
      this.#gate = new RunGate(runner.slots);
    }
  }

  /**
   * Serves version `version` of model `name` on `instances` (sessions of the model file in
   * `versionPath`) as `plan` says, once its warm-up requests have run. On failure the
   * sessions are released.
   *
   * @param onWarning - Told of a warm-up the plan does not require that failed.
   */
  static async start(name: string, version: number, versionPath: string, plan: ServingPlan, instances: readonly Instance[], onWarning: (message: string) => void): Promise<ServedModel> {
    const runner = new InstanceRunner(instances, plan.maxBatchSize > 0 ? firstDimension : () => 1);
    const model = new ServedModel(name, version, plan, runner, instances[0].session);
    try {
      for (const w of plan.warmup) {
        try {
          await model.#warmUp(w, versionPath);
        } catch (err) {
          // Named: a warm-up's failure reads like a request's otherwise.
          if (w.required) throw new Error(`warm-up "${w.name}" failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          onWarning(`warm-up "${w.name}" failed, serving without it: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } catch (err) {
      model.release();
      throw err;
    }
    runner.resetTotals();
    return model;
  }

  /** Opens the sessions `plan` asks for, of the model file `modelPath`. */
  static async openInstances(modelPath: string, plan: Pick<ServingPlan, 'instances' | 'sessionOptions'>): Promise<Instance[]> {
    const instances: Instance[] = [];
    const cpuSlots = plan.instances.filter((i) => i.kind === 'cpu').reduce((n, i) => n + i.count, 0);
    try {
      if (cpuSlots > 0) instances.push({ session: await createSession(modelPath, plan.sessionOptions), slots: cpuSlots });
      for (const group of plan.instances.filter((i) => i.kind === 'gpu')) {
        for (const deviceId of group.gpus) {
          const providers = (plan.sessionOptions.executionProviders ?? ['cuda']).map((p): ExecutionProvider =>
            typeof p === 'string' ? (p === 'cpu' ? p : ({ name: p, deviceId } as ExecutionProvider)) : p.name === 'cpu' ? p : ({ ...p, deviceId } as ExecutionProvider),
          );
          instances.push({ session: await createSession(modelPath, { ...plan.sessionOptions, executionProviders: providers }), slots: group.count });
        }
      }
    } catch (err) {
      for (const i of instances) i.session.release();
      throw err;
    }
    return instances;
  }

  async #warmUp(w: WarmupPlan, versionPath: string): Promise<void> {
    const feeds: Record<string, PlainTensor> = {};
    for (const [input, sample] of Object.entries(w.inputs)) {
      const dims = (this.plan.maxBatchSize > 0 ? [Math.max(1, w.batchSize), ...sample.dims] : [...sample.dims]).map((d) => (d < 0 ? 1 : d));
      const plan = this.#inputs.get(input);
      const modelDims = plan?.reshape ? modelShape(plan, dims, this.plan.maxBatchSize > 0) : dims;
      const type = ELEMENT_TYPE_OF[sample.datatype];
      const count = dims.reduce((a, b) => a * b, 1);
      const dtype = dtypeByName.get(type);
      let data: PlainTensor['data'];
      if (type === 'string') {
        data = Array.from({ length: count }, () => '');
      } else {
        const array = new (dtype?.array as NonNullable<typeof dtype>['array'] & (new (n: number) => PlainTensor['data']))(count) as Uint8Array;
        const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
        if (sample.fill === 'random') randomFillSync(bytes);
        else if (typeof sample.fill === 'object') {
          const file = await readFile(join(versionPath, '..', 'warmup', sample.fill.file));
          if (file.byteLength !== bytes.byteLength) {
            throw invalid(`warm-up "${w.name}" input "${input}": ${sample.fill.file} has ${file.byteLength} bytes, the shape [${dims.join(',')}] needs ${bytes.byteLength}`);
          }
          bytes.set(file);
        }
        data = array;
      }
      feeds[input] = { type, dims: modelDims, data } as PlainTensor;
    }
    for (let i = 0; i < Math.max(1, w.count); i++) await this.#runner.run(feeds);
  }

  /** Requests waiting in the batcher's queue. */
  get queued(): number {
    return this.#batcher?.stats().queued ?? 0;
  }

  /**
   * Runs one request: checks its inputs and outputs against the configuration, runs it
   * (through the batcher, if the model batches), and returns the requested outputs.
   *
   * @param route - How the version was picked, for the observers of its data.
   * @throws {@link ProtocolError}: INVALID_ARGUMENT for a request that does not fit the
   *   model, UNAVAILABLE for a full queue or a timeout, INTERNAL when inference fails.
   */
  async infer(request: InferRequest, route?: RouteKind | 'shadow'): Promise<InferResponse> {
    const start = process.hrtime.bigint();
    this.#pending++;
    this.#observer?.onRequestStart();
    try {
      const response = await this.#infer(request);
      const ns = Number(process.hrtime.bigint() - start);
      this.#stats.success.count++;
      this.#stats.success.ns += ns;
      this.#observer?.onRequestEnd(undefined, ns / 1e9);
      this.#observer?.onInference?.(request, response, route);
      return response;
    } catch (err) {
      const ns = Number(process.hrtime.bigint() - start);
      this.#stats.fail.count++;
      this.#stats.fail.ns += ns;
      this.#observer?.onRequestEnd(failureReason(err), ns / 1e9);
      throw protocolErrorOf(err, this.name);
    } finally {
      if (--this.#pending === 0) this.#onIdle?.();
    }
  }

  /** Requests taken and not yet answered (queued or running). */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Reports what this version serves from now on to `observer` (the repository calls it
   * once warm-up is over): requests, their time in the queue, and batches run.
   */
  observe(observer: VersionObserver): void {
    this.#observer = observer;
    this.#runner.observer = observer;
  }

  async #infer(request: InferRequest): Promise<InferResponse> {
    const batched = this.plan.maxBatchSize > 0;
    const feeds: Record<string, PlainTensor> = {};
    let rows: number | undefined;
    for (const input of request.inputs) {
      const plan = this.#inputs.get(input.name);
      if (plan === undefined) throw invalid(`unexpected inference input "${input.name}" for model "${this.name}"; its inputs are ${[...this.#inputs.keys()].map((n) => `"${n}"`).join(', ')}`);
      if (input.name in feeds) throw invalid(`input "${input.name}" is given twice`);
      if (input.datatype !== plan.datatype) {
        throw invalid(`input "${input.name}" of model "${this.name}" is ${plan.datatype}, the request sent ${input.datatype}`);
      }
      checkShape(input.name, this.name, plan, input.shape, batched ? this.plan.maxBatchSize : 0);
      if (batched) {
        if (rows !== undefined && input.shape[0] !== rows) {
          throw invalid(`inputs of one request must have the same batch size: "${input.name}" has ${input.shape[0]}, an earlier input ${rows}`);
        }
        rows = input.shape[0];
      }
      feeds[input.name] = plan.reshape ? ({ ...input.tensor, dims: modelShape(plan, input.shape, batched) } as PlainTensor) : (input.tensor as PlainTensor);
    }
    for (const plan of this.#inputs.values()) {
      if (!(plan.name in feeds) && !plan.optional) throw invalid(`model "${this.name}" needs input "${plan.name}", which the request does not give`);
    }
    const wanted = request.outputs?.map((o) => o.name) ?? [...this.#outputs.keys()];
    for (const name of wanted) {
      if (!this.#outputs.has(name)) throw invalid(`unexpected inference output "${name}" for model "${this.name}"; its outputs are ${[...this.#outputs.keys()].map((n) => `"${n}"`).join(', ')}`);
    }
    const results = await this.#run(feeds, request, wanted);
    const outputs: InferOutput[] = wanted.map((name) => {
      const tensor = results[name] as AnyTensor;
      const plan = this.#outputs.get(name) as TensorPlan;
      const shape = plan.reshape ? clientShape(plan, tensor, batched) : tensor.dims;
      return { name, datatype: plan.datatype, shape, tensor: shape === tensor.dims ? tensor : ({ ...tensor, dims: shape } as AnyTensor) };
    });
    return { model_name: this.name, model_version: String(this.version), ...(request.id !== undefined && { id: request.id }), outputs };
  }

  async #run(feeds: Record<string, PlainTensor>, request: InferRequest, wanted: readonly string[]): Promise<Record<string, AnyTensor>> {
    if (this.#batcher !== undefined) {
      const b = this.plan.batching as NonNullable<ServingPlan['batching']>;
      const priority = requestPriority(request, b.priorityLevels, b.defaultPriority);
      const timeout = requestTimeoutMicros(request);
      let queueTimeoutMs: number | undefined;
      if (timeout !== undefined && b.allowTimeoutOverride) {
        queueTimeoutMs = Math.min(timeout, b.defaultTimeoutMicros ?? Infinity) / 1000;
      }
      const onStart = (queuedMs: number) => {
        this.#stats.queue.count++;
        this.#stats.queue.ns += Math.round(queuedMs * 1e6);
        this.#observer?.onQueued(queuedMs / 1000);
      };
      return this.#batcher.run(feeds, { priority, onStart, ...(queueTimeoutMs !== undefined && queueTimeoutMs > 0 && { queueTimeoutMs }) });
    }
    const queued = process.hrtime.bigint();
    return (this.#gate as RunGate).run(() => {
      const ns = Number(process.hrtime.bigint() - queued);
      this.#stats.queue.count++;
      this.#stats.queue.ns += ns;
      this.#observer?.onQueued(ns / 1e9);
      return this.#runner.run(feeds, { outputNames: wanted });
    });
  }

  /** Triton's statistics of this version. */
  statistics(): ModelVersionStatistics {
    const t = this.#runner.totals;
    const queue = { ...this.#stats.queue };
    return {
      name: this.name,
      version: String(this.version),
      last_inference: t.lastInferenceMs,
      inference_count: t.inferences,
      execution_count: t.executions,
      inference_stats: {
        success: { ...this.#stats.success },
        fail: { ...this.#stats.fail },
        queue,
        compute_input: zero(),
        compute_infer: { count: t.executions, ns: t.computeNs },
        compute_output: zero(),
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [...t.bySize.entries()]
        .sort(([a], [b]) => a - b)
        .map(([size, s]) => ({ batch_size: size, compute_input: zero(), compute_infer: { count: s.count, ns: s.computeNs }, compute_output: zero() })),
    };
  }

  /**
   * Answers the requests it has taken (queued ones too), then releases the sessions. The
   * caller has already stopped sending it new ones. After `graceMs`, requests still
   * waiting fail UNAVAILABLE and runs in flight finish on their own.
   */
  async retire(graceMs = Infinity): Promise<void> {
    if (this.#pending > 0) {
      const idle = new Promise<void>((resolve) => (this.#onIdle = resolve));
      let timer: NodeJS.Timeout | undefined;
      const late = Number.isFinite(graceMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))) : new Promise<void>(() => {});
      await Promise.race([idle, late]);
      clearTimeout(timer);
    }
    this.release();
  }

  /** Releases the sessions now: waiting requests fail UNAVAILABLE; runs in flight finish. */
  release(): void {
    this.#batcher?.close();
    this.#runner.release();
  }
}

const firstDimension = (feeds: Record<string, PlainTensor>): number => {
  for (const t of Object.values(feeds)) return t.dims[0] ?? 1;
  return 1;
};

function checkShape(input: string, model: string, plan: TensorPlan, shape: readonly number[], maxBatchSize: number): void {
  const expected = maxBatchSize > 0 ? [-1, ...plan.dims] : plan.dims;
  const fits = shape.length === expected.length && expected.every((d, i) => d < 0 || d === shape[i]);
  if (!fits) {
    throw invalid(`input "${input}" of model "${model}" has shape [${expected.join(',')}], the request sent [${shape.join(',')}]`);
  }
  if (maxBatchSize > 0 && (shape[0] < 1 || shape[0] > maxBatchSize)) {
    throw invalid(`input "${input}" of model "${model}": batch size ${shape[0]} is outside 1 to the model's max_batch_size ${maxBatchSize}`);
  }
}

/** The shape the model is fed for a request's `shape` of an input with `reshape`. */
function modelShape(plan: TensorPlan, shape: readonly number[], batched: boolean): number[] {
  const count = shape.slice(batched ? 1 : 0).reduce((a, b) => a * b, 1);
  return [...(batched ? [shape[0]] : []), ...resolveDims(plan.reshape as readonly number[], count)];
}

/** The shape a client sees of an output with `reshape`: the configured dims, batch dimension apart. */
function clientShape(plan: TensorPlan, tensor: AnyTensor, batched: boolean): number[] {
  const count = tensor.dims.slice(batched ? 1 : 0).reduce((a, b) => a * b, 1);
  return [...(batched ? [tensor.dims[0]] : []), ...resolveDims(plan.dims, count)];
}

/** `dims` with a -1 replaced by what makes `count` elements. */
function resolveDims(dims: readonly number[], count: number): number[] {
  const known = dims.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  return dims.map((d) => (d < 0 ? (known === 0 ? 0 : count / known) : d));
}

function requestPriority(request: InferRequest, levels: number, fallback: number): number {
  const p = request.parameters?.priority;
  if (p === undefined || p === 0 || levels === 0) return fallback;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > levels) {
    throw invalid(`parameter "priority" must be an integer from 0 (the default) to ${levels}, got ${JSON.stringify(p)}`);
  }
  return p;
}

function requestTimeoutMicros(request: InferRequest): number | undefined {
  const t = request.parameters?.timeout;
  if (t === undefined) return undefined;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
    throw invalid(`parameter "timeout" must be a whole number of microseconds, got ${JSON.stringify(t)}`);
  }
  return t === 0 ? undefined : t;
}
