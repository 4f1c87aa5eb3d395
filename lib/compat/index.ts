/**
 * The folder compat/ is onnxruntime-node's public API on this runtime: onnxruntime-common's
 * `Tensor`, `env` and the rest as they are, with an `InferenceSession` whose runs do not
 * hold the JavaScript thread. The package's entry exports all of it, so that an npm alias
 * (`"onnxruntime-node": "npm:onnx-native@..."`) or `onnx-native/register` puts code written
 * for onnxruntime-node, transformers.js among it, on this runtime unchanged.
 */
export * from 'onnxruntime-common';
export { InferenceSession } from './inference-session';
export { listSupportedBackends } from './backends';
export type { SupportedBackend } from './backends';
