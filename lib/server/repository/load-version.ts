/**
 * Loading one version of a model: its sessions (as the configuration's instance groups
 * and ONNX Runtime parameters say), the configuration completed from and checked against
 * the model, then the served model with its batcher, once warmed up.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ModelSource } from '../config/config-source';
import { completeConfig } from '../config/complete-config';
import type { ModelConfig } from '../config/model-config';
import { servingPlan } from '../model/config-plan';
import { ServedModel } from '../model/served-model';
import { type ModelFolder, modelFile } from './repository-files';

/** A loaded version and the configuration in force for it. */
export interface LoadedVersion {
  readonly served: ServedModel;
  readonly config: ModelConfig;
  /** What the configuration gives that is not acted on. */
  readonly ignored: readonly string[];
}

/** Loads version `version` of the model in `folder`. */
export async function loadModelVersion(root: string, folder: ModelFolder, source: ModelSource, version: number, log: Logger): Promise<LoadedVersion> {
  // Sessions first: what they need (threads, providers, instances) is in the
  // configuration as written; completing it needs the model's inputs and outputs.
  const setup = servingPlan(source.config, []);
  const path = await modelFile(root, folder, version, setup.modelFile);
  const instances = await ServedModel.openInstances(path, setup);
  let config: ModelConfig;
  const ignored = [...source.ignored];
  try {
    config = completeConfig(source.fromFile ? source.config : undefined, folder.name, instances[0].session, {
      onWarning: (message) => log.warn({ model: folder.name, version }, message),
    });
  } catch (err) {
    for (const i of instances) i.session.release();
    throw err;
  }
  // The configuration in force shows the instances as they are (one per core by default).
  config = {
    ...config,
    instance_group: setup.instances.map((i, n) => ({ name: `${folder.name}_${n}`, kind: i.kind === 'gpu' ? 'KIND_GPU' : 'KIND_CPU', count: i.count, gpus: i.gpus })),
  };
  const plan = servingPlan(config, ignored);
  const served = await ServedModel.start(folder.name, version, join(folder.path, String(version)), plan, instances, (message) =>
    log.warn({ model: folder.name, version }, message),
  );
  return { served, config, ignored };
}
