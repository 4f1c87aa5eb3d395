/**
 * Triton's model configuration, the `ModelConfig` message of triton-inference-server/common's
 * `protobuf/model_config.proto`, read from `config.pbtxt` (protobuf text format) or from its
 * JSON form, checked once, and handed to the rest of the server as a typed, frozen object.
 *
 * One schema (below) describes every field Triton has, with what this server does with it:
 * - honoured: kept in the typed {@link ModelConfig};
 * - tuning-only (response cache, metric tags, pinned memory...): accepted, dropped, and
 *   reported in {@link ParsedModelConfig.ignored} so the caller can log it once;
 * - changing what a request means (sequence batching, ensembles, decoupled models, other
 *   platforms...): refused with a {@link ConfigError}.
 * A field Triton does not have, a value of the wrong kind, an enum name that does not exist
 * and a number out of its field's range are errors too, each naming the file, the place
 * (`line:column` in text, the field's path in JSON) and the field.
 */
import { ELEMENT_TYPE_OF } from '../protocol/types';
import type { ElementType } from '../../core/dtypes';
import { ConfigError, parseTextFormat, type TextPosition } from './text-format';

// ---------------------------------------------------------------------------------------
// The typed configuration (the honoured subset), spelled as Triton's proto and JSON spell it.

/** A tensor data type as model_config.proto names it (`TYPE_INVALID` is refused). */
export type DataType =
  | 'TYPE_BOOL'
  | 'TYPE_UINT8'
  | 'TYPE_UINT16'
  | 'TYPE_UINT32'
  | 'TYPE_UINT64'
  | 'TYPE_INT8'
  | 'TYPE_INT16'
  | 'TYPE_INT32'
  | 'TYPE_INT64'
  | 'TYPE_FP16'
  | 'TYPE_FP32'
  | 'TYPE_FP64'
  | 'TYPE_STRING'
  | 'TYPE_BF16';

/**
 * The element type of each config data type: the protocol's datatype with `TYPE_` in
 * front, but for TYPE_STRING (the protocol's BYTES, ONNX's string tensors).
 */
export const ELEMENT_TYPE_OF_DATA_TYPE: Readonly<Record<DataType, ElementType>> = Object.freeze(
  Object.fromEntries(Object.entries(ELEMENT_TYPE_OF).map(([d, e]) => [d === 'BYTES' ? 'TYPE_STRING' : `TYPE_${d}`, e])) as Record<DataType, ElementType>,
);

/** The config data type of each element type. */
export const DATA_TYPE_OF_ELEMENT_TYPE: Readonly<Record<ElementType, DataType>> = Object.freeze(
  Object.fromEntries(Object.entries(ELEMENT_TYPE_OF_DATA_TYPE).map(([d, e]) => [e, d])) as Record<ElementType, DataType>,
);

/** `reshape { shape: [...] }`: the shape the model itself takes or gives, batch dimension excluded. */
export interface ModelTensorReshape {
  readonly shape: readonly number[];
}

/** One `input { ... }`. */
export interface ModelInput {
  readonly name: string;
  readonly data_type: DataType;
  /**
   * An image layout hint. Triton only checks it (3 dims) and reports it; clients such as
   * Triton's image_client read it to lay out their data, so it is kept and reported.
   */
  readonly format: 'FORMAT_NONE' | 'FORMAT_NHWC' | 'FORMAT_NCHW';
  /** The shape a request gives, batch dimension excluded when max_batch_size > 0; -1 is any size. */
  readonly dims: readonly number[];
  readonly reshape?: ModelTensorReshape;
  /** Whether a request may leave the input out. */
  readonly optional: boolean;
}

/** One `output { ... }`. */
export interface ModelOutput {
  readonly name: string;
  readonly data_type: DataType;
  readonly dims: readonly number[];
  readonly reshape?: ModelTensorReshape;
  /** A file in the model's folder with one class label per line, for classification results; '' for none. */
  readonly label_filename: string;
}

/** `version_policy { latest { num_versions: n } }`: the n highest-numbered versions. */
export interface LatestVersionPolicy {
  readonly latest: { readonly num_versions: number };
  readonly all?: undefined;
  readonly specific?: undefined;
}
/** `version_policy { all {} }`: every version. */
export interface AllVersionPolicy {
  readonly all: Readonly<Record<string, never>>;
  readonly latest?: undefined;
  readonly specific?: undefined;
}
/** `version_policy { specific { versions: [...] } }`: those versions. */
export interface SpecificVersionPolicy {
  readonly specific: { readonly versions: readonly number[] };
  readonly latest?: undefined;
  readonly all?: undefined;
}
/** Which versions of the model are served; Triton's default is `latest { num_versions: 1 }`. */
export type ModelVersionPolicy = LatestVersionPolicy | AllVersionPolicy | SpecificVersionPolicy;

/** What the queue does with requests: a dynamic batcher's default policy, or one priority level's. */
export interface ModelQueuePolicy {
  /** What happens to a request that times out in the queue: REJECT it, or DELAY it behind the others. */
  readonly timeout_action: 'REJECT' | 'DELAY';
  /** 0: no timeout. */
  readonly default_timeout_microseconds: number;
  /** Whether a request may ask for a shorter timeout than the default (never a longer one). */
  readonly allow_timeout_override: boolean;
  /** 0: no limit. */
  readonly max_queue_size: number;
}

/** `dynamic_batching { ... }`. */
export interface ModelDynamicBatching {
  /** Batch sizes run at once when reached; Triton fills `[max_batch_size]` when empty (see completeConfig). */
  readonly preferred_batch_size: readonly number[];
  readonly max_queue_delay_microseconds: number;
  readonly preserve_ordering: boolean;
  /** 0: no priorities; else levels 1 (highest) to priority_levels. */
  readonly priority_levels: number;
  readonly default_priority_level: number;
  readonly default_queue_policy?: ModelQueuePolicy;
  /** Per priority level (the key, a decimal string as in Triton's JSON). */
  readonly priority_queue_policy: Readonly<Record<string, ModelQueuePolicy>>;
}

/** One `instance_group { ... }`. KIND_MODEL is refused. */
export interface ModelInstanceGroup {
  /** '' until the caller names it (Triton: `<model>_<index>`, or the model's name for the default group). */
  readonly name: string;
  readonly kind: 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU';
  /** Instances per GPU listed (GPU), or in all (CPU); 0 until the caller sets Triton's default (1; 2 for ONNX Runtime on CPU). */
  readonly count: number;
  /** GPU ids; empty means every GPU. */
  readonly gpus: readonly number[];
}

/** An execution accelerator: an ONNX Runtime execution provider with its options. */
export interface ExecutionAccelerator {
  /** Triton's ONNX Runtime backend knows "tensorrt" and "cuda" on GPU, "openvino" on CPU. */
  readonly name: string;
  /** Options, e.g. TensorRT's `precision_mode: "FP16"`, `max_workspace_size_bytes`. */
  readonly parameters: Readonly<Record<string, string>>;
}

/** `optimization { ... }`, the honoured part. */
export interface ModelOptimizationPolicy {
  /**
   * ONNX Runtime's graph optimization level as Triton's ONNX Runtime backend maps it: -1
   * basic, 1 extended, 2 none (the backend's README), anything else (0) all.
   */
  readonly graph?: { readonly level: number };
  readonly execution_accelerators?: {
    /** In priority order, for instances on a GPU. */
    readonly gpu_execution_accelerator: readonly ExecutionAccelerator[];
    /** In priority order, for instances on the CPU. */
    readonly cpu_execution_accelerator: readonly ExecutionAccelerator[];
  };
}

/** A `parameters` value: `value: { string_value: "..." }`. */
export interface ModelParameter {
  readonly string_value: string;
}

