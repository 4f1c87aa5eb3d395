/**
 * Loading one version of a model: its sessions (as the configuration's instance groups
 * and ONNX Runtime parameters say), the configuration completed from and checked against
 * the model, then the served model with its batcher, once warmed up.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ModelSource } from '../config/config-source';
import { completeConfig } from '../config/complete-config';
import type { ModelConfig } from '../config/model-config';
import { servingPlan } from '../model/config-plan';
import { ServedModel } from '../model/served-model';
import { type ModelFolder, modelFile } from './repository-files';
import { ProtocolError } from '../protocol/types';
import { MODEL_CARD_FILE, type ModelCard, readModelCard } from './model-card';

/** A loaded version and the configuration in force for it. */
export interface LoadedVersion {
  readonly served: ServedModel;
  readonly config: ModelConfig;
  /** What the configuration gives that is not acted on. */
  readonly ignored: readonly string[];
  /** The version's model card, if its folder has one. */
  readonly card?: ModelCard;
}

/**
 * What identifies the files of version `version` as they are now (the model file's and
 * the model card's size, change time and inode): a reload keeps a loaded version whose
 * stamp is unchanged instead of loading it again. A file that cannot be read stamps as
 * missing, so that its load is tried (and reports why).
 */
export async function versionStamp(root: string, folder: ModelFolder, source: ModelSource, version: number): Promise<string> {
  const parts: string[] = [];
  for (const file of [servingPlan(source.config, []).modelFile, MODEL_CARD_FILE]) {
    try {
      const info = await stat(await modelFile(root, folder, version, file));
      parts.push(`${file}:${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}`);
    } catch {
      parts.push(`${file}:missing`);
    }
  }
  return parts.join('|');
}

/** Loads version `version` of the model in `folder`. */
export async function loadModelVersion(root: string, folder: ModelFolder, source: ModelSource, version: number, log: Logger): Promise<LoadedVersion> {
  // Sessions first: what they need (threads, providers, instances) is in the
  // configuration as written; completing it needs the model's inputs and outputs.
  const setup = servingPlan(source.config, []);
  const path = await modelFile(root, folder, version, setup.modelFile);
  // The card first: a broken one fails the load before any session is made.
  const cardPath = await modelFile(root, folder, version, MODEL_CARD_FILE).catch((err: unknown) => {
    if (err instanceof ProtocolError && err.status === 'NOT_FOUND') return undefined;
    throw err;
  });
  const card = cardPath === undefined ? undefined : await readModelCard(cardPath, `${folder.name}/${version}`);
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
  return { served, config, ignored, ...(card && { card }) };
}
