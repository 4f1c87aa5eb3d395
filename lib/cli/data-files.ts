/**
 * Data files as `profile` and `optimize` read them: `.npy` files, `.jsonl` files, or
 * folders of them (read in name order, their subfolders too).
 * - A `.npy` file is a batch of an input (its first dimension the rows when the model
 *   batches). For a model of one input, any name; otherwise each file is named after the
 *   input it holds (`x.npy`), and the files of one folder make one batch together.
 * - A `.jsonl` file holds a request a line: an Open Inference Protocol JSON body
 *   (`{"inputs": [{"name", "shape", "datatype", "data"}]}`), or a payload log's
 *   CloudEvent of a request (its `data` is that body; responses are skipped).
 * Apart from profile.ts so that `optimize` reads them without loading the model server.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { PlainTensor } from '../core/tensor';
import { decodeInferRequest } from '../server/protocol/json-tensors';
import { parseNpy } from './npy';

const EXTENSIONS = new Set(['.npy', '.jsonl', '.ndjson']);

/** Every data file of `paths` (folders walked in name order), with its size. */
export function dataFiles(paths: readonly string[]): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  const walk = (path: string, given: boolean) => {
    const info = statSync(path);
    if (info.isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(join(path, name), false);
    } else if (EXTENSIONS.has(extname(path))) {
      out.push({ path, bytes: info.size });
    } else if (given) {
      throw new Error(`${path}: data files are .npy or .jsonl (JSON lines)`);
    }
  };
  for (const p of paths) walk(p, true);
  if (out.length === 0) throw new Error(`no .npy or .jsonl files in ${paths.join(', ')}`);
  return out;
}

/** The batches of `files` for a model whose inputs are `inputNames`; `read(bytes)` is told of each file's bytes once used. */
export function* dataBatches(files: readonly { path: string; bytes: number }[], inputNames: readonly string[], read: (bytes: number) => void): Generator<Record<string, PlainTensor>> {
  const single = inputNames.length === 1;
  let group: { folder: string; batch: Record<string, PlainTensor>; bytes: number } | undefined;
  const flush = function* () {
    if (group === undefined) return;
    const missing = inputNames.filter((n) => !(n in (group as { batch: object }).batch));
    if (missing.length > 0) throw new Error(`${group.folder}: no ${missing.map((n) => `${n}.npy`).join(', ')} beside ${Object.keys(group.batch).map((n) => `${n}.npy`).join(', ')}`);
    yield group.batch;
    read(group.bytes);
    group = undefined;
  };
  for (const file of files) {
    if (extname(file.path) === '.npy') {
      const tensor = parseNpy(readFileSync(file.path)) as PlainTensor;
      if (single) {
        yield { [inputNames[0]]: tensor };
        read(file.bytes);
        continue;
      }
      const name = basename(file.path, '.npy');
      if (!inputNames.includes(name)) throw new Error(`${file.path}: the model's inputs are ${inputNames.join(', ')}; name each .npy file after the input it holds`);
      const folder = dirname(file.path);
      if (group !== undefined && group.folder !== folder) yield* flush();
      group ??= { folder, batch: {}, bytes: 0 };
      group.batch[name] = tensor;
      group.bytes += file.bytes;
      continue;
    }
    yield* flush();
    const lines = readFileSync(file.path, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() !== '') {
        const where = `${file.path}:${i + 1}`;
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch (err) {
          throw new Error(`${where}: ${(err as Error).message}`);
        }
        const event = json as { type?: unknown; data?: unknown; specversion?: unknown };
        const body = event.specversion !== undefined ? (typeof event.type === 'string' && event.type.endsWith('.request') ? event.data : undefined) : json;
        if (body !== undefined) {
          try {
            const request = decodeInferRequest(body, undefined, { model: '' });
            yield Object.fromEntries(request.inputs.map((input) => [input.name, input.tensor]));
          } catch (err) {
            throw new Error(`${where}: ${(err as Error).message}`);
          }
        }
      }
      read(Buffer.byteLength(line) + 1);
    }
  }
  yield* flush();
}