/** One input of a warmup sample; exactly one of the three data sources is set. */
export interface ModelWarmupInput {
  readonly data_type: DataType;
  /** The shape, batch dimension excluded; no -1. */
  readonly dims: readonly number[];
  /** Zeros (the value itself is not looked at, as in Triton). */
  readonly zero_data?: boolean;
  /** Random data (zeros for TYPE_STRING, as in Triton). */
  readonly random_data?: boolean;
  /** A file in the model's `warmup/` folder with the raw data, row-major. */
  readonly input_data_file?: string;
}

/** One `model_warmup { ... }` sample. */
export interface ModelWarmup {
  readonly name: string;
  /** At least 1; 1 for a model without batching. */
  readonly batch_size: number;
  readonly inputs: Readonly<Record<string, ModelWarmupInput>>;
  /** Times to run it; 0 means once. */
  readonly count: number;
}

/**
 * A model's configuration, as far as this server acts on it. Scalars hold proto3's default
 * when not given ('' / 0 / false / the enum's first value); repeated fields an empty array;
 * maps an empty object; a message is absent (undefined) when not given. Frozen.
 */
export interface ModelConfig {
  /** '' when not given: the model's folder name (completeConfig), which it must equal when given. */
  readonly name: string;
  readonly platform: '' | 'onnxruntime_onnx';
  readonly backend: '' | 'onnxruntime';
  readonly version_policy?: ModelVersionPolicy;
  /** 0: the model does not batch, dims are the full shapes; else dims omit the leading batch dimension. */
  readonly max_batch_size: number;
  readonly input: readonly ModelInput[];
  readonly output: readonly ModelOutput[];
  readonly optimization?: ModelOptimizationPolicy;
  readonly dynamic_batching?: ModelDynamicBatching;
  readonly instance_group: readonly ModelInstanceGroup[];
  /** The model file in each version folder; '' means Triton's default, model.onnx. */
  readonly default_model_filename: string;
  /** e.g. `intra_op_thread_count`, `inter_op_thread_count`, `execution_mode`, `enable_mem_arena`. */
  readonly parameters: Readonly<Record<string, ModelParameter>>;
  readonly model_warmup: readonly ModelWarmup[];
}

/** What {@link parseModelConfig} and {@link modelConfigFromJson} return. */
export interface ParsedModelConfig {
  readonly config: ModelConfig;
  /**
   * One line per field that was given and is not acted on, with its place and why, e.g.
   * `config.pbtxt:14:1: response_cache: ignored (this server has no response cache)`; for the
   * caller to log once per load.
   */
  readonly ignored: readonly string[];
}

/** A JSON value, as {@link configToJson} builds them. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** An object of {@link JsonValue}s. */
export type JsonObject = { readonly [key: string]: JsonValue };

// ---------------------------------------------------------------------------------------
// The schema: every field of ModelConfig, in the proto's declaration order (which is the
// order Triton's JSON prints them in), with what this server does with it.

type Scalar = 'string' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'double';
interface EnumDef {
  readonly kind: 'enum';
  readonly name: string;
  /** By number: values[n] is the name of n. */
  readonly values: readonly string[];
  /** Names people write by mistake (upper case, any `TYPE_` dropped) and the value they mean, for "did you mean". */
  readonly aliases?: Readonly<Record<string, string>>;
}
interface MessageDef {
  readonly kind: 'message';
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldDef>>;
  /** Accepted as a whole without looking inside: for messages refused anyway. */
  readonly opaque?: boolean;
}
interface MapDef {
  readonly kind: 'map';
  readonly key: 'string' | 'uint64';
  readonly value: Scalar | MessageDef;
}
type Verdict = { readonly ignore: string } | { readonly refuse: string };
interface FieldDef {
  readonly type: Scalar | EnumDef | MessageDef | MapDef;
  readonly repeated?: boolean;
  readonly oneof?: string;
  /** False: checked, then left out of the typed config (not acted on). */
  readonly kept?: boolean;
  /** What to do about the value given: nothing (undefined), warn that it is ignored, or refuse it. */
  readonly verdict?: (value: unknown) => Verdict | undefined;
}

const enumOf = (name: string, values: readonly string[], aliases?: Record<string, string>): EnumDef => ({ kind: 'enum', name, values, aliases });
const message = (name: string, fields: Record<string, FieldDef>, opaque = false): MessageDef => ({ kind: 'message', name, fields, opaque });
const mapOf = (key: MapDef['key'], value: MapDef['value']): MapDef => ({ kind: 'map', key, value });
const field = (type: FieldDef['type'], more: Omit<FieldDef, 'type'> = {}): FieldDef => ({ type, ...more });
const repeated = (type: FieldDef['type'], more: Omit<FieldDef, 'type' | 'repeated'> = {}): FieldDef => ({ type, repeated: true, ...more });
const ignore = (reason: string): Verdict => ({ ignore: reason });
const refuse = (reason: string): Verdict => ({ refuse: reason });
/** A tuning-only field: dropped, and reported when its value is not the default. */
const tuning = (type: FieldDef['type'], isDefault: (v: unknown) => boolean, reason: string, more: Omit<FieldDef, 'type'> = {}): FieldDef =>
  field(type, { kept: false, verdict: (v) => (isDefault(v) ? undefined : ignore(reason)), ...more });
const empty = (v: unknown) => (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0);
const TRT_ONLY = (what: string) =>
  field('bool', { kept: false, verdict: (v) => (v === true ? refuse(`${what} are only supported for TensorRT models (Triton's rule)`) : undefined) });

