import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableProviders, createSession, tensor } from '../lib/index';
import { CLS_MODEL, gpuProviderFailure, randomFloats, rejectsWith } from './helpers/common';
import { buildModel, reluModel, T } from './helpers/onnx-model';

const Options = suite('session options reach ONNX Runtime');

const clsInput = () => ({ x: tensor('float32', randomFloats(2 * 3 * 48 * 192, 9), [2, 3, 48, 192]) });

Options('optimizedModelFilePath writes the fused graph, which loads and gives the same results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const optimized = join(dir, 'cls.optimized.onnx');
  const session = await createSession(CLS_MODEL, { optimizedModelFilePath: optimized, graphOptimizationLevel: 'extended' });
  assert.ok(existsSync(optimized), 'the optimized model was written');
  const again = await createSession(optimized, { graphOptimizationLevel: 'disabled' });
  const feeds = clsInput();
  const a = (await session.run(feeds))['softmax_0.tmp_0'].data as Float32Array;
  const b = (await again.run(feeds))['softmax_0.tmp_0'].data as Float32Array;
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-5));
});

Options('profiling writes a Chrome trace that endProfiling() names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const session = await createSession(reluModel(), { profiling: join(dir, 'profile') });
  await session.run({ x: tensor('float32', [1, -2, 3]) });
  const file = session.endProfiling();
  assert.ok(file.startsWith(join(dir, 'profile')), file);
  const events = JSON.parse(readFileSync(file, 'utf8')) as { name: string }[];
  assert.ok(events.some((e) => /Relu/.test(e.name)), 'the trace has the Relu node');
});

Options('freeDimensionOverrides fixes a symbolic dimension', async () => {
  const session = await createSession(reluModel(['n']), { freeDimensionOverrides: { n: 4 } });
  assert.equal(session.inputs[0].dims, [4]);
  const ok = await session.run({ x: tensor('float32', [1, -2, 3, -4]) });
  assert.equal(ok.y.dims, [4]);
  await rejectsWith(() => session.run({ x: tensor('float32', [1, 2, 3]) }), 'INVALID_SHAPE', /expects shape \[4\], got \[3\]/);
});

Options('threads, execution mode, arena, memory pattern, log settings and config entries are accepted', async () => {
  const session = await createSession(CLS_MODEL, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'parallel',
    enableCpuMemArena: false,
    enableMemPattern: false,
    logSeverityLevel: 'error',
    logId: 'cls',
    configEntries: { 'session.disable_prepacking': '1' },
    executionProviders: [{ name: 'cpu', useArena: false }],
  });
  const { 'softmax_0.tmp_0': probs } = await session.run(clsInput(), {
    logSeverityLevel: 'error',
    tag: 'test',
    configEntries: { disable_synchronize_execution_providers: '1' },
  });
  assert.equal(probs.dims, [2, 2]);
  // Run config entries reach ONNX Runtime: shrinking an arena that was switched off fails.
  const err = await rejectsWith(() => session.run(clsInput(), { configEntries: { 'memory.enable_memory_arena_shrinkage': 'cpu:0' } }), 'INVALID_ARGUMENT');
  assert.match(err.message, /arena/);
});

Options('availableProviders() lists the CPU provider; CUDA, which cannot run here, fails', async () => {
  const providers = availableProviders();
  assert.ok(providers.includes('CPUExecutionProvider'), providers.join());
  const { code, reason } = gpuProviderFailure('cuda');
  await rejectsWith(() => createSession(reluModel(), { executionProviders: ['cuda', 'cpu'] }), code, reason);
});

const Metadata = suite('metadata and outputs');

Metadata('inputs, outputs and model metadata are reported, symbolic dims by name', async () => {
  const model = buildModel({
    inputs: [{ name: 'tokens', type: T.INT64, dims: ['batch', 'sequence'] }],
    outputs: [{ name: 'doubled', type: T.INT64, dims: ['batch', 'sequence'] }],
    nodes: [{ op: 'Add', inputs: ['tokens', 'tokens'], outputs: ['doubled'] }],
    graphName: 'doubler',
    producerName: 'unit-test',
    docString: 'doubles tokens',
    metadata: { license: 'MIT', 'labels.json': '["a","b"]' },
  });
  const session = await createSession(model);
  assert.equal(session.inputs, [{ name: 'tokens', kind: 'tensor', type: 'int64', dims: ['batch', 'sequence'] }]);
  assert.equal(session.outputNames, ['doubled']);
  assert.is(session.metadata.graphName, 'doubler');
  assert.is(session.metadata.producerName, 'unit-test');
  assert.is(session.metadata.description, 'doubles tokens');
  assert.equal(session.metadata.custom, { license: 'MIT', 'labels.json': '["a","b"]' });
  assert.is(session.metadata.version, undefined);
});

Metadata('outputNames computes only the named outputs, each under its own name', async () => {
  // Three outputs of different shapes and values: a mislabelled output would show.
  const model = buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: [3] }],
    outputs: [
      { name: 'relu', type: T.FLOAT, dims: [3] },
      { name: 'neg', type: T.FLOAT, dims: [3] },
      { name: 'sum', type: T.FLOAT, dims: [] },
    ],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['relu'] },
      { op: 'Neg', inputs: ['x'], outputs: ['neg'] },
      { op: 'ReduceSum', inputs: ['x'], outputs: ['sum'], attributes: { keepdims: 0 } },
    ],
  });
  const session = await createSession(model);
  const x = tensor('float32', [1, -2, 3]);
  const all = await session.run({ x });
  assert.equal(Object.keys(all), ['relu', 'neg', 'sum']);
  const some = await session.run({ x }, { outputNames: ['sum', 'relu'] });
  assert.equal(Object.keys(some).sort(), ['relu', 'sum']);
  assert.equal(Array.from(some.sum.data as Float32Array), [2]);
  assert.equal(some.sum.dims, []);
  assert.equal(Array.from(some.relu.data as Float32Array), [1, 0, 3]);
  const one = session.runSync({ x }, { outputNames: ['neg'] });
  assert.equal(Array.from(one.neg.data as Float32Array), [-1, 2, -3]);
});

Metadata('outputs of every size come back right: inline, copied and zero-copy', async () => {
  // 8 bytes travel in the run header; 4 KiB and 1 MiB are wrapped in place by run() and
  // copied by runSync().
  for (const n of [2, 1024, 262144]) {
    const session = await createSession(reluModel([n]));
    const input = Float32Array.from(randomFloats(n, n), (v) => v - 0.5);
    const expected = input.map((v) => Math.max(0, v));
    const viaRun = (await session.run({ x: tensor('float32', input, [n]) })).y.data as Float32Array;
    const viaSync = session.runSync({ x: tensor('float32', input, [n]) }).y.data as Float32Array;
    assert.equal(viaRun.length, n);
    assert.ok(viaRun.every((v, i) => v === expected[i]), `run, ${n} elements`);
    assert.ok(viaSync.every((v, i) => v === expected[i]), `runSync, ${n} elements`);
    // Each result owns its data: a later run does not change an earlier result.
    assert.ok(viaRun !== viaSync && viaRun.buffer !== viaSync.buffer);
  }
});

Options.run();
Metadata.run();
