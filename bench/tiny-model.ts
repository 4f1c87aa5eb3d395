/**
 * The bench's tiny model, y = Relu(x) on 2 floats, written where the C floor program
 * can read it too. Built with the tests' model builder (onnx-proto), so nothing is
 * downloaded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reluModel } from '../test/helpers/onnx-model';

export const BENCH_BUILD = join(__dirname, 'build');
export const TINY_MODEL = join(BENCH_BUILD, 'tiny-relu.onnx');

export function writeTinyModel(): string {
  mkdirSync(BENCH_BUILD, { recursive: true });
  writeFileSync(TINY_MODEL, reluModel([2]));
  return TINY_MODEL;
}
