import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from '../helpers/common';
import {
  ENCODER,
  type PipelineJob,
  type PipelineResult,
  runPipelineProcess,
  writeAliasedApp,
  writeEncoderFolder,
  writeIsNetFolder,
} from '../helpers/transformers-models';

const Transformers = suite('transformers.js pipelines on this runtime, both ways in');

const REGISTER = join(root, 'dist', 'compat', 'register.js');
const HIDDEN = ENCODER.hidden;
const TEXT = ENCODER.text;

let work = '';
let models = '';
let aliasedScript = '';

Transformers.before(() => {
  work = mkdtempSync(join(tmpdir(), 'transformers-'));
  models = join(work, 'models');
  writeEncoderFolder(models, ENCODER.id, ENCODER.hidden, ENCODER.layers);
  writeIsNetFolder(models, 'isnet');
  aliasedScript = writeAliasedApp(join(work, 'app'), root);
});

Transformers.after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function runPipeline(mode: PipelineJob['mode'], task: string, model: string, input: string, calls = 1): PipelineResult {
  return runPipelineProcess({ mode, register: REGISTER, root: models, task, model, input, calls }, aliasedScript, { timeoutMs: 180_000 });
}

function assertRanOn(result: PipelineResult, runtime: string): void {
  assert.is(result.runtimePackage, runtime);
  assert.ok(result.sessionIsRuntimes, `the pipeline's session is ${runtime}'s InferenceSession`);
}

Transformers('while a pipeline runs its model for 50 ms or more, a 1 ms timer waits under 10 ms here, the whole inference on onnxruntime-node', () => {
  // First in this file: right after the IS-Net tests (processes of a few GB), this
  // machine's runs slow by a third and threads wait 20 to 35 ms for a core now and then,
  // whatever they run. And up to three processes of three calls, for the same reason
  // (runtime/async.test.ts does the same).
  const attempts: string[] = [];
  let mine: PipelineResult | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    mine = runPipeline('alias', 'feature-extraction', ENCODER.id, TEXT, 3);
    attempts.push(`calls of ${mine.times.map((t) => t.toFixed(0)).join(', ')} ms: longest waits ${mine.gaps.map((g) => g.toFixed(1)).join(', ')} ms`);
    if (mine.longestGapMs < 10) break;
  }
  const fastest = Math.min(...(mine as PipelineResult).times);
  // 50 ms: five times the bound on the timer's wait. (A faster CPU, an EPYC with AVX-512,
  // runs this call in 80-96 ms; a longer text there only gave the 2 cores' scheduling
  // more time to delay a timer.)
  assert.ok(fastest >= 50, `the pipeline call took ${fastest.toFixed(0)} ms, under the 50 ms this check needs`);
  assert.ok((mine as PipelineResult).longestGapMs < 10, `a 1 ms timer on onnx-native: ${attempts.join('; ')}`);
  // The premise: onnxruntime-node holds the thread for the inference.
  const theirs = runPipeline('peer', 'feature-extraction', ENCODER.id, TEXT, 3);
  assert.ok(theirs.longestGapMs >= 0.5 * Math.min(...theirs.times), `onnxruntime-node's longest wait ${theirs.longestGapMs.toFixed(0)} ms`);
  console.log(`    onnx-native: ${attempts.join('; ')}; onnxruntime-node: longest wait ${theirs.longestGapMs.toFixed(0)} ms`);
});

Transformers('feature extraction (a BERT-style encoder and its WordPiece tokenizer): equal to onnxruntime-node\'s, both ways in', () => {
  const theirs = runPipeline('peer', 'feature-extraction', ENCODER.id, TEXT);
  assertRanOn(theirs, 'onnxruntime-node');
  assert.equal(theirs.output.dims, [1, HIDDEN]);
  for (const mode of ['alias', 'register'] as const) {
    const mine = runPipeline(mode, 'feature-extraction', ENCODER.id, TEXT);
    assertRanOn(mine, 'onnx-native');
    assert.equal(mine.output.dims, theirs.output.dims);
    const a = mine.output.data as number[];
    const b = theirs.output.data as number[];
    const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    assert.ok(diff < 1e-5, `${mode}: max |difference| ${diff}`);
  }
});

Transformers('background removal (IS-Net, a real model from an npm package): equal to onnxruntime-node\'s, both ways in', () => {
  const image = join(root, 'test', 'fixtures', 'images', 'shapes.png');
  const theirs = runPipeline('peer', 'background-removal', 'isnet', image);
  assertRanOn(theirs, 'onnxruntime-node');
  const b = Buffer.from(theirs.output.alpha as string, 'base64');
  // The mask keeps some of the image and drops some: a real segmentation, not all one value.
  const kept = b.filter((v) => v > 128).length / b.length;
  assert.ok(kept > 0.05 && kept < 0.95, `onnxruntime-node's mask keeps ${(kept * 100).toFixed(1)}% of the pixels`);
  for (const mode of ['alias', 'register'] as const) {
    const mine = runPipeline(mode, 'background-removal', 'isnet', image);
    assertRanOn(mine, 'onnx-native');
    assert.equal([mine.output.width, mine.output.height, mine.output.channels], [theirs.output.width, theirs.output.height, 4]);
    const a = Buffer.from(mine.output.alpha as string, 'base64');
    // An 8-bit mask from the same model: rounding may move a pixel by one level.
    let most = 0;
    for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i] - b[i]));
    assert.ok(most <= 1, `${mode}: alpha differs by up to ${most} levels`);
  }
});

Transformers.run();
