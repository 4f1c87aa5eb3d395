import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { throwsConfig } from './config-helpers';
import { configToJson, modelConfigFromJson, parseModelConfig, type ModelConfig } from '../../../lib/server/config/model-config';
import { completeConfig, normalizeInstanceGroups, type ModelSignature } from '../../../lib/server/config/complete-config';
import type { ValueMetadata } from '../../../lib/runtime/model-values';


const text = (t: string) => parseModelConfig(t, 'config.pbtxt');

/** `config.pbtxt:<line>:<column>` of the first `needle` in `source`, counted apart from the parser. */
function place(source: string, needle: string): string {
  const i = source.indexOf(needle);
  assert.ok(i >= 0, `no ${needle} in the source`);
  const lines = source.slice(0, i).split('\n');
  return `config.pbtxt:${lines.length}:${lines[lines.length - 1].length + 1}`;
}
const json = (v: unknown) => modelConfigFromJson(v, 'config.json');
const tensor = (name: string, type: string, dims: (number | string | null)[]): ValueMetadata => ({ name, kind: 'tensor', type, dims });

/** Written after Triton's docs/examples/model_repository/densenet_onnx/config.pbtxt, batch-free. */
const DENSENET = `name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size : 0
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape { shape: [ 1, 3, 224, 224 ] }
  }
]
output [
  {
    name: "fc6_1"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    reshape { shape: [ 1, 1000, 1, 1 ] }
    label_filename: "densenet_labels.txt"
  }
]
`;
const DENSENET_MODEL: ModelSignature = {
  inputs: [tensor('data_0', 'float32', [1, 3, 224, 224])],
  outputs: [tensor('fc6_1', 'float32', [1, 1000, 1, 1])],
};

/** Every field this server honours, in the ways Triton's docs write them. */
const FULL = `# Every honoured field.
name: "resnet50"
platform: "onnxruntime_onnx"
backend: "onnxruntime"
version_policy: { specific: { versions: [ 1, 3 ] } }
max_batch_size: 8
input [
  {
    name: "images"
    data_type: TYPE_FP16
    format: FORMAT_NHWC
    dims: [ 224, 224, 3 ]
  },
  {
    name: "scale"
    data_type: TYPE_FP32
    dims: [ 1 ]
    reshape: { shape: [ ] }
  },
  {
    name: "mask"
    data_type: TYPE_BOOL
    dims: [ -1 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ -1 ]
    label_filename: "labels.txt"
  }
]
optimization {
  graph: { level: 1 }
  execution_accelerators {
    gpu_execution_accelerator: [
      {
        name: "tensorrt"
        parameters { key: "precision_mode" value: "FP16" }
        parameters { key: "max_workspace_size_bytes" value: "1073741824" }
      },
      { name: "cuda" }
    ]
    cpu_execution_accelerator: [ { name: "openvino" } ]
  }
}
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy {
    timeout_action: DELAY
    default_timeout_microseconds: 50000
    allow_timeout_override: true
    max_queue_size: 16
  }
  priority_queue_policy { key: 1 value: { timeout_action: REJECT max_queue_size: 4 } }
}
instance_group [
  { name: "on_gpus" count: 2 kind: KIND_GPU gpus: [ 0, 1 ] },
  { kind: KIND_CPU }
]
default_model_filename: "resnet50.onnx"
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
parameters [ { key: "execution_mode" value: { string_value: "0" } } ]
model_warmup [
  {
    name: "zeros"
    batch_size: 8
    inputs { key: "images" value: { data_type: TYPE_FP16 dims: [ 224, 224, 3 ] zero_data: true } }
    inputs { key: "scale" value: { data_type: TYPE_FP32 dims: [ 1 ] random_data: true } }
    inputs { key: "mask" value: { data_type: TYPE_BOOL dims: [ 7 ] zero_data: false } }
    count: 2
  }
]
model_transaction_policy { decoupled: false }
`;

const FULL_CONFIG: ModelConfig = {
  name: 'resnet50',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  version_policy: { specific: { versions: [1, 3] } },
  max_batch_size: 8,
  input: [
    { name: 'images', data_type: 'TYPE_FP16', format: 'FORMAT_NHWC', dims: [224, 224, 3], optional: false },
    { name: 'scale', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [1], reshape: { shape: [] }, optional: false },
    { name: 'mask', data_type: 'TYPE_BOOL', format: 'FORMAT_NONE', dims: [-1], optional: false },
  ],
  output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: [-1], label_filename: 'labels.txt' }],
  optimization: {
    graph: { level: 1 },
    execution_accelerators: {
      gpu_execution_accelerator: [
        { name: 'tensorrt', parameters: { precision_mode: 'FP16', max_workspace_size_bytes: '1073741824' } },
        { name: 'cuda', parameters: {} },
      ],
      cpu_execution_accelerator: [{ name: 'openvino', parameters: {} }],
    },
  },
  dynamic_batching: {
    preferred_batch_size: [4, 8],
    max_queue_delay_microseconds: 100,
    preserve_ordering: false,
    priority_levels: 2,
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: 50000, allow_timeout_override: true, max_queue_size: 16 },
    priority_queue_policy: { 1: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 4 } },
  },
  instance_group: [
    { name: 'on_gpus', kind: 'KIND_GPU', count: 2, gpus: [0, 1] },
    { name: '', kind: 'KIND_CPU', count: 0, gpus: [] },
  ],
  default_model_filename: 'resnet50.onnx',
  parameters: { intra_op_thread_count: { string_value: '1' }, execution_mode: { string_value: '0' } },
  model_warmup: [
    {
      name: 'zeros',
      batch_size: 8,
      inputs: {
        images: { data_type: 'TYPE_FP16', dims: [224, 224, 3], zero_data: true },
        scale: { data_type: 'TYPE_FP32', dims: [1], random_data: true },
        mask: { data_type: 'TYPE_BOOL', dims: [7], zero_data: false },
      },
      count: 2,
    },
  ],
};

/** FULL in proto3 JSON, written the ways protobuf's JSON parser accepts: camelCase names, 64-bit integers as strings, enums in any case or by number. */
const FULL_JSON = {
  name: 'resnet50',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  versionPolicy: { specific: { versions: ['1', 3] } },
  max_batch_size: 8,
  input: [
    { name: 'images', data_type: 'TYPE_FP16', format: 'format_nhwc', dims: ['224', '224', '3'] },
    { name: 'scale', dataType: 11, dims: [1], reshape: { shape: [] } },
    { name: 'mask', data_type: 'type_bool', dims: [-1], optional: null },
  ],
  output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: [-1], labelFilename: 'labels.txt' }],
  optimization: {
    graph: { level: 1 },
    executionAccelerators: {
      gpuExecutionAccelerator: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16', max_workspace_size_bytes: '1073741824' } }, { name: 'cuda' }],
      cpu_execution_accelerator: [{ name: 'openvino' }],
    },
  },
  dynamic_batching: {
    preferredBatchSize: [4, 8],
    max_queue_delay_microseconds: '100',
    priority_levels: 2,
    default_priority_level: '2',
    default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: '50000', allow_timeout_override: true, max_queue_size: 16 },
    priority_queue_policy: { 1: { timeout_action: 'REJECT', max_queue_size: 4 } },
  },
  instance_group: [{ name: 'on_gpus', count: 2, kind: 'KIND_GPU', gpus: [0, 1] }, { kind: 'KIND_CPU' }],
  default_model_filename: 'resnet50.onnx',
  parameters: { intra_op_thread_count: { string_value: '1' }, execution_mode: { stringValue: '0' } },
  model_warmup: [
    {
      name: 'zeros',
      batch_size: 8,
      inputs: {
        images: { data_type: 'TYPE_FP16', dims: [224, 224, 3], zero_data: true },
        scale: { data_type: 'TYPE_FP32', dims: [1], randomData: true },
        mask: { data_type: 'TYPE_BOOL', dims: ['7'], zero_data: false },
      },
      count: 2,
    },
  ],
  model_transaction_policy: { decoupled: false },
};

/** ModelConfig's fields in model_config.proto's order. */
const CONFIG_FIELDS =
  'name, platform, backend, runtime, version_policy, max_batch_size, input, output, batch_input, batch_output, optimization, dynamic_batching, sequence_batching, ensemble_scheduling, instance_group, default_model_filename, cc_model_filenames, metric_tags, parameters, model_warmup, model_operations, model_transaction_policy, model_repository_agents, response_cache, model_metrics';

const Read = suite('model config: what is honoured');

