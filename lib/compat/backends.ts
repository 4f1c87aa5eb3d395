/**
 * onnxruntime-node's `listSupportedBackends()`, answered from the ONNX Runtime library
 * this process loads (onnxruntime-node answers from how it was built).
 */
import { availableProviders } from '../runtime/runtime-library';
import { ORT_PROVIDER_NAMES, type ExecutionProviderName } from '../runtime/providers';

/** One execution provider, as onnxruntime-node lists it. */
export interface SupportedBackend {
  /** The name `executionProviders` takes: `'cpu'`, `'cuda'`, `'tensorrt'`. */
  readonly name: string;
  /** Whether it works with nothing else installed (the CPU); the GPU ones need CUDA's libraries. */
  readonly bundled: boolean;
}

/**
 * The execution providers sessions can ask for here: those of this package's that the
 * loaded ONNX Runtime library has (it loads the default library if none is loaded).
 */
export function listSupportedBackends(): SupportedBackend[] {
  const available = availableProviders();
  return (Object.keys(ORT_PROVIDER_NAMES) as ExecutionProviderName[])
    .filter((name) => available.includes(ORT_PROVIDER_NAMES[name]))
    .map((name) => ({ name, bundled: name === 'cpu' }));
}
