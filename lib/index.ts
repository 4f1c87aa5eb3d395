/**
 * onnx-native: ONNX Runtime for Node.js through its C API, with runs off the JavaScript
 * thread and tensors over your own memory.
 *
 * The package's one entry. lib/ is in folders by concept, each importing only from those
 * below it: core/, batching/, runtime/, then gpu/, pool/, compat/ and cli/ (the README's
 * "Architecture" says what each owns).
 *
 * It is also onnxruntime-node's entry (compat/): onnxruntime-common's `Tensor`, `env`,
 * `registerBackend` and types, with this runtime's `InferenceSession` and
 * `listSupportedBackends`, so that the package can stand in for onnxruntime-node.
 *
 * @packageDocumentation
 */
export { attachSession, BatchedSession, createSession, Session } from './runtime/session';
export { IoBinding } from './runtime/io-binding';
export { CudaStream, DeviceTensor, cudaStatus, pinnedTensor } from './runtime/cuda';
export { buildEngine } from './gpu/engine';
export type { BuildEngineOptions, BuiltEngine } from './gpu/engine';
export type { CudaStatus } from './runtime/cuda';
export type { BindingRunOptions } from './runtime/io-binding';
export { createPool, InferencePool } from './pool/pool';
export type { PoolModelInfo, PoolModule, PoolOptions, PoolRunOptions } from './pool/pool';
export { move } from 'piscina';
export type { BatchedRunOptions, BatchingOptions } from './batching/batcher';
export type { BatchingStats, LatencySummary } from './batching/batch-stats';
export type { ModelMetadata, RunOptions } from './runtime/session';
export type { ValueMetadata } from './runtime/model-values';
export { tensor } from './core/tensor';
export type { AnyTensor, PlainTensor, TensorLike } from './core/tensor';
export { elementTypes } from './core/dtypes';
export type { ElementType, NumericElementType, TensorData, TensorDataMap } from './core/dtypes';
export { OrtError } from './core/errors';
export type { BindingErrorCode, ErrorCode, OrtStatusCode } from './core/errors';
export { availableProviders, loadRuntime, RUNTIME_PATH_ENV } from './runtime/runtime-library';
export type { RuntimeInfo } from './runtime/runtime-library';
export type { LogLevel, SessionOptions } from './runtime/options';
export type {
  CpuProviderOptions,
  CudaProviderOptions,
  CudaStreamHandle,
  ExecutionProvider,
  ExecutionProviderName,
  ExecutionProviderOptions,
  ShapeProfile,
  TensorRtProviderOptions,
} from './runtime/providers';
export type { AnySignature, Feeds, OutputName, Results, Signature, TensorOf } from './core/signature';
export * from './compat';