Read("Triton's densenet_onnx example reads into the typed config, frozen", () => {
  const { config, ignored } = text(DENSENET);
  assert.equal(config, {
    name: 'densenet_onnx',
    platform: 'onnxruntime_onnx',
    backend: '',
    max_batch_size: 0,
    input: [{ name: 'data_0', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224], reshape: { shape: [1, 3, 224, 224] }, optional: false }],
    output: [{ name: 'fc6_1', data_type: 'TYPE_FP32', dims: [1000], reshape: { shape: [1, 1000, 1, 1] }, label_filename: 'densenet_labels.txt' }],
    instance_group: [],
    default_model_filename: '',
    parameters: {},
    model_warmup: [],
  });
  assert.equal(ignored, []);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.input) && Object.isFrozen(config.input[0].dims) && Object.isFrozen(config.input[0].reshape));
  assert.is(Reflect.set(config, 'max_batch_size', 8), false);
  assert.is(config.max_batch_size, 0);
});

Read('every honoured field, as text', () => {
  const { config, ignored } = text(FULL);
  assert.equal(config, FULL_CONFIG);
  assert.equal(ignored, []);
});

Read('the same config as JSON (camelCase names, 64-bit integers as strings, enums in any case or by number, null as unset) is equal', () => {
  const { config, ignored } = json(FULL_JSON);
  assert.equal(config, FULL_CONFIG);
  assert.equal(config, text(FULL).config);
  assert.equal(ignored, []);
});

Read('an empty config is every default; version policies; a message may be empty', () => {
  assert.equal(text('').config, { name: '', platform: '', backend: '', max_batch_size: 0, input: [], output: [], instance_group: [], default_model_filename: '', parameters: {}, model_warmup: [] });
  assert.equal(text('version_policy: { all { } }').config.version_policy, { all: {} });
  assert.equal(text('version_policy: { latest: { num_versions: 2 } }').config.version_policy, { latest: { num_versions: 2 } });
  assert.equal(json({ version_policy: { latest: { numVersions: 3 } } }).config.version_policy, { latest: { num_versions: 3 } });
  assert.equal(text('dynamic_batching { }').config.dynamic_batching, {
    preferred_batch_size: [],
    max_queue_delay_microseconds: 0,
    preserve_ordering: false,
    priority_levels: 0,
    default_priority_level: 0,
    priority_queue_policy: {},
  });
});

Read("booleans, enums by number, octal and hex integers, as protobuf's text format reads them", () => {
  const { config } = text(
    'input { name: "a" data_type: 11 format: 2 dims: [ 3, 0x10, 010 ] optional: True }\n' +
      'input { name: "b" data_type: TYPE_INT64 dims: [ 1 ] optional: 0 }\n' +
      'input { name: "c" data_type: TYPE_STRING dims: [ 1 ] optional: t }',
  );
  assert.equal(config.input.map((i) => [i.data_type, i.format, i.dims, i.optional]), [
    ['TYPE_FP32', 'FORMAT_NCHW', [3, 16, 8], true],
    ['TYPE_INT64', 'FORMAT_NONE', [1], false],
    ['TYPE_STRING', 'FORMAT_NONE', [1], true],
  ]);
});

Read('dynamic_batching with max_batch_size 0 is accepted, as Triton does (it queues, batches of one)', () => {
  const { config } = text('dynamic_batching { max_queue_delay_microseconds: 5 }\ninput { name: "x" data_type: TYPE_FP32 dims: [ 1 ] }\noutput { name: "y" data_type: TYPE_FP32 dims: [ 1 ] }');
  assert.is(config.max_batch_size, 0);
  assert.is(config.dynamic_batching?.max_queue_delay_microseconds, 5);
});

Read('map keys: a repeated key keeps the last value and is reported; __proto__ is an ordinary key', () => {
  const { config, ignored } = text(
    'parameters { key: "a" value: { string_value: "1" } }\nparameters { key: "a" value: { string_value: "2" } }\nparameters { key: "__proto__" value: { string_value: "x" } }',
  );
  assert.equal(config.parameters.a, { string_value: '2' });
  assert.ok(Object.hasOwn(config.parameters, '__proto__'));
  assert.is(Object.getPrototypeOf(config.parameters), Object.prototype);
  assert.equal(config.parameters['__proto__'], { string_value: 'x' });
  assert.equal(ignored, ['config.pbtxt:2:12: parameters["a"]: ignored: an earlier entry with the key "a" is overridden by this one (protobuf keeps the last)']);
  const fromJson = json(JSON.parse('{"parameters": {"__proto__": {"string_value": "y"}}}')).config;
  assert.equal(fromJson.parameters['__proto__'], { string_value: 'y' });
  // uint64 keys are numbers in text and decimal strings in JSON; both end up as decimal strings.
  const levels = 'dynamic_batching { priority_levels: 9 default_priority_level: 1 priority_queue_policy { key: 010 value { max_queue_size: 1 } } }';
  assert.equal(Object.keys(text(levels).config.dynamic_batching!.priority_queue_policy), ['8']);
  assert.equal(Object.keys(json({ dynamic_batching: { priority_levels: 9, default_priority_level: 1, priority_queue_policy: { 8: {} } } }).config.dynamic_batching!.priority_queue_policy), ['8']);
  // A map entry may leave out its key or its value: protobuf's defaults.
  assert.equal(text('parameters { value: { string_value: "v" } }\nparameters { key: "k" }').config.parameters, { '': { string_value: 'v' }, k: { string_value: '' } });
});

const Ignored = suite('model config: tuning-only fields are reported, once each, with their place');

Ignored('every tuning-only field Triton has is dropped with a line saying where and why', () => {
  const { config, ignored } = text(`runtime: "libtriton_onnxruntime.so"
input {
  name: "x" data_type: TYPE_FP32 dims: [ -1 ]
  allow_ragged_batch: true
}
output { name: "y" data_type: TYPE_FP32 dims: [ -1 ] }
optimization {
  priority: PRIORITY_MAX
  cuda { graphs: true }
  input_pinned_memory { enable: false }
  output_pinned_memory: { }
  gather_kernel_buffer_threshold: 3
  eager_batching: true
}
instance_group {
  rate_limiter { resources [ { name: "R1" count: 4 } ] priority: 2 }
  secondary_devices [ { kind: KIND_NVDLA device_id: 0 } ]
  passive: true
  host_policy: "policy_0"
}
cc_model_filenames [ { key: "7.5" value: "model_t4.onnx" } ]
metric_tags { key: "team" value: "vision" }
model_repository_agents { agents [ { name: "checksum" parameters { key: "MD5:1/model.onnx" value: "abc" } } ] }
response_cache { enable: true }
model_metrics { metric_control [ { metric_identifier { family: "nv_inference_first_response_histogram_ms" } histogram_options { buckets: [ -5.0, 0, 3.5, 5 ] } } ] }
`);
  assert.equal(ignored, [
    'config.pbtxt:1:1: runtime: ignored (this server has its own ONNX Runtime binding, not a Triton backend library)',
    'config.pbtxt:4:3: input[0].allow_ragged_batch: ignored (ragged batching is not done: requests whose shapes differ are not batched together)',
    'config.pbtxt:8:3: optimization.priority: ignored (model priorities are only used for TensorRT models)',
    'config.pbtxt:9:3: optimization.cuda: ignored (CUDA graph settings are only used by the TensorRT backend)',
    'config.pbtxt:10:3: optimization.input_pinned_memory: ignored (pinned-memory staging is not configurable here)',
    'config.pbtxt:11:3: optimization.output_pinned_memory: ignored (pinned-memory staging is not configurable here)',
    'config.pbtxt:12:3: optimization.gather_kernel_buffer_threshold: ignored (the gather kernel is only used by the TensorRT backend)',
    'config.pbtxt:13:3: optimization.eager_batching: ignored (eager batching is only used by the TensorRT backend)',
    'config.pbtxt:16:3: instance_group[0].rate_limiter: ignored (this server has no rate limiter)',
    'config.pbtxt:17:3: instance_group[0].secondary_devices: ignored (secondary devices (NVDLA) are only used by TensorRT)',
    'config.pbtxt:18:3: instance_group[0].passive: ignored (passive instances are not supported: every instance takes requests)',
    'config.pbtxt:19:3: instance_group[0].host_policy: ignored (host policies are not supported)',
    'config.pbtxt:21:1: cc_model_filenames: ignored (there are no per-compute-capability model files: default_model_filename is used)',
    "config.pbtxt:22:1: metric_tags: ignored (metric tags are not added to this server's metrics)",
    'config.pbtxt:23:1: model_repository_agents: ignored (repository agents are not run)',
    'config.pbtxt:24:1: response_cache: ignored (this server has no response cache)',
    'config.pbtxt:25:1: model_metrics: ignored (custom metric histograms are not configurable here)',
  ]);
  assert.equal(config.optimization, {});
  assert.equal(config.instance_group, [{ name: '', kind: 'KIND_AUTO', count: 0, gpus: [] }]);
  assert.equal(Object.keys(config).sort(), ['backend', 'default_model_filename', 'input', 'instance_group', 'max_batch_size', 'model_warmup', 'name', 'optimization', 'output', 'parameters', 'platform']);
});

