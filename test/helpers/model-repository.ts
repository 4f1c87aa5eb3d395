/**
 * Model repositories for the server's tests, in Triton's layout, written into a fresh
 * temporary folder: real models (PP-OCR cls, Silero VAD, with the example repository's
 * configurations) and built ones (an identity model per element type).
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CLS_MODEL, VAD_MODEL, root } from './common';
import { T, buildModel } from './onnx-model';

/** One model folder: an optional config.pbtxt (or config.json) and its version folders. */
export interface ModelFolderSpec {
  readonly config?: string;
  readonly configJson?: unknown;
  /** Model file by version: bytes, or the path of a file to copy. */
  readonly versions: Readonly<Record<number, Uint8Array | string>>;
  /** A folder whose files (config, warm-up data) are copied into the model's folder. */
  readonly copyFrom?: string;
}

/**
 * Writes a repository of `models` into a new temporary folder and returns its path:
 * under the system's temporary folder, or with `inProject` under test/.server-repos/
 * (gitignored), where a handler's imports (sharp) resolve from the project's node_modules.
 */
export function writeRepository(models: Readonly<Record<string, ModelFolderSpec>>, inProject = false): string {
  const base = inProject ? join(root, 'test', '.server-repos') : tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'onnx-native-repo-'));
  for (const [name, spec] of Object.entries(models)) addModel(dir, name, spec);
  return dir;
}

/** Adds model `name` to the repository at `dir`. */
export function addModel(dir: string, name: string, spec: ModelFolderSpec): void {
  mkdirSync(join(dir, name), { recursive: true });
  if (spec.copyFrom !== undefined) cpSync(spec.copyFrom, join(dir, name), { recursive: true });
  if (spec.config !== undefined) writeFileSync(join(dir, name, 'config.pbtxt'), spec.config);
  if (spec.configJson !== undefined) writeFileSync(join(dir, name, 'config.json'), JSON.stringify(spec.configJson));
  for (const [version, model] of Object.entries(spec.versions)) {
    mkdirSync(join(dir, name, version), { recursive: true });
    const file = join(dir, name, version, 'model.onnx');
    if (typeof model === 'string') copyFileSync(model, file);
    else writeFileSync(file, model);
  }
}

const EXAMPLES = join(root, 'examples', 'model-repository');

/** The example repository's classifier: PP-OCR cls with its example config (batching, max 64). */
export const TEXT_DIRECTION: ModelFolderSpec = { copyFrom: join(EXAMPLES, 'text_direction'), versions: { 1: CLS_MODEL } };

/** The example repository's Silero VAD (no batching; `sr` a scalar reshaped from [1]). */
export const SILERO_VAD: ModelFolderSpec = { copyFrom: join(EXAMPLES, 'silero_vad'), versions: { 1: VAD_MODEL } };

/** ONNX element type numbers of the protocol's datatypes. */
export const ONNX_TYPE_OF_DATATYPE = {
  BOOL: T.BOOL,
  UINT8: T.UINT8,
  UINT16: T.UINT16,
  UINT32: T.UINT32,
  UINT64: T.UINT64,
  INT8: T.INT8,
  INT16: T.INT16,
  INT32: T.INT32,
  INT64: T.INT64,
  FP16: T.FLOAT16,
  FP32: T.FLOAT,
  FP64: T.DOUBLE,
  BF16: T.BFLOAT16,
  BYTES: T.STRING,
} as const;

/** An identity model of element type `type` over `[batch, 2]`: output `y` equals input `x`. */
export function identity2Model(type: number): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type, dims: ['batch', 2] }],
    outputs: [{ name: 'y', type, dims: ['batch', 2] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  });
}

/** A logger that keeps its lines (for tests that check what was logged). */
export function memoryLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

/**
 * y = x + `constant` over float32 `[batch, 2]`: each version of a test model adds its own
 * constant, so that an answer shows which version computed it. `weightBytes` adds a
 * weight of that size that each run reads (x · W, times 0, added in: the output is the
 * same), for memory tests: a leaked session leaks it. (An initializer no run reads would
 * be dropped by ONNX Runtime's graph optimizer, or folded into a constant.)
 */
export function addConstantModel(constant: number, weightBytes = 0): Uint8Array {
  const columns = weightBytes / 8;
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 2] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 2] }],
    initializers: [
      { name: 'c', dims: [], floats: [constant] },
      ...(weightBytes > 0
        ? [
            { name: 'w', dims: [2, columns], type: T.FLOAT, raw: new Uint8Array(weightBytes).fill(1) },
            { name: 'axes', dims: [1], ints: [1] },
            { name: 'zero', dims: [], floats: [0] },
          ]
        : []),
    ],
    nodes:
      weightBytes > 0
        ? [
            { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
            { op: 'ReduceSum', inputs: ['xw', 'axes'], outputs: ['sum'] },
            { op: 'Mul', inputs: ['sum', 'zero'], outputs: ['nothing'] },
            { op: 'Add', inputs: ['x', 'c'], outputs: ['shifted'] },
            { op: 'Add', inputs: ['shifted', 'nothing'], outputs: ['y'] },
          ]
        : [{ op: 'Add', inputs: ['x', 'c'], outputs: ['y'] }],
  });
}

/** y = 1 - x, with addConstantModel's signature: its top class is the other column from x + c's, for x = [0.25, 0.5] (a shadow that disagrees). */
export function flipModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 2] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 2] }],
    initializers: [{ name: 'one', dims: [], floats: [1] }],
    nodes: [{ op: 'Sub', inputs: ['one', 'x'], outputs: ['y'] }],
  });
}