const DATA_TYPE = enumOf('DataType', [
  'TYPE_INVALID', 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8', 'TYPE_INT16',
  'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16',
], {
  // ONNX's and NumPy's names, which Triton spells differently.
  FLOAT: 'TYPE_FP32', FLOAT32: 'TYPE_FP32', FLOAT16: 'TYPE_FP16', HALF: 'TYPE_FP16', DOUBLE: 'TYPE_FP64', FLOAT64: 'TYPE_FP64',
  BFLOAT16: 'TYPE_BF16', BYTES: 'TYPE_STRING', STR: 'TYPE_STRING',
});
const RESHAPE = message('ModelTensorReshape', { shape: repeated('int64') });
const MODEL_INPUT = message('ModelInput', {
  name: field('string'),
  data_type: field(DATA_TYPE),
  format: field(enumOf('ModelInput.Format', ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW'])),
  dims: repeated('int64'),
  reshape: field(RESHAPE),
  is_shape_tensor: TRT_ONLY('shape tensors'),
  allow_ragged_batch: tuning('bool', (v) => v === false, 'ragged batching is not done: requests whose shapes differ are not batched together'),
  optional: field('bool'),
  is_non_linear_format_io: TRT_ONLY('non-linear I/O formats'),
});
const MODEL_OUTPUT = message('ModelOutput', {
  name: field('string'),
  data_type: field(DATA_TYPE),
  dims: repeated('int64'),
  reshape: field(RESHAPE),
  label_filename: field('string'),
  is_shape_tensor: TRT_ONLY('shape tensors'),
  is_non_linear_format_io: TRT_ONLY('non-linear I/O formats'),
});
const VERSION_POLICY = message('ModelVersionPolicy', {
  latest: field(message('ModelVersionPolicy.Latest', { num_versions: field('uint32') }), { oneof: 'policy_choice' }),
  all: field(message('ModelVersionPolicy.All', {}), { oneof: 'policy_choice' }),
  specific: field(message('ModelVersionPolicy.Specific', { versions: repeated('int64') }), { oneof: 'policy_choice' }),
});
const ACCELERATOR = message('ModelOptimizationPolicy.ExecutionAccelerators.Accelerator', {
  name: field('string'),
  parameters: field(mapOf('string', 'string')),
});
const SHAPE = message('ModelOptimizationPolicy.Cuda.GraphSpec.Shape', { dim: repeated('int64') });
const CUDA = message('ModelOptimizationPolicy.Cuda', {
  graphs: field('bool'),
  busy_wait_events: field('bool'),
  graph_spec: repeated(
    message('ModelOptimizationPolicy.Cuda.GraphSpec', {
      batch_size: field('int32'),
      input: field(mapOf('string', SHAPE)),
      graph_lower_bound: field(
        message('ModelOptimizationPolicy.Cuda.GraphSpec.LowerBound', { batch_size: field('int32'), input: field(mapOf('string', SHAPE)) }),
      ),
    }),
  ),
  output_copy_stream: field('bool'),
});
const PINNED = message('ModelOptimizationPolicy.PinnedMemoryBuffer', { enable: field('bool') });
const pinnedDefault = (v: unknown) => (v as { enable: boolean }).enable;
const OPTIMIZATION = message('ModelOptimizationPolicy', {
  graph: field(message('ModelOptimizationPolicy.Graph', { level: field('int32') })),
  priority: tuning(
    enumOf('ModelOptimizationPolicy.ModelPriority', ['PRIORITY_DEFAULT', 'PRIORITY_MAX', 'PRIORITY_MIN']),
    (v) => v === 'PRIORITY_DEFAULT',
    'model priorities are only used for TensorRT models',
  ),
  cuda: tuning(CUDA, () => false, 'CUDA graph settings are only used by the TensorRT backend'),
  execution_accelerators: field(
    message('ModelOptimizationPolicy.ExecutionAccelerators', {
      gpu_execution_accelerator: repeated(ACCELERATOR),
      cpu_execution_accelerator: repeated(ACCELERATOR),
    }),
  ),
  input_pinned_memory: tuning(PINNED, pinnedDefault, 'pinned-memory staging is not configurable here'),
  output_pinned_memory: tuning(PINNED, pinnedDefault, 'pinned-memory staging is not configurable here'),
  gather_kernel_buffer_threshold: tuning('uint32', (v) => v === 0, 'the gather kernel is only used by the TensorRT backend'),
  eager_batching: tuning('bool', (v) => v === false, 'eager batching is only used by the TensorRT backend'),
});
const QUEUE_POLICY = message('ModelQueuePolicy', {
  timeout_action: field(enumOf('ModelQueuePolicy.TimeoutAction', ['REJECT', 'DELAY'])),
  default_timeout_microseconds: field('uint64'),
  allow_timeout_override: field('bool'),
  max_queue_size: field('uint32'),
});
const DYNAMIC_BATCHING = message('ModelDynamicBatching', {
  preferred_batch_size: repeated('int32'),
  max_queue_delay_microseconds: field('uint64'),
  preserve_ordering: field('bool'),
  priority_levels: field('uint64'),
  default_priority_level: field('uint64'),
  default_queue_policy: field(QUEUE_POLICY),
  priority_queue_policy: field(mapOf('uint64', QUEUE_POLICY)),
});
const RATE_LIMITER = message('ModelRateLimiter', {
  resources: repeated(message('ModelRateLimiter.Resource', { name: field('string'), global: field('bool'), count: field('uint32') })),
  priority: field('uint32'),
});
const SECONDARY_DEVICE = message('ModelInstanceGroup.SecondaryDevice', {
  kind: field(enumOf('ModelInstanceGroup.SecondaryDevice.SecondaryDeviceKind', ['KIND_NVDLA'])),
  device_id: field('int64'),
});
const INSTANCE_GROUP = message('ModelInstanceGroup', {
  name: field('string'),
  kind: field(enumOf('ModelInstanceGroup.Kind', ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL']), {
    verdict: (v) => (v === 'KIND_MODEL' ? refuse('KIND_MODEL (devices chosen by the backend) is not supported: use KIND_CPU, KIND_GPU or KIND_AUTO') : undefined),
  }),
  count: field('int32'),
  rate_limiter: tuning(RATE_LIMITER, () => false, 'this server has no rate limiter'),
  gpus: repeated('int32'),
  secondary_devices: tuning(SECONDARY_DEVICE, empty, 'secondary devices (NVDLA) are only used by TensorRT', { repeated: true }),
  profile: repeated('string', {
    kept: false,
    verdict: (v) => (empty(v) ? undefined : refuse("optimization profiles are only supported for TensorRT models (Triton's rule)")),
  }),
  passive: tuning('bool', (v) => v === false, 'passive instances are not supported: every instance takes requests'),
  host_policy: tuning('string', (v) => v === '', 'host policies are not supported'),
});
const WARMUP_INPUT = message('ModelWarmup.Input', {
  data_type: field(DATA_TYPE),
  dims: repeated('int64'),
  zero_data: field('bool', { oneof: 'input_data_type' }),
  random_data: field('bool', { oneof: 'input_data_type' }),
  input_data_file: field('string', { oneof: 'input_data_type' }),
});
const WARMUP = message('ModelWarmup', {
  name: field('string'),
  batch_size: field('uint32'),
  inputs: field(mapOf('string', WARMUP_INPUT)),
  count: field('uint32'),
});
const AGENTS = message('ModelRepositoryAgents', {
  agents: repeated(message('ModelRepositoryAgents.Agent', { name: field('string'), parameters: field(mapOf('string', 'string')) })),
});
const METRICS = message('ModelMetrics', {
  metric_control: repeated(
    message('ModelMetrics.MetricControl', {
      metric_identifier: field(message('ModelMetrics.MetricControl.MetricIdentifier', { family: field('string') })),
      histogram_options: field(message('ModelMetrics.MetricControl.HistogramOptions', { buckets: repeated('double') }), { oneof: 'metric_options' }),
    }),
  ),
});
/** Messages this server refuses whatever they hold: their insides are not checked. */
const OPAQUE = (name: string) => message(name, {}, true);

const ONNX_ONLY = 'this server runs ONNX models with ONNX Runtime only (platform "onnxruntime_onnx", backend "onnxruntime")';
const MODEL_CONFIG = message('ModelConfig', {
  name: field('string'),
  platform: field('string', {
    verdict: (v) =>
      v === '' || v === 'onnxruntime_onnx' ? undefined
      : v === 'ensemble' ? refuse('ensembles are not supported')
      : refuse(`platform ${JSON.stringify(v)} is not supported: ${ONNX_ONLY}`),
  }),
  backend: field('string', { verdict: (v) => (v === '' || v === 'onnxruntime' ? undefined : refuse(`backend ${JSON.stringify(v)} is not supported: ${ONNX_ONLY}`)) }),
  runtime: field('string', {
    kept: false,
    verdict: (v) =>
      v === '' ? undefined
      : v === 'libtriton_onnxruntime.so' ? ignore('this server has its own ONNX Runtime binding, not a Triton backend library')
      : refuse(`runtime ${JSON.stringify(v)} is not supported: ${ONNX_ONLY}`),
  }),
  version_policy: field(VERSION_POLICY),
  max_batch_size: field('int32'),
  input: repeated(MODEL_INPUT),
  output: repeated(MODEL_OUTPUT),
  batch_input: repeated(OPAQUE('BatchInput'), {
    kept: false,
    verdict: (v) => (empty(v) ? undefined : refuse('batch inputs are not supported (the server would have to compute those tensors)')),
  }),
  batch_output: repeated(OPAQUE('BatchOutput'), { kept: false, verdict: (v) => (empty(v) ? undefined : refuse('batch outputs are not supported')) }),
  optimization: field(OPTIMIZATION),
  dynamic_batching: field(DYNAMIC_BATCHING, { oneof: 'scheduling_choice' }),
  sequence_batching: field(OPAQUE('ModelSequenceBatching'), {
    oneof: 'scheduling_choice',
    kept: false,
    verdict: () => refuse('sequence batching (stateful models) is not supported'),
  }),
  ensemble_scheduling: field(OPAQUE('ModelEnsembling'), { oneof: 'scheduling_choice', kept: false, verdict: () => refuse('ensembles are not supported') }),
  instance_group: repeated(INSTANCE_GROUP),
  default_model_filename: field('string'),
  cc_model_filenames: tuning(mapOf('string', 'string'), empty, 'there are no per-compute-capability model files: default_model_filename is used'),
  metric_tags: tuning(mapOf('string', 'string'), empty, 'metric tags are not added to this server\'s metrics'),
  parameters: field(mapOf('string', message('ModelParameter', { string_value: field('string') }))),
  model_warmup: repeated(WARMUP),
  model_operations: field(message('ModelOperations', { op_library_filename: repeated('string') }), {
    kept: false,
    verdict: (v) => (empty((v as { op_library_filename: unknown[] }).op_library_filename) ? undefined : refuse('custom operator libraries are not loaded by this server')),
  }),
  model_transaction_policy: field(message('ModelTransactionPolicy', { decoupled: field('bool') }), {
    kept: false,
    verdict: (v) => ((v as { decoupled: boolean }).decoupled ? refuse('decoupled models (any number of responses per request) are not supported') : undefined),
  }),
  model_repository_agents: tuning(AGENTS, (v) => empty((v as { agents: unknown[] }).agents), 'repository agents are not run'),
  response_cache: tuning(message('ModelResponseCache', { enable: field('bool') }), (v) => !(v as { enable: boolean }).enable, 'this server has no response cache'),
  model_metrics: tuning(METRICS, (v) => empty((v as { metric_control: unknown[] }).metric_control), 'custom metric histograms are not configurable here'),
});

// ---------------------------------------------------------------------------------------
// Reading: one walker over both sources. A text tree's values already have this shape;
// JSON values are wrapped as they are reached (an object is a message or a map, which only
// the schema can tell).

type Val =
  | { readonly kind: 'message'; readonly fields: readonly Occurrence[]; readonly line?: number; readonly column?: number }
  | { readonly kind: 'string'; readonly value: string; readonly line?: number; readonly column?: number }
  | { readonly kind: 'number'; readonly text: string; readonly integer: bigint | undefined; readonly value: number; readonly line?: number; readonly column?: number }
  | { readonly kind: 'identifier'; readonly value: string; readonly line?: number; readonly column?: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly line?: undefined; readonly column?: undefined }
  | { readonly kind: 'object'; readonly value: object; readonly line?: undefined; readonly column?: undefined }
  | { readonly kind: 'array'; readonly line?: undefined; readonly column?: undefined }
  | { readonly kind: 'null'; readonly line?: undefined; readonly column?: undefined };

interface Occurrence {
  readonly name: string;
  readonly line?: number;
  readonly column?: number;
  readonly colon: boolean;
  readonly list: boolean;
  readonly values: readonly Val[];
}

function fromJson(v: unknown): Val {
  if (v === null) return { kind: 'null' };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (typeof v === 'number') {
    return { kind: 'number', text: String(v), integer: Number.isInteger(v) ? BigInt(v) : undefined, value: v };
  }
  if (Array.isArray(v)) return { kind: 'array' };
  if (typeof v === 'object') return { kind: 'object', value: v };
  return { kind: 'null' }; // undefined and functions cannot come out of JSON.parse
}

/** A JSON object's members as field occurrences; null members are proto3 JSON's "not set". */
function jsonFields(obj: object): Occurrence[] {
  const out: Occurrence[] = [];
  for (const [name, v] of Object.entries(obj)) {
    if (v === null) continue;
    out.push({ name, colon: true, list: Array.isArray(v), values: Array.isArray(v) ? v.map(fromJson) : [fromJson(v)] });
  }
  return out;
}

function describe(v: Val): string {
  switch (v.kind) {
    case 'message':
    case 'object':
      return 'a message';
    case 'string':
      return `string ${JSON.stringify(v.value.length > 40 ? `${v.value.slice(0, 37)}...` : v.value)}`;
    case 'number':
      return `number ${v.text}`;
    case 'identifier':
      return `identifier ${v.value}`;
    case 'bool':
      return String(v.value);
    case 'array':
      return 'a list';
    case 'null':
      return 'null';
  }
}

const INT_RANGES: Readonly<Record<'int32' | 'uint32' | 'int64' | 'uint64', readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Where each field was written (text configs only), for errors found after reading. */
interface Places {
  readonly file: string;
  readonly at: ReadonlyMap<string, TextPosition>;
}

/** @internal Where a config came from, for completeConfig's errors. */
export interface ConfigSource {
  readonly file: string;
  /** The position of a field path or of its nearest written ancestor. */
  at(path: string): TextPosition | undefined;
}

const sources = new WeakMap<ModelConfig, ConfigSource>();

/** @internal The source of a config this module read, if it read it. */
export function configSource(config: ModelConfig): ConfigSource | undefined {
  return sources.get(config);
}

/** @internal Throws a ConfigError about `path`, at its place in `source` when known. */
export function failAt(source: ConfigSource, path: string, reason: string): never {
  const pos = source.at(path);
  throw new ConfigError(source.file, reason, { line: pos?.line, column: pos?.column, field: path || undefined });
}

function sourceOf(places: Places): ConfigSource {
  return {
    file: places.file,
    at(path: string) {
      for (let p = path; ; p = parentPath(p)) {
        const pos = places.at.get(p);
        if (pos !== undefined || p === '') return pos;
      }
    },
  };
}

/** `a.b[2]` -> `a.b` -> `a` -> ''. */
function parentPath(path: string): string {
  if (path.endsWith(']')) {
    const open = path.lastIndexOf('[');
    return open < 0 ? '' : path.slice(0, open);
  }
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(0, dot);
}

const join = (path: string, name: string) => (path === '' ? name : `${path}.${name}`);

/** Sets an own, enumerable property (safe for keys like `__proto__`, which maps may have). */
function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const jsonNames = new WeakMap<MessageDef, ReadonlyMap<string, string>>();
/** Proto3 JSON accepts each field by its lowerCamelCase JSON name as well as by its own. */
function jsonNameMap(def: MessageDef): ReadonlyMap<string, string> {
  let names = jsonNames.get(def);
  if (!names) {
    const map = new Map<string, string>();
    for (const name of Object.keys(def.fields)) map.set(name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), name);
    jsonNames.set(def, (names = map));
  }
  return names;
}

/** The closest known name within a few edits, for "did you mean". */
function closest(name: string, known: readonly string[]): string | undefined {
  if (name.length > 64) return undefined;
  // A name cut short (max_queue_delay for max_queue_delay_microseconds) is the likeliest slip.
  const lower = name.toLowerCase();
  const extended = lower.length >= 3 ? known.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
  if (extended !== undefined) return extended;
  let best: string | undefined;
  let bestCost = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const cost = editDistance(name.toLowerCase(), k.toLowerCase(), bestCost);
    if (cost < bestCost) [best, bestCost] = [k, cost];
  }
  return best;
}