Ignored('the same fields at their defaults say nothing', () => {
  const { ignored } = text(`runtime: ""
optimization { priority: PRIORITY_DEFAULT input_pinned_memory { enable: true } gather_kernel_buffer_threshold: 0 eager_batching: false }
instance_group { passive: false host_policy: "" secondary_devices: [] profile: [] }
input { name: "x" data_type: TYPE_FP32 dims: [ 1 ] allow_ragged_batch: false is_shape_tensor: false is_non_linear_format_io: false }
cc_model_filenames: []
response_cache { enable: false }
model_repository_agents { }
model_metrics { }
model_operations { op_library_filename: [] }
batch_input: []
batch_output []
`);
  assert.equal(ignored, []);
});

Ignored('JSON warnings name the field path', () => {
  const { ignored } = json({ response_cache: { enable: true }, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1], allow_ragged_batch: true }] });
  assert.equal(ignored, [
    'config.json: input[0].allow_ragged_batch: ignored (ragged batching is not done: requests whose shapes differ are not batched together)',
    'config.json: response_cache: ignored (this server has no response cache)',
  ]);
});

const Refused = suite('model config: what would change what a request means is refused');

Refused('sequence batching, ensembles, decoupled models, other platforms and backends', () => {
  const only = 'this server runs ONNX models with ONNX Runtime only (platform "onnxruntime_onnx", backend "onnxruntime")';
  throwsConfig(() => text('name: "m"\nsequence_batching { max_sequence_idle_microseconds: 5000000 }'), 'config.pbtxt:2:1: sequence_batching: not supported: sequence batching (stateful models) is not supported');
  throwsConfig(() => text('ensemble_scheduling { step [ { model_name: "a" } ] }'), 'config.pbtxt:1:1: ensemble_scheduling: not supported: ensembles are not supported');
  throwsConfig(() => text('platform: "ensemble"'), 'config.pbtxt:1:1: platform: not supported: ensembles are not supported');
  throwsConfig(() => text('platform: "tensorrt_plan"'), `config.pbtxt:1:1: platform: not supported: platform "tensorrt_plan" is not supported: ${only}`);
  throwsConfig(() => text('  backend: "python"'), `config.pbtxt:1:3: backend: not supported: backend "python" is not supported: ${only}`);
  throwsConfig(() => text('runtime: "model.py"'), `config.pbtxt:1:1: runtime: not supported: runtime "model.py" is not supported: ${only}`);
  throwsConfig(() => text('model_transaction_policy {\n  decoupled: true\n}'), 'config.pbtxt:1:1: model_transaction_policy: not supported: decoupled models (any number of responses per request) are not supported');
  throwsConfig(() => json({ model_transaction_policy: { decoupled: true } }), 'config.json: model_transaction_policy: not supported: decoupled models (any number of responses per request) are not supported');
});

Refused("batch inputs and outputs, custom operators, TensorRT-only tensor kinds, KIND_MODEL, profiles", () => {
  throwsConfig(() => text('batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "N" data_type: TYPE_INT32 source_input: "x" } ]'), 'config.pbtxt:1:1: batch_input: not supported: batch inputs are not supported (the server would have to compute those tensors)');
  throwsConfig(() => text('batch_output { target_name: "y" }'), 'config.pbtxt:1:1: batch_output: not supported: batch outputs are not supported');
  throwsConfig(() => text('model_operations { op_library_filename: "libcustom.so" }'), 'config.pbtxt:1:1: model_operations: not supported: custom operator libraries are not loaded by this server');
  throwsConfig(() => text('input {\n  name: "s"\n  is_shape_tensor: true\n}'), "config.pbtxt:3:3: input[0].is_shape_tensor: not supported: shape tensors are only supported for TensorRT models (Triton's rule)");
  throwsConfig(() => text('output { is_non_linear_format_io: true }'), "config.pbtxt:1:10: output[0].is_non_linear_format_io: not supported: non-linear I/O formats are only supported for TensorRT models (Triton's rule)");
  throwsConfig(() => text('instance_group [ { kind: KIND_MODEL } ]'), 'config.pbtxt:1:20: instance_group[0].kind: not supported: KIND_MODEL (devices chosen by the backend) is not supported: use KIND_CPU, KIND_GPU or KIND_AUTO');
  throwsConfig(() => text('instance_group [ { profile: [ "0" ] } ]'), "config.pbtxt:1:20: instance_group[0].profile: not supported: optimization profiles are only supported for TensorRT models (Triton's rule)");
});

const Wrong = suite('model config: unknown fields and wrong values, at their place');

Wrong('a field Triton does not have, anywhere, with a guess and the valid names', () => {
  throwsConfig(
    () => text('name: "m"\ndynamic_batching {\n  max_queue_delay: 100\n}'),
    "config.pbtxt:3:3: dynamic_batching.max_queue_delay: unknown field (did you mean 'max_queue_delay_microseconds'?); ModelDynamicBatching's fields are: preferred_batch_size, max_queue_delay_microseconds, preserve_ordering, priority_levels, default_priority_level, default_queue_policy, priority_queue_policy",
  );
  throwsConfig(
    () => json({ dynamic_batching: { max_queue_delay: 100 } }),
    "config.json: dynamic_batching.max_queue_delay: unknown field (did you mean 'max_queue_delay_microseconds'?); ModelDynamicBatching's fields are: preferred_batch_size, max_queue_delay_microseconds, preserve_ordering, priority_levels, default_priority_level, default_queue_policy, priority_queue_policy",
  );
  const err = throwsConfig(() => text('max_batch: 8'), `config.pbtxt:1:1: max_batch: unknown field (did you mean 'max_batch_size'?); ModelConfig's fields are: ${CONFIG_FIELDS}`);
  assert.equal([err.line, err.column, err.field, err.reason.startsWith('unknown field')], [1, 1, 'max_batch', true]);
  throwsConfig(() => text('input [ { name: "a" }, {\n  nmae: "b" } ]'), "config.pbtxt:2:3: input[1].nmae: unknown field (did you mean 'name'?); ModelInput's fields are: name, data_type, format, dims, reshape, is_shape_tensor, allow_ragged_batch, optional, is_non_linear_format_io");
  throwsConfig(() => text('parameters { key: "a" valeu: { string_value: "1" } }'), `config.pbtxt:1:23: parameters["a"].valeu: unknown field (did you mean 'value'?); map<string, ModelParameter> entry's fields are: key, value`);
  throwsConfig(() => text('response_cache { enabel: true }'), "config.pbtxt:1:18: response_cache.enabel: unknown field (did you mean 'enable'?); ModelResponseCache's fields are: enable");
  throwsConfig(() => text('version_policy { all { n: 1 } }'), 'config.pbtxt:1:24: version_policy.all.n: unknown field; ModelVersionPolicy.All has no fields');
  throwsConfig(() => json({ input: [{ name: 'x', dataType: 'TYPE_FP32', Dims: [1] }] }), "config.json: input[0].Dims: unknown field (did you mean 'dims'?); ModelInput's fields are: name, data_type, format, dims, reshape, is_shape_tensor, allow_ragged_batch, optional, is_non_linear_format_io");
});

