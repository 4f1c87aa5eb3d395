/**
 * onnx-native: ONNX Runtime for Node.js through its C API, with runs off the JavaScript
 * thread and tensors over your own memory.
 *
 * @packageDocumentation
 */
export { attachSession, createSession, Session } from './session';
export { BatchedSession } from './batcher';
export { IoBinding } from './io-binding';
export { CudaStream, DeviceTensor, cudaStatus, pinnedTensor } from './cuda';
export { buildEngine } from './engine';
export type { BuildEngineOptions, BuiltEngine } from './engine';
export type { CudaStatus } from './cuda';
export type { BindingRunOptions } from './io-binding';
export { createPool, InferencePool } from './pool';
export type { PoolModelInfo, PoolModule, PoolOptions, PoolRunOptions } from './pool';
export { move } from 'piscina';
export type { BatchedRunOptions, BatchingOptions } from './batcher';
export type { BatchingStats, LatencySummary } from './batch-stats';
export type { ModelMetadata, RunOptions, ValueMetadata } from './session';
export { tensor } from './tensor';
export type { AnyTensor, Tensor, TensorLike } from './tensor';
export { elementTypes } from './dtypes';
export type { ElementType, NumericElementType, TensorData, TensorDataMap } from './dtypes';
export { OrtError } from './errors';
export type { BindingErrorCode, ErrorCode, OrtStatusCode } from './errors';
export { availableProviders, loadRuntime, RUNTIME_PATH_ENV } from './runtime';
export type { RuntimeInfo } from './runtime';
export type { LogLevel, SessionOptions } from './options';
export type {
  CpuProviderOptions,
  CudaProviderOptions,
  CudaStreamHandle,
  ExecutionProvider,
  ExecutionProviderName,
  ExecutionProviderOptions,
  ShapeProfile,
  TensorRtProviderOptions,
} from './providers';
export type { AnySignature, Feeds, OutputName, Results, Signature, TensorOf } from './signature';
