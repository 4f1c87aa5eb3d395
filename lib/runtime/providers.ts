/**
 * Execution providers: typed options for each, checked here and translated into the
 * string key/value pairs ONNX Runtime's C API takes (UpdateCUDAProviderOptions,
 * UpdateTensorRTProviderOptions), with `extra` as the escape hatch for raw keys.
 */
import { checkKeys } from '../core/check-keys';
import { OrtError } from '../core/errors';

/** A CUDA stream, as a `cudaStream_t` address: a number or bigint, or an object holding one (`handle`). */
export type CudaStreamHandle = bigint | number | { readonly handle: bigint };

interface ProviderBase {
  /**
   * If the loaded ONNX Runtime lacks this provider, or it fails to start (no GPU, no
   * CUDA libraries), skip it and go on with the next one instead of failing. The
   * session's `providers` then says what it really runs on. Default: false.
   */
  optional?: boolean;
  /** Raw provider option keys and values, passed to ONNX Runtime as they are. */
  extra?: Readonly<Record<string, string>>;
}

/** The CPU execution provider: always there, and always the last resort. */
export interface CpuProviderOptions {
  name: 'cpu';
  /** Use ONNX Runtime's memory arena for this provider. Default: true. */
  useArena?: boolean;
}

/** The CUDA execution provider (a GPU build of ONNX Runtime, and CUDA 12 with cuDNN 9). */
export interface CudaProviderOptions extends ProviderBase {
  name: 'cuda';
  /** The GPU. Default: 0. */
  deviceId?: number;
  /** Most bytes the provider's memory arena may take. Default: no limit. */
  memoryLimit?: number;
  /** How the arena grows. Default: `'nextPowerOfTwo'`. */
  arenaExtendStrategy?: 'nextPowerOfTwo' | 'sameAsRequested';
  /** How cuDNN picks convolution algorithms. Default: `'exhaustive'` (slow first run, fastest after). */
  cudnnConvAlgoSearch?: 'exhaustive' | 'heuristic' | 'default';
  /** Let the exhaustive search use as much workspace memory as it wants. Default: true. */
  cudnnConvUseMaxWorkspace?: boolean;
  /** Allow TensorFloat-32 for MatMul and Conv (Ampere and newer). Default: false. */
  tf32?: boolean;
  /** Prefer NHWC layout kernels (Tensor Cores like them). Default: false. */
  preferNhwc?: boolean;
  /** Capture and replay the run as a CUDA graph (fixed shapes; bind inputs and outputs). Default: false. */
  cudaGraph?: boolean;
  /** Run on this CUDA stream instead of one of the provider's own. */
  stream?: CudaStreamHandle;
}

/** Input shapes for a TensorRT optimization profile, by input name: `{ x: [1, 3, 224, 224] }`. */
export type ShapeProfile = Readonly<Record<string, readonly number[]>>;

/** The TensorRT execution provider (a GPU build of ONNX Runtime with TensorRT 10). */
export interface TensorRtProviderOptions extends ProviderBase {
  name: 'tensorrt';
  /** The GPU. Default: 0. */
  deviceId?: number;
  /** Build FP16 kernels where TensorRT finds them faster. Default: false. */
  fp16?: boolean;
  /** Build INT8 kernels (needs a calibration table). Default: false. */
  int8?: boolean;
  /** The INT8 calibration table's file name. */
  int8CalibrationTable?: string;
  /** Most bytes of GPU memory a layer may use as workspace while building. Default: TensorRT's. */
  workspaceSize?: number;
  /** Cache built engines in this folder, and load them from it next time. */
  engineCachePath?: string;
  /** Cache layer timings in this folder: later builds of similar models go faster. */
  timingCachePath?: string;
  /** Dynamic input shapes: the smallest, usual and largest each input will have. */
  profiles?: { min: ShapeProfile; opt: ShapeProfile; max: ShapeProfile };
  /** How hard the builder searches, 0 to 5. Default: 3. */
  builderOptimizationLevel?: number;
  /**
   * Write an EP-context model: an .onnx file whose nodes hold (or point at) the built
   * engines, which later loads without building anything.
   */
  epContext?: { path: string; embedEngine?: boolean };
  /** Smallest subgraph handed to TensorRT (smaller ones stay on the next provider). Default: 1. */
  minSubgraphSize?: number;
  /** Capture and replay runs as CUDA graphs. Default: false. */
  cudaGraph?: boolean;
  /** Run on this CUDA stream. */
  stream?: CudaStreamHandle;
}

/** An execution provider with its options. */
export type ExecutionProviderOptions = CpuProviderOptions | CudaProviderOptions | TensorRtProviderOptions;

/** An execution provider's name. */
export type ExecutionProviderName = ExecutionProviderOptions['name'];

/** An execution provider: a name, or a name with options. */
export type ExecutionProvider = ExecutionProviderName | ExecutionProviderOptions;

