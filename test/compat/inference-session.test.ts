import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as peer from 'onnxruntime-node';
import * as common from 'onnxruntime-common';
import * as ours from '../../lib/index';
import { CLS_MODEL, DET_MODEL, REC_MODEL, VAD_MODEL, gpuProviderFailure, maxAbsDiff, randomFloats } from '../helpers/common';
import { T, buildModel, identityModel, reluModel } from '../helpers/onnx-model';

const Compat = suite("onnxruntime-node's API on this runtime");

const { InferenceSession, Tensor } = ours;
type OrtTensor = common.Tensor;

/** The error a call throws or rejects with, as class name and message; or 'ok'. */
async function outcome(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    const error = e as Error;
    // This package's errors are OrtError, a subclass of Error: compare the base class.
    const kind = error instanceof TypeError ? 'TypeError' : error instanceof RangeError ? 'RangeError' : error instanceof Error ? 'Error' : typeof e;
    return `${kind}: ${error.message}`;
  }
}

/** Asserts that a call fails alike (class and message) on this package and on onnxruntime-node. */
async function failsAlike(what: string, mine: () => unknown, theirs: () => unknown): Promise<void> {
  const [a, b] = [await outcome(mine), await outcome(theirs)];
  assert.not.equal(b, 'ok', `${what}: onnxruntime-node accepts it`);
  assert.is(a, b, what);
}

Compat('the entry exports everything onnxruntime-node does, Tensor and env being onnxruntime-common\'s own', () => {
  const missing = Object.keys(peer).filter((name) => !(name in ours));
  assert.equal(missing, []);
  assert.ok(ours.Tensor === common.Tensor, 'Tensor is onnxruntime-common\'s class');
  assert.ok(ours.env === common.env, 'env is onnxruntime-common\'s');
  assert.ok(ours.registerBackend === common.registerBackend);
  assert.ok(ours.InferenceSession !== (common.InferenceSession as unknown), 'InferenceSession is this runtime\'s');
  // The loaded library's providers: the bundled CPU build has the CPU's; onnxruntime-node's
  // library (ORT_DYLIB_PATH) has CUDA's and TensorRT's compiled in as well.
  const available = ours.availableProviders();
  const expected = [{ name: 'cpu', bundled: true }];
  if (available.includes('CUDAExecutionProvider')) expected.push({ name: 'cuda', bundled: false });
  if (available.includes('TensorrtExecutionProvider')) expected.push({ name: 'tensorrt', bundled: false });
  assert.equal(ours.listSupportedBackends(), expected);
});

Compat('create() takes a path, a Uint8Array, an ArrayBuffer, and an ArrayBuffer with offset and length', async () => {
  const bytes = reluModel([2]);
  // The model in the middle of a larger buffer, garbage around it.
  const padded = new Uint8Array(bytes.length + 96).fill(0xee);
  padded.set(bytes, 64);
  const dir = mkdtempSync(join(tmpdir(), 'compat-'));
  const path = join(dir, 'relu.onnx');
  writeFileSync(path, bytes);
  const x = new Tensor('float32', new Float32Array([-1, 2]), [2]);
  const sessions = [
    await InferenceSession.create(path),
    await InferenceSession.create(bytes),
    await InferenceSession.create(new Uint8Array(bytes).buffer),
    await InferenceSession.create(padded.buffer, 64, bytes.length),
    await InferenceSession.create(padded.buffer, 64, bytes.length, { intraOpNumThreads: 1 }),
    await InferenceSession.create(bytes, { graphOptimizationLevel: 'layout' }),
  ];
  for (const s of sessions) {
    const { y } = await s.run({ x });
    assert.ok(y instanceof common.Tensor, 'an onnxruntime-common Tensor');
    assert.equal(Array.from(y.data as Float32Array), [0, 2]);
    await s.release();
  }
  rmSync(dir, { recursive: true });
});

