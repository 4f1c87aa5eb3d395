/**
 * Graph optimization done once, offline: the model is loaded by ONNX Runtime at a level,
 * and the graph it would run is saved (the session's optimized-model output). The same
 * rewrite serves the quantizers as their first step, as ONNX Runtime's own `quant_pre_process`
 * does: at 'basic', Constant nodes become initializers, BatchNormalization is folded into
 * the Conv before it, constants are folded, and only standard ONNX operators remain.
 *
 * Levels: 'basic' and 'extended' are portable ('extended' adds ONNX Runtime's contrib
 * fusions, which any ONNX Runtime CPU build runs); 'all' adds layout changes (NCHWc) chosen
 * for the CPU it ran on, so a model saved at 'all' is tied to that kind of CPU.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession } from '../runtime/session';
import { OptimizeError } from './onnx-graph';

/** Graph optimization levels that can be saved. */
export type GraphLevel = 'basic' | 'extended' | 'all';

/** The model as ONNX Runtime optimizes it at `level`, as bytes (nothing is written beside the input). */
export async function optimizeGraph(model: Uint8Array, level: GraphLevel, options: { intraOpNumThreads?: number } = {}): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-native-optimize-'));
  try {
    // A path, not bytes: ONNX Runtime resolves external data relative to the model's
    // folder, and writes the optimized model's own next to its output file.
    const input = join(dir, 'input.onnx');
    const output = join(dir, 'optimized.onnx');
    await writeFile(input, model);
    let session;
    try {
      session = await createSession(input, {
        graphOptimizationLevel: level,
        optimizedModelFilePath: output,
        intraOpNumThreads: options.intraOpNumThreads ?? 1,
      });
    } catch (err) {
      throw new OptimizeError(`ONNX Runtime cannot load the model: ${(err as Error).message}`);
    }
    session.release();
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
