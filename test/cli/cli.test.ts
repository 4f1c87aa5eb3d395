import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { createSession, tensor, type ElementType, type TensorDataMap } from '../../lib/index';
import { formatNpy, parseNpy } from '../../lib/cli/npy';
import { CLS_MODEL, VAD_MODEL, randomFloats, root } from '../helpers/common';
import { reluModel } from '../helpers/onnx-model';

const Cli = suite('command line');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

Cli('inspect prints inputs, outputs and metadata', () => {
  const { status, stdout } = cli('inspect', VAD_MODEL);
  assert.is(status, 0);
  assert.match(stdout, /input: float32 \[\?, \?\]/);
  assert.match(stdout, /state: float32 \[2, \?, 128\]/);
  assert.match(stdout, /sr: int64 \[\]/);
  assert.match(stdout, /stateN: float32/);
});

Cli('inspect --types prints a Signature interface that is valid TypeScript', () => {
  const { status, stdout } = cli('inspect', VAD_MODEL, '--types');
  assert.is(status, 0);
  assert.match(stdout, /export interface SileroVadV5Signature extends Signature \{/);
  assert.match(stdout, /input: 'float32';/);
  assert.match(stdout, /sr: 'int64';/);
  const out = ts.transpileModule(stdout, { reportDiagnostics: true, compilerOptions: { strict: true } });
  assert.equal(out.diagnostics ?? [], []);
  const named = cli('inspect', CLS_MODEL, '--types', '--name', 'Classifier');
  assert.match(named.stdout, /export interface Classifier extends Signature/);
  assert.match(named.stdout, /"softmax_0\.tmp_0": 'float32';/);
});

Cli('run reads .npy inputs and saves .npy outputs equal to a run in this process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-cli-'));
  const x = tensor('float32', randomFloats(2 * 3 * 48 * 192, 21), [2, 3, 48, 192]);
  writeFileSync(join(dir, 'x.npy'), formatNpy(x));
  const { status, stdout, stderr } = cli('run', CLS_MODEL, '--input', `x=${join(dir, 'x.npy')}`, '--output-dir', join(dir, 'out'));
  assert.is(status, 0, stderr);
  assert.match(stdout, /softmax_0\.tmp_0: float32 \[2, 2\]/);
  const saved = parseNpy(readFileSync(join(dir, 'out', 'softmax_0.tmp_0.npy')));
  const session = await createSession(CLS_MODEL);
  const expected = (await session.run({ x }))['softmax_0.tmp_0'];
  assert.equal(saved.dims, expected.dims);
  assert.equal(Array.from(saved.data as Float32Array), Array.from(expected.data as Float32Array));
});

Cli('run reads JSON inputs: a nested array, or { type, dims, data }', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-cli-'));
  const model = join(dir, 'relu.onnx');
  writeFileSync(model, reluModel(['a', 'b']));
  writeFileSync(join(dir, 'nested.json'), JSON.stringify([[1, -2], [-3, 4]]));
  const nested = cli('run', model, '--input', `x=${join(dir, 'nested.json')}`);
  assert.is(nested.status, 0, nested.stderr);
  assert.match(nested.stdout, /y: float32 \[2, 2\] \[1, 0, 0, 4\]/);
  writeFileSync(join(dir, 'object.json'), JSON.stringify({ type: 'float32', dims: [1, 3], data: [-1, 5, -7] }));
  const object = cli('run', model, '--input', `x=${join(dir, 'object.json')}`);
  assert.match(object.stdout, /y: float32 \[1, 3\] \[0, 5, 0\]/);
});

Cli('mistakes get a message and exit code 1, never a stack trace', () => {
  const unknown = cli('frobnicate');
  assert.is(unknown.status, 1);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const missing = cli('run', '/no/such.onnx');
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /no model file at \/no\/such.onnx \[MODEL_NOT_FOUND\]/);
  const badInput = cli('run', CLS_MODEL, '--input', 'y=whatever.npy');
  assert.is(badInput.status, 1);
  assert.match(badInput.stderr, /no input 'y'/);
  assert.not.match(badInput.stderr + missing.stderr, /\n\s+at /);
});

Cli('the demo classifies drawn text lines, upright and upside down, correctly', () => {
  const { status, stdout, stderr } = cli('demo', '--runs', '10');
  assert.is(status, 0, stderr);
  const rows = stdout.split('\n').filter((l) => /^"/.test(l));
  assert.is(rows.length, 6);
  for (const row of rows) {
    // "TEXT"   drawn   model says   p(0°)   p(180°): the verdict must match the drawing.
    const [, drawn, said] = row.split(/\s{2,}/);
    assert.ok(drawn === 'upright' || drawn === 'upside down', row);
    assert.is(said, drawn, row);
  }
  assert.equal(rows.map((r) => r.split(/\s{2,}/)[1]), ['upright', 'upside down', 'upright', 'upside down', 'upright', 'upside down']);
  assert.match(stdout, /per call, batch of 1, median of 10: run\(\) [\d.]+ ms, runSync\(\) [\d.]+ ms/);
});

const Npy = suite('.npy files');

Npy('every NumPy element type and Unicode strings round-trip', () => {
  const samples: Partial<{ [T in ElementType]: TensorDataMap[T] }> = {
    float32: new Float32Array([1.5, -2]),
    float64: new Float64Array([Math.PI, -0]),
    float16: new Uint16Array([0x3c00, 0xc000]),
    int8: new Int8Array([-128, 127]),
    int16: new Int16Array([-1, 2]),
    int32: new Int32Array([-(2 ** 31), 7]),
    int64: new BigInt64Array([-(2n ** 63n), 5n]),
    uint8: new Uint8Array([0, 255]),
    uint16: new Uint16Array([0, 65535]),
    uint32: new Uint32Array([0, 2 ** 32 - 1]),
    uint64: new BigUint64Array([0n, 2n ** 64n - 1n]),
    bool: new Uint8Array([1, 0]),
    string: ['héllo', '日本語 🎉'],
  };
  for (const [type, data] of Object.entries(samples) as [ElementType, TensorDataMap[ElementType]][]) {
    const back = parseNpy(formatNpy(tensor(type, data, [2, 1])));
    assert.is(back.type, type);
    assert.equal(back.dims, [2, 1]);
    assert.equal(Array.from(back.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>), type);
  }
  const scalar = parseNpy(formatNpy(tensor('float32', [42], [])));
  assert.equal(scalar.dims, []);
});

Npy('broken files get a clear error', () => {
  assert.throws(() => parseNpy(new Uint8Array([1, 2, 3])), /not a NumPy file/);
  const whole = formatNpy(tensor('float64', new Float64Array(8), [8]));
  assert.throws(() => parseNpy(whole.subarray(0, whole.length - 8)), /truncated/);
});

Cli.run();
Npy.run();
