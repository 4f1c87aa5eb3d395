/**
 * From a model's configuration (Triton's ModelConfig) to this package's terms: session
 * options (the ONNX Runtime backend's `parameters`, `optimization`), instances, the
 * dynamic batcher and warm-up ({@link ServingPlan}).
 *
 * Defaults, where the configuration says nothing (as the batching bench found on the
 * classifier: one single-threaded batch per core beat one batch on all cores):
 * - CPU instances: one per core, all on one session (one copy of the weights).
 * - intra-op threads: 1 per run when several runs go at once; ONNX Runtime's default (a
 *   thread per core) when one instance runs alone.
 * - warm-up: zero inputs at each preferred batch size (or batch 1) when the config gives
 *   no `model_warmup`, so the first real request does not pay for the first run.
 */
import { availableParallelism } from 'node:os';
import type { ExecutionProvider } from '../../runtime/providers';
import type { SessionOptions } from '../../runtime/options';
import type { ExecutionAccelerator, ModelConfig, ModelInput, ModelOutput } from '../config/model-config';
import { DATATYPE_OF } from '../protocol/types';
import { ELEMENT_TYPE_OF_DATA_TYPE } from '../config/model-config';
import type { BatchingPlan, InstancePlan, ServingPlan, TensorPlan, WarmupPlan } from './serving-plan';

/** The ONNX Runtime backend's `parameters` keys this server maps onto session options. */
const PARAMETER_KEYS = ['intra_op_thread_count', 'inter_op_thread_count', 'execution_mode', 'enable_mem_arena', 'enable_mem_pattern'] as const;

/** What went into the plan that the configuration gave but this server does not act on. */
export type Ignored = string[];

function datatypeOf(dataType: ModelInput['data_type']) {
  return DATATYPE_OF[ELEMENT_TYPE_OF_DATA_TYPE[dataType]];
}

function tensorPlan(t: ModelInput | ModelOutput): TensorPlan {
  return {
    name: t.name,
    datatype: datatypeOf(t.data_type),
    dims: t.dims,
    ...(t.reshape && { reshape: t.reshape.shape }),
    ...('optional' in t && t.optional && { optional: true }),
  };
}

function integerParameter(config: ModelConfig, key: string): number | undefined {
  const value = config.parameters[key]?.string_value;
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`model "${config.name}": parameters.${key} must be a whole number, got "${value}"`);
  return Number(value);
}

function graphLevel(level: number | undefined): SessionOptions['graphOptimizationLevel'] {
  // The ONNX Runtime backend's mapping (its README): -1 basic, 1 extended, 2 disabled, else all.
  if (level === -1) return 'basic';
  if (level === 1) return 'extended';
  if (level === 2) return 'disabled';
  return 'all';
}

function gpuProviders(config: ModelConfig, accelerators: readonly ExecutionAccelerator[]): ExecutionProvider[] {
  const providers: ExecutionProvider[] = [];
  for (const a of accelerators) {
    if (a.name === 'tensorrt') {
      const p = a.parameters;
      const precision = p.precision_mode ?? 'FP32';
      if (!['FP32', 'FP16', 'INT8'].includes(precision)) throw new Error(`model "${config.name}": tensorrt precision_mode must be FP32, FP16 or INT8, got "${precision}"`);
      providers.push({
        name: 'tensorrt',
        ...(precision !== 'FP32' && { fp16: true }),
        ...(precision === 'INT8' && { int8: true }),
        ...(p.max_workspace_size_bytes !== undefined && { workspaceSize: Number(p.max_workspace_size_bytes) }),
        ...(p.trt_engine_cache_path !== undefined && { engineCachePath: p.trt_engine_cache_path }),
      });
    } else if (a.name === 'cuda') {
      providers.push('cuda');
    } else {
      throw new Error(`model "${config.name}": GPU execution accelerator "${a.name}" is not supported (tensorrt and cuda are)`);
    }
  }
  return providers.length > 0 && !providers.some((p) => p === 'cuda') ? [...providers, 'cuda'] : providers.length > 0 ? providers : ['cuda'];
}

/**
 * The instances, session options and batching of `config` (completed). `ignored`
 * collects what is read but not acted on, for the caller to log.
 */