function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

class Reader {
  readonly ignored: string[] = [];
  readonly at = new Map<string, TextPosition>();

  constructor(
    readonly file: string,
    readonly json: boolean,
  ) {}

  fail(path: string, reason: string, pos?: { readonly line?: number; readonly column?: number }): never {
    const p = pos?.line === undefined ? this.at.get(path) : { line: pos.line, column: pos.column ?? 1 };
    throw new ConfigError(this.file, reason, { line: p?.line, column: p?.column, field: path || undefined });
  }

  private note(path: string, pos: { readonly line?: number; readonly column?: number } | undefined): void {
    if (pos?.line !== undefined) this.at.set(path, { line: pos.line, column: pos.column ?? 1 });
  }

  private warn(path: string, reason: string): void {
    const pos = this.at.get(path);
    this.ignored.push(`${pos === undefined ? this.file : `${this.file}:${pos.line}:${pos.column}`}: ${path}: ${reason}`);
  }

  /** A message's fields, checked against `def`, as an object in declaration order. */
  message(def: MessageDef, fields: readonly Occurrence[], path: string): Record<string, unknown> {
    const byName = new Map<string, Occurrence[]>();
    const oneofs = new Map<string, string>();
    for (const occ of fields) {
      const name = Object.hasOwn(def.fields, occ.name) ? occ.name : this.json ? jsonNameMap(def).get(occ.name) : undefined;
      if (name === undefined) {
        // A hostile file's field name can be megabytes long: cite it cut short.
        const where = join(path, occ.name.length > 64 ? `${occ.name.slice(0, 61)}...` : occ.name);
        const known = Object.keys(def.fields);
        const guess = closest(occ.name, known);
        const listed = known.length === 0 ? `${def.name} has no fields` : `${def.name}'s fields are: ${known.join(', ')}`;
        this.fail(where, `unknown field${guess ? ` (did you mean '${guess}'?)` : ''}; ${listed}`, occ);
      }
      const fd = def.fields[name];
      const seen = byName.get(name);
      if (seen && !fd.repeated && !(typeof fd.type === 'object' && fd.type.kind === 'map')) {
        const first = seen[0];
        const firstAt = first.line === undefined ? (first.name === occ.name ? '' : ` (as '${first.name}')`) : ` (first at ${first.line}:${first.column})`;
        this.fail(join(path, name), `given more than once${firstAt}; it is not a repeated field`, occ);
      }
      if (fd.oneof !== undefined) {
        const other = oneofs.get(fd.oneof);
        if (other !== undefined && other !== name) {
          this.fail(join(path, name), `'${other}' is already set, and the two are alternatives (oneof ${fd.oneof}): give one`, occ);
        }
        oneofs.set(fd.oneof, name);
      }
      if (seen) seen.push(occ);
      else byName.set(name, [occ]);
    }
    const out: Record<string, unknown> = {};
    for (const [name, fd] of Object.entries(def.fields)) {
      const occs = byName.get(name);
      const where = join(path, name);
      let value: unknown;
      if (occs) {
        this.note(where, occs[0]);
        value = this.field(fd, occs, where);
        const verdict = fd.verdict?.(value);
        if (verdict && 'refuse' in verdict) this.fail(where, `not supported: ${verdict.refuse}`);
        if (verdict) {
          this.warn(where, `ignored (${verdict.ignore})`);
          continue;
        }
      } else {
        if (fd.oneof !== undefined || (!fd.repeated && typeof fd.type === 'object' && fd.type.kind === 'message')) continue;
        value = defaultOf(fd);
      }
      if (fd.kept !== false) put(out, name, value);
    }
    return out;
  }

