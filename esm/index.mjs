// The ES module entry: the CommonJS build, re-exported by name. test/package.test.ts
// checks that these names match dist/index.js's exports.
import cjs from '../dist/index.js';

export const {
  attachSession,
  buildEngine,
  BatchedSession,
  createPool,
  CudaStream,
  cudaStatus,
  DeviceTensor,
  createSession,
  InferencePool,
  IoBinding,
  move,
  Session,
  tensor,
  elementTypes,
  OrtError,
  pinnedTensor,
  availableProviders,
  loadRuntime,
  RUNTIME_PATH_ENV,
  // onnxruntime-node's API (lib/compat/)
  InferenceSession,
  Tensor,
  env,
  registerBackend,
  listSupportedBackends,
  TRACE,
  TRACE_FUNC_BEGIN,
  TRACE_FUNC_END,
  TRACE_EVENT_BEGIN,
  TRACE_EVENT_END,
} = cjs;