export function servingPlan(config: ModelConfig, ignored: Ignored): ServingPlan {
  const cores = availableParallelism();
  const groups = config.instance_group.length > 0 ? config.instance_group : [{ name: config.name, kind: 'KIND_CPU' as const, count: 0, gpus: [] }];
  const instances: InstancePlan[] = groups.map((g) => {
    const kind = g.kind === 'KIND_GPU' ? 'gpu' : 'cpu';
    return { kind, count: g.count > 0 ? g.count : kind === 'cpu' ? cores : 1, gpus: kind === 'gpu' ? (g.gpus.length > 0 ? g.gpus : [0]) : [] };
  });
  const cpuSlots = instances.filter((i) => i.kind === 'cpu').reduce((n, i) => n + i.count, 0);

  for (const key of Object.keys(config.parameters)) {
    if (!(PARAMETER_KEYS as readonly string[]).includes(key) && !key.includes('.')) ignored.push(`parameters.${key}: ignored (not an ONNX Runtime backend key this server knows)`);
  }
  const intra = integerParameter(config, 'intra_op_thread_count');
  const inter = integerParameter(config, 'inter_op_thread_count');
  const mode = integerParameter(config, 'execution_mode');
  const arena = integerParameter(config, 'enable_mem_arena');
  const pattern = integerParameter(config, 'enable_mem_pattern');
  // Keys with a dot are ONNX Runtime session configuration entries, passed as they are
  // (`session.intra_op.allow_spinning`, say).
  const configEntries = Object.fromEntries(Object.entries(config.parameters).filter(([k]) => k.includes('.')).map(([k, v]) => [k, v.string_value]));
  const accelerators = config.optimization?.execution_accelerators;
  if ((accelerators?.cpu_execution_accelerator.length ?? 0) > 0) {
    throw new Error(`model "${config.name}": CPU execution accelerators (${accelerators?.cpu_execution_accelerator.map((a) => a.name).join(', ')}) are not supported`);
  }
  const gpu = instances.some((i) => i.kind === 'gpu');
  const sessionOptions: SessionOptions = {
    // One thread per run when runs go side by side; with one run at a time, all cores.
    intraOpNumThreads: intra ?? (cpuSlots > 1 || gpu ? 1 : 0),
    ...(inter !== undefined && { interOpNumThreads: inter }),
    ...(mode !== undefined && { executionMode: mode === 1 ? 'parallel' : 'sequential' }),
    ...(arena !== undefined && { enableCpuMemArena: arena !== 0 }),
    ...(pattern !== undefined && { enableMemPattern: pattern !== 0 }),
    graphOptimizationLevel: graphLevel(config.optimization?.graph?.level),
    ...(Object.keys(configEntries).length > 0 && { configEntries }),
    ...(gpu && { executionProviders: gpuProviders(config, accelerators?.gpu_execution_accelerator ?? []) }),
  };

  let batching: BatchingPlan | undefined;
  const db = config.dynamic_batching;
  if (db !== undefined && config.max_batch_size > 0) {
    const policy = db.default_queue_policy;
    if (policy?.timeout_action === 'DELAY') ignored.push('dynamic_batching.default_queue_policy.timeout_action: DELAY is served as REJECT (timed-out requests are rejected)');
    if (Object.keys(db.priority_queue_policy).length > 0) ignored.push('dynamic_batching.priority_queue_policy: ignored (every level uses the default queue policy)');
    if (db.preserve_ordering) ignored.push('dynamic_batching.preserve_ordering: ignored (responses go out as their batches finish)');
    batching = {
      preferredBatchSizes: db.preferred_batch_size,
      maxQueueDelayMicros: db.max_queue_delay_microseconds,
      ...(policy !== undefined && policy.max_queue_size > 0 && { maxQueueSize: policy.max_queue_size }),
      priorityLevels: db.priority_levels,
      defaultPriority: db.default_priority_level,
      ...(policy !== undefined && policy.default_timeout_microseconds > 0 && { defaultTimeoutMicros: policy.default_timeout_microseconds }),
      allowTimeoutOverride: policy?.allow_timeout_override ?? false,
    };
  }

  const inputs = config.input.map(tensorPlan);
  const warmup: WarmupPlan[] =
    config.model_warmup.length > 0
      ? config.model_warmup.map((w) => ({
          name: w.name,
          batchSize: config.max_batch_size > 0 ? w.batch_size : 0,
          count: Math.max(1, w.count),
          required: true,
          inputs: Object.fromEntries(
            Object.entries(w.inputs).map(([name, i]) => [
              name,
              { datatype: datatypeOf(i.data_type), dims: i.dims, fill: i.input_data_file ? { file: i.input_data_file } : i.random_data ? ('random' as const) : ('zero' as const) },
            ]),
          ),
        }))
      : (config.max_batch_size > 0 && batching && batching.preferredBatchSizes.length > 0 ? batching.preferredBatchSizes : [config.max_batch_size > 0 ? 1 : 0]).map((size) => ({
          name: `zeros, batch ${size}`,
          batchSize: size,
          count: 1,
          required: false,
          inputs: Object.fromEntries(
            inputs.filter((i) => !i.optional).map((i) => [i.name, { datatype: i.datatype, dims: i.dims.map((d) => (d < 0 ? 1 : d)), fill: 'zero' as const }]),
          ),
        }));

  return {
    maxBatchSize: config.max_batch_size,
    ...(batching && { batching }),
    instances,
    sessionOptions,
    inputs,
    outputs: config.output.map(tensorPlan),
    warmup,
    modelFile: config.default_model_filename || 'model.onnx',
  };
}
