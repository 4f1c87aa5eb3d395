/**
 * The benches compare onnx-native with onnxruntime-node: both must run the same ONNX
 * Runtime, or the comparison measures two builds of it rather than two bindings. This
 * loads onnxruntime-node's own library (1.30) into onnx-native, before any session.
 */
import { dirname, join } from 'node:path';
import { loadRuntime, type RuntimeInfo } from '../lib/index';

export function usePeerRuntime(): RuntimeInfo {
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  const file = process.platform === 'win32' ? 'onnxruntime.dll' : process.platform === 'darwin' ? 'libonnxruntime.1.dylib' : 'libonnxruntime.so.1';
  return loadRuntime(join(dir, file));
}