Compat('create() refuses bad arguments as onnxruntime-common does', async () => {
  const bytes = reluModel([2]);
  const b = new Uint8Array(bytes).buffer;
  const cases: [string, unknown[]][] = [
    ['a number', [42]],
    ['options not an object', [bytes, 'x']],
    ['path and options not an object', ['/x.onnx', 7]],
    ['offset not an integer', [b, 1.5]],
    ['offset out of range', [b, b.byteLength]],
    ['length 0', [b, 0, 0]],
    ['length past the end', [b, 1, b.byteLength]],
    ['length not a number', [b, 0, 'x']],
    ['options after length not an object', [b, 0, 4, 5]],
  ];
  for (const [what, args] of cases) {
    await failsAlike(
      what,
      () => (InferenceSession.create as (...a: unknown[]) => unknown)(...args),
      () => (peer.InferenceSession.create as (...a: unknown[]) => unknown)(...args),
    );
  }
});

Compat('run() in all three call forms: feeds; feeds and fetches; feeds, fetches and options', async () => {
  // Two outputs: y = Relu(x), z = Neg(x).
  const model = buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: [3] }],
    outputs: [
      { name: 'y', type: T.FLOAT, dims: [3] },
      { name: 'z', type: T.FLOAT, dims: [3] },
    ],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['y'] },
      { op: 'Neg', inputs: ['x'], outputs: ['z'] },
    ],
  });
  const s = await InferenceSession.create(model);
  const x = new Tensor('float32', new Float32Array([-1, 0, 2]), [3]);
  const values = (r: Record<string, OrtTensor>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v.data as Float32Array)]));
  assert.equal(values(await s.run({ x })), { y: [0, 0, 2], z: [1, -0, -2] });
  assert.equal(values(await s.run({ x }, { logSeverityLevel: 3, tag: 'options only' })), { y: [0, 0, 2], z: [1, -0, -2] });
  assert.equal(values(await s.run({ x }, ['z'])), { z: [1, -0, -2] });
  assert.equal(values(await s.run({ x }, ['y'], { tag: 'fetches and options' })), { y: [0, 0, 2] });
  assert.equal(values(await s.run({ x }, { y: null })), { y: [0, 0, 2] });
  // A preallocated output is written in place and returned as itself.
  const into = new Tensor('float32', new Float32Array(3), [3]);
  const r = await s.run({ x }, { z: into, y: null }, { logSeverityLevel: 2 });
  assert.ok(r.z === into, 'the preallocated tensor is returned');
  assert.equal(Array.from(into.data as Float32Array), [1, -0, -2]);
  assert.equal(Array.from(r.y.data as Float32Array), [0, 0, 2]);
  // Feeds beyond the model's inputs are ignored, as onnxruntime-node ignores them.
  assert.equal(values(await s.run({ x, extra: x }, ['y'])), { y: [0, 0, 2] });
  // terminate: the run stops before it starts.
  assert.match(await outcome(() => s.run({ x }, { terminate: true })), /abort/i);
  await s.release();
});

Compat('bad feeds, fetches and options fail with onnxruntime-node\'s classes and messages', async () => {
  const bytes = reluModel([2]);
  const mine = await InferenceSession.create(bytes);
  const theirs = await peer.InferenceSession.create(bytes);
  const f32 = (T: typeof Tensor | typeof peer.Tensor, n: number, dims = [n]) => new T('float32', new Float32Array(n), dims);
  const cases: [string, (T: typeof Tensor) => unknown[]][] = [
    ['feeds not an object', () => [7]],
    ['feeds a Tensor', (C) => [f32(C, 2)]],
    ['feeds an array', (C) => [[f32(C, 2)]]],
    ['an input missing', (C) => [{ nope: f32(C, 2) }]],
    ['the wrong element type', (C) => [{ x: new C('int32', new Int32Array(2), [2]) }]],
    ['the wrong rank', (C) => [{ x: f32(C, 2, [1, 2]) }]],
    ['the wrong dimension', (C) => [{ x: f32(C, 3) }]],
    ['fetches null', (C) => [{ x: f32(C, 2) }, null]],
    ['fetches a Tensor', (C) => [{ x: f32(C, 2) }, f32(C, 2)]],
    ['fetches empty', (C) => [{ x: f32(C, 2) }, []]],
    ['fetches an unknown name', (C) => [{ x: f32(C, 2) }, ['nope']]],
    ['fetches not strings', (C) => [{ x: f32(C, 2) }, [1]]],
    ['fetches then options not an object', (C) => [{ x: f32(C, 2) }, ['y'], 5]],
    ['a number for fetches', (C) => [{ x: f32(C, 2) }, 5]],
  ];
  for (const [what, args] of cases) {
    await failsAlike(
      what,
      () => (mine.run as (...a: unknown[]) => unknown).apply(mine, args(Tensor)),
      () => (theirs.run as (...a: unknown[]) => unknown).apply(theirs, args(peer.Tensor as typeof Tensor)),
    );
  }
  await mine.release();
  await failsAlike('a run after release', () => mine.run({ x: f32(Tensor, 2) }), async () => {
    await theirs.release();
    return theirs.run({ x: f32(peer.Tensor as typeof Tensor, 2) });
  });
  assert.is(await outcome(() => mine.release()), 'ok', 'release() twice is allowed here');
});

