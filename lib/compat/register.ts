/**
 * `import 'onnx-native/register'`: offers this runtime, with onnxruntime-node's API, under
 * `globalThis[Symbol.for('onnxruntime')]`, where transformers.js (and other code that
 * follows it) looks for a runtime before it falls back to onnxruntime-node.
 */
import * as ort from './index';

const key = Symbol.for('onnxruntime');
const slot = globalThis as { [key]?: unknown };
// A runtime already there was put there on purpose, by its embedder: keep it.
if (slot[key] === undefined) slot[key] = ort;