Wrong('a value of the wrong kind', () => {
  throwsConfig(() => text('max_batch_size: "8"'), 'config.pbtxt:1:17: max_batch_size: expected an integer (int32), got string "8"');
  throwsConfig(() => text('max_batch_size: 8.0'), 'config.pbtxt:1:17: max_batch_size: expected an integer (int32), got number 8.0');
  throwsConfig(() => text('name: densenet'), 'config.pbtxt:1:7: name: expected a string, got identifier densenet');
  throwsConfig(() => text('name: 5'), 'config.pbtxt:1:7: name: expected a string, got number 5');
  throwsConfig(() => text('name { }'), "config.pbtxt:1:1: name: expected ':' after the field name (protobuf requires it before a value)");
  throwsConfig(() => text('name: { }'), 'config.pbtxt:1:7: name: expected a string, got a message');
  throwsConfig(() => text('dynamic_batching: 5'), 'config.pbtxt:1:19: dynamic_batching: expected a message ({ ... }) of type ModelDynamicBatching, got number 5');
  throwsConfig(() => text('dynamic_batching { preserve_ordering: yes }'), 'config.pbtxt:1:39: dynamic_batching.preserve_ordering: expected true or false, got identifier yes');
  throwsConfig(() => text('dynamic_batching { preserve_ordering: 2 }'), 'config.pbtxt:1:39: dynamic_batching.preserve_ordering: expected true or false, got number 2');
  throwsConfig(() => text('input { name: "x"\n  dims: [ 3, "224" ] }'), 'config.pbtxt:2:14: input[0].dims[1]: expected an integer (int64), got string "224"');
  throwsConfig(() => text('parameters { key: "a" value: "1" }'), 'config.pbtxt:1:30: parameters["a"].value: expected a message ({ ... }) of type ModelParameter, got string "1"');
  throwsConfig(() => text('parameters: "x"'), 'config.pbtxt:1:13: parameters: expected a map entry ({ key: ... value: ... }), got string "x"');
  throwsConfig(() => json({ max_batch_size: 1.5 }), 'config.json: max_batch_size: expected an integer (int32), got number 1.5');
  throwsConfig(() => json({ max_batch_size: true }), 'config.json: max_batch_size: expected an integer (int32), got true');
  throwsConfig(() => json({ input: [{ optional: 'true' }] }), 'config.json: input[0].optional: expected true or false, got string "true"');
  throwsConfig(() => json({ input: { name: 'x' } }), 'config.json: input: expected a list, got a message');
  throwsConfig(() => json({ parameters: [] }), 'config.json: parameters: expected an object (a map), got a list');
  throwsConfig(() => json({ input: [[1]] }), 'config.json: input[0]: expected a message ({ ... }) of type ModelInput, got a list');
  throwsConfig(() => json([]), 'config.json: expected a JSON object (a ModelConfig), got a list');
  throwsConfig(() => json('name: "x"'), 'config.json: expected a JSON object (a ModelConfig), got string "name: \\"x\\""');
});

Wrong('an enum name that does not exist, or quoted in text', () => {
  throwsConfig(() => text('input { data_type: TYPE_FLOAT32 }'), 'config.pbtxt:1:20: input[0].data_type: expected one of TYPE_INVALID, TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64, TYPE_STRING, TYPE_BF16, got identifier TYPE_FLOAT32 (did you mean TYPE_FP32?)');
  throwsConfig(() => text('instance_group { kind: "KIND_GPU" }'), 'config.pbtxt:1:24: instance_group[0].kind: expected one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL, got string "KIND_GPU" (enum values are written without quotes) (did you mean KIND_GPU?)');
  throwsConfig(() => text('instance_group { kind: KIND_GPUS }'), 'config.pbtxt:1:24: instance_group[0].kind: expected one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL, got identifier KIND_GPUS (did you mean KIND_GPU?)');
  throwsConfig(() => text('instance_group { kind: 7 }'), 'config.pbtxt:1:24: instance_group[0].kind: expected one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL, got number 7');
  throwsConfig(() => json({ dynamic_batching: { default_queue_policy: { timeout_action: 'WAIT' } } }), 'config.json: dynamic_batching.default_queue_policy.timeout_action: expected one of REJECT, DELAY, got string "WAIT"');
});

Wrong('a number out of its field’s range', () => {
  throwsConfig(() => text('max_batch_size: 3000000000'), 'config.pbtxt:1:17: max_batch_size: 3000000000 is out of range for int32 (-2147483648 to 2147483647)');
  throwsConfig(() => text('model_warmup { batch_size: -1 }'), 'config.pbtxt:1:28: model_warmup[0].batch_size: -1 is out of range for uint32 (0 to 4294967295)');
  throwsConfig(() => text('dynamic_batching { max_queue_delay_microseconds: 18446744073709551616 }'), 'config.pbtxt:1:50: dynamic_batching.max_queue_delay_microseconds: 18446744073709551616 is out of range for uint64 (0 to 18446744073709551615)');
  throwsConfig(() => text('dynamic_batching { max_queue_delay_microseconds: 9007199254740993 }'), 'config.pbtxt:1:50: dynamic_batching.max_queue_delay_microseconds: 9007199254740993 is beyond ±2^53, which this server cannot hold exactly');
  throwsConfig(() => json({ input: [{ dims: ['-9223372036854775809'] }] }), 'config.json: input[0].dims[0]: -9223372036854775809 is out of range for int64 (-9223372036854775808 to 9223372036854775807)');
  throwsConfig(() => json({ dynamic_batching: { priority_queue_policy: { '-1': {} } } }), 'config.json: dynamic_batching.priority_queue_policy["-1"]: expected an unsigned integer key, got "-1"');
});

Wrong('structure: a missing colon, a list for a single field, a field given twice, two alternatives of a oneof', () => {
  throwsConfig(() => text('input { name: "x"\n  dims [ 1 ] }'), "config.pbtxt:2:3: input[0].dims: expected ':' after the field name (protobuf requires it before a value)");
  throwsConfig(() => text('max_batch_size [ 1 ]'), "config.pbtxt:1:1: max_batch_size: expected ':' after the field name (protobuf requires it before a value)");
  throwsConfig(() => text('max_batch_size: [ 1 ]'), 'config.pbtxt:1:1: max_batch_size: is not a repeated field, so it takes one value, not a list');
  throwsConfig(() => text('max_batch_size: 1\n\nmax_batch_size: 2'), 'config.pbtxt:3:1: max_batch_size: given more than once (first at 1:1); it is not a repeated field');
  throwsConfig(() => text('optimization { graph { level: 1 } }\noptimization { }'), 'config.pbtxt:2:1: optimization: given more than once (first at 1:1); it is not a repeated field');
  throwsConfig(() => json({ max_batch_size: 1, maxBatchSize: 2 }), "config.json: max_batch_size: given more than once (as 'max_batch_size'); it is not a repeated field");
  throwsConfig(() => text('version_policy { all {} latest {} }'), "config.pbtxt:1:25: version_policy.latest: 'all' is already set, and the two are alternatives (oneof policy_choice): give one");
  throwsConfig(() => text('dynamic_batching { }\nsequence_batching { }'), "config.pbtxt:2:1: sequence_batching: 'dynamic_batching' is already set, and the two are alternatives (oneof scheduling_choice): give one");
  throwsConfig(() => json({ model_warmup: [{ inputs: { x: { zero_data: true, random_data: true } } }] }), `config.json: model_warmup[0].inputs["x"].random_data: 'zero_data' is already set, and the two are alternatives (oneof input_data_type): give one`);
});

const Checks = suite("model config: Triton's checks on a config by itself");

Checks('max_batch_size, names, data types, dims', () => {
  throwsConfig(() => text('max_batch_size: -1'), 'config.pbtxt:1:1: max_batch_size: must be 0 (no batching) or more, got -1');
  throwsConfig(() => text('input [ { data_type: TYPE_FP32 dims: [ 1 ] } ]'), "config.pbtxt:1:9: input[0]: must specify 'name'");
  throwsConfig(() => text('input { name: "x" dims: [ 1 ] }'), "config.pbtxt:1:7: input[0]: input 'x' must specify 'data_type'");
  throwsConfig(() => text('input { name: "x" data_type: TYPE_FP32 dims: [ 1 ] }\ninput {\n  name: "x" data_type: TYPE_FP32 dims: [ 1 ] }'), "config.pbtxt:3:3: input[1].name: input 'x' is listed twice (also input[0])");
  throwsConfig(() => text('output {\n  name: "y" data_type: TYPE_FP32\n}'), "config.pbtxt:1:8: output[0].dims: 'y' must specify 'dims' (a scalar is dims: [ 1 ] with reshape: { shape: [ ] })");
  throwsConfig(() => text('output { name: "y" data_type: TYPE_FP32 dims: [ ] reshape { shape: [ 4 ] } }'), "config.pbtxt:1:41: output[0].dims: 'y' must specify 'dims' (a scalar is dims: [ 1 ] with reshape: { shape: [ ] })");
  throwsConfig(() => text('input { name: "x" data_type: TYPE_FP32 dims: [ 3, 0 ] }'), 'config.pbtxt:1:51: input[0].dims[1]: a dimension must be an integer >= 1, or -1 for a variable-size one, got 0');
  throwsConfig(() => text('input { name: "x" data_type: TYPE_FP32 dims: [ -2 ] }'), 'config.pbtxt:1:48: input[0].dims[0]: a dimension must be an integer >= 1, or -1 for a variable-size one, got -2');
  throwsConfig(() => text('input { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 224 ] }'), "config.pbtxt:1:40: input[0].format: FORMAT_NCHW requires 3 dims (the non-batch C, H, W), 'x' has 2");
});