  private field(fd: FieldDef, occs: readonly Occurrence[], path: string): unknown {
    const type = fd.type;
    const isMessage = typeof type === 'object' && (type.kind === 'message' || type.kind === 'map');
    for (const occ of occs) {
      if (!isMessage && !occ.colon) this.fail(path, `expected ':' after the field name (protobuf requires it before a value)`, occ);
      const isMap = typeof type === 'object' && type.kind === 'map';
      if (occ.list && isMap && this.json) this.fail(path, `expected an object (a map), got a list`, occ);
      if (occ.list && !fd.repeated && !isMap) this.fail(path, `is not a repeated field, so it takes one value, not a list`, occ);
      if (this.json && fd.repeated && !occ.list) this.fail(path, `expected a list, got ${describe(occ.values[0])}`);
    }
    if (typeof type === 'object' && type.kind === 'map') return this.map(type, occs, path);
    if (fd.repeated) {
      const values = occs.flatMap((o) => o.values);
      return values.map((v, i) => {
        const where = `${path}[${i}]`;
        this.note(where, v);
        return this.value(type, v, where);
      });
    }
    return this.value(type, occs[0].values[0], path);
  }

  private value(type: FieldDef['type'], v: Val, path: string): unknown {
    if (typeof type === 'string') return this.scalar(type, v, path);
    if (type.kind === 'enum') return this.enumValue(type, v, path);
    if (type.kind === 'message') {
      if (v.kind === 'message') return type.opaque ? {} : this.message(type, v.fields, path);
      if (v.kind === 'object') return type.opaque ? {} : this.message(type, jsonFields(v.value), path);
      return this.fail(path, `expected a message ({ ... }) of type ${type.name}, got ${describe(v)}`, v);
    }
    // A map inside a list or as a map value cannot occur in model_config.proto.
    return this.fail(path, `unexpected map`, v);
  }

  private map(def: MapDef, occs: readonly Occurrence[], path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    const add = (key: string, value: unknown, where: string) => {
      if (seen.has(key)) this.warn(where, `ignored: an earlier entry with the key ${JSON.stringify(key)} is overridden by this one (protobuf keeps the last)`);
      seen.add(key);
      put(out, key, value);
    };
    if (this.json) {
      const v = occs[0].values[0];
      if (v.kind !== 'object') this.fail(path, `expected an object (a map of ${def.key} keys), got ${describe(v)}`);
      for (const [rawKey, member] of Object.entries(v.value)) {
        const key = def.key === 'string' ? rawKey : this.mapKey(rawKey, `${path}[${JSON.stringify(rawKey)}]`);
        const where = `${path}[${JSON.stringify(key)}]`;
        if (member === null) this.fail(where, 'expected a value, got null');
        add(key, this.value(def.value, fromJson(member), where), where);
      }
      return out;
    }
    const keyDef = field(def.key);
    const valueDef = field(def.value);
    const entryName = `map<${def.key}, ${typeof def.value === 'string' ? def.value : def.value.name}> entry`;
    let index = 0;
    for (const v of occs.flatMap((o) => o.values)) {
      const at = `${path}[${index++}]`;
      if (v.kind !== 'message') this.fail(path, `expected a map entry ({ key: ... value: ... }), got ${describe(v)}`, v);
      const keys = v.fields.filter((f) => f.name === 'key');
      const values = v.fields.filter((f) => f.name === 'value');
      const key = String(keys.length > 0 ? this.field(keyDef, keys.slice(0, 1), `${at}.key`) : defaultOf(keyDef));
      // The value's fields go under parameters["k"], not parameters["k"].value, as in JSON.
      const where = `${path}[${JSON.stringify(key)}]`;
      this.note(where, v);
      for (const f of v.fields) {
        if (f.name !== 'key' && f.name !== 'value') {
          const guess = closest(f.name, ['key', 'value']);
          this.fail(join(where, f.name), `unknown field${guess ? ` (did you mean '${guess}'?)` : ''}; ${entryName}'s fields are: key, value`, f);
        }
      }
      for (const [name, list] of [['key', keys], ['value', values]] as const) {
        if (list.length > 1) this.fail(`${where}.${name}`, `given more than once (first at ${list[0].line}:${list[0].column}); it is not a repeated field`, list[1]);
      }
      const given = values[0]?.values[0];
      if (given !== undefined && typeof def.value !== 'string' && given.kind !== 'message') {
        this.fail(`${where}.value`, `expected a message ({ ... }) of type ${def.value.name}, got ${describe(given)}`, given);
      }
      const value = values.length > 0 ? this.field(valueDef, values, where) : typeof def.value === 'string' ? defaultOf(valueDef) : this.message(def.value, [], where);
      add(key, value, where);
    }
    return out;
  }

