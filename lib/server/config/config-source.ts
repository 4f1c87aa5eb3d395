/**
 * A model's configuration as read from its folder: config.pbtxt (protobuf text format) or
 * config.json, parsed and checked; or none, to be completed from the model.
 */
import type { ModelFolder } from '../repository/repository-files';
import { type ModelConfig, emptyConfig, modelConfigFromJson, parseModelConfig } from './model-config';
import { ConfigError } from './text-format';

/** A model's configuration as its folder gives it (not yet completed from the model). */
export interface ModelSource {
  /** The configuration, or an empty one when the folder has none. */
  readonly config: ModelConfig;
  /** Whether the folder has a configuration file. */
  readonly fromFile: boolean;
  /** Fields read but not acted on, with their places, to log once. */
  readonly ignored: readonly string[];
}

/** Reads and checks `folder`'s configuration. Throws {@link ConfigError} with file, line and column. */
export function readModelSource(folder: ModelFolder): ModelSource {
  const file = folder.config;
  if (file === undefined) return { config: emptyConfig(), fromFile: false, ignored: [] };
  if (file.format === 'pbtxt') return { ...parseModelConfig(file.text, file.file), fromFile: true };
  let json: unknown;
  try {
    json = JSON.parse(file.text);
  } catch (err) {
    throw new ConfigError(file.file, `not JSON: ${(err as Error).message}`);
  }
  return { ...modelConfigFromJson(json, file.file), fromFile: true };
}
