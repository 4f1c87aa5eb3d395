/**
 * A model's config made whole against the model itself, as Triton does at load time with
 * its ONNX Runtime backend and auto-completion on (Triton's default; `--disable-auto-complete-config`,
 * formerly `--strict-model-config=true`, turns it off: the `strict` option):
 *
 * - name, platform, backend and default_model_filename are filled (Triton core's
 *   AutoCompleteBackendFields: `onnxruntime_onnx`, `onnxruntime`, `model.onnx`);
 * - when the config does not list both inputs and outputs, the backend's
 *   AutoCompleteConfig runs (onnxruntime_backend src/onnxruntime.cc): if every input and
 *   output of the model has a variable first dimension the model can batch, and a
 *   max_batch_size of 0 (or none) becomes the backend's default-max-batch-size (4 unless
 *   configured); then, with max_batch_size > 1 and no scheduler, `dynamic_batching {}` is
 *   added. A model that cannot batch keeps max_batch_size 0, and a non-zero one is an error.
 *   The missing list (inputs, outputs or both) is then taken from the model, the batch
 *   dimension dropped when max_batch_size > 0, a 0-d result written `dims: [1]` (with
 *   `reshape { shape: [] }` when batching). A config that lists both is left as it is:
 *   Triton does not auto-complete max_batch_size then either;
 * - Triton's NormalizeModelConfig defaults: `version_policy { latest { num_versions: 1 } }`,
 *   and an empty preferred_batch_size becomes `[max_batch_size]`;
 * - the config is checked against the model as the backend's ValidateInputs /
 *   ValidateOutputs do (CompareDimsSupported): every listed tensor exists with the same
 *   data type and compatible dims (an input's -1 in the model accepts any configured size,
 *   an output's must be -1 in the config too), every model input is listed, and a 0-d
 *   model tensor is configured as dims of 1s.
 */
import type { ValueMetadata } from '../../runtime/model-values';
import type { ElementType } from '../../core/dtypes';
import { ConfigError } from './text-format';
import {
  adoptConfig,
  checkBatching,
  configSource,
  DATA_TYPE_OF_ELEMENT_TYPE,
  ELEMENT_TYPE_OF_DATA_TYPE,
  emptyConfig,
  failAt,
  type ConfigSource,
  type ModelConfig,
  type ModelDynamicBatching,
  type ModelInput,
  type ModelInstanceGroup,
  type ModelOutput,
  type Writable,
} from './model-config';

/** A model's inputs and outputs, as a session reports them. */
export interface ModelSignature {
  readonly inputs: readonly ValueMetadata[];
  readonly outputs: readonly ValueMetadata[];
}

/** Triton's `--backend-config=onnxruntime,default-max-batch-size=<n>` default. */
export const DEFAULT_MAX_BATCH_SIZE = 4;

/** Options of {@link completeConfig}. */
export interface CompleteConfigOptions {
  /** max_batch_size given to a model that can batch and has none. Default {@link DEFAULT_MAX_BATCH_SIZE}. */
  readonly defaultMaxBatchSize?: number;
  /** Called with what Triton logs as a warning when it completes a config (the autofilled max_batch_size). */
  readonly onWarning?: (message: string) => void;
  /**
   * Triton's `--disable-auto-complete-config` (formerly `--strict-model-config=true`): take
   * nothing from the model (no inputs, outputs, max_batch_size or dynamic batching), only
   * check the config against it. Default false, Triton's default.
   */
  readonly strict?: boolean;
}