  private mapKey(raw: string, path: string): string {
    if (!/^\d+$/.test(raw)) this.fail(path, `expected an unsigned integer key, got ${JSON.stringify(raw)}`);
    const n = BigInt(raw);
    if (n > INT_RANGES.uint64[1]) this.fail(path, `key ${raw} is out of range for uint64`);
    if (n > SAFE) this.fail(path, `key ${raw} is beyond 2^53, which this server cannot hold exactly`);
    return n.toString();
  }

  private scalar(type: Scalar, v: Val, path: string): string | number | boolean {
    switch (type) {
      case 'string':
        if (v.kind === 'string') return v.value;
        return this.fail(path, `expected a string, got ${describe(v)}`, v);
      case 'bool':
        if (v.kind === 'bool') return v.value;
        if (!this.json && v.kind === 'identifier') {
          if (v.value === 'true' || v.value === 'True' || v.value === 't') return true;
          if (v.value === 'false' || v.value === 'False' || v.value === 'f') return false;
        }
        if (!this.json && v.kind === 'number' && (v.integer === 0n || v.integer === 1n)) return v.integer === 1n;
        return this.fail(path, `expected true or false, got ${describe(v)}`, v);
      case 'double':
        if (v.kind === 'number') return v.value;
        if (this.json && v.kind === 'string') {
          const special = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity }[v.value];
          if (special !== undefined) return special;
          if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.value)) return Number(v.value);
        }
        return this.fail(path, `expected a number, got ${describe(v)}`, v);
      default:
        return this.integer(type, v, path);
    }
  }

  private integer(type: 'int32' | 'uint32' | 'int64' | 'uint64', v: Val, path: string): number {
    let n: bigint | undefined;
    if (v.kind === 'number') n = v.integer;
    // Proto3 JSON writes 64-bit integers as strings, and reads any integer from one.
    else if (this.json && v.kind === 'string' && /^-?\d+$/.test(v.value)) n = BigInt(v.value);
    if (n === undefined) this.fail(path, `expected an integer (${type}), got ${describe(v)}`, v);
    const [min, max] = INT_RANGES[type];
    if (n < min || n > max) this.fail(path, `${n} is out of range for ${type} (${min} to ${max})`, v);
    if (n > SAFE || n < -SAFE) this.fail(path, `${n} is beyond ±2^53, which this server cannot hold exactly`, v);
    return Number(n);
  }

  private enumValue(def: EnumDef, v: Val, path: string): string {
    if (v.kind === 'identifier' && def.values.includes(v.value)) return v.value;
    // Triton parses JSON configs with case-insensitive enum names.
    if (this.json && v.kind === 'string') {
      const name = def.values.find((n) => n === v.value.toUpperCase());
      if (name !== undefined) return name;
    }
    if (v.kind === 'number' && v.integer !== undefined && v.integer >= 0n && v.integer < BigInt(def.values.length)) {
      return def.values[Number(v.integer)];
    }
    const guess = v.kind === 'identifier' || v.kind === 'string' ? (def.aliases?.[v.value.toUpperCase().replace(/^TYPE_/, '')] ?? closest(v.value, def.values)) : undefined;
    const got = !this.json && v.kind === 'string' ? `${describe(v)} (enum values are written without quotes)` : describe(v);
    return this.fail(path, `expected one of ${def.values.join(', ')}, got ${got}${guess ? ` (did you mean ${guess}?)` : ''}`, v);
  }
}

