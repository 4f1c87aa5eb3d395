import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { attachSession, createSession, tensor } from '../../lib/index';
import { DET_MODEL, rejectsWith } from '../helpers/common';
import { buildModel, identityModel, reluModel, T } from '../helpers/onnx-model';

const Memory = suite("the caller's memory, as the addon reads and writes it");

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** Graph output 'x' is the graph input 'x' (ONNX allows it), beside y = Relu(x). */
const passThrough = buildModel({
  inputs: [{ name: 'x', type: T.FLOAT, dims: ['n'] }],
  outputs: [
    { name: 'x', type: T.FLOAT, dims: ['n'] },
    { name: 'y', type: T.FLOAT, dims: ['n'] },
  ],
  nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
});

Memory('a graph output that is a graph input comes back as a copy, from run() and from a binding', async () => {
  // ONNX Runtime hands the input's own value back as the output: wrapped as it was, the
  // output was a view of the caller's array that nothing kept alive (dropping the input,
  // collecting garbage and reading the output killed the process, every time).
  const session = await createSession(passThrough);
  const n = 4 << 20; // 16 MiB: mapped memory, unmapped when freed
  let input: Float32Array | undefined = new Float32Array(n).fill(3);
  const viaRun = (await session.run({ x: tensor('float32', input) })).x.data as Float32Array;
  const binding = session.createBinding().bindInput('x', tensor('float32', input)).bindOutput('x');
  await binding.run();
  const viaBinding = binding.outputs().x.data as Float32Array;
  input[0] = 5;
  assert.is(viaRun[0], 3, 'run()\'s output is the input\'s memory');
  assert.is(viaBinding[0], 3, 'the binding\'s output is the input\'s memory');
  binding.clearInputs();
  input = undefined;
  await settle();
  let sum = 0;
  for (let i = 0; i < n; i += 4096) sum += viaRun[i] + viaBinding[i];
  assert.is(sum, 2 * 3 * (n / 4096));
});

Memory('a resizable ArrayBuffer is refused: shrunk while ONNX Runtime reads it, it would fault', async () => {
  const session = await createSession(reluModel());
  const buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(16, { maxByteLength: 64 });
  const x = { type: 'float32', dims: [4], data: new Float32Array(buffer, 0, 4) };
  await rejectsWith(() => tensor('float32', x.data), 'INVALID_TENSOR', /resizable/);
  await rejectsWith(() => session.run({ x }), 'INVALID_TENSOR', /resizable/);
  await rejectsWith(() => session.runSync({ x }), 'INVALID_TENSOR', /resizable/);
  await rejectsWith(() => session.createBinding().bindInput('x', x), 'INVALID_TENSOR', /resizable/);
  const out = { type: 'float32', dims: [4], data: new Float32Array(buffer, 0, 4) } as const;
  await rejectsWith(() => session.run({ x: tensor('float32', [1, 2, 3, 4]) }, { outputs: { y: out } }), 'INVALID_TENSOR', /resizable/);
  // A growable SharedArrayBuffer never shrinks: it is read in place.
  const shared = new (SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer)(16, { maxByteLength: 64 });
  new Float32Array(shared).set([-1, 2, -3, 4]);
  assert.equal(Array.from((await session.run({ x: tensor('float32', new Float32Array(shared, 0, 4)) })).y.data as Float32Array), [0, 2, 0, 4]);
});

Memory('a bound array detached since it was bound is refused at the next run', async () => {
  const session = await createSession(reluModel([4]));
  const x = new Float32Array([-1, 2, -3, 4]);
  const y = new Float32Array(4);
  const binding = session.createBinding().bindInput('x', tensor('float32', x, [4])).bindOutput('y', tensor('float32', y, [4]));
  await binding.run();
  assert.equal(Array.from(y), [0, 2, 0, 4]);
  structuredClone(y.buffer, { transfer: [y.buffer] });
  await rejectsWith(() => binding.run(), 'INVALID_TENSOR', /output 'y'.*transferred or detached/);
  binding.bindOutput('y');
  structuredClone(x.buffer, { transfer: [x.buffer] });
  await rejectsWith(() => binding.runSync(), 'INVALID_TENSOR', /input 'x'.*transferred or detached/);
  // Bound again, it runs.
  binding.bindInput('x', tensor('float32', [5, -6, 7, -8], [4]));
  await binding.run();
  assert.equal(Array.from(binding.outputs().y.data as Float32Array), [5, 0, 7, 0]);
});