Checks('reshape: same element count, segment by segment around -1; empty for a scalar, batching or not', () => {
  const io = (dims: string, shape: string) => text(`max_batch_size: 4\ninput { name: "x" data_type: TYPE_FP32 dims: [ ${dims} ] reshape { shape: [ ${shape} ] } }`);
  assert.equal(io('2, 4, -1, 6', '8, -1, 1, 6').config.input[0].reshape, { shape: [8, -1, 1, 6] });
  assert.equal(io('1', '').config.input[0].reshape, { shape: [] });
  throwsConfig(() => io('2, 3', '5'), "config.pbtxt:2:55: input[0].reshape: 'x' has a different size for dims [2, 3] and reshape [5]");
  throwsConfig(() => io('2, -1', '2, -1, -1'), "config.pbtxt:2:56: input[0].reshape: 'x' has a different number of variable-size dimensions in dims [2, -1] and reshape [2, -1, -1]");
  throwsConfig(() => io('2, -1, 3', '3, -1, 2'), "config.pbtxt:2:59: input[0].reshape: 'x' has a different size for dims [2, -1, 3] and reshape [3, -1, 2]");
  throwsConfig(() => io('2', ''), "config.pbtxt:2:52: input[0].reshape: 'x' has a different size for dims [2] and reshape []");
  throwsConfig(() => io('4', '0, 4'), 'config.pbtxt:2:71: input[0].reshape.shape[0]: a reshape dimension must be an integer >= 1, or -1 for a variable-size one, got 0');
  // Triton refuses this one (no 0-d tensors without batching); this server feeds them.
  assert.equal(text('input { name: "x" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] } }\noutput { name: "y" data_type: TYPE_FP32 dims: [ 1 ] }').config.input[0].reshape, { shape: [] });
});

Checks('dynamic batching: preferred sizes, priority levels, preserve_ordering', () => {
  const dbSource = (body: string, mbs = 8) => `max_batch_size: ${mbs}\ndynamic_batching {\n  ${body}\n}`;
  const db = (body: string, mbs = 8) => text(dbSource(body, mbs));
  throwsConfig(() => db('preferred_batch_size: [ 4, 0 ]'), 'config.pbtxt:3:30: dynamic_batching.preferred_batch_size[1]: a preferred batch size must be positive, got 0');
  throwsConfig(() => db('preferred_batch_size: [ 4, 16 ]'), 'config.pbtxt:3:30: dynamic_batching.preferred_batch_size[1]: a preferred batch size must be <= max_batch_size (8), got 16');
  throwsConfig(() => db('priority_levels: 3 default_priority_level: 4'), 'config.pbtxt:3:22: dynamic_batching.default_priority_level: must be in [1, 3] (priority_levels is 3), got 4');
  throwsConfig(() => db('priority_levels: 3'), 'config.pbtxt:2:1: dynamic_batching.default_priority_level: must be in [1, 3] (priority_levels is 3), got 0');
  throwsConfig(() => db('default_priority_level: 2'), 'config.pbtxt:3:3: dynamic_batching.default_priority_level: is 2, but priority_levels is 0 (no priorities)');
  throwsConfig(() => db('priority_levels: 2 default_priority_level: 1\n  priority_queue_policy { key: 3 value { } }'), 'config.pbtxt:4:25: dynamic_batching.priority_queue_policy["3"]: priority level 3 is not in [1, 2]');
  const unlevelled = 'priority_queue_policy { key: 1 value { } }';
  throwsConfig(() => db(unlevelled), `${place(dbSource(unlevelled), '{ key: 1')}: dynamic_batching.priority_queue_policy["1"]: sets priority level 1, but priority_levels is 0 (no priorities)`);
  throwsConfig(() => db('preserve_ordering: true priority_levels: 2 default_priority_level: 1'), 'config.pbtxt:3:3: dynamic_batching.preserve_ordering: only one priority level is allowed with preserve_ordering, priority_levels is 2');
  throwsConfig(() => db('preserve_ordering: true\n  default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 10 }'), 'config.pbtxt:4:26: dynamic_batching.default_queue_policy.timeout_action: DELAY cannot be the timeout action with preserve_ordering');
  throwsConfig(() => db('preserve_ordering: true priority_levels: 1 default_priority_level: 1\n  priority_queue_policy { key: 1 value { timeout_action: DELAY default_timeout_microseconds: 10 } }'), 'config.pbtxt:4:42: dynamic_batching.priority_queue_policy["1"].timeout_action: DELAY cannot be the timeout action with preserve_ordering');
  // DELAY without a timeout never delays anything, so Triton allows it with preserve_ordering.
  assert.ok(db('preserve_ordering: true default_queue_policy { timeout_action: DELAY }').config.dynamic_batching?.preserve_ordering);
});

Checks('version policy, instance groups, accelerators', () => {
  throwsConfig(() => text('version_policy { }'), 'config.pbtxt:1:1: version_policy: must set one of latest, all or specific');
  throwsConfig(() => text('version_policy { latest { } }'), 'config.pbtxt:1:18: version_policy.latest.num_versions: must be at least 1, got 0');
  throwsConfig(() => text('version_policy { latest { num_versions: 0 } }'), 'config.pbtxt:1:27: version_policy.latest.num_versions: must be at least 1, got 0');
  throwsConfig(() => text('version_policy { specific { } }'), 'config.pbtxt:1:18: version_policy.specific.versions: must list at least one version');
  throwsConfig(() => text('version_policy { specific { versions: [ 2, 0 ] } }'), 'config.pbtxt:1:44: version_policy.specific.versions[1]: a version is a number >= 1, got 0');
  throwsConfig(() => text('instance_group [ { kind: KIND_CPU gpus: [ 0 ] } ]'), 'config.pbtxt:1:35: instance_group[0].gpus: a KIND_CPU instance group cannot list GPUs');
  throwsConfig(() => text('instance_group [ { count: -1 } ]'), 'config.pbtxt:1:20: instance_group[0].count: must be 1 or more (or left out), got -1');
  throwsConfig(() => text('instance_group [ { gpus: [ -1 ] } ]'), 'config.pbtxt:1:28: instance_group[0].gpus[0]: a GPU id is 0 or more, got -1');
  throwsConfig(() => text('optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "openvino" } ] } }'), 'config.pbtxt:1:72: optimization.execution_accelerators.gpu_execution_accelerator[0].name: unknown execution accelerator "openvino"; Triton\'s ONNX Runtime backend knows "tensorrt" and "cuda" here');
  throwsConfig(() => json({ optimization: { execution_accelerators: { cpu_execution_accelerator: [{ name: 'tensorrt' }] } } }), 'config.json: optimization.execution_accelerators.cpu_execution_accelerator[0].name: unknown execution accelerator "tensorrt"; Triton\'s ONNX Runtime backend knows "openvino" here');
});

