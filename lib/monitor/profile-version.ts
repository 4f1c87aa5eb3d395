/**
 * Making a served model version's reference profile from reference data: the version is
 * loaded from its repository as the server loads it, the data are sent through it as
 * requests (in batches of up to its max_batch_size), and its inputs and outputs, in the
 * shapes clients send and get, are reduced as the server's monitoring will reduce them.
 * The profile is written where the server looks for it (drift-monitoring.ts's
 * profilePath). `onnx-native profile` is this over data files.
 *
 * Each tensor's reduction is its shape's default (tensor-features.ts), unless the
 * configuration's parameters name one (version-profile.ts): `monitor.<tensor>` set to
 * `features`, `channels` (axis 0 of a row) or `channels:<axis>`, `classes`, `values`, or
 * `off` (not monitored).
 */
import { mkdir } from 'node:fs/promises';
import { writeAtomically } from './write-atomically';
import { dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { PlainTensor } from '../core/tensor';
import { InferenceServer } from '../server/inference-server';
import { DATATYPE_OF, type InferInput } from '../server/protocol/types';
import type { ModelProfile, ModelProfileBuilder } from './model-profile';
import { DEFAULT_WINDOW, profilePath } from './drift-monitoring';
import { configReductions, versionProfileBuilder } from './version-profile';

/** Options of {@link profileVersion}. */
export interface ProfileVersionOptions {
  /** The model repository's folder. */
  readonly repository: string;
  readonly model: string;
  /** Default: the version the server would serve by default (the latest, as its version policy says). */
  readonly version?: number;
  /**
   * The reference data: batches of inputs by name (the first dimension the rows when the
   * model batches), or a function of the version's input names that gives them. A batch
   * of one tensor for a model of one input is that input's, whatever its name.
   */
  readonly data: ReferenceBatches | ((inputNames: readonly string[]) => ReferenceBatches);
  /** Told of the rows profiled so far, after each request. */
  readonly onProgress?: (rows: number) => void;
  /** Where to write the profile. Default: where the server looks for it; `false`: not written. */
  readonly output?: string | false;
  /** Where the repository's loading logs. Default: nowhere. */
  readonly log?: Logger;
  /**
   * Learn each feature's thresholds for the server's windows of this many values, when
   * the data hold two windows' worth or more (default: the server's default window,
   * 1000; `false`: none learned, the fixed PSI bounds apply).
   */
  readonly learnWindow?: number | false;
}

/** Batches of reference inputs by name. */
export type ReferenceBatches = AsyncIterable<Readonly<Record<string, PlainTensor>>> | Iterable<Readonly<Record<string, PlainTensor>>>;

/** What {@link profileVersion} made. */
export interface ProfiledVersion {
  readonly profile: ModelProfile;
  readonly version: number;
  /** Where it was written (absent with `output: false`). */
  readonly path?: string;
}

/** Profiles a version of a model in a repository from reference data; writes the profile where the server reads it. */
export async function profileVersion(options: ProfileVersionOptions): Promise<ProfiledVersion> {
  const core = await InferenceServer.open({
    repository: options.repository,
    log: options.log ?? pino({ level: 'silent' }),
    modelControl: 'explicit',
    startupModels: [options.model],
    strictReadiness: false,
  });
  try {
    const served = core.resolve({ model: options.model, ...(options.version !== undefined && { version: String(options.version) }) });
    const { plan } = served;
    const batched = plan.maxBatchSize > 0;
    const config = core.modelConfig(options.model) as { parameters?: Record<string, { string_value: string }> };
    const parameters = config.parameters ?? {};
    const reductions = configReductions(options.model, plan, parameters);
    let builder: ModelProfileBuilder | undefined;
    let rows = 0;
    const inputNames = plan.inputs.map((t) => t.name);
    const data = typeof options.data === 'function' ? options.data(inputNames) : options.data;
    for await (const given of data) {
      const names = Object.keys(given);
      const batch = inputNames.length === 1 && names.length === 1 ? { [inputNames[0]]: given[names[0]] } : given;
      for (const chunk of chunks(batch, batched ? plan.maxBatchSize : 0)) {
        const inputs: InferInput[] = Object.entries(chunk).map(([name, tensor]) => {
          const datatype = DATATYPE_OF[tensor.type];
          return { name, datatype, shape: tensor.dims, tensor } as InferInput;
        });
        const response = await served.infer({ model: options.model, version: String(served.version), inputs });
        const tensors: Record<string, PlainTensor> = { ...chunk };
        for (const o of response.outputs) tensors[o.name] = o.tensor;
        builder ??= versionProfileBuilder(plan, reductions, tensors);
        builder.add(tensors, batched);
        rows = builder.rows;
        options.onProgress?.(rows);
      }
    }
    if (builder === undefined || rows === 0) throw new Error('the reference data hold no rows to profile');
    const learnWindow = options.learnWindow === false ? undefined : (options.learnWindow ?? DEFAULT_WINDOW.size);
    const profile = builder.build({ ...(learnWindow !== undefined && { learnWindow }) });
    if (options.output === false) return { profile, version: served.version };
    const path = options.output ?? profilePath(join(options.repository, options.model, String(served.version)), parameters);
    await mkdir(dirname(path), { recursive: true });
    await writeAtomically(path, JSON.stringify(profile));
    return { profile, version: served.version, path };
  } finally {
    await core.close(0);
  }
}

/** `batch` cut into requests of at most `max` rows along the first dimension (0: the model does not batch; one request). */
function* chunks(batch: Readonly<Record<string, PlainTensor>>, max: number): Generator<Record<string, PlainTensor>> {
  const entries = Object.entries(batch);
  if (max === 0 || entries.length === 0) {
    yield { ...batch };
    return;
  }
  const rows = entries[0][1].dims[0] ?? 0;
  for (const [name, t] of entries) if (t.dims[0] !== rows) throw new Error(`the inputs of one batch must have the same rows: "${name}" has ${t.dims[0]}, "${entries[0][0]}" ${rows}`);
  for (let start = 0; start < rows; start += max) {
    const end = Math.min(rows, start + max);
    const out: Record<string, PlainTensor> = {};
    for (const [name, t] of entries) {
      if (start === 0 && end === rows) {
        out[name] = t;
        continue;
      }
      const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
      // Views of the caller's data, not copies (strings have no views).
      const data = ArrayBuffer.isView(t.data) ? (t.data as Uint8Array).subarray(start * per, end * per) : t.data.slice(start * per, end * per);
      out[name] = { type: t.type, dims: [end - start, ...t.dims.slice(1)], data } as PlainTensor;
    }
    yield out;
  }
}