function defaultOf(fd: FieldDef): unknown {
  if (fd.repeated) return [];
  const t = fd.type;
  if (typeof t === 'string') return t === 'string' ? '' : t === 'bool' ? false : 0;
  if (t.kind === 'enum') return t.values[0];
  if (t.kind === 'map') return {};
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// The checks Triton makes on a config by itself (model_config_utils.cc ValidateModelConfig,
// ValidateIOShape, ValidateInstanceGroup), and a few of its ONNX Runtime backend's.

/** @internal A writable view of a typed config's top level, for building one. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

function check(config: ModelConfig, src: ConfigSource): void {
  const fail = (path: string, reason: string): never => failAt(src, path, reason);
  if (config.max_batch_size < 0) fail('max_batch_size', `must be 0 (no batching) or more, got ${config.max_batch_size}`);

  for (const role of ['input', 'output'] as const) {
    const list: readonly (ModelInput | ModelOutput)[] = config[role];
    const names = new Map<string, number>();
    list.forEach((io, i) => {
      const at = `${role}[${i}]`;
      if (io.name === '') fail(at, `must specify 'name'`);
      const twin = names.get(io.name);
      if (twin !== undefined) fail(`${at}.name`, `${role} '${io.name}' is listed twice (also ${role}[${twin}])`);
      names.set(io.name, i);
      if ((io.data_type as string) === 'TYPE_INVALID') fail(at, `${role} '${io.name}' must specify 'data_type'`);
      checkShape(io, at, fail);
      if ('format' in io && io.format !== 'FORMAT_NONE' && io.dims.length !== 3) {
        fail(`${at}.format`, `${io.format} requires 3 dims (the non-batch C, H, W), '${io.name}' has ${io.dims.length}`);
      }
      if ('label_filename' in io && io.label_filename !== '') checkRelativeFile(io.label_filename, `${at}.label_filename`, fail);
    });
  }

  const policy = config.version_policy;
  if (policy) {
    if (!policy.latest && !policy.all && !policy.specific) fail('version_policy', 'must set one of latest, all or specific');
    if (policy.latest && policy.latest.num_versions < 1) fail('version_policy.latest.num_versions', `must be at least 1, got ${policy.latest.num_versions}`);
    if (policy.specific) {
      if (policy.specific.versions.length === 0) fail('version_policy.specific.versions', 'must list at least one version');
      policy.specific.versions.forEach((v, i) => {
        // Triton skips version folders named 0 or with a leading zero.
        if (v < 1) fail(`version_policy.specific.versions[${i}]`, `a version is a number >= 1, got ${v}`);
      });
    }
  }

  const db = config.dynamic_batching;
  if (db) {
    db.preferred_batch_size.forEach((size, i) => {
      if (size <= 0) fail(`dynamic_batching.preferred_batch_size[${i}]`, `a preferred batch size must be positive, got ${size}`);
    });
    const levels = db.priority_levels;
    if (levels !== 0) {
      if (db.default_priority_level < 1 || db.default_priority_level > levels) {
        fail('dynamic_batching.default_priority_level', `must be in [1, ${levels}] (priority_levels is ${levels}), got ${db.default_priority_level}`);
      }
    } else if (db.default_priority_level !== 0) {
      fail('dynamic_batching.default_priority_level', `is ${db.default_priority_level}, but priority_levels is 0 (no priorities)`);
    }
    for (const key of Object.keys(db.priority_queue_policy)) {
      const level = Number(key);
      if (level < 1 || level > levels) {
        const reason = levels === 0 ? `sets priority level ${key}, but priority_levels is 0 (no priorities)` : `priority level ${key} is not in [1, ${levels}]`;
        fail(`dynamic_batching.priority_queue_policy[${JSON.stringify(key)}]`, reason);
      }
    }
    if (db.preserve_ordering) {
      if (levels > 1) fail('dynamic_batching.preserve_ordering', `only one priority level is allowed with preserve_ordering, priority_levels is ${levels}`);
      const delays = (p: ModelQueuePolicy | undefined) => p !== undefined && p.default_timeout_microseconds !== 0 && p.timeout_action === 'DELAY';
      if (delays(db.default_queue_policy)) fail('dynamic_batching.default_queue_policy.timeout_action', 'DELAY cannot be the timeout action with preserve_ordering');
      for (const [key, p] of Object.entries(db.priority_queue_policy)) {
        if (delays(p)) fail(`dynamic_batching.priority_queue_policy[${JSON.stringify(key)}].timeout_action`, 'DELAY cannot be the timeout action with preserve_ordering');
      }
    }
  }

  config.instance_group.forEach((g, i) => {
    const at = `instance_group[${i}]`;
    if (g.count < 0) fail(`${at}.count`, `must be 1 or more (or left out), got ${g.count}`);
    if (g.kind === 'KIND_CPU' && g.gpus.length > 0) fail(`${at}.gpus`, 'a KIND_CPU instance group cannot list GPUs');
    g.gpus.forEach((id, j) => {
      if (id < 0) fail(`${at}.gpus[${j}]`, `a GPU id is 0 or more, got ${id}`);
    });
  });

  const accelerators = config.optimization?.execution_accelerators;
  if (accelerators) {
    const known = { gpu_execution_accelerator: ['tensorrt', 'cuda'], cpu_execution_accelerator: ['openvino'] } as const;
    for (const kind of ['gpu_execution_accelerator', 'cpu_execution_accelerator'] as const) {
      accelerators[kind].forEach((a, i) => {
        if (!(known[kind] as readonly string[]).includes(a.name)) {
          const names = known[kind].map((n) => JSON.stringify(n)).join(' and ');
          fail(`optimization.execution_accelerators.${kind}[${i}].name`, `unknown execution accelerator ${JSON.stringify(a.name)}; Triton's ONNX Runtime backend knows ${names} here`);
        }
      });
    }
  }

  config.model_warmup.forEach((w, i) => {
    const at = `model_warmup[${i}]`;
    if (w.batch_size < 1) fail(`${at}.batch_size`, `must be at least 1, got ${w.batch_size}`);
    for (const [name, input] of Object.entries(w.inputs)) {
      const where = `${at}.inputs[${JSON.stringify(name)}]`;
      if ((input.data_type as string) === 'TYPE_INVALID') fail(where, `must specify 'data_type'`);
      input.dims.forEach((d, j) => {
        if (d < 0) fail(`${where}.dims[${j}]`, `warmup data needs fixed dimensions (0 or more), got ${d}`);
      });
      if (input.zero_data === undefined && input.random_data === undefined && input.input_data_file === undefined) {
        fail(where, 'must set one of zero_data, random_data or input_data_file');
      }
      if (input.input_data_file !== undefined) checkRelativeFile(input.input_data_file, `${where}.input_data_file`, fail);
    }
  });

  if (config.default_model_filename !== '') checkRelativeFile(config.default_model_filename, 'default_model_filename', fail);

  // Auto-completion (completeConfig) only changes max_batch_size when it is 0 and the
  // inputs or outputs are left to it; otherwise what depends on it can be checked now.
  if (config.max_batch_size > 0 || (config.input.length > 0 && config.output.length > 0)) checkBatching(config, src);
}

/** Triton's ValidateIOShape: dims, and a reshape to the same element count. */
function checkShape(io: ModelInput | ModelOutput, at: string, fail: (path: string, reason: string) => never): void {
  if (io.dims.length === 0) fail(`${at}.dims`, `'${io.name}' must specify 'dims' (a scalar is dims: [ 1 ] with reshape: { shape: [ ] })`);
  const dimOk = (d: number) => d >= 1 || d === -1;
  io.dims.forEach((d, j) => {
    if (!dimOk(d)) fail(`${at}.dims[${j}]`, `a dimension must be an integer >= 1, or -1 for a variable-size one, got ${d}`);
  });
  if (!io.reshape) return;
  const shape = io.reshape.shape;
  shape.forEach((d, j) => {
    if (!dimOk(d)) fail(`${at}.reshape.shape[${j}]`, `a reshape dimension must be an integer >= 1, or -1 for a variable-size one, got ${d}`);
  });
  // Element counts between the variable-size dimensions must agree: [2, 4, -1, 6] may
  // become [8, -1, 1, 6]; an empty reshape (a scalar) stands for dims of one element.
  const segments = (dims: readonly number[]) => {
    const out = [1];
    for (const d of dims) {
      if (d === -1) out.push(1);
      else out[out.length - 1] *= d;
    }
    return out;
  };
  const a = segments(io.dims);
  const b = segments(shape);
  const scalar = shape.length === 0 && a.length === 1 && a[0] === 1;
  if (scalar) return;
  const both = `dims [${io.dims.join(', ')}] and reshape [${shape.join(', ')}]`;
  if (a.length !== b.length) fail(`${at}.reshape`, `'${io.name}' has a different number of variable-size dimensions in ${both}`);
  if (a.some((n, k) => n !== b[k])) fail(`${at}.reshape`, `'${io.name}' has a different size for ${both}`);
}

/** A file named by a config must stay inside the model's folder. */
function checkRelativeFile(name: string, path: string, fail: (path: string, reason: string) => never): void {
  const parts = name.split(/[\\/]/);
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name) || parts.includes('..') || name.includes('\0')) {
    fail(path, `${JSON.stringify(name)} must name a file inside the model's folder (a relative path without '..')`);
  }
}

/**
 * @internal The checks that depend on max_batch_size, which auto-completion may set: run by
 * parseModelConfig when it is final, and by completeConfig after completing.
 */
export function checkBatching(config: ModelConfig, src: ConfigSource): void {
  const fail = (path: string, reason: string): never => failAt(src, path, reason);
  const mbs = config.max_batch_size;
  config.dynamic_batching?.preferred_batch_size.forEach((size, i) => {
    if (size > mbs) fail(`dynamic_batching.preferred_batch_size[${i}]`, `a preferred batch size must be <= max_batch_size (${mbs}), got ${size}`);
  });
  // Triton refuses an empty reshape without batching (it has no 0-d tensors then); this
  // server feeds 0-d tensors, so `dims: [1] reshape { shape: [] }` serves a scalar input
  // of a model that does not batch (Silero VAD's sample rate).
  config.input.forEach((io, i) => {
    // Triton's ONNX Runtime backend's rule (ValidateInputs).
    if (io.optional && mbs !== 0) fail(`input[${i}].optional`, `optional input '${io.name}' is not supported for a model that batches (max_batch_size ${mbs})`);
  });
  config.model_warmup.forEach((w, i) => {
    const limit = Math.max(mbs, 1);
    if (w.batch_size > limit) {
      const limitText = mbs === 0 ? 'must be 1 for a model without batching (max_batch_size 0)' : `must be <= max_batch_size (${mbs})`;
      fail(`model_warmup[${i}].batch_size`, `${limitText}, got ${w.batch_size}`);
    }
  });
}

function finish(reader: Reader, raw: Record<string, unknown>): ParsedModelConfig {
  const config = deepFreeze(raw) as unknown as ModelConfig;
  const src = sourceOf({ file: reader.file, at: reader.at });
  check(config, src);
  sources.set(config, src);
  return Object.freeze({ config, ignored: Object.freeze(reader.ignored.slice()) });
}