Checks('warmup samples and the files a config names', () => {
  const warmupSource = (input: string, extra = 'batch_size: 1') => `model_warmup [ { name: "w" ${extra}\n  inputs { key: "x" value: { ${input} } } } ]`;
  const warmup = (input: string, extra?: string) => text(warmupSource(input, extra));
  throwsConfig(() => warmup('data_type: TYPE_FP32 dims: [ 1 ] zero_data: true', 'batch_size: 0'), 'config.pbtxt:1:28: model_warmup[0].batch_size: must be at least 1, got 0');
  throwsConfig(() => warmup('data_type: TYPE_FP32 dims: [ 1 ]'), `${place(warmupSource(''), '{ key: "x"')}: model_warmup[0].inputs["x"]: must set one of zero_data, random_data or input_data_file`);
  throwsConfig(() => warmup('dims: [ 1 ] zero_data: true'), `${place(warmupSource(''), '{ key: "x"')}: model_warmup[0].inputs["x"]: must specify 'data_type'`);
  const wildcard = 'data_type: TYPE_FP32 dims: [ 3, -1 ] zero_data: true';
  throwsConfig(() => warmup(wildcard), `${place(warmupSource(wildcard), '-1')}: model_warmup[0].inputs["x"].dims[1]: warmup data needs fixed dimensions (0 or more), got -1`);
  const escape = 'data_type: TYPE_FP32 dims: [ 1 ] input_data_file: "../../etc/passwd"';
  throwsConfig(() => warmup(escape), `${place(warmupSource(escape), 'input_data_file')}: model_warmup[0].inputs["x"].input_data_file: "../../etc/passwd" must name a file inside the model's folder (a relative path without '..')`);
  throwsConfig(() => text('output { name: "y" data_type: TYPE_FP32 dims: [ 1 ] label_filename: "/etc/labels.txt" }'), `config.pbtxt:1:53: output[0].label_filename: "/etc/labels.txt" must name a file inside the model's folder (a relative path without '..')`);
  throwsConfig(() => text('default_model_filename: "..\\\\model.onnx"'), `config.pbtxt:1:1: default_model_filename: "..\\\\model.onnx" must name a file inside the model's folder (a relative path without '..')`);
  assert.is(text('output { name: "y" data_type: TYPE_FP32 dims: [ 1 ] label_filename: "labels/en.txt" }').config.output[0].label_filename, 'labels/en.txt');
  throwsConfig(
    () => text('input { name: "x" data_type: TYPE_FP32 dims: [ 1 ] }\noutput { name: "y" data_type: TYPE_FP32 dims: [ 1 ] }\nmodel_warmup { batch_size: 2 inputs { key: "x" value { data_type: TYPE_FP32 dims: [1] zero_data: true } } }'),
    'config.pbtxt:3:16: model_warmup[0].batch_size: must be 1 for a model without batching (max_batch_size 0), got 2',
  );
});

Wrong('hostile configs: 1 MB of fields reads quickly; a huge unknown name is cited cut short', () => {
  const entries = Array.from({ length: 20_000 }, (_, i) => `parameters { key: "key_${i}" value: { string_value: "${'v'.repeat(20)}" } }`);
  const big = `name: "big"\n${entries.join('\n')}\n`;
  assert.ok(big.length > 1 << 20);
  let started = performance.now();
  const { config, ignored } = text(big);
  assert.is(Object.keys(config.parameters).length, 20_000);
  assert.equal(ignored, []);
  assert.ok(performance.now() - started < 2000, `took ${performance.now() - started} ms`);
  started = performance.now();
  const long = 'x'.repeat(1 << 20);
  const err = throwsConfig(() => text(`${long}: 1`), `config.pbtxt:1:1: ${'x'.repeat(61)}...: unknown field; ModelConfig's fields are: ${CONFIG_FIELDS}`);
  assert.ok(err.message.length < 1000);
  assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
  // Depth inside an unknown or refused field is never walked.
  let deep: unknown = {};
  for (let i = 0; i < 10_000; i++) deep = { a: deep };
  throwsConfig(() => json({ sequence_batching: deep }), 'config.json: sequence_batching: not supported: sequence batching (stateful models) is not supported');
  throwsConfig(() => json({ parameters: { p: deep } }), "config.json: parameters[\"p\"].a: unknown field; ModelParameter's fields are: string_value");
});

const Json = suite("model config: JSON as Triton's GET /v2/models/{name}/config shows it");

/** Written after a Triton 25.06 `GET /v2/models/<m>/config` reply for an ONNX model. */
const TRITON_REPLY = {
  name: 'iris',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  runtime: '',
  version_policy: { latest: { num_versions: 1 } },
  max_batch_size: 100,
  input: [{ name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false }],
  output: [{ name: 'output', data_type: 'TYPE_FP32', dims: [3], label_filename: '', is_shape_tensor: false, is_non_linear_format_io: false }],
  batch_input: [],
  batch_output: [],
  optimization: {
    priority: 'PRIORITY_DEFAULT',
    input_pinned_memory: { enable: true },
    output_pinned_memory: { enable: true },
    gather_kernel_buffer_threshold: 0,
    eager_batching: false,
  },
  dynamic_batching: {
    preferred_batch_size: [100],
    max_queue_delay_microseconds: 0,
    preserve_ordering: false,
    priority_levels: 0,
    default_priority_level: 0,
    priority_queue_policy: {},
  },
  instance_group: [{ name: 'iris', kind: 'KIND_GPU', count: 1, gpus: [0], secondary_devices: [], profile: [], passive: false, host_policy: '' }],
  default_model_filename: 'model.onnx',
  cc_model_filenames: {},
  metric_tags: {},
  parameters: {},
  model_warmup: [],
};

Json("Triton's own reply reads with nothing ignored and prints back the same, field order included", () => {
  const { config, ignored } = json(TRITON_REPLY);
  assert.equal(ignored, []);
  assert.is(JSON.stringify(configToJson(config)), JSON.stringify(TRITON_REPLY));
});

Json('densenet, completed: defaults filled as Triton shows them', () => {
  const completed = completeConfig(text(DENSENET).config, 'densenet_onnx', DENSENET_MODEL);
  const withGroups = normalizeInstanceGroups(completed, [0]);
  const out = configToJson(withGroups);
  assert.is(
    JSON.stringify(out),
    JSON.stringify({
      name: 'densenet_onnx',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      runtime: '',
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 0,
      input: [{ name: 'data_0', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224], reshape: { shape: [1, 3, 224, 224] }, is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false }],
      output: [{ name: 'fc6_1', data_type: 'TYPE_FP32', dims: [1000], reshape: { shape: [1, 1000, 1, 1] }, label_filename: 'densenet_labels.txt', is_shape_tensor: false, is_non_linear_format_io: false }],
      batch_input: [],
      batch_output: [],
      optimization: { priority: 'PRIORITY_DEFAULT', input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true }, gather_kernel_buffer_threshold: 0, eager_batching: false },
      instance_group: [{ name: 'densenet_onnx', kind: 'KIND_GPU', count: 1, gpus: [0], secondary_devices: [], profile: [], passive: false, host_policy: '' }],
      default_model_filename: 'model.onnx',
      cc_model_filenames: {},
      metric_tags: {},
      parameters: {},
      model_warmup: [],
    }),
  );
});

Json('every honoured field prints as Triton prints it, and reads back to the same config', () => {
  const config = text(FULL).config;
  const out = configToJson(config) as Record<string, unknown>;
  assert.equal(out.version_policy, { specific: { versions: [1, 3] } });
  assert.equal(out.optimization, {
    graph: { level: 1 },
    priority: 'PRIORITY_DEFAULT',
    execution_accelerators: {
      gpu_execution_accelerator: [
        { name: 'tensorrt', parameters: { precision_mode: 'FP16', max_workspace_size_bytes: '1073741824' } },
        { name: 'cuda', parameters: {} },
      ],
      cpu_execution_accelerator: [{ name: 'openvino', parameters: {} }],
    },
    input_pinned_memory: { enable: true },
    output_pinned_memory: { enable: true },
    gather_kernel_buffer_threshold: 0,
    eager_batching: false,
  });
  assert.equal(out.dynamic_batching, {
    preferred_batch_size: [4, 8],
    max_queue_delay_microseconds: 100,
    preserve_ordering: false,
    priority_levels: 2,
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: 50000, allow_timeout_override: true, max_queue_size: 16 },
    priority_queue_policy: { 1: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 4 } },
  });
  assert.equal((out.model_warmup as unknown[])[0], {
    name: 'zeros',
    batch_size: 8,
    inputs: {
      images: { data_type: 'TYPE_FP16', dims: [224, 224, 3], zero_data: true },
      scale: { data_type: 'TYPE_FP32', dims: [1], random_data: true },
      mask: { data_type: 'TYPE_BOOL', dims: [7], zero_data: false },
    },
    count: 2,
  });
  assert.equal(out.parameters, { intra_op_thread_count: { string_value: '1' }, execution_mode: { string_value: '0' } });
  const back = json(JSON.parse(JSON.stringify(out)));
  assert.equal(back.ignored, []);
  assert.equal(configToJson(back.config), out);
});

const Complete = suite("completeConfig: Triton's auto-completion with its ONNX Runtime backend, and the model check");

const BATCHABLE: ModelSignature = {
  inputs: [tensor('input_ids', 'int64', ['batch', 'sequence']), tensor('mask', 'bool', [null, 'sequence'])],
  outputs: [tensor('logits', 'float32', ['batch', 'sequence', 2]), tensor('score', 'float32', [null])],
};

