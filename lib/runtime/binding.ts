/**
 * @internal Loads the native addon (a local build/ first, then prebuilds/, as node-gyp-build orders them)
 * and describes what it exports. Nothing here is public API.
 */
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { elementSizes } from '../core/dtypes';
import { OrtError } from '../core/errors';

/** A value's signature as the addon reports it. */
export interface NativeValueInfo {
  name: string;
  kind: 'tensor' | 'sequence' | 'map' | 'opaque' | 'sparse_tensor' | 'optional' | 'unknown';
  elementType: number;
  dims: (number | string | null)[];
}

export interface NativeModelInfo {
  /** The providers the session registered, in order; CPUExecutionProvider last. */
  providers?: string[];
  /** Optional providers that failed to register, and why. */
  skippedProviders?: { provider: string; reason: string }[];
  inputs: NativeValueInfo[];
  outputs: NativeValueInfo[];
  metadata: {
    producerName: string;
    graphName: string;
    graphDescription: string;
    domain: string;
    description: string;
    version?: number;
    custom: Record<string, string>;
  };
}

export interface NativeRunOptions {
  /** Stops the run; true when it had not started, and now never will (native/run_options.h). */
  terminate(): boolean;
}

/** See native/run_job.h for the header layout and the results. */
export interface NativeSession {
  run(data: unknown[], callback: (error: Error | null, results?: unknown[]) => void, runOptions?: NativeRunOptions): void;
  runSync(data: unknown[], runOptions?: NativeRunOptions): unknown[] | undefined;
  release(): void;
  endProfiling(): string;
  /** `abortsOnEmpty` travels with the session to the threads that attach to it. */
  share(abortsOnEmpty: string): number;
  createBinding(): NativeIoBinding;
}

/** See native/io_binding.h. */
export interface NativeIoBinding {
  bindInput(index: number, elementType: number, dims: readonly number[], data: unknown): void;
  bindOutput(index: number, elementType: number, dims: readonly number[], data: unknown): void;
  bindOutputToHost(index: number): void;
  bindInputDevice(index: number, tensor: unknown): void;
  bindOutputToDevice(index: number, deviceId: number): void;
  run(callback: (error: Error | null) => void, runOptions?: NativeRunOptions): void;
  runSync(runOptions?: NativeRunOptions): void;
  outputs(): unknown[];
  clearInputs(): void;
  clearOutputs(): void;
  release(): void;
}

/** lib/runtime/options.ts's NativeSessionOptions, as native/session_options.cc reads it. */
export interface NativeSessionOptions {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: number;
  graphOptimizationLevel: number;
  enableCpuMemArena: boolean;
  enableMemPattern: boolean;
  logSeverityLevel: number;
  logId: string;
  optimizedModelFilePath: string;
  profileFilePrefix: string;
  freeDimensionOverrides: [string, number][];
  configEntries: [string, string][];
  /** [ONNX Runtime's provider name, its options, optional] in order of preference; the CPU provider is implied. */
  executionProviders: [string, [string, string][], boolean][];
  /** The addon's CUDA streams the providers run on: the session keeps them until it is gone. */
  streams: unknown[];
}

export interface NativeAddon {
  apiVersion: number;
  /** The runtime loaded, or, for a library that takes OrtGetApiBase from a dependency, that dependency's path (nothing loaded). */
  loadRuntime(path: string): { path: string; version: string; apiVersion: number } | { entryPointIn: string };
  /** What this process has loaded, from any thread (the runtime is per process). */
  loadedRuntime(): { path: string; version: string; apiVersion: number } | undefined;
  availableProviders(): string[];
  setRunHeader(header: Float64Array): void;
  drainCompletions(): number;
  cudaStatus(): string;
  /** CUDART_VERSION of the toolkit headers the build was checked against; 0 in a CPU-only build. */
  readonly cudaToolkitChecked: number;
  uploadToDevice(elementType: number, dims: readonly number[], data: unknown, deviceId: number): unknown;
  allocatePinned(bytes: number): ArrayBuffer;
  CudaStream: new (deviceId: number) => { handle: bigint; synchronize(): void; release(): void };
  setCompletionPolling(polling: boolean): void;
  setCompletionState(cells: Int32Array): void;
  stopRunsForExit(status: number): void;
  configure(errorClass: typeof OrtError, elementSizes: readonly number[]): void;
  createSession(model: string | Uint8Array, options: NativeSessionOptions): Promise<{ session: NativeSession; info: NativeModelInfo }>;
  attachSession(handle: number): { session: NativeSession; info: NativeModelInfo; abortsOnEmpty: string };
  RunOptions: new (logSeverityLevel?: number, tag?: string, configEntries?: [string, string][]) => NativeRunOptions;
}

/** The package root: this file is two levels below it, in dist/runtime/ (or lib/runtime/). */
export const packageRoot = join(__dirname, '..', '..');

let addon: NativeAddon | undefined;

/** The prebuilt platforms in this copy of the package, e.g. `linux-x64`. */
function prebuiltPlatforms(): string[] {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('node:fs') as typeof import('node:fs')).readdirSync(join(packageRoot, 'prebuilds'));
  } catch {
    return [];
  }
}

/** The addon, loaded on first use. Throws an OrtError that says how to get one. */
export function native(): NativeAddon {
  if (addon) return addon;
  let loaded: NativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => unknown;
    loaded = load(packageRoot) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const prebuilt = prebuiltPlatforms();
    throw new OrtError(
      `onnx-native has no native addon that loads on ${process.platform}-${process.arch} (Node ${process.version}): ${why}\n` +
        `Prebuilt: ${prebuilt.length ? prebuilt.join(', ') : 'none in this copy'}. To build it from source here, run\n` +
        `  npm rebuild onnx-native --foreground-scripts\n` +
        `(needs Python 3, make and a C++17 compiler, as node-gyp does; see the README, "Build from source").`,
      'RUNTIME_LOAD_FAILED',
    );
  }
  loaded.configure(OrtError, elementSizes);
  // Runs in flight stop before exit() tears ONNX Runtime down (native/run_pool.h).
  if (isMainThread) process.on('exit', (status) => loaded.stopRunsForExit(status));
  addon = loaded;
  return loaded;
}