/**
 * Reads a `config.pbtxt`: protobuf text format of Triton's ModelConfig.
 *
 * @param text - the file's contents.
 * @param file - the name errors and warnings cite (e.g. `models/densenet_onnx/config.pbtxt`).
 * @returns the frozen config, and the fields it gave that this server ignores.
 * @throws {@link ConfigError} `file:line:column: field: reason` on a syntax error, an unknown
 * field, a value of the wrong kind or out of range, a field this server refuses (sequence
 * batching, ensembles, decoupled models, other platforms...), or a failed check (negative
 * max_batch_size, empty dims, bad priority levels, version policy...).
 * @example
 * ```ts
 * const { config, ignored } = parseModelConfig(await readFile(path, 'utf8'), path);
 * for (const line of ignored) log.warn(line);
 * config.max_batch_size; // 8
 * ```
 */
export function parseModelConfig(text: string, file: string): ParsedModelConfig {
  const tree = parseTextFormat(text, file);
  const reader = new Reader(file, false);
  return finish(reader, reader.message(MODEL_CONFIG, tree.fields, ''));
}

/**
 * Reads a config in its JSON form (`config.json`, or the `config` parameter of Triton's
 * model-load API), already parsed: proto3 JSON, so field names in snake_case or
 * lowerCamelCase, enums by name (any case, as Triton parses them) or number, 64-bit
 * integers as numbers or strings, null for "not set".
 *
 * @param value - the result of `JSON.parse`.
 * @param file - the name errors and warnings cite.
 * @throws {@link ConfigError} `file: field.path: reason`, as {@link parseModelConfig} does.
 * @example
 * ```ts
 * const { config } = modelConfigFromJson(JSON.parse(text), 'models/resnet/config.json');
 * ```
 */
export function modelConfigFromJson(value: unknown, file: string): ParsedModelConfig {
  const v = fromJson(value);
  const reader = new Reader(file, true);
  if (v.kind !== 'object') throw new ConfigError(file, `expected a JSON object (a ModelConfig), got ${describe(v)}`);
  return finish(reader, reader.message(MODEL_CONFIG, jsonFields(v.value), ''));
}

/** @internal Wraps a config built by code (completeConfig) as read ones are: frozen, with a source. */
export function adoptConfig(config: ModelConfig, src: ConfigSource): ModelConfig {
  const frozen = deepFreeze(config);
  sources.set(frozen, src);
  return frozen;
}

/** @internal An empty config: every field at its default, as a config.pbtxt with nothing in it. */
export function emptyConfig(): Writable<ModelConfig> {
  return new Reader('', true).message(MODEL_CONFIG, [], '') as unknown as Writable<ModelConfig>;
}

// ---------------------------------------------------------------------------------------
// Writing: the config in force as Triton's GET /v2/models/{name}/config shows it.

/**
 * The config as Triton's `GET /v2/models/{name}/config` returns it: every field of the
 * proto (protobuf's JSON with always_print_primitive_fields, field names as in the proto),
 * enums by name, 64-bit integers as JSON numbers (Triton rewrites protobuf's strings, except
 * the priority_queue_policy keys), and Triton's defaults where the config left a field out:
 * version_policy `latest { num_versions: 1 }`, platform / backend / default_model_filename of
 * ONNX Runtime, dynamic batching's preferred_batch_size `[max_batch_size]`, the optimization
 * block with pinned memory on; fields this server ignores appear at their defaults. The
 * instance groups are printed as the config has them: the caller fills Triton's defaults
 * (names, kind, count, gpus) when it knows the devices.
 *
 * @example
 * ```ts
 * reply.send(configToJson(model.config)); // { name: 'densenet_onnx', platform: 'onnxruntime_onnx', ... }
 * ```
 */
export function configToJson(config: ModelConfig): JsonObject {
  const mbs = config.max_batch_size;
  const db = config.dynamic_batching;
  const opt = config.optimization;
  const out: Record<string, JsonValue> = {
    name: config.name,
    platform: config.platform || 'onnxruntime_onnx',
    backend: config.backend || 'onnxruntime',
    runtime: '',
    version_policy: versionPolicyJson(config.version_policy ?? { latest: { num_versions: 1 } }),
    max_batch_size: mbs,
    input: config.input.map((io) => ({
      name: io.name,
      data_type: io.data_type,
      format: io.format,
      dims: [...io.dims],
      ...(io.reshape ? { reshape: { shape: [...io.reshape.shape] } } : {}),
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: io.optional,
      is_non_linear_format_io: false,
    })),
    output: config.output.map((io) => ({
      name: io.name,
      data_type: io.data_type,
      dims: [...io.dims],
      ...(io.reshape ? { reshape: { shape: [...io.reshape.shape] } } : {}),
      label_filename: io.label_filename,
      is_shape_tensor: false,
      is_non_linear_format_io: false,
    })),
    batch_input: [],
    batch_output: [],
    optimization: {
      ...(opt?.graph ? { graph: { level: opt.graph.level } } : {}),
      priority: 'PRIORITY_DEFAULT',
      ...(opt?.execution_accelerators
        ? {
            execution_accelerators: {
              gpu_execution_accelerator: opt.execution_accelerators.gpu_execution_accelerator.map(acceleratorJson),
              cpu_execution_accelerator: opt.execution_accelerators.cpu_execution_accelerator.map(acceleratorJson),
            },
          }
        : {}),
      input_pinned_memory: { enable: true },
      output_pinned_memory: { enable: true },
      gather_kernel_buffer_threshold: 0,
      eager_batching: false,
    },
  };
  if (db) {
    out.dynamic_batching = {
      preferred_batch_size: db.preferred_batch_size.length === 0 && mbs > 0 ? [mbs] : [...db.preferred_batch_size],
      max_queue_delay_microseconds: db.max_queue_delay_microseconds,
      preserve_ordering: db.preserve_ordering,
      priority_levels: db.priority_levels,
      default_priority_level: db.default_priority_level,
      ...(db.default_queue_policy ? { default_queue_policy: queuePolicyJson(db.default_queue_policy) } : {}),
      priority_queue_policy: mapJson(db.priority_queue_policy, queuePolicyJson),
    };
  }
  out.instance_group = config.instance_group.map((g) => ({
    name: g.name,
    kind: g.kind,
    count: g.count,
    gpus: [...g.gpus],
    secondary_devices: [],
    profile: [],
    passive: false,
    host_policy: '',
  }));
  out.default_model_filename = config.default_model_filename || 'model.onnx';
  out.cc_model_filenames = {};
  out.metric_tags = {};
  out.parameters = mapJson(config.parameters, (p) => ({ string_value: p.string_value }));
  out.model_warmup = config.model_warmup.map((w) => ({
    name: w.name,
    batch_size: w.batch_size,
    inputs: mapJson(w.inputs, (i) => ({
      data_type: i.data_type,
      dims: [...i.dims],
      ...(i.zero_data !== undefined ? { zero_data: i.zero_data } : {}),
      ...(i.random_data !== undefined ? { random_data: i.random_data } : {}),
      ...(i.input_data_file !== undefined ? { input_data_file: i.input_data_file } : {}),
    })),
    count: w.count,
  }));
  return out;
}

function versionPolicyJson(p: ModelVersionPolicy): JsonObject {
  if (p.latest) return { latest: { num_versions: p.latest.num_versions } };
  if (p.specific) return { specific: { versions: [...p.specific.versions] } };
  return { all: {} };
}

function queuePolicyJson(p: ModelQueuePolicy): JsonObject {
  return {
    timeout_action: p.timeout_action,
    default_timeout_microseconds: p.default_timeout_microseconds,
    allow_timeout_override: p.allow_timeout_override,
    max_queue_size: p.max_queue_size,
  };
}

function acceleratorJson(a: ExecutionAccelerator): JsonObject {
  return { name: a.name, parameters: mapJson(a.parameters, (v) => v) };
}

function mapJson<T>(map: Readonly<Record<string, T>>, each: (value: T) => JsonValue): JsonObject {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(map)) put(out, k, each(v));
  return out;
}