Complete('no config, a model whose every input and output starts with a dynamic dimension: max_batch_size 4 and dynamic batching', () => {
  const warnings: string[] = [];
  const config = completeConfig(undefined, 'bert', BATCHABLE, { onWarning: (m) => warnings.push(m) });
  assert.equal(config, {
    name: 'bert',
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 4,
    input: [
      { dims: [-1], name: 'input_ids', data_type: 'TYPE_INT64', format: 'FORMAT_NONE', optional: false },
      { dims: [-1], name: 'mask', data_type: 'TYPE_BOOL', format: 'FORMAT_NONE', optional: false },
    ],
    output: [
      { dims: [-1, 2], name: 'logits', data_type: 'TYPE_FP32', label_filename: '' },
      { dims: [1], reshape: { shape: [] }, name: 'score', data_type: 'TYPE_FP32', label_filename: '' },
    ],
    instance_group: [],
    default_model_filename: 'model.onnx',
    parameters: {},
    model_warmup: [],
    dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, priority_queue_policy: {} },
  });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.dynamic_batching) && Object.isFrozen(config.output[1].reshape));
  assert.equal(warnings, [
    "autofilled max_batch_size to 4 for model 'bert' since batching is supported but no max_batch_size is specified in the model configuration; specify max_batch_size to use a larger one",
  ]);
  assert.is(completeConfig(undefined, 'bert', BATCHABLE, { defaultMaxBatchSize: 16 }).max_batch_size, 16);
  // Triton adds dynamic batching only above a batch of one.
  const one = completeConfig(undefined, 'bert', BATCHABLE, { defaultMaxBatchSize: 1 });
  assert.equal([one.max_batch_size, one.dynamic_batching], [1, undefined]);
  assert.equal(completeConfig(undefined, 'bert', BATCHABLE, { defaultMaxBatchSize: 0 }).input[0].dims, [-1, -1]);
});

