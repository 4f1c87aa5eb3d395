import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { availableProviders, createSession, tensor, type Session, type SessionOptions } from '../../lib/index';
import { CLS_MODEL, gpuProviderFailure, randomFloats, rejectsWith } from '../helpers/common';
import { buildModel, reluModel, T } from '../helpers/onnx-model';

const Options = suite('session options reach ONNX Runtime');

const clsInput = () => ({ x: tensor('float32', randomFloats(2 * 3 * 48 * 192, 9), [2, 3, 48, 192]) });

/** How many nodes of each op type (`domain:op`, or `op` in ONNX's own domain) a saved model has. */
function opCounts(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of onnx.ModelProto.decode(readFileSync(file)).graph?.node ?? []) {
    const op = node.domain ? `${node.domain}:${node.opType}` : node.opType!;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return counts;
}

const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

/** Loads PP-OCR cls with `options`, saving the graph ONNX Runtime made of it as `dir/name`; returns that path. */
async function savedGraph(dir: string, name: string, options: SessionOptions): Promise<string> {
  const file = join(dir, name);
  const session = await createSession(CLS_MODEL, { optimizedModelFilePath: file, logSeverityLevel: 'error', ...options });
  session.release();
  return file;
}

Options('optimizedModelFilePath writes the fused graph, which loads and gives the same results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const optimized = join(dir, 'cls.optimized.onnx');
  const session = await createSession(CLS_MODEL, { optimizedModelFilePath: optimized, graphOptimizationLevel: 'extended' });
  assert.ok(existsSync(optimized), 'the optimized model was written');
  // PP-OCR cls has 471 nodes (250 of them Constant); fused, far fewer are left.
  const [saved, input] = [total(opCounts(optimized)), total(opCounts(CLS_MODEL))];
  assert.ok(saved < input, `${saved} nodes saved, ${input} in the model`);
  const again = await createSession(optimized, { graphOptimizationLevel: 'disabled' });
  const feeds = clsInput();
  const a = (await session.run(feeds))['softmax_0.tmp_0'].data as Float32Array;
  const b = (await again.run(feeds))['softmax_0.tmp_0'].data as Float32Array;
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-5));
});

Options('graphOptimizationLevel reaches ONNX Runtime: each level fuses what it fuses, and disabled fuses nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const disabled = opCounts(await savedGraph(dir, 'disabled.onnx', { graphOptimizationLevel: 'disabled' }));
  const basic = opCounts(await savedGraph(dir, 'basic.onnx', { graphOptimizationLevel: 'basic' }));
  const extended = opCounts(await savedGraph(dir, 'extended.onnx', { graphOptimizationLevel: 'extended' }));
  // Even 'disabled' turns Constant nodes into initializers (221 nodes of 471 left), but
  // fuses nothing: the 35 BatchNormalizations stay.
  assert.is(disabled.get('Constant'), undefined);
  assert.is(disabled.get('BatchNormalization'), 35, `disabled: ${JSON.stringify([...disabled])}`);
  // 'basic' folds BatchNormalization into the Convs before it (179 nodes) ...
  assert.is(basic.get('BatchNormalization'), undefined, `basic: ${JSON.stringify([...basic])}`);
  assert.ok(total(basic) < total(disabled), `basic ${total(basic)} nodes, disabled ${total(disabled)}`);
  assert.is(basic.get('com.microsoft:FusedConv'), undefined);
  // ... and 'extended' also fuses Conv + Relu into com.microsoft's FusedConv (155 nodes).
  assert.ok((extended.get('com.microsoft:FusedConv') ?? 0) > 0, `extended: ${JSON.stringify([...extended])}`);
  assert.ok(total(extended) < total(basic), `extended ${total(extended)} nodes, basic ${total(basic)}`);
});

// ONNX Runtime's intra-op pool has n - 1 threads of its own (the calling thread is the
// n-th), started when the session is made; Linux lists each thread of the process in
// /proc/self/task. Counted as threads that were not there before, so that threads of
// earlier tests ending meanwhile (sessions released, workers closed) do not count.
const threadIds = (): Set<string> => new Set(readdirSync('/proc/self/task'));
(existsSync('/proc/self/task') ? Options : Options.skip)('intraOpNumThreads sets how many threads a session starts', async () => {
  // Warm up first: the addon's run pool (4 threads by default) and libuv's thread pool
  // start on first use, and must not be counted as the sessions'.
  const warm = await createSession(reluModel());
  await warm.run({ x: tensor('float32', [1, -1]) });
  const sessions: Session[] = [warm]; // all kept alive while counting: a released session's threads end
  const started = async (intraOpNumThreads: number): Promise<number> => {
    const before = threadIds();
    sessions.push(await createSession(reluModel(), { intraOpNumThreads }));
    return [...threadIds()].filter((id) => !before.has(id)).length;
  };
  assert.is(await started(1), 0, 'intraOpNumThreads 1: no thread of its own');
  assert.is(await started(4), 3, 'intraOpNumThreads 4: three threads');
  assert.is(await started(2), 1, 'intraOpNumThreads 2: one thread');
  for (const session of sessions) session.release();
});

Options('configEntries change what ONNX Runtime does: the saved format, the optimizers it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  // The name has no .ort extension, from which ONNX Runtime would pick the ORT format by
  // itself: only the entry can make it write an ORT flatbuffer (file identifier "ORTM" at
  // bytes 4..8) rather than an ONNX protobuf.
  const ort = readFileSync(await savedGraph(dir, 'cls.optimized', { graphOptimizationLevel: 'extended', configEntries: { 'session.save_model_format': 'ORT' } }));
  assert.is(Buffer.from(ort.subarray(4, 8)).toString('latin1'), 'ORTM', 'session.save_model_format=ORT writes an ORT-format model');
  const plain = readFileSync(await savedGraph(dir, 'cls.optimized.plain', { graphOptimizationLevel: 'extended' }));
  assert.is.not(Buffer.from(plain.subarray(4, 8)).toString('latin1'), 'ORTM');
  assert.ok((onnx.ModelProto.decode(plain).graph?.node?.length ?? 0) > 0, 'without the entry, an ONNX model');
  // Switching off one optimizer by name leaves the BatchNormalizations it would have fused.
  const unfused = opCounts(await savedGraph(dir, 'unfused.onnx', {
    graphOptimizationLevel: 'extended',
    configEntries: { 'optimization.disable_specified_optimizers': 'ConvBNFusion' },
  }));
  assert.is(unfused.get('BatchNormalization'), 35, `ConvBNFusion disabled: ${JSON.stringify([...unfused])}`);
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
