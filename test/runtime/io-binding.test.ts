import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, tensor } from '../../lib/index';
import { VAD_MODEL, maxAbsDiff, randomFloats, rejectsWith } from '../helpers/common';
import { buildModel, reluModel, T } from '../helpers/onnx-model';

const Binding = suite('I/O binding (on the CPU)');

Binding('bound inputs and outputs: run writes into the bound array, again and again', async () => {
  const session = await createSession(reluModel([4]));
  const x = tensor('float32', [-1, 2, -3, 4], [4]);
  const y = tensor('float32', new Float32Array(4), [4]);
  const binding = session.createBinding().bindInput('x', x).bindOutput('y', y);
  await binding.run();
  assert.equal(Array.from(y.data), [0, 2, 0, 4]);
  // The input is read in place: change its array and run again.
  x.data.set([5, -6, 7, -8]);
  binding.runSync();
  assert.equal(Array.from(y.data), [5, 0, 7, 0]);
  assert.is(binding.outputs().y, y);
});

Binding('an output bound with no tensor is allocated by ONNX Runtime and read with outputs()', async () => {
  const session = await createSession(reluModel(['n']));
  const binding = session.createBinding().bindInput('x', tensor('float32', [-2, 3, -4, 5, 6], [5])).bindOutput('y');
  await binding.run();
  const { y } = binding.outputs();
  assert.equal(y.dims, [5]);
  assert.equal(Array.from(y.data as Float32Array), [0, 3, 0, 5, 6]);
});

Binding('an allocated output over 64 bytes is a view that the next run rewrites, as documented', async () => {
  const session = await createSession(reluModel(['n']));
  const x = tensor('float32', new Float32Array(64).fill(1), [64]);
  const binding = session.createBinding().bindInput('x', x).bindOutput('y');
  await binding.run();
  const first = binding.outputs().y;
  const kept = (first.data as Float32Array).slice();
  (x.data as Float32Array).fill(7);
  await binding.run();
  assert.is(binding.outputs().y.data[0], 7);
  assert.is(first.data[0], 7, 'the first run\'s view shows the second run: ONNX Runtime reused the memory');
  assert.is(kept[0], 1);
});

Binding('chained models: the bound output array of one model is the bound input of the next', async () => {
  const relu = await createSession(reluModel([3]));
  const neg = await createSession(
    buildModel({ inputs: [{ name: 'a', type: T.FLOAT, dims: [3] }], outputs: [{ name: 'b', type: T.FLOAT, dims: [3] }], nodes: [{ op: 'Neg', inputs: ['a'], outputs: ['b'] }] }),
  );
  const middle = tensor('float32', new Float32Array(3), [3]);
  const result = tensor('float32', new Float32Array(3), [3]);
  const first = relu.createBinding().bindInput('x', tensor('float32', [1, -1, 2], [3])).bindOutput('y', middle);
  const second = neg.createBinding().bindInput('a', middle).bindOutput('b', result);
  await first.run();
  await second.run();
  assert.equal(Array.from(result.data), [-1, -0, -2]);
});

Binding('recurrent state goes round between two bound arrays (Silero VAD), equal to plain runs', async () => {
  const session = await createSession(VAD_MODEL);
  const states = [tensor('float32', new Float32Array(256), [2, 1, 128]), tensor('float32', new Float32Array(256), [2, 1, 128])];
  const chunk = tensor('float32', new Float32Array(512), [1, 512]);
  const probability = tensor('float32', new Float32Array(1), [1, 1]);
  const binding = session.createBinding().bindInput('input', chunk).bindInput('sr', tensor('int64', [16000n], [])).bindOutput('output', probability);
  let plainState = tensor('float32', new Float32Array(256), [2, 1, 128]);
  for (let i = 0; i < 6; i++) {
    chunk.data.set(Float32Array.from(randomFloats(512, 70 + i), (v) => v - 0.5));
    // Read last run's state, write this run's into the other array.
    binding.bindInput('state', states[i % 2]).bindOutput('stateN', states[(i + 1) % 2]);
    await binding.run();
    const plain = session.runSync({ input: chunk, state: plainState, sr: tensor('int64', [16000n], []) });
    assert.ok(maxAbsDiff(probability.data, plain.output.data as Float32Array) < 1e-6, `chunk ${i}`);
    assert.ok(maxAbsDiff(states[(i + 1) % 2].data, plain.stateN.data as Float32Array) < 1e-6, `state ${i}`);
    plainState = plain.stateN as typeof plainState;
  }
});

Binding('mistakes get their codes: unbound input, wrong type, binding while running, released', async () => {
  const session = await createSession(reluModel([2]));
  const binding = session.createBinding();
  await rejectsWith(() => binding.bindOutput('y').run(), 'MISSING_INPUT', /'x'/);
  await rejectsWith(() => binding.bindInput('x', tensor('int32', [1, 2], [2]) as never), 'INVALID_DTYPE');
  await rejectsWith(() => binding.bindInput('nope' as never, tensor('float32', [1, 2], [2])), 'INVALID_INPUT_NAME');
  await rejectsWith(() => binding.outputs(), 'INVALID_ARGUMENT', /after a run/);
  binding.bindInput('x', tensor('float32', [1, -2], [2]));
  const running = binding.run();
  await rejectsWith(() => binding.bindInput('x', tensor('float32', [3, 4], [2])), 'INVALID_ARGUMENT', /running/);
  await running;
  assert.equal(Array.from(binding.outputs().y.data as Float32Array), [1, 0]);
  await rejectsWith(() => binding.run({ signal: AbortSignal.abort() }), 'ABORTED');
  // The same run options, checked as a session's run checks them.
  await rejectsWith(() => binding.run({ logSeverityLevel: 'loud' as never }), 'INVALID_OPTION', /verbose, info/);
  await rejectsWith(() => binding.runSync({ tag: 7 as never }), 'INVALID_OPTION', /tag must be a string/);
  await rejectsWith(() => binding.run({ signal: {} as never }), 'INVALID_OPTION', /AbortSignal/);
  binding.release();
  await rejectsWith(() => binding.run(), 'SESSION_RELEASED');
  // A released session still lets a binding made before finish its runs.
  const late = session.createBinding().bindInput('x', tensor('float32', [5, -5], [2])).bindOutput('y');
  session.release();
  await late.run();
  assert.equal(Array.from(late.outputs().y.data as Float32Array), [5, 0]);
});

Binding.run();