/** One value per element type, as onnxruntime-common builds it, and the ONNX type. */
const DTYPES: [common.Tensor.Type, number, () => common.Tensor.DataType][] = [
  ['float32', T.FLOAT, () => new Float32Array([1.5, -2, 3])],
  ['float64', T.DOUBLE, () => new Float64Array([1.5, -2, 1e300])],
  ['float16', T.FLOAT16, () => new Uint16Array([0x3c00, 0xc000, 0x7bff])],
  ['int8', T.INT8, () => new Int8Array([-128, 0, 127])],
  ['uint8', T.UINT8, () => new Uint8Array([0, 1, 255])],
  ['int16', T.INT16, () => new Int16Array([-32768, 0, 32767])],
  ['uint16', T.UINT16, () => new Uint16Array([0, 1, 65535])],
  ['int32', T.INT32, () => new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
  ['uint32', T.UINT32, () => new Uint32Array([0, 1, 2 ** 32 - 1])],
  ['int64', T.INT64, () => new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
  ['uint64', T.UINT64, () => new BigUint64Array([0n, 1n, 2n ** 64n - 1n])],
  ['bool', T.BOOL, () => new Uint8Array([1, 0, 1])],
  ['string', T.STRING, () => ['a', 'ünï', ''] as unknown as common.Tensor.DataType],
];

Compat('every element type: results equal onnxruntime-node\'s, as onnxruntime-common Tensors', async () => {
  for (const [type, onnxType, data] of DTYPES) {
    const model = identityModel(onnxType, [3]);
    const mine = await InferenceSession.create(model);
    const theirs = await peer.InferenceSession.create(model);
    assert.equal(mine.inputMetadata, theirs.inputMetadata, `${type} input metadata`);
    assert.equal(mine.outputMetadata, theirs.outputMetadata, `${type} output metadata`);
    const a = (await mine.run({ x: new Tensor(type as 'float32', data() as Float32Array, [3]) })).y;
    const b = (await theirs.run({ x: new peer.Tensor(type as 'float32', data() as Float32Array, [3]) })).y;
    assert.ok(a instanceof common.Tensor, `${type}: instanceof onnxruntime-common's Tensor`);
    assert.is(a.type, b.type, type);
    assert.equal(a.dims, b.dims, `${type} dims`);
    assert.is(a.location, 'cpu');
    assert.is(Object.prototype.toString.call(a.data), Object.prototype.toString.call(b.data), `${type} array class`);
    assert.equal(Array.from(a.data as ArrayLike<unknown>), Array.from(b.data as ArrayLike<unknown>), `${type} values`);
    await mine.release();
    await theirs.release();
  }
});

Compat('tensors of onnxruntime-common\'s ES module copy (another class) are taken by their fields', async () => {
  const esm = (await import(require.resolve('onnxruntime-common').replace('/cjs/', '/esm/'))) as typeof common;
  assert.ok(esm.Tensor !== common.Tensor, 'two classes');
  const s = await InferenceSession.create(reluModel([2]));
  const x = new esm.Tensor('float32', new Float32Array([-3, 4]), [2]);
  const { y } = await s.run({ x });
  assert.equal(Array.from(y.data as Float32Array), [0, 4]);
  // ... and as a preallocated output.
  const into = new esm.Tensor('float32', new Float32Array(2), [2]);
  await s.run({ x }, { y: into });
  assert.equal(Array.from(into.data as Float32Array), [0, 4]);
  await s.release();
});

Compat('metadata equals onnxruntime-node\'s on the real models', async () => {
  for (const model of [DET_MODEL, REC_MODEL, CLS_MODEL, VAD_MODEL]) {
    const mine = await InferenceSession.create(model);
    const theirs = await peer.InferenceSession.create(model);
    assert.equal(mine.inputNames, theirs.inputNames);
    assert.equal(mine.outputNames, theirs.outputNames);
    assert.equal(mine.inputMetadata, theirs.inputMetadata);
    assert.equal(mine.outputMetadata, theirs.outputMetadata);
    await mine.release();
    await theirs.release();
  }
});

/** Same ONNX Runtime build, same options: results agree to float rounding. */
const TOLERANCE = 1e-5;

Compat('results equal onnxruntime-node\'s on PP-OCR det, rec and cls', async () => {
  for (const [model, dims] of [
    [DET_MODEL, [1, 3, 256, 320]],
    [REC_MODEL, [2, 3, 48, 320]],
    [CLS_MODEL, [4, 3, 48, 192]],
  ] as [string, number[]][]) {
    const data = randomFloats(dims.reduce((a, b) => a * b, 1), 21);
    const mine = await InferenceSession.create(model);
    const theirs = await peer.InferenceSession.create(model);
    const a = await mine.run({ x: new Tensor('float32', data, dims) });
    const b = await theirs.run({ x: new peer.Tensor('float32', data, dims) });
    assert.equal(Object.keys(a), Object.keys(b));
    for (const name of Object.keys(b)) {
      assert.equal(a[name].dims, b[name].dims);
      const diff = maxAbsDiff(a[name].data as Float32Array, b[name].data as Float32Array);
      assert.ok(diff <= TOLERANCE, `${model} ${name}: max |difference| ${diff}`);
    }
    await mine.release();
    await theirs.release();
  }
});

Compat('results equal onnxruntime-node\'s on Silero VAD, its state carried from run to run', async () => {
  const mine = await InferenceSession.create(VAD_MODEL);
  const theirs = await peer.InferenceSession.create(VAD_MODEL);
  let a: OrtTensor = new Tensor('float32', new Float32Array(256), [2, 1, 128]);
  let b: OrtTensor = new peer.Tensor('float32', new Float32Array(256), [2, 1, 128]);
  for (let chunk = 0; chunk < 6; chunk++) {
    const audio = Float32Array.from(randomFloats(512, 40 + chunk), (n, i) => 0.5 * Math.sin((2 * Math.PI * 440 * (chunk * 512 + i)) / 16000) + 0.1 * n);
    const sr = (C: typeof Tensor) => new C('int64', new BigInt64Array([16000n]), []);
    const ra = await mine.run({ input: new Tensor('float32', audio, [1, 512]), state: a, sr: sr(Tensor) });
    const rb = await theirs.run({ input: new peer.Tensor('float32', audio, [1, 512]), state: b, sr: sr(peer.Tensor as typeof Tensor) });
    assert.ok(maxAbsDiff(ra.output.data as Float32Array, rb.output.data as Float32Array) <= TOLERANCE, `chunk ${chunk}`);
    [a, b] = [ra.stateN, rb.stateN];
  }
  await mine.release();
  await theirs.release();
});

Compat('session options map onto this runtime\'s, and reach ONNX Runtime', async () => {
  // freeDimensionOverrides fixes n = 2: ONNX Runtime itself then refuses 3 elements.
  const fixed = await InferenceSession.create(reluModel(['n']), { freeDimensionOverrides: { n: 2 } });
  assert.is(await outcome(() => fixed.run({ x: new Tensor('float32', new Float32Array(2), [2]) })), 'ok');
  assert.match(await outcome(() => fixed.run({ x: new Tensor('float32', new Float32Array(3), [3]) })), /dimension|Got: 3/i);
  await fixed.release();
  // enableProfiling with profileFilePrefix: endProfiling() writes the profile there.
  const dir = mkdtempSync(join(tmpdir(), 'compat-profile-'));
  const profiled = await InferenceSession.create(reluModel([2]), {
    enableProfiling: true,
    profileFilePrefix: join(dir, 'trace'),
    executionProviders: ['cpu', { name: 'cpu', useArena: false }],
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    logSeverityLevel: 3,
    logId: 'compat',
    executionMode: 'sequential',
    enableMemPattern: false,
    preferredOutputLocation: 'cpu',
    externalData: [],
  });
  profiled.startProfiling();
  await profiled.run({ x: new Tensor('float32', new Float32Array(2), [2]) });
  profiled.endProfiling();
  const files = readdirSync(dir);
  assert.is(files.length, 1);
  assert.match(files[0], /^trace/);
  assert.ok(JSON.parse(readFileSync(join(dir, files[0]), 'utf8')).length > 0, 'a Chrome trace');
  await profiled.release();
  rmSync(dir, { recursive: true });
});

Compat('options this runtime cannot honour are errors that say so, never dropped', async () => {
  const bytes = reluModel([2]);
  const cases: [unknown, RegExp][] = [
    [{ executionProviders: ['webgpu'] }, /executionProviders\[0\] is unsupported: 'webgpu'/],
    [{ executionProviders: ['cpu', 'dml'] }, /executionProviders\[1\] is unsupported: 'dml'/],
    [{ executionProviders: ['cuda'] }, gpuProviderFailure('cuda').reason],
    [{ executionProviders: [{ name: 'cuda', deviceId: 0, gpuMemLimit: 5 }] }, /'gpuMemLimit' is not supported/],
    [{ executionProviders: [7] }, /must be either a string or an object with property 'name'/],
    [{ executionProviders: 'cpu' }, /executionProviders must be an array/],
    [{ preferredOutputLocation: 'gpu-buffer' }, /preferredOutputLocation is not supported.*'gpu-buffer'/],
    [{ preferredOutputLocation: { y: 'ml-tensor' } }, /preferredOutputLocation is not supported.*'ml-tensor'/],
    [{ enableGraphCapture: true }, /enableGraphCapture is not supported/],
    [{ externalData: [{ path: 'w.bin', data: new Uint8Array(4) }] }, /externalData is not supported/],
    [{ logVerbosityLevel: 2 }, /logVerbosityLevel is not supported/],
    [{ logSeverityLevel: 5 }, /logSeverityLevel must be one of the following: 0, 1, 2, 3, 4/],
    [{ extra: { session: { a: 1 } } }, /extra value must be a string/],
    [{ enableProfiling: 'yes' }, /enableProfiling must be a boolean/],
    [{ intraOpNumThreads: 1.5 }, /intraOpNumThreads/],
    [{ graphOptimizationLevel: 'most' }, /graphOptimizationLevel/],
    [{ executionProvider: ['cpu'] }, /unknown session option "executionProvider"; valid ones are: executionProviders, /],
  ];
  for (const [options, message] of cases) {
    const result = await outcome(() => InferenceSession.create(bytes, options as common.InferenceSession.SessionOptions));
    assert.match(result, message, JSON.stringify(options));
  }
  const s = await InferenceSession.create(bytes);
  const x = new Tensor('float32', new Float32Array(2), [2]);
  assert.match(await outcome(() => s.run({ x }, { logVerbosityLevel: 1 })), /logVerbosityLevel is not supported/);
  assert.match(await outcome(() => s.run({ x }, { extra: { memory: { enable_memory_arena_shrinkage: 5 } } })), /extra value must be a string/);
  assert.match(await outcome(() => s.run({ x }, { y: null }, { terminated: true } as never)), /unknown run option "terminated"; valid ones are: logSeverityLevel, /);
  const gpu = await outcome(() => s.run({ x: { type: 'float32', dims: [2], location: 'gpu-buffer', data: undefined } as never }));
  assert.match(gpu, /is on 'gpu-buffer'.*CPU memory/);
  await s.release();
});

Compat('register: sets globalThis[Symbol.for(\'onnxruntime\')] to this API, keeping one already there', () => {
  const key = Symbol.for('onnxruntime');
  const slot = globalThis as { [key]?: unknown };
  const before = slot[key];
  delete slot[key];
  try {
    const registerPath = require.resolve('../../lib/compat/register');
    delete require.cache[registerPath];
    require(registerPath);
    const api = slot[key] as typeof ours;
    assert.ok(api.InferenceSession === ours.InferenceSession && api.Tensor === common.Tensor && api.env === common.env);
    const mine = { InferenceSession: 'theirs' };
    slot[key] = mine;
    delete require.cache[registerPath];
    require(registerPath);
    assert.ok(slot[key] === mine, 'an embedder\'s runtime is kept');
  } finally {
    if (before === undefined) delete slot[key];
    else slot[key] = before;
  }
});

Compat.run();