/**
 * Completes `config` (or, for a model without a config file, an empty one) against the
 * model, and checks the two agree. See the module's description for exactly what is filled.
 *
 * @param config - the model's config as read, or undefined when it has none.
 * @param name - the model's folder name: the config's name when it gives none, and the
 * name it must give when it gives one (Triton's rule).
 * @param model - the model's inputs and outputs.
 * @returns a new frozen config; `config` is not changed.
 * @throws {@link ConfigError} naming the model, the tensor, what the config says and what
 * the model has (at the config's line and column when it was a text file), when: the name
 * differs from the folder's; a model input or output is not a tensor of a type Triton has;
 * max_batch_size > 0 for a model that cannot batch; a configured tensor is not in the model,
 * or differs in data type or dims; a model input is not configured; warmup data does not
 * match the inputs; or a check that depends on max_batch_size fails (preferred batch sizes,
 * optional inputs, empty reshapes, warmup batch sizes).
 * @example
 * ```ts
 * const session = await createSession(file);
 * const config = completeConfig(parsed?.config, 'densenet_onnx', session, {
 *   onWarning: (m) => log.warn(m),
 * });
 * config.max_batch_size; // 4 for a model whose inputs and outputs all start with a dynamic dimension
 * ```
 */
export function completeConfig(config: ModelConfig | undefined, name: string, model: ModelSignature, options: CompleteConfigOptions = {}): ModelConfig {
  const src: ConfigSource = (config && configSource(config)) ?? { file: name, at: () => undefined };
  const fail = (path: string, reason: string): never => failAt(src, path, reason);
  const c: Writable<ModelConfig> = config ? { ...config } : emptyConfig();

  if (c.name === '') c.name = name;
  else if (c.name !== name) fail('name', `is '${c.name}', but the model's folder is '${name}'; Triton requires them to be the same`);
  c.platform ||= 'onnxruntime_onnx';
  c.backend ||= 'onnxruntime';
  c.default_model_filename ||= 'model.onnx';

  const roles = [
    ['input', model.inputs],
    ['output', model.outputs],
  ] as const;
  for (const [role, values] of roles) {
    for (const v of values) {
      if (v.kind !== 'tensor') throw new ConfigError(src.file, `model '${name}': ${role} '${v.name}' is a ${v.kind}, and only tensors can be served`);
      if (!Object.hasOwn(DATA_TYPE_OF_ELEMENT_TYPE, v.type)) {
        throw new ConfigError(src.file, `model '${name}': ${role} '${v.name}' has element type ${v.type}, which no Triton data type stands for`);
      }
    }
  }

  if (!options.strict && (c.input.length === 0 || c.output.length === 0)) {
    const all = [...model.inputs.map((v) => ['input', v] as const), ...model.outputs.map((v) => ['output', v] as const)];
    const cannot = all.find(([, v]) => v.dims.length === 0 || typeof v.dims[0] === 'number');
    if (cannot === undefined) {
      if (c.max_batch_size === 0) {
        c.max_batch_size = Math.max(options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE, 0);
        options.onWarning?.(
          `autofilled max_batch_size to ${c.max_batch_size} for model '${name}' since batching is supported but no max_batch_size is specified ` +
            'in the model configuration; specify max_batch_size to use a larger one',
        );
      }
      if (c.max_batch_size > 1 && c.dynamic_batching === undefined) c.dynamic_batching = emptyDynamicBatching();
    } else if (c.max_batch_size !== 0) {
      const [role, v] = cannot;
      const why = `its ${role} '${v.name}' has shape ${shapeText(v.dims)}, without a variable first dimension`;
      fail('max_batch_size', `is ${c.max_batch_size}, but model '${name}' cannot batch: ${why}`);
    }
    const mbs = c.max_batch_size;
    if (c.input.length === 0) {
      c.input = model.inputs.map((v): ModelInput => ({ name: v.name, data_type: dataTypeOf(v), format: 'FORMAT_NONE', ...autoShape(v, mbs), optional: false }));
    }
    if (c.output.length === 0) {
      c.output = model.outputs.map((v): ModelOutput => ({ name: v.name, data_type: dataTypeOf(v), ...autoShape(v, mbs), label_filename: '' }));
    }
  }

  c.version_policy ??= { latest: { num_versions: 1 } };
  if (c.dynamic_batching && c.dynamic_batching.preferred_batch_size.length === 0 && c.max_batch_size > 0) {
    c.dynamic_batching = { ...c.dynamic_batching, preferred_batch_size: [c.max_batch_size] };
  }

  checkBatching(c, src);
  checkAgainstModel(c, name, model, fail);
  return adoptConfig(c, src);
}