/** ONNX Runtime's names for the providers. */
export const ORT_PROVIDER_NAMES: Readonly<Record<ExecutionProviderName, string>> = {
  cpu: 'CPUExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  tensorrt: 'TensorrtExecutionProvider',
};

/** @internal A provider as the native layer registers it. */
export interface ProviderConfig {
  /** ONNX Runtime's name of the provider. */
  ortName: string;
  /** Its option keys and values, as ONNX Runtime spells them. */
  options: [string, string][];
  optional: boolean;
}

const OPTION_KEYS: Readonly<Record<ExecutionProviderName, readonly string[]>> = {
  cpu: ['name', 'useArena'],
  cuda: [
    'name',
    'optional',
    'extra',
    'deviceId',
    'memoryLimit',
    'arenaExtendStrategy',
    'cudnnConvAlgoSearch',
    'cudnnConvUseMaxWorkspace',
    'tf32',
    'preferNhwc',
    'cudaGraph',
    'stream',
  ],
  tensorrt: [
    'name',
    'optional',
    'extra',
    'deviceId',
    'fp16',
    'int8',
    'int8CalibrationTable',
    'workspaceSize',
    'engineCachePath',
    'timingCachePath',
    'profiles',
    'builderOptimizationLevel',
    'epContext',
    'minSubgraphSize',
    'cudaGraph',
    'stream',
  ],
};

function invalid(provider: string, key: string, expected: string, got: unknown): OrtError {
  return new OrtError(`${provider} provider option ${key} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`, 'INVALID_OPTION');
}

/** Builds the key/value list, checking each value's type on the way. */
class Options {
  readonly pairs: [string, string][] = [];
  constructor(readonly provider: string) {}

  int(key: string, ortKey: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): void {
    if (value === undefined) return;
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw invalid(this.provider, key, `an integer from ${min} to ${max}`, value);
    }
    this.pairs.push([ortKey, String(value)]);
  }

  flag(key: string, ortKey: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'boolean') throw invalid(this.provider, key, 'a boolean', value);
    this.pairs.push([ortKey, value ? '1' : '0']);
  }

  text(key: string, ortKey: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || value === '') throw invalid(this.provider, key, 'a non-empty string', value);
    this.pairs.push([ortKey, value]);
  }

  choice(key: string, ortKey: string, value: unknown, choices: Readonly<Record<string, string>>): void {
    if (value === undefined) return;
    const mapped = typeof value === 'string' ? choices[value] : undefined;
    if (mapped === undefined) throw invalid(this.provider, key, `one of ${Object.keys(choices).map((c) => `'${c}'`).join(', ')}`, value);
    this.pairs.push([ortKey, mapped]);
  }

  stream(value: unknown): void {
    if (value === undefined) return;
    const handle = typeof value === 'object' && value !== null && 'handle' in value ? (value as { handle: unknown }).handle : value;
    if (!(typeof handle === 'bigint' || (typeof handle === 'number' && Number.isSafeInteger(handle))) || BigInt(handle) <= 0n) {
      throw invalid(this.provider, 'stream', 'a CUDA stream (a cudaStream_t address, or an object with a handle)', value);
    }
    this.pairs.push(['has_user_compute_stream', '1'], ['user_compute_stream', BigInt(handle).toString()]);
  }

  extra(value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'object' || value === null) throw invalid(this.provider, 'extra', 'an object of strings', value);
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw invalid(this.provider, `extra.${k}`, 'a string', v);
      this.pairs.push([k, v]);
    }
  }
}

/** "x:1x3x224x224,mask:1x224" for TensorRT's profile options. */
function shapeList(provider: string, which: string, profile: unknown): string {
  if (typeof profile !== 'object' || profile === null || Object.keys(profile).length === 0) {
    throw invalid(provider, `profiles.${which}`, 'an object of shapes by input name', profile);
  }
  return Object.entries(profile)
    .map(([input, dims]) => {
      if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw invalid(provider, `profiles.${which}.${input}`, 'an array of non-negative integers', dims);
      }
      return `${input}:${dims.join('x')}`;
    })
    .join(',');
}

function checkProfiles(profiles: NonNullable<TensorRtProviderOptions['profiles']>): void {
  const inputs = Object.keys(profiles.min ?? {});
  for (const which of ['opt', 'max'] as const) {
    const other = Object.keys(profiles[which] ?? {});
    if (other.length !== inputs.length || other.some((i) => !inputs.includes(i))) {
      throw new OrtError(`tensorrt provider option profiles: min, opt and max must name the same inputs`, 'INVALID_OPTION');
    }
  }
  for (const input of inputs) {
    const [min, opt, max] = [profiles.min[input], profiles.opt[input], profiles.max[input]];
    if (min.length !== opt.length || min.length !== max.length || min.some((d, i) => !(d <= opt[i] && opt[i] <= max[i]))) {
      throw new OrtError(
        `tensorrt provider option profiles.${input}: need min <= opt <= max in every dimension, got [${min}], [${opt}], [${max}]`,
        'INVALID_OPTION',
      );
    }
  }
}

