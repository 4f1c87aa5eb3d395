/**
 * `onnx-native optimize` as a user runs it, as a process of its own: static int8 on the
 * PP-OCR classifier from .npy calibration files (the printed report and the --report
 * JSON), dynamic int8 and float16 (with float32 inputs and outputs) on Silero VAD, and
 * what it refuses, with nothing written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatNpy } from '../../lib/cli/npy';
import { createSession } from '../../lib/runtime/session';
import { CLS_MODEL, clsImage, root, seededUniform, VAD_MODEL } from '../helpers/common';
import { reluModel } from '../helpers/onnx-model';

const Optimize = suite('onnx-native optimize');

let dir = '';

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), ...args], { encoding: 'utf8' });
}

Optimize.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'onnx-native-optimize-'));
  const u = seededUniform(9);
  mkdirSync(join(dir, 'cls-data'));
  for (let b = 0; b < 2; b++) {
    const images = Array.from({ length: 4 }, (_, i) => clsImage(u, i % 2 ? 0.4 : -0.4));
    const data = new Float32Array(4 * 3 * 48 * 192);
    images.forEach((im, i) => data.set(im.data, i * im.data.length));
    writeFileSync(join(dir, 'cls-data', `batch${b}.npy`), formatNpy({ type: 'float32', dims: [4, 3, 48, 192], data }));
  }
  // Silero VAD: three inputs, one folder of .npy files (named after them) a batch.
  for (let b = 0; b < 2; b++) {
    const folder = join(dir, 'vad-data', `chunk${b}`);
    mkdirSync(folder, { recursive: true });
    const audio = Float32Array.from({ length: 512 }, (_, i) => 0.3 * Math.sin((i + b * 512) * 0.08) + 0.05 * (u() - 0.5));
    writeFileSync(join(folder, 'input.npy'), formatNpy({ type: 'float32', dims: [1, 512], data: audio }));
    writeFileSync(join(folder, 'state.npy'), formatNpy({ type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) }));
    writeFileSync(join(folder, 'sr.npy'), formatNpy({ type: 'int64', dims: [], data: BigInt64Array.of(16000n) }));
  }
});

Optimize.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

Optimize('--int8 static: writes the model and the JSON report, prints size, timing and accuracy', () => {
  const out = join(dir, 'cls.int8.onnx');
  const report = join(dir, 'cls.report.json');
  const r = cli('optimize', CLS_MODEL, '-o', out, '--int8', 'static', '--calibrate', join(dir, 'cls-data'), '--method', 'percentile', '--per-channel', '--runs', '3', '--report', report);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /steps: static int8 \(QDQ, percentile, per channel, reduce range\)/);
  assert.match(r.stdout, /size: 578,966 B -> [\d,]+ B \(0\.\d{3}x\)/);
  assert.match(r.stdout, /opset: 9 -> 13 \(rewritten: Clip 18, Softmax 1\)/);
  assert.match(r.stdout, /quantized: Conv 53, /);
  assert.match(r.stdout, /per call \(first batch, median of 3, 1 thread\): [\d.]+ ms -> [\d.]+ ms/);
  assert.match(r.stdout, /softmax_0\.tmp_0 +[\d.e-]+ +[\d.e-]+ +[\d.]+ +\d+\.\d\d%/);
  assert.match(r.stderr, /calibrating: 2 batches/);
  const json = JSON.parse(readFileSync(report, 'utf8')) as { bytes: { optimized: number }; comparison: { batches: number; outputs: { top1Agreement: number }[] } };
  assert.is(json.bytes.optimized, readFileSync(out).byteLength);
  assert.is(json.comparison.batches, 2);
  assert.ok(json.comparison.outputs[0].top1Agreement >= 0 && json.comparison.outputs[0].top1Agreement <= 1);
});

Optimize('--int8 dynamic and --fp16 --keep-io-types on Silero VAD: models that load, with float32 inputs kept', async () => {
  const dynamic = join(dir, 'vad.int8.onnx');
  let r = cli('optimize', VAD_MODEL, '-o', dynamic, '--int8', 'dynamic', '--eval', join(dir, 'vad-data'), '--runs', '2');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /steps: dynamic int8/);
  assert.match(r.stdout, /quantized: LSTM 4 \(as DynamicQuantizeLSTM\)/);
  assert.match(r.stdout, /against the original over 2 batches/);
  const half = join(dir, 'vad.fp16.onnx');
  r = cli('optimize', VAD_MODEL, '-o', half, '--fp16', '--keep-io-types', '--eval', join(dir, 'vad-data'), '--runs', '2');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /steps: float16 \(float32 inputs and outputs\)/);
  const session = await createSession(half);
  assert.equal(session.inputs.map((v) => v.type), ['float32', 'float32', 'int64']);
  session.release();
});

Optimize('refusals: usage errors, bad data, a corrupt model, a failed --max-drop: exit 1, nothing written', () => {
  const out = join(dir, 'refused.onnx');
  const refused = (args: string[], pattern: RegExp) => {
    const r = cli('optimize', ...args);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, pattern);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.not.ok(existsSync(out), `${args.join(' ')} wrote ${out}`);
  };
  refused([CLS_MODEL, '--int8', 'static', '--calibrate', join(dir, 'cls-data')], /needs -o OUT/);
  refused([CLS_MODEL, '-o', out, '--int8', 'static'], /--int8 static needs --calibrate DATA/);
  refused([CLS_MODEL, '-o', out, '--int8', 'fast'], /--int8 is one of static, dynamic, not 'fast'/);
  refused([CLS_MODEL, '-o', out, '--int8', 'dynamic', '--fp16'], /alternatives: choose one/);
  const relu = join(dir, 'relu.onnx');
  writeFileSync(relu, reluModel());
  refused([relu, '-o', out, '--int8', 'dynamic'], /no node could be quantized/);
  const wrongShape = join(dir, 'wrong.npy');
  writeFileSync(wrongShape, formatNpy({ type: 'float32', dims: [1, 3, 48], data: new Float32Array(144) }));
  refused([CLS_MODEL, '-o', out, '--int8', 'static', '--calibrate', wrongShape], /calibration batch 1: /);
  const corrupt = join(dir, 'corrupt.onnx');
  writeFileSync(corrupt, readFileSync(CLS_MODEL).subarray(0, 1000));
  refused([corrupt, '-o', out, '--fp16'], /not an ONNX model/);
  refused([join(dir, 'missing.onnx'), '-o', out, '--fp16'], /ENOENT|no such file/);
  // Entropy calibration on two batches cuts the classifier's ranges hard: agreement falls below 100%.
  refused([CLS_MODEL, '-o', out, '--int8', 'static', '--calibrate', join(dir, 'cls-data'), '--method', 'entropy', '--max-drop', '0', '--runs', '1'], /top-1 agreement [\d.]+% is below the bound of 100\.00%/);
});

Optimize.run();