function emptyDynamicBatching(): ModelDynamicBatching {
  return { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, priority_queue_policy: {} };
}

const dimsOf = (v: ValueMetadata): number[] => v.dims.map((d) => (typeof d === 'number' ? d : -1));
const dataTypeOf = (v: ValueMetadata) => DATA_TYPE_OF_ELEMENT_TYPE[v.type as ElementType];
const shapeText = (dims: readonly (number | string | null)[]) => `[${dims.map((d) => d ?? '?').join(', ')}]`;

/**
 * The backend's AutoCompleteIO: dims without the batch dimension; a 0-d result is [1]
 * with an empty reshape, so that the model is fed the 0-d tensor it wants. (Triton adds
 * the reshape only when batching, and refuses 0-d tensors without; this server feeds them.)
 */
function autoShape(v: ValueMetadata, maxBatchSize: number): Pick<ModelInput, 'dims' | 'reshape'> {
  const dims = dimsOf(v).slice(maxBatchSize > 0 ? 1 : 0);
  if (dims.length > 0) return { dims };
  return { dims: [1], reshape: { shape: [] } };
}

function checkAgainstModel(c: ModelConfig, name: string, model: ModelSignature, fail: (path: string, reason: string) => never): void {
  const mbs = c.max_batch_size;
  const roles = [
    ['input', c.input, model.inputs],
    ['output', c.output, model.outputs],
  ] as const;
  for (const [role, configured, actual] of roles) {
    const byName = new Map(actual.map((v) => [v.name, v]));
    configured.forEach((io, i) => {
      const at = `${role}[${i}]`;
      const m = byName.get(io.name);
      if (m === undefined) {
        fail(`${at}.name`, `model '${name}' has no ${role} '${io.name}'; its ${role}s are: ${actual.map((v) => v.name).join(', ') || '(none)'}`);
      }
      const modelType = dataTypeOf(m);
      if (ELEMENT_TYPE_OF_DATA_TYPE[io.data_type] !== m.type) {
        fail(`${at}.data_type`, `model '${name}' has ${modelType} (${m.type}) for ${role} '${io.name}', the configuration says ${io.data_type}`);
      }
      const reason = dimsMismatch(dimsOf(m), io.reshape ? io.reshape.shape : io.dims, mbs, role === 'output');
      if (reason !== undefined) {
        const what = io.reshape ? `reshape [${io.reshape.shape.join(', ')}]` : `dims [${io.dims.join(', ')}]`;
        fail(io.reshape ? `${at}.reshape` : `${at}.dims`, `model '${name}' has shape ${shapeText(m.dims)} for ${role} '${io.name}', the configuration's ${what} ${reason}`);
      }
    });
  }
  const listed = new Set(c.input.map((io) => io.name));
  for (const m of model.inputs) {
    if (!listed.has(m.name)) {
      const counts = `it lists ${c.input.length} of the model's ${model.inputs.length} inputs`;
      fail('input', `model '${name}' has input '${m.name}' (${dataTypeOf(m)} ${shapeText(m.dims)}), which the configuration does not list (${counts})`);
    }
  }

  const inputs = new Map(c.input.map((io) => [io.name, io]));
  c.model_warmup.forEach((w, i) => {
    for (const [input, data] of Object.entries(w.inputs)) {
      const io = inputs.get(input);
      const at = `model_warmup[${i}].inputs[${JSON.stringify(input)}]`;
      if (io === undefined) fail(at, `'${input}' is not an input of model '${name}'; its inputs are: ${[...inputs.keys()].join(', ')}`);
      if (data.data_type !== io.data_type) fail(`${at}.data_type`, `is ${data.data_type}, but input '${input}' of model '${name}' is ${io.data_type}`);
    }
    for (const io of c.input) {
      if (!io.optional && !Object.hasOwn(w.inputs, io.name)) fail(`model_warmup[${i}].inputs`, `gives no data for input '${io.name}' of model '${name}'`);
    }
  });
}

