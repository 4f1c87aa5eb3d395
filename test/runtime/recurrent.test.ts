import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { attachSession, createSession, tensor } from '../../lib/index';
import { VAD_MODEL, rejectsWith } from '../helpers/common';
import { recurrentModel, reluModel } from '../helpers/onnx-model';

const Empty = suite('empty inputs to recurrent models: refused, never a dead process');

const OFFICIAL = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');

interface Line {
  trying?: string;
  case?: string;
  path?: string;
  code?: string;
  message?: string;
  dims?: Record<string, number[]>;
  done?: boolean;
}

/** Runs test/fixtures/empty-recurrent.ts on one library; fails with the signal and the case that killed it. */
function runFixture(library: 'bundled' | 'official'): Line[] {
  const env = { ...process.env };
  if (library === 'official') env.ORT_DYLIB_PATH = OFFICIAL;
  else delete env.ORT_DYLIB_PATH;
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'fixtures', 'empty-recurrent.ts')], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const lines = child.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
  const last = lines.filter((l) => l.trying).at(-1)?.trying;
  assert.ok(
    child.status === 0 && lines.at(-1)?.done,
    `on the ${library} library, the child ${child.signal ? `died with ${child.signal}` : `exited with ${child.status}`} while trying ${last}\n${child.stderr.slice(-2000)}`,
  );
  return lines.filter((l) => l.case);
}

for (const library of ['bundled', 'official'] as const) {
  Empty(`${library} library: every shape that aborts ONNX Runtime is refused with INVALID_SHAPE, on every path to a run`, () => {
    const results = runFixture(library);
    const refused = results.filter((r) => r.code);
    const ran = results.filter((r) => r.dims);
    for (const r of refused) assert.is(r.code, 'INVALID_SHAPE', `${r.case} (${r.path}): ${r.message}`);
    assert.equal(
      [...new Set(refused.map((r) => r.case))],
      [
        'vad: empty batch',
        'vad: empty chunk',
        'LSTM: empty batch',
        'GRU: empty sequence',
        'LSTM with sequence_lens: empty batch',
        'LSTM with initial_h, initial_c: empty batch',
        'GRU: empty batch',
        'GRU with sequence_lens, initial_h: empty batch',
        'GRU: input size 0',
        'DynamicQuantizeLSTM: empty batch',
        'LSTM in a function: empty batch',
      ],
    );
    assert.equal(refused.filter((r) => r.case === 'vad: empty batch').map((r) => r.path), ['run', 'runSync', 'binding', 'batched']);
    assert.equal(
      ran.map((r) => [r.case, r.dims]),
      [
        ['vad: one chunk', { output: [1, 1], stateN: [2, 1, 128] }],
        ['LSTM: a sequence', { Y: [2, 1, 2, 4], Y_h: [1, 2, 4] }],
        ['RNN: empty batch', { Y: [2, 1, 0, 4], Y_h: [1, 0, 4] }],
        ['Relu: empty', { y: [0] }],
      ],
    );
  });
}

// In this process, only shapes that ONNX Runtime fails cleanly on (or that never reach a
// run): a regression must fail this test, not kill the test runner.
Empty('the error names the input, its shape, the operator and why', async () => {
  const vad = await createSession(VAD_MODEL);
  const f32 = (...dims: number[]) => tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  const sr = tensor('int64', [16000n], []);
  const err = await rejectsWith(() => vad.run({ input: f32(0, 512), state: f32(2, 1, 128), sr }), 'INVALID_SHAPE');
  assert.is(
    err.message,
    "input 'input' has a zero dimension, [0, 512], which this model is not given: ONNX Runtime aborts the whole process, instead of failing the run, when its LSTM operators get empty tensors",
  );
  await rejectsWith(() => vad.runSync({ input: f32(1, 512), state: f32(2, 0, 128), sr }), 'INVALID_SHAPE', /input 'state' has a zero dimension, \[2, 0, 128\]/);
  await rejectsWith(() => vad.createBinding().bindInput('state', f32(2, 0, 128)), 'INVALID_SHAPE', /LSTM operators/);
  await rejectsWith(() => vad.checkFeeds({ input: f32(1, 0), state: f32(2, 1, 128), sr }), 'INVALID_SHAPE', /input 'input' has a zero dimension, \[1, 0\]/);
  vad.release();
  const gru = await createSession(recurrentModel('GRU', 3, { initialH: true }));
  await rejectsWith(() => gru.runSync({ X: f32(2, 1, 3), H0: f32(1, 0, 4) }), 'INVALID_SHAPE', /input 'H0' .* its GRU operators/);
  gru.release();
});

Empty('sessions attached to a shared one (worker threads, the pool) refuse them too', async () => {
  // An attached session has only the native session, not the model file: what the scan
  // found travels with the session through share().
  const vad = await createSession(VAD_MODEL);
  const attached = attachSession(vad.share());
  const f32 = (...dims: number[]) => tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  await rejectsWith(
    () => attached.run({ input: f32(0, 512), state: f32(2, 1, 128), sr: tensor('int64', [16000n], []) }),
    'INVALID_SHAPE',
    /zero dimension, \[0, 512\].* its LSTM operators/,
  );
  // Shared again from the attached side, it carries the same.
  await rejectsWith(() => attachSession(attached.share()).runSync({ input: f32(0, 512), state: f32(2, 1, 128), sr: tensor('int64', [16000n], []) }), 'INVALID_SHAPE');
  const relu = await createSession(reluModel());
  const plain = attachSession(relu.share());
  assert.equal(plain.runSync({ x: f32(0) }).y.dims, [0]);
  for (const s of [vad, attached, relu, plain]) s.release();
});

Empty.run();