Memory('an array whose length lies, or whose data getter answers differently, cannot make ONNX Runtime read past it', async () => {
  const session = await createSession(reluModel(['n']));
  // A TypedArray subclass claiming 25,440 elements over none: once given ONNX Runtime a
  // fresh, uninitialized allocation of that size to read (heap garbage as input).
  class Liar extends Float32Array {
    override get length(): number {
      return 25_440;
    }
  }
  await rejectsWith(() => session.run({ x: { type: 'float32', dims: [25_440], data: new Liar(0) } }), 'INVALID_SHAPE', /hold 25440 elements, but data has 0/);
  // A data getter that gives a checked array first, an empty one after.
  const shifty = (first: Float32Array) => {
    let reads = 0;
    return {
      type: 'float32',
      dims: [first.length],
      get data() {
        return reads++ === 0 ? first : new Float32Array(0);
      },
    };
  };
  const { y } = await session.run({ x: shifty(new Float32Array([-1, 1, -2, 2])) });
  assert.equal(Array.from(y.data as Float32Array), [0, 1, 0, 2]);
  // The same for an output to write into: once silently not written.
  const out = new Float32Array(4);
  const provided = shifty(out);
  await session.run({ x: tensor('float32', [3, -3, 4, -4]) }, { outputs: { y: provided as never } });
  assert.equal(Array.from(out), [3, 0, 4, 0]);
  // dims whose second read differs: the checked ones are used.
  let dimReads = 0;
  const dims = new Proxy([4], { get: (target, key) => (key === '0' && dimReads++ > 0 ? 0 : Reflect.get(target, key)) });
  assert.equal((await session.run({ x: { type: 'float32', dims, data: new Float32Array([1, -1, 1, -1]) } })).y.dims, [4]);
});

Memory('bad values that once escaped as plain TypeErrors or out-of-range casts are OrtErrors', async () => {
  const strings = await createSession(identityModel(T.STRING));
  // eslint-disable-next-line no-sparse-arrays
  const sparse = ['a', , 'c'] as string[];
  await rejectsWith(() => strings.run({ x: { type: 'string', dims: [3], data: sparse } }), 'INVALID_DTYPE', /element 1 is undefined/);
  for (const bad of [Number.NaN, 1e300, -1, 0.5, 0]) {
    await rejectsWith(() => attachSession(bad), 'INVALID_ARGUMENT', /share\(\)/);
  }
});

const Stress = suite("callers letting go of their memory as soon as they are told they may (child processes)");

/**
 * Each a caller that frees (transfers, then collects) its memory right after the package
 * says it may, `rounds` times in one process. Before: an aborted run rejected while ONNX
 * Runtime still read its input; a binding read the address a bound array had had; a
 * model's bytes were read on the pool after createSession() returned. Processes of only
 * 3 rounds died with SIGSEGV 4 times in 4 (abortThenFree, boundThenFreed), 6 in 6
 * (bindingAbortThenFree) and 3 in 4 (modelBytesFreed, about 4 rounds in 10): the rounds
 * below leave the old code next to no chance of passing.
 */
const SCENARIOS: [string, number, string][] = [
  ['abortThenFree', 20, 'ABORTED'],
  ['bindingAbortThenFree', 20, 'ABORTED'],
  ['boundThenFreed', 5, 'INVALID_TENSOR'],
  ['modelBytesFreed', 10, 'loaded'],
];

for (const [scenario, rounds, outcome] of SCENARIOS) {
  Stress(`${scenario}: ${rounds} rounds, no signal, every one ${outcome}`, () => {
    const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, '..', 'fixtures', 'caller-memory.cjs'), scenario, DET_MODEL, String(rounds)], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.is(child.signal, null, `the child died with ${child.signal}: ${child.stderr.slice(0, 300)}`);
    assert.is(child.status, 0, child.stderr.slice(0, 300));
    // An aborted run may also have finished before the abort came: 'finished' is fine.
    const outcomes = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    const { finished = 0, ...rest } = outcomes;
    assert.equal(rest, { [outcome]: rounds - finished });
  });
}

Memory.run();
Stress.run();