/**
 * Why configured dims do not fit a model's shape, or undefined when they do: the backend's
 * CompareDimsSupported, where a model's -1 takes any configured size for an input
 * (`exact` false) but must be -1 in the config for an output (`exact` true).
 */
function dimsMismatch(modelDims: readonly number[], dims: readonly number[], maxBatchSize: number, exact: boolean): string | undefined {
  if (modelDims.length === 0) {
    // A 0-d model tensor: the config must give it as dims of 1s.
    return dims.every((d) => d === 1) ? undefined : 'should only have 1s for a 0-d tensor';
  }
  let full = dims;
  let explain = '';
  if (maxBatchSize > 0) {
    if (modelDims[0] !== -1) return `cannot batch it: with max_batch_size ${maxBatchSize} the model's first dimension must be variable`;
    full = [-1, ...dims];
    explain = ` (with max_batch_size ${maxBatchSize}, a batch dimension first: [${full.join(', ')}])`;
  }
  if (full.length !== modelDims.length) return `has ${full.length} dimensions${explain}, the model ${modelDims.length}`;
  const bad = full.findIndex((d, i) => (exact || modelDims[i] !== -1) && modelDims[i] !== d);
  if (bad < 0) return undefined;
  return `differs in dimension ${bad}${explain}: ${full[bad]}, the model ${modelDims[bad] === -1 ? 'a variable size (-1)' : modelDims[bad]}`;
}

/**
 * Triton's instance-group defaults (NormalizeInstanceGroup, ValidateInstanceGroup) for a
 * machine with the given GPUs: no group becomes one named as the model; a group without a
 * name is `<model>_<index>`; KIND_AUTO becomes KIND_GPU when there are GPUs (and all the
 * group lists exist), else KIND_CPU; a count of 0 becomes 1, or 2 on the CPU (Triton's
 * default for ONNX Runtime); a GPU group without gpus gets all of them.
 *
 * @param config - a completed config (its name is set).
 * @param gpus - the ids of the GPUs this server may use; empty when it has none.
 * @returns a new frozen config whose instance groups are all resolved.
 * @throws {@link ConfigError} for a KIND_GPU group on a machine without GPUs, or one that
 * lists a GPU that is not there.
 * @example
 * ```ts
 * const config = normalizeInstanceGroups(completeConfig(parsed.config, name, session), [0]);
 * config.instance_group; // [{ name: 'densenet_onnx', kind: 'KIND_GPU', count: 1, gpus: [0] }]
 * ```
 */
export function normalizeInstanceGroups(config: ModelConfig, gpus: readonly number[]): ModelConfig {
  const src: ConfigSource = configSource(config) ?? { file: config.name, at: () => undefined };
  const available = new Set(gpus);
  const groups: readonly ModelInstanceGroup[] = config.instance_group.length > 0 ? config.instance_group : [{ name: config.name, kind: 'KIND_AUTO', count: 0, gpus: [] }];
  const resolved = groups.map((g, i): ModelInstanceGroup => {
    const groupName = g.name || `${config.name}_${i}`;
    let kind = g.kind;
    if (kind === 'KIND_AUTO') kind = available.size > 0 && g.gpus.every((id) => available.has(id)) ? 'KIND_GPU' : 'KIND_CPU';
    if (kind === 'KIND_GPU') {
      if (available.size === 0) failAt(src, `instance_group[${i}].kind`, `instance group ${groupName} of model ${config.name} has kind KIND_GPU but no GPUs are available`);
      g.gpus.forEach((id, j) => {
        if (available.has(id)) return;
        const reason = `instance group ${groupName} of model ${config.name} lists GPU ${id}, which is not available (GPUs: ${[...available].join(', ')})`;
        failAt(src, `instance_group[${i}].gpus[${j}]`, reason);
      });
    }
    const count = g.count >= 1 ? g.count : kind === 'KIND_CPU' ? 2 : 1;
    const ids = kind === 'KIND_GPU' && g.gpus.length === 0 ? [...available].sort((a, b) => a - b) : [...g.gpus];
    return { name: groupName, kind, count, gpus: ids };
  });
  return adoptConfig({ ...config, instance_group: resolved }, src);
}
