/**
 * The folder server/ is the model server, and `onnx-native/server` its entry (kept apart
 * from the package's main entry, so that an application that only runs models does not
 * load fastify and gRPC):
 * - repository/: a Triton-style model repository on disk (names, versions, symlinks,
 *   version policy, model cards) and its models' loading, reloading (only what changed)
 *   and unloading; each model's routing (default, labels, key routes, split, shadow);
 *   the poll watcher that loads what stopped changing;
 * - config/: Triton's model configuration (protobuf text format and JSON), checked and
 *   completed from the model;
 * - model/: one model version serving: sessions, the dynamic batcher, warm-up, statistics;
 * - handlers/: custom handlers (a model folder's handler.mjs) on worker threads;
 * - protocol/: the Open Inference Protocol's types and its HTTP encodings (JSON and the
 *   binary tensor data extension);
 * - http/, grpc/: the transports over the core (inference-server.ts): KServe's v2 (and
 *   TF Serving's REST API) over fastify, Triton's gRPC service;
 * - metrics/: Prometheus metrics of the versions served (a ServingObserver of the
 *   repository) and their listener on a port of their own;
 * - create-server.ts: all of it listening, as `onnx-native serve` runs it.
 */
export { createServer, type ModelServer, type ServerAddresses, type ServerOptions, type TlsFiles } from './create-server';
export { InferenceServer, EXTENSIONS, type RoutedRequest, type InferenceServerOptions, type ModelMetadataResponse, type ServerMetadataResponse, type TensorMetadata } from './inference-server';
export { v2Routes, type HttpLimits, type V2RoutesOptions } from './http/v2-routes';
export { v1Routes, type V1RoutesOptions } from './http/v1-routes';
export { addInferenceService, type GrpcServiceOptions, type RpcAuth, type UnaryRpc, unaryRpc } from './grpc/grpc-service';
export { inferenceProtocol, type InferenceProtocol } from './grpc/proto';
export { writeExampleRepository } from './example-repository';
export type { HandlerContext, HandlerModule } from './handlers/handler-pool';
export { ServerMetrics, DURATION_BUCKETS, BATCH_SIZE_BUCKETS, type ServerMetricsOptions, type VersionStateSource } from './metrics/server-metrics';
export { listenMetrics, type MetricsListener, type MetricsSource } from './metrics/metrics-listener';
export type { FailureReason, ServingObserver, VersionObserver, BatchObserver } from './model/serving-observer';
export {
  type Datatype,
  type InferInput,
  type InferOutput,
  type InferRequest,
  type InferResponse,
  type Parameters,
  type ParameterValue,
  type ProtocolStatus,
  type RequestedOutput,
  ProtocolError,
} from './protocol/types';
export type { IndexEntry, VersionState, VersionStatus, LoadedModel, VersionEntry, ModelControl, RepositoryListener } from './repository/model-repository';
export type { VersionRouting, TrafficSplit, KeyRoute, ShadowRoute, RouteKind } from './repository/version-routing';
export type { ModelCard, CardValue } from './repository/model-card';
export { RepositoryWatcher, type RepositoryWatcherOptions, type WatchedRepository } from './repository/repository-watcher';
export type { ExtensionContext, ServerExtension, StartedExtension, RouteGuards } from './create-server';
export type { ShadowOutcome } from './model/serving-observer';
export type { ModelVersionStatistics, Duration } from './model/served-model';
export { ConfigError } from './config/text-format';
export type { ModelConfig } from './config/model-config';
