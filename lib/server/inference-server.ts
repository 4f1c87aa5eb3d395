/**
 * The server's core, transport-free: health, metadata, inference, statistics and the
 * repository API on the Open Inference Protocol's types. The HTTP routes and the gRPC
 * service are thin translations of it; an application can call it directly.
 */
import type { Logger } from 'pino';
import { type IndexEntry, type ModelControl, ModelRepository, type RepositoryOptions } from './repository/model-repository';
import { type Datatype, type InferRequest, type InferResponse, ProtocolError } from './protocol/types';
import type { ModelVersionStatistics, ServedModel } from './model/served-model';
import { configToJson } from './config/model-config';
import { type HandlerContext, HandlerPool } from './handlers/handler-pool';
import { LOAD_FAILED } from './handlers/handler-worker';
import { DATATYPE_OF, type InferInput, invalid } from './protocol/types';
import type { PlainTensor } from '../core/tensor';
import type { ModelCard } from './repository/model-card';
import type { ServingObserver, ShadowOutcome } from './model/serving-observer';
import type { RouteKind } from './repository/version-routing';
import { outputsAgree } from './model/compare-outputs';
import { ObserverHub } from './model/observer-hub';

/** The package's version, for server metadata. */
const VERSION: string = (require('../../package.json') as { version: string }).version;

/** Protocol extensions the server implements (Triton's names), for `GET /v2`. */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics', 'model_configuration', 'schedule_policy'] as const;

/** A request's version, and how the routing picked it. */
export interface RoutedRequest {
  readonly served: ServedModel;
  readonly kind: RouteKind;
}

/** Shadow requests in flight at most; beyond, copies are skipped (and counted as such). */
const MAX_SHADOW_IN_FLIGHT = 8;

/** Options of {@link InferenceServer.open}. */
export interface InferenceServerOptions extends Omit<RepositoryOptions, 'log'> {
  /** The model repository's folder. */
  readonly repository: string;
  /** Where log lines go. */
  readonly log: Logger;
  /**
   * Ready only when every model asked for has a version ready (Triton's
   * `--strict-readiness`, on by default there too). False: ready once started.
   */
  readonly strictReadiness?: boolean;
}

/** A tensor's description in model metadata. */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: Datatype;
  /** -1 for a dimension of any size; the batch dimension first when the model batches. */
  readonly shape: readonly number[];
}

/** `GET /v2/models/{m}` */
export interface ModelMetadataResponse {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** The version these inputs and outputs are of (an extension field: the one a label or the default resolved to). */
  readonly model_version: string;
  /** The version's model card (`model-card.json` in its folder), an extension field, when it has one. */
  readonly model_card?: ModelCard;
}

/** `GET /v2` */
export interface ServerMetadataResponse {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

/** The core of a model server over one model repository. */
export class InferenceServer {
  readonly repository: ModelRepository;
  readonly log: Logger;
  readonly #strict: boolean;
  #draining = false;
  #inFlight = 0;
  readonly #observer: ObserverHub;
  /** Shadow requests running now (bounded: a slow candidate must not pile up work). */
  #shadowInFlight = 0;
  /** The custom handlers' worker threads, started with the first request that needs them. */
  #handlers: HandlerPool | undefined;
  #onIdle: (() => void) | undefined;

  private constructor(repository: ModelRepository, options: InferenceServerOptions, observer: ObserverHub) {
    this.repository = repository;
    this.log = options.log;
    this.#strict = options.strictReadiness ?? true;
    this.#observer = observer;
  }

  /** Opens the repository and loads its models. */
  static async open(options: InferenceServerOptions): Promise<InferenceServer> {
    const observer = new ObserverHub(options.observer);
    const repository = await ModelRepository.open(options.repository, { ...options, observer });
    return new InferenceServer(repository, options, observer);
  }

  /**
   * Tells `observer` what the versions serve from now on (the versions serving already
   * included), beside the observer the server was opened with. Returns the function that
   * stops it.
   */
  observe(observer: ServingObserver): () => void {
    return this.#observer.add(observer);
  }

  /** Whether the server is up (false once it has closed). */
  get live(): boolean {
    return true;
  }

  /** Whether it takes inference requests: not while shutting down, and (strict) with every model ready. */
  get ready(): boolean {
    return !this.#draining && (!this.#strict || this.repository.allReady);
  }

  /** Requests taken and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** `GET /v2` */
  metadata(): ServerMetadataResponse {
    return { name: 'onnx-native', version: VERSION, extensions: [...EXTENSIONS] };
  }

  /** Whether model `name` (version `version`, or label `label`, else its default one) is ready. Throws NOT_FOUND for an unknown one. */
  modelReady(name: string, version?: string, label?: string): boolean {
    try {
      this.repository.resolve(name, version, label);
      return !this.#draining;
    } catch (err) {
      if (err instanceof ProtocolError && err.status === 'UNAVAILABLE') return false;
      throw err;
    }
  }