Complete('no config, a model with a fixed first dimension or a 0-d tensor: max_batch_size 0, dims as they are, [1] reshaped to [] for 0-d', () => {
  const fixed: ModelSignature = { inputs: [tensor('x', 'float32', [1, 3, 'h', 'w'])], outputs: [tensor('y', 'uint8', [])] };
  const config = completeConfig(undefined, 'seg', fixed);
  assert.equal([config.max_batch_size, config.dynamic_batching], [0, undefined]);
  assert.equal(config.input, [{ dims: [1, 3, -1, -1], name: 'x', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', optional: false }]);
  assert.equal(config.output, [{ dims: [1], reshape: { shape: [] }, name: 'y', data_type: 'TYPE_UINT8', label_filename: '' }]);
});

Complete('a config with inputs only gets its outputs and max_batch_size from the model; a given dynamic_batching is kept', () => {
  const parsed = text('input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ 128 ] }, { name: "mask" data_type: TYPE_BOOL dims: [ 128 ] } ]\ndynamic_batching { max_queue_delay_microseconds: 500 }');
  const config = completeConfig(parsed.config, 'bert', BATCHABLE);
  assert.is(config.max_batch_size, 4);
  assert.equal(config.input.map((i) => i.dims), [[128], [128]]);
  assert.equal(config.output.map((o) => [o.name, o.dims]), [['logits', [-1, 2]], ['score', [1]]]);
  assert.equal(config.dynamic_batching, { ...parsed.config.dynamic_batching, preferred_batch_size: [4] });
  assert.is(parsed.config.max_batch_size, 0, 'the given config is not changed');
});

Complete('a config with inputs and outputs is not auto-completed, as in Triton: max_batch_size 0 stays 0', () => {
  const parsed = text('input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1, -1 ] }, { name: "mask" data_type: TYPE_BOOL dims: [ -1, -1 ] } ]\noutput { name: "score" data_type: TYPE_FP32 dims: [ -1 ] }');
  const config = completeConfig(parsed.config, 'bert', BATCHABLE);
  assert.equal([config.max_batch_size, config.dynamic_batching, config.output.length], [0, undefined, 1]);
});

Complete('strict (Triton\'s --disable-auto-complete-config): nothing is taken from the model, the config is only checked', () => {
  const config = completeConfig(text(DENSENET).config, 'densenet_onnx', DENSENET_MODEL, { strict: true });
  assert.equal([config.name, config.backend, config.version_policy], ['densenet_onnx', 'onnxruntime', { latest: { num_versions: 1 } }]);
  throwsConfig(() => completeConfig(undefined, 'bert', BATCHABLE, { strict: true }), "bert: input: model 'bert' has input 'input_ids' (TYPE_INT64 [batch, sequence]), which the configuration does not list (it lists 0 of the model's 2 inputs)");
});

Complete('name: the folder name when not given, and it must equal the folder name when given', () => {
  assert.is(completeConfig(text('max_batch_size: 0').config, 'densenet_onnx', DENSENET_MODEL).name, 'densenet_onnx');
  throwsConfig(() => completeConfig(text('# a comment\nname: "densenet"').config, 'densenet_onnx', DENSENET_MODEL), "config.pbtxt:2:1: name: is 'densenet', but the model's folder is 'densenet_onnx'; Triton requires them to be the same");
  throwsConfig(() => completeConfig(json({ name: 'densenet' }).config, 'densenet_onnx', DENSENET_MODEL), "config.json: name: is 'densenet', but the model's folder is 'densenet_onnx'; Triton requires them to be the same");
});

Complete("max_batch_size > 0 for a model that cannot batch is refused, naming the tensor", () => {
  throwsConfig(
    () => completeConfig(text('max_batch_size: 8').config, 'seg', { inputs: [tensor('x', 'float32', ['n', 3])], outputs: [tensor('y', 'float32', [1, 3])] }),
    "config.pbtxt:1:1: max_batch_size: is 8, but model 'seg' cannot batch: its output 'y' has shape [1, 3], without a variable first dimension",
  );
  throwsConfig(
    () => completeConfig(text('max_batch_size: 8\ninput { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }\noutput { name: "y" data_type: TYPE_FP32 dims: [ 3 ] }').config, 'seg', { inputs: [tensor('x', 'float32', [1, 3])], outputs: [tensor('y', 'float32', ['n', 3])] }),
    "config.pbtxt:2:40: input[0].dims: model 'seg' has shape [1, 3] for input 'x', the configuration's dims [3] cannot batch it: with max_batch_size 8 the model's first dimension must be variable",
  );
});

Complete('the checks that depend on the completed max_batch_size run after completion, at the config\'s place', () => {
  throwsConfig(() => completeConfig(text('dynamic_batching {\n  preferred_batch_size: [ 2, 8 ]\n}').config, 'bert', BATCHABLE), 'config.pbtxt:2:30: dynamic_batching.preferred_batch_size[1]: a preferred batch size must be <= max_batch_size (4), got 8');
  throwsConfig(
    () => completeConfig(text('input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] optional: true }, { name: "mask" data_type: TYPE_BOOL dims: [ -1 ] } ]').config, 'bert', BATCHABLE),
    "config.pbtxt:1:64: input[0].optional: optional input 'input_ids' is not supported for a model that batches (max_batch_size 4)",
  );
  throwsConfig(
    () => completeConfig(text('model_warmup { batch_size: 5 inputs { key: "input_ids" value { data_type: TYPE_INT64 dims: [ 4 ] zero_data: true } } inputs { key: "mask" value { data_type: TYPE_BOOL dims: [ 4 ] zero_data: true } } }').config, 'bert', BATCHABLE),
    'config.pbtxt:1:16: model_warmup[0].batch_size: must be <= max_batch_size (4), got 5',
  );
});

Complete('densenet: reshape is what is compared with the model, and a wrong one is named', () => {
  const config = completeConfig(text(DENSENET).config, 'densenet_onnx', DENSENET_MODEL);
  assert.equal([config.max_batch_size, config.input[0].dims, config.platform, config.backend], [0, [3, 224, 224], 'onnxruntime_onnx', 'onnxruntime']);
  const wrong = DENSENET.replace('reshape { shape: [ 1, 1000, 1, 1 ] }', 'reshape { shape: [ 1, 1000 ] }');
  throwsConfig(() => completeConfig(text(wrong).config, 'densenet_onnx', DENSENET_MODEL), "config.pbtxt:18:5: output[0].reshape: model 'densenet_onnx' has shape [1, 1000, 1, 1] for output 'fc6_1', the configuration's reshape [1, 1000] has 2 dimensions, the model 4");
});

Complete('every configured tensor must be in the model with its data type and compatible dims', () => {
  const model: ModelSignature = { inputs: [tensor('x', 'float32', ['batch', 3, 'n'])], outputs: [tensor('y', 'float16', ['batch', 'n']), tensor('z', 'int32', ['batch', 1])] };
  const cfg = (inputs: string, outputs: string) => text(`max_batch_size: 2\n${inputs}\n${outputs}`).config;
  const x = 'input { name: "x" data_type: TYPE_FP32 dims: [ 3, -1 ] }';
  const y = 'output { name: "y" data_type: TYPE_FP16 dims: [ -1 ] }';
  // An output subset is fine; a variable input dimension may be fixed by the config.
  assert.equal(completeConfig(cfg('input { name: "x" data_type: TYPE_FP32 dims: [ 3, 16 ] }', y), 'm', model).input[0].dims, [3, 16]);
  throwsConfig(() => completeConfig(cfg('input { name: "images" data_type: TYPE_FP32 dims: [ 3, -1 ] }', y), 'm', model), "config.pbtxt:2:9: input[0].name: model 'm' has no input 'images'; its inputs are: x");
  const w = 'output { name: "w" data_type: TYPE_FP16 dims: [ -1 ] }';
  throwsConfig(() => completeConfig(cfg(x, w), 'm', model), `${place(`max_batch_size: 2\n${x}\n${w}`, 'name: "w"')}: output[0].name: model 'm' has no output 'w'; its outputs are: y, z`);
  throwsConfig(() => completeConfig(cfg(x, 'output { name: "y" data_type: TYPE_FP32 dims: [ -1 ] }'), 'm', model), "config.pbtxt:3:20: output[0].data_type: model 'm' has TYPE_FP16 (float16) for output 'y', the configuration says TYPE_FP32");
  throwsConfig(() => completeConfig(cfg('input { name: "x" data_type: TYPE_FP32 dims: [ 4, -1 ] }', y), 'm', model), "config.pbtxt:2:40: input[0].dims: model 'm' has shape [batch, 3, n] for input 'x', the configuration's dims [4, -1] differs in dimension 1 (with max_batch_size 2, a batch dimension first: [-1, 4, -1]): 4, the model 3");
  throwsConfig(() => completeConfig(cfg('input { name: "x" data_type: TYPE_FP32 dims: [ -1, -1 ] }', y), 'm', model), "config.pbtxt:2:40: input[0].dims: model 'm' has shape [batch, 3, n] for input 'x', the configuration's dims [-1, -1] differs in dimension 1 (with max_batch_size 2, a batch dimension first: [-1, -1, -1]): -1, the model 3");
  throwsConfig(() => completeConfig(cfg('input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }', y), 'm', model), "config.pbtxt:2:40: input[0].dims: model 'm' has shape [batch, 3, n] for input 'x', the configuration's dims [3] has 2 dimensions (with max_batch_size 2, a batch dimension first: [-1, 3]), the model 3");
  // An output's variable dimension must be variable in the config too (Triton compares outputs exactly).
  throwsConfig(() => completeConfig(cfg(x, 'output { name: "y" data_type: TYPE_FP16 dims: [ 7 ] }'), 'm', model), "config.pbtxt:3:41: output[0].dims: model 'm' has shape [batch, n] for output 'y', the configuration's dims [7] differs in dimension 1 (with max_batch_size 2, a batch dimension first: [-1, 7]): 7, the model a variable size (-1)");
});

Complete('every model input must be configured; a 0-d model tensor is configured as 1s', () => {
  const model: ModelSignature = { inputs: [tensor('x', 'float32', [4]), tensor('temperature', 'float32', [])], outputs: [tensor('y', 'float32', [4])] };
  throwsConfig(
    () => completeConfig(text('input { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }\noutput { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }').config, 'm', model),
    "config.pbtxt:1:1: input: model 'm' has input 'temperature' (TYPE_FP32 []), which the configuration does not list (it lists 1 of the model's 2 inputs)",
  );
  const both = (dims: string) => text(`input { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }\ninput { name: "temperature" data_type: TYPE_FP32 dims: [ ${dims} ] }\noutput { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }`).config;
  assert.equal(completeConfig(both('1'), 'm', model).input[1].dims, [1]);
  assert.equal(completeConfig(both('1, 1'), 'm', model).input[1].dims, [1, 1]);
  throwsConfig(() => completeConfig(both('2'), 'm', model), "config.pbtxt:2:50: input[1].dims: model 'm' has shape [] for input 'temperature', the configuration's dims [2] should only have 1s for a 0-d tensor");
});

Complete('warmup inputs must be the model\'s, of its data types, and cover every required input', () => {
  const base = 'max_batch_size: 4\ninput [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }, { name: "mask" data_type: TYPE_BOOL dims: [ -1 ] } ]\n';
  const ids = 'inputs { key: "input_ids" value { data_type: TYPE_INT64 dims: [ 8 ] zero_data: true } }';
  const warmSource = (inputs: string) => `${base}model_warmup {\n  batch_size: 1 ${inputs} }`;
  const warm = (inputs: string) => completeConfig(text(warmSource(inputs)).config, 'bert', BATCHABLE);
  assert.is(warm(`${ids} inputs { key: "mask" value { data_type: TYPE_BOOL dims: [ 8 ] random_data: true } }`).model_warmup.length, 1);
  const stray = `${ids} inputs { key: "ids" value { data_type: TYPE_INT64 dims: [ 8 ] zero_data: true } }`;
  throwsConfig(() => warm(stray), `${place(warmSource(stray), '{ key: "ids"')}: model_warmup[0].inputs["ids"]: 'ids' is not an input of model 'bert'; its inputs are: input_ids, mask`);
  const int8 = `${ids} inputs { key: "mask" value { data_type: TYPE_INT8 dims: [ 8 ] zero_data: true } }`;
  throwsConfig(() => warm(int8), `${place(warmSource(int8), 'data_type: TYPE_INT8')}: model_warmup[0].inputs["mask"].data_type: is TYPE_INT8, but input 'mask' of model 'bert' is TYPE_BOOL`);
  throwsConfig(() => warm(ids), `${place(warmSource(ids), 'inputs {')}: model_warmup[0].inputs: gives no data for input 'mask' of model 'bert'`);
});

Complete('a model input or output that is not a tensor, or of a type Triton has no name for, is refused', () => {
  const seq: ModelSignature = { inputs: [{ name: 'tokens', kind: 'sequence', type: 'unknown', dims: [] }], outputs: [tensor('y', 'float32', [1])] };
  throwsConfig(() => completeConfig(undefined, 'm', seq), "m: model 'm': input 'tokens' is a sequence, and only tensors can be served");
  const complex: ModelSignature = { inputs: [tensor('x', 'float32', [1])], outputs: [tensor('spectrum', 'complex64', [1])] };
  throwsConfig(() => completeConfig(text('').config, 'm', complex), "config.pbtxt: model 'm': output 'spectrum' has element type complex64, which no Triton data type stands for");
});

Complete('normalizeInstanceGroups: Triton\'s defaults for names, kinds, counts and GPUs', () => {
  const config = completeConfig(undefined, 'm', DENSENET_MODEL);
  assert.equal(normalizeInstanceGroups(config, []).instance_group, [{ name: 'm', kind: 'KIND_CPU', count: 2, gpus: [] }]);
  assert.equal(normalizeInstanceGroups(config, [1, 0]).instance_group, [{ name: 'm', kind: 'KIND_GPU', count: 1, gpus: [0, 1] }]);
  const groups = completeConfig(text('instance_group [ { count: 3 kind: KIND_GPU gpus: [ 1 ] }, { kind: KIND_CPU }, { gpus: [ 5 ] }, { name: "mine" } ]').config, 'm', DENSENET_MODEL);
  assert.equal(normalizeInstanceGroups(groups, [0, 1]).instance_group, [
    { name: 'm_0', kind: 'KIND_GPU', count: 3, gpus: [1] },
    { name: 'm_1', kind: 'KIND_CPU', count: 2, gpus: [] },
    { name: 'm_2', kind: 'KIND_CPU', count: 2, gpus: [5] },
    { name: 'mine', kind: 'KIND_GPU', count: 1, gpus: [0, 1] },
  ]);
  const gpu = completeConfig(text('instance_group [\n  { kind: KIND_GPU gpus: [ 0, 3 ] }\n]').config, 'm', DENSENET_MODEL);
  throwsConfig(() => normalizeInstanceGroups(gpu, []), 'config.pbtxt:2:5: instance_group[0].kind: instance group m_0 of model m has kind KIND_GPU but no GPUs are available');
  throwsConfig(() => normalizeInstanceGroups(gpu, [0, 1]), 'config.pbtxt:2:31: instance_group[0].gpus[1]: instance group m_0 of model m lists GPU 3, which is not available (GPUs: 0, 1)');
});

Read.run();
Ignored.run();
Refused.run();
Wrong.run();
Checks.run();
Json.run();
Complete.run();