/** @internal A provider's spec as the user gave it, normalized to an object. */
export function providerSpec(entry: unknown): ExecutionProviderOptions {
  const spec = (typeof entry === 'string' ? { name: entry } : entry) as ExecutionProviderOptions;
  if (typeof spec !== 'object' || spec === null || !(spec.name in OPTION_KEYS)) {
    throw new OrtError(
      `unknown execution provider ${JSON.stringify(typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : entry)}; valid ones are: ${Object.keys(OPTION_KEYS).join(', ')}`,
      'INVALID_OPTION',
    );
  }
  const { name, ...options } = spec;
  checkKeys(options, OPTION_KEYS[name].filter((k) => k !== 'name'), `${name} provider option`);
  return spec;
}

/**
 * @internal A provider's options as ONNX Runtime's key/value pairs. Throws
 * INVALID_OPTION, naming the option, for any value of the wrong type or range.
 */
export function providerConfig(spec: CudaProviderOptions | TensorRtProviderOptions): ProviderConfig {
  const o = new Options(spec.name);
  o.int('deviceId', 'device_id', spec.deviceId, 0, 1023);
  if (spec.name === 'cuda') {
    o.int('memoryLimit', 'gpu_mem_limit', spec.memoryLimit, 1);
    o.choice('arenaExtendStrategy', 'arena_extend_strategy', spec.arenaExtendStrategy, { nextPowerOfTwo: 'kNextPowerOfTwo', sameAsRequested: 'kSameAsRequested' });
    o.choice('cudnnConvAlgoSearch', 'cudnn_conv_algo_search', spec.cudnnConvAlgoSearch, { exhaustive: 'EXHAUSTIVE', heuristic: 'HEURISTIC', default: 'DEFAULT' });
    o.flag('cudnnConvUseMaxWorkspace', 'cudnn_conv_use_max_workspace', spec.cudnnConvUseMaxWorkspace);
    o.flag('tf32', 'use_tf32', spec.tf32);
    o.flag('preferNhwc', 'prefer_nhwc', spec.preferNhwc);
    o.flag('cudaGraph', 'enable_cuda_graph', spec.cudaGraph);
  } else {
    o.flag('fp16', 'trt_fp16_enable', spec.fp16);
    o.flag('int8', 'trt_int8_enable', spec.int8);
    o.text('int8CalibrationTable', 'trt_int8_calibration_table_name', spec.int8CalibrationTable);
    o.int('workspaceSize', 'trt_max_workspace_size', spec.workspaceSize, 1);
    if (spec.engineCachePath !== undefined) {
      o.flag('engineCachePath', 'trt_engine_cache_enable', true);
      o.text('engineCachePath', 'trt_engine_cache_path', spec.engineCachePath);
    }
    if (spec.timingCachePath !== undefined) {
      o.flag('timingCachePath', 'trt_timing_cache_enable', true);
      o.text('timingCachePath', 'trt_timing_cache_path', spec.timingCachePath);
    }
    if (spec.profiles !== undefined) {
      const p = spec.profiles as Record<string, unknown>;
      o.text('profiles.min', 'trt_profile_min_shapes', shapeList('tensorrt', 'min', p.min));
      o.text('profiles.opt', 'trt_profile_opt_shapes', shapeList('tensorrt', 'opt', p.opt));
      o.text('profiles.max', 'trt_profile_max_shapes', shapeList('tensorrt', 'max', p.max));
      checkProfiles(spec.profiles);
    }
    o.int('builderOptimizationLevel', 'trt_builder_optimization_level', spec.builderOptimizationLevel, 0, 5);
    if (spec.epContext !== undefined) {
      if (typeof spec.epContext !== 'object' || spec.epContext === null) throw invalid('tensorrt', 'epContext', '{ path, embedEngine? }', spec.epContext);
      o.flag('epContext', 'trt_dump_ep_context_model', true);
      o.text('epContext.path', 'trt_ep_context_file_path', spec.epContext.path);
      o.int('epContext.embedEngine', 'trt_ep_context_embed_mode', spec.epContext.embedEngine === undefined ? undefined : Number(spec.epContext.embedEngine), 0, 1);
    }
    o.int('minSubgraphSize', 'trt_min_subgraph_size', spec.minSubgraphSize, 1);
    o.flag('cudaGraph', 'trt_cuda_graph_enable', spec.cudaGraph);
  }
  o.stream(spec.stream);
  o.extra(spec.extra);
  if (spec.optional !== undefined && typeof spec.optional !== 'boolean') throw invalid(spec.name, 'optional', 'a boolean', spec.optional);
  return { ortName: ORT_PROVIDER_NAMES[spec.name], options: o.pairs, optional: spec.optional === true };
}