  /** `GET /v2/models/{m}[/versions/{v} | /labels/{label}]` */
  modelMetadata(name: string, version?: string, label?: string): ModelMetadataResponse {
    const served = this.repository.resolve(name, version, label);
    const model = this.repository.model(name);
    const card = model.versions.get(served.version)?.card;
    const batch = served.plan.maxBatchSize > 0 ? [-1] : [];
    const describe = (t: (typeof served.plan.inputs)[number]): TensorMetadata => ({ name: t.name, datatype: t.datatype, shape: [...batch, ...t.dims] });
    return {
      name,
      versions: [...model.versions.keys()].map(String),
      platform: 'onnxruntime_onnx',
      inputs: served.plan.inputs.map(describe),
      outputs: served.plan.outputs.map(describe),
      model_version: String(served.version),
      ...(card && { model_card: card }),
    };
  }

  /** `GET /v2/models/{m}/config`: the configuration in force, as Triton prints it. */
  modelConfig(name: string): Record<string, unknown> {
    return configToJson(this.repository.model(name).config);
  }

  /**
   * Runs one inference request, on the version {@link InferenceServer.route} picks for it
   * (or on `routed`, what a caller that needed the version first, to decode the request
   * by its inputs, got from route()).
   */
  async infer(request: InferRequest, routed?: RoutedRequest): Promise<InferResponse> {
    if (this.#draining) throw new ProtocolError('the server is shutting down', 'UNAVAILABLE', 5);
    const { served, kind } = routed ?? this.route(request);
    this.#observer.routed(request.model, served.version, kind);
    this.#inFlight++;
    try {
      const answer = served.infer(request, kind);
      // A copy of the split's and the default's traffic, not of requests that chose their version.
      if (kind === 'split' || kind === 'default') this.#mirror(request, served, answer);
      return await answer;
    } finally {
      if (--this.#inFlight === 0) this.#onIdle?.();
    }
  }

  /** Sends a share of the traffic to the model's shadow version, and compares its answers with `answer`'s. Never fails or delays the request. */
  #mirror(request: InferRequest, served: ServedModel, answer: Promise<InferResponse>): void {
    const shadow = this.repository.model(request.model).routing.shadow;
    if (shadow === undefined || shadow.version === served.version || !(Math.random() < shadow.share)) return;
    const report = (outcome: ShadowOutcome, seconds: number) => this.#observer.shadowed(request.model, shadow.version, outcome, seconds);
    if (this.#shadowInFlight >= MAX_SHADOW_IN_FLIGHT) return report('skipped', 0);
    let candidate: ServedModel;
    try {
      candidate = this.repository.resolve(request.model, String(shadow.version));
    } catch {
      return report('failed', 0);
    }
    this.#shadowInFlight++;
    const started = performance.now();
    const mirrored = candidate.infer(request, 'shadow').then(
      (response) => ({ response, seconds: (performance.now() - started) / 1000 }),
      () => ({ response: undefined, seconds: (performance.now() - started) / 1000 }),
    );
    void Promise.all([answer.catch(() => undefined), mirrored]).then(([served, { response, seconds }]) => {
      this.#shadowInFlight--;
      if (served === undefined) return; // the serving version failed: nothing to compare with
      report(response === undefined ? 'failed' : outputsAgree(served.outputs, response.outputs) ? 'agree' : 'disagree', seconds);
    });
  }

  /**
   * The version that serves `request`: its version, its label (route or `version_label`
   * parameter), else by the model's routes and split (keyed on its parameters and
   * headers), else the model's default.
   */
  resolve(request: Pick<InferRequest, 'model' | 'version' | 'label' | 'parameters' | 'headers'>): ServedModel {
    return this.route(request).served;
  }

  /** The version that serves `request` (as {@link InferenceServer.resolve}), and how it was picked. */
  route(request: Pick<InferRequest, 'model' | 'version' | 'label' | 'parameters' | 'headers'>): RoutedRequest {
    const parameter = request.parameters?.version_label;
    if (parameter !== undefined && typeof parameter !== 'string') throw invalid(`the request's parameters.version_label must be a string, got ${JSON.stringify(parameter)}`);
    const key = (name: string): string | undefined => {
      const p = request.parameters?.[name];
      if (typeof p === 'string') return p;
      const h = request.headers?.[name];
      return typeof h === 'string' ? h : h?.[0];
    };
    return this.repository.resolveRoute(request.model, request.version, request.label ?? parameter, key);
  }

  /**
   * A request in the model's own terms (`POST /v2/models/{m}/predict`): the body as it
   * came goes to the model folder's handler.mjs `preprocess` (on a worker thread), its
   * tensors to the model, the outputs to `postprocess`, whose result is the answer.
   *
   * @throws {@link ProtocolError}: NOT_FOUND for a model without a handler;
   *   INVALID_ARGUMENT when preprocess throws (its message is the client's) or returns
   *   tensors that do not fit the model; INTERNAL when postprocess throws.
   */
  async predict(target: { readonly model: string; readonly version?: string; readonly label?: string }, body: Uint8Array, contentType: string, parameters: Readonly<Record<string, string>>): Promise<unknown> {
    if (this.#draining) throw new ProtocolError('the server is shutting down', 'UNAVAILABLE', 5);
    const name = target.model;
    const served = this.resolve(target);
    const handler = this.repository.model(name).handler;
    if (handler === undefined) throw new ProtocolError(`model "${name}" has no handler (a handler.mjs in its folder); send tensors to /v2/models/${name}/infer`, 'NOT_FOUND');
    this.#handlers ??= new HandlerPool();
    const context: HandlerContext = { model: name, version: String(served.version), contentType, parameters };
    this.#inFlight++;
    try {
      let tensors: Record<string, PlainTensor>;
      try {
        tensors = await this.#handlers.preprocess(handler, body, context);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // A handler that cannot be imported is the server's fault, not the request's.
        if (message.startsWith(LOAD_FAILED)) throw new ProtocolError(`model "${name}": ${message}`, 'INTERNAL');
        throw invalid(`model "${name}": the handler's preprocess failed: ${message}`);
      }
      if (typeof tensors !== 'object' || tensors === null) throw invalid(`model "${name}": the handler's preprocess must return the input tensors by name`);
      const inputs: InferInput[] = Object.entries(tensors).map(([input, t]) => {
        if (typeof t !== 'object' || t === null || !DATATYPE_OF[t.type as keyof typeof DATATYPE_OF] || !Array.isArray(t.dims)) {
          throw invalid(`model "${name}": preprocess returned "${input}", which is not a { type, dims, data } tensor`);
        }
        return { name: input, datatype: DATATYPE_OF[t.type], shape: t.dims, tensor: t as InferInput['tensor'] };
      });
      const response = await served.infer({ model: name, version: String(served.version), inputs });
      const outputs = Object.fromEntries(response.outputs.map((o) => [o.name, o.tensor]));
      try {
        return await this.#handlers.postprocess(handler, outputs, context);
      } catch (err) {
        throw new ProtocolError(`model "${name}": the handler's postprocess failed: ${err instanceof Error ? err.message : String(err)}`, 'INTERNAL');
      }
    } finally {
      if (--this.#inFlight === 0) this.#onIdle?.();
    }
  }

  /** Triton's statistics: of every loaded model, of one, or of one version. */
  statistics(name?: string, version?: string): { model_stats: ModelVersionStatistics[] } {
    const stats: ModelVersionStatistics[] = [];
    const names = name === undefined || name === '' ? this.#loadedNames() : [name];
    for (const n of names) {
      const model = this.repository.model(n);
      if (version !== undefined && version !== '') {
        stats.push(this.repository.resolve(n, version).statistics());
        continue;
      }
      for (const v of model.versions.values()) if (v.served !== undefined) stats.push(v.served.statistics());
    }
    return { model_stats: stats };
  }

  #loadedNames(): string[] {
    return this.repository.loadedNames();
  }

  /** Triton's repository index. */
  repositoryIndex(readyOnly = false): Promise<IndexEntry[]> {
    return this.repository.index(readyOnly);
  }

  /** How models get loaded and unloaded. */
  get modelControl(): ModelControl {
    return this.repository.modelControl;
  }

  /** Loads or reloads a model (explicit model control only). */
  async loadModel(name: string): Promise<void> {
    this.#checkModelControl('load');
    await this.repository.load(name);
  }

  /** Unloads a model (explicit model control only). */
  async unloadModel(name: string): Promise<void> {
    this.#checkModelControl('unload');
    await this.repository.unload(name);
  }

  #checkModelControl(what: string): void {
    if (this.repository.modelControl !== 'explicit') {
      // 403: the server forbids it as configured; no credential would change that.
      throw new ProtocolError(`explicit model ${what} is not allowed: start the server with model control 'explicit' (--model-control explicit)`, 'PERMISSION_DENIED');
    }
  }

  /**
   * Shuts down: readiness turns false at once, new requests get UNAVAILABLE, requests in
   * flight finish (up to `graceMs`), then the models are unloaded.
   */
  async close(graceMs = 30_000): Promise<void> {
    this.#draining = true;
    if (this.#inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.#onIdle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      if (this.#inFlight > 0) this.log.warn({ inFlight: this.#inFlight, graceMs }, 'grace period over; requests still in flight are dropped');
    }
    await this.repository.close(0);
    await this.#handlers?.close();
  }
}
