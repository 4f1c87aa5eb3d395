/**
 * What a Triton-style model repository holds on disk: `<repo>/<model>/<version>/<file>`
 * with an optional `<repo>/<model>/config.pbtxt` or `config.json`. Every name that comes
 * from a request (a model, a version) is checked here before it reaches the file system,
 * and every path is resolved through its symlinks and must stay inside the repository:
 * a model folder that links to `/etc` is refused, not served.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ProtocolError, invalid } from '../protocol/types';

/**
 * Model names: letters, digits, `_`, `-` and `.` (not first), at most 128 characters.
 * Triton allows more, but a name also becomes a URL segment, a metric label and a folder
 * name, and these are the characters safe in all three.
 */
const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Versions are positive integers without leading zeros (Triton ignores other folders). */
const VERSION = /^[1-9][0-9]{0,17}$/;

/** Throws INVALID_ARGUMENT unless `name` is a model name this server can serve. */
export function checkModelName(name: string): void {
  if (!MODEL_NAME.test(name) || name.includes('..')) {
    throw invalid(
      `model name ${JSON.stringify(name.slice(0, 200))} is not valid: use letters, digits, '_', '-' and '.' (not first, no '..'), at most 128 characters`,
    );
  }
}

/** Whether `name` is a version folder's name. */
export function isVersion(name: string): boolean {
  return VERSION.test(name);
}

/** Throws INVALID_ARGUMENT unless `version` is a version number. */
export function checkVersion(model: string, version: string): void {
  if (!isVersion(version)) {
    throw invalid(`version ${JSON.stringify(version.slice(0, 40))} of model "${model}" is not valid: versions are positive integers`);
  }
}

/** The files of one model folder. */
export interface ModelFolder {
  readonly name: string;
  /** The folder, symlinks resolved. */
  readonly path: string;
  /** The configuration file, if there is one, and its text. */
  readonly config?: { readonly file: string; readonly text: string; readonly format: 'pbtxt' | 'json' };
  /** The numeric version folders, ascending. */
  readonly versions: readonly number[];
  /** Its custom handler (`handler.mjs` or `handler.js`), if it has one. */
  readonly handler?: { readonly path: string; readonly stamp: number };
}

/** Most bytes of a configuration file: real ones are a few kB; this bounds a hostile one. */
const MAX_CONFIG_BYTES = 1 << 20;

/** The repository's folder, symlinks resolved, checked to be a folder. */
export async function repositoryRoot(path: string): Promise<string> {
  let root: string;
  try {
    root = await realpath(path);
  } catch {
    throw new ProtocolError(`model repository ${path} does not exist`, 'NOT_FOUND');
  }
  if (!(await stat(root)).isDirectory()) throw new ProtocolError(`model repository ${path} is not a folder`, 'INVALID_ARGUMENT');
  return root;
}

/** `path` with its symlinks resolved, or undefined if it does not exist or leaves `root`. */
export async function inside(root: string, path: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined;
  }
  return real === root || real.startsWith(root + sep) ? real : undefined;
}

/** The names of the model folders in the repository (entries that are not safe names are left out). */
export async function listModelNames(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const names: string[] = [];
  for (const entry of entries) {
    if (!(entry.isDirectory() || entry.isSymbolicLink()) || !MODEL_NAME.test(entry.name) || entry.name.includes('..')) continue;
    const real = await inside(root, join(root, entry.name));
    if (real !== undefined && (await stat(real)).isDirectory()) names.push(entry.name);
  }
  return names.sort();
}

/**
 * Reads model `name`'s folder: its configuration file and version folders. Throws
 * NOT_FOUND when there is no such folder (or it leaves the repository through a symlink).
 */
export async function readModelFolder(root: string, name: string): Promise<ModelFolder> {
  checkModelName(name);
  const path = await inside(root, join(root, name));
  if (path === undefined || !(await stat(path)).isDirectory()) {
    throw new ProtocolError(`model "${name}" is not in the repository`, 'NOT_FOUND');
  }
  const entries = await readdir(path, { withFileTypes: true });
  const versions: number[] = [];
  for (const entry of entries) {
    if (!isVersion(entry.name)) continue;
    const real = await inside(root, join(path, entry.name));
    if (real !== undefined && (await stat(real)).isDirectory()) versions.push(Number(entry.name));
  }
  versions.sort((a, b) => a - b);
  let config: ModelFolder['config'];
  for (const [file, format] of [
    ['config.pbtxt', 'pbtxt'],
    ['config.json', 'json'],
  ] as const) {
    const configPath = join(path, file);
    const real = await inside(root, configPath);
    if (real === undefined) {
      // A config that exists but links out of the repository is an error, not "no config".
      if (await exists(configPath)) throw invalid(`${name}/${file} links outside the model repository`);
      continue;
    }
    if (config !== undefined) throw invalid(`model "${name}" has both config.pbtxt and config.json; keep one`);
    const info = await stat(real);
    if (!info.isFile()) throw invalid(`${name}/${file} is not a file`);
    if (info.size > MAX_CONFIG_BYTES) throw invalid(`${name}/${file} is ${info.size} bytes; a model configuration may be at most ${MAX_CONFIG_BYTES}`);
    config = { file: `${name}/${file}`, text: await readFile(real, 'utf8'), format };
  }
  let handler: ModelFolder['handler'];
  for (const file of ['handler.mjs', 'handler.js']) {
    const handlerPath = join(path, file);
    const real = await inside(root, handlerPath);
    if (real === undefined) {
      if (await exists(handlerPath)) throw invalid(`${name}/${file} links outside the model repository`);
      continue;
    }
    if (handler !== undefined) throw invalid(`model "${name}" has both handler.mjs and handler.js; keep one`);
    const info = await stat(real);
    if (!info.isFile()) throw invalid(`${name}/${file} is not a file`);
    handler = { path: real, stamp: info.mtimeMs };
  }
  return { name, path, config, versions, ...(handler && { handler }) };
}

/**
 * The model file of one version: `<model>/<version>/<file>`, which must be a file inside
 * the repository. Throws NOT_FOUND when it is missing.
 */
export async function modelFile(root: string, folder: ModelFolder, version: number, file: string): Promise<string> {
  if (file.includes('/') || file.includes('\\') || file === '..' || file === '.') {
    throw invalid(`default_model_filename ${JSON.stringify(file)} of model "${folder.name}" must be a file name, not a path`);
  }
  const path = join(folder.path, String(version), file);
  const real = await inside(root, path);
  if (real === undefined) {
    if (await exists(path)) throw invalid(`${folder.name}/${version}/${file} links outside the model repository`);
    throw new ProtocolError(`model "${folder.name}" version ${version} has no ${file}`, 'NOT_FOUND');
  }
  if (!(await stat(real)).isFile()) throw invalid(`${folder.name}/${version}/${file} is not a file`);
  return real;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
