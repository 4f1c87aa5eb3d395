import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, loadRuntime, tensor } from '../../lib/index';
import { CLS_MODEL, compileTooOldRuntime, rejectsWith, root } from '../helpers/common';
import { buildModel, identityModel, reluModel, T } from '../helpers/onnx-model';

const BadInput = suite('bad input gets its error code');

/** z = x + y over [2, 'n'] float32 and an int64 scalar side input. */
function twoInputModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'x', type: T.FLOAT, dims: [2, 'n'] },
      { name: 'y', type: T.FLOAT, dims: [2, 'n'] },
    ],
    outputs: [
      { name: 'sum', type: T.FLOAT, dims: [2, 'n'] },
      { name: 'product', type: T.FLOAT, dims: [2, 'n'] },
    ],
    nodes: [
      { op: 'Add', inputs: ['x', 'y'], outputs: ['sum'] },
      { op: 'Mul', inputs: ['x', 'y'], outputs: ['product'] },
    ],
  });
}

const x = tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
const y = tensor('float32', new Float32Array([6, 5, 4, 3, 2, 1]), [2, 3]);

BadInput('a wrong input name is INVALID_INPUT_NAME, naming the valid ones', async () => {
  const session = await createSession(twoInputModel());
  await rejectsWith(() => session.run({ x, y, z: x }), 'INVALID_INPUT_NAME', /no input 'z'.*x, y/);
  await rejectsWith(() => session.runSync({ x, yy: y }), 'INVALID_INPUT_NAME', /'yy'/);
});

BadInput('a missing input is MISSING_INPUT', async () => {
  const session = await createSession(twoInputModel());
  await rejectsWith(() => session.run({ x }), 'MISSING_INPUT', /'y'/);
  await rejectsWith(() => session.run({}), 'MISSING_INPUT', /'x', 'y'/);
});

BadInput('a wrong element type or array class is INVALID_DTYPE', async () => {
  const session = await createSession(twoInputModel());
  const asInt = tensor('int32', new Int32Array(6), [2, 3]);
  await rejectsWith(() => session.run({ x, y: asInt }), 'INVALID_DTYPE', /input 'y' expects a float32 tensor, got int32/);
  const wrongArray = { type: 'float32', dims: [2, 3], data: new Float64Array(6) };
  await rejectsWith(() => session.run({ x, y: wrongArray }), 'INVALID_DTYPE', /Float32Array, got Float64Array/);
  await rejectsWith(() => session.run({ x, y: { type: 'float', dims: [2, 3], data: y.data } }), 'INVALID_DTYPE', /unknown element type "float"/);
  await rejectsWith(() => session.run({ x, y: { type: 'float32', dims: [6], data: [1, 2, 3, 4, 5, 6] } }), 'INVALID_DTYPE', /got Array/);
});

BadInput('a shape that does not fit is INVALID_SHAPE', async () => {
  const session = await createSession(twoInputModel());
  const rank1 = tensor('float32', new Float32Array(6), [6]);
  await rejectsWith(() => session.run({ x, y: rank1 }), 'INVALID_SHAPE', /expects shape \[2, n\], got \[6\]/);
  const fixedDimWrong = tensor('float32', new Float32Array(6), [3, 2]);
  await rejectsWith(() => session.run({ x, y: fixedDimWrong }), 'INVALID_SHAPE', /\[2, n\], got \[3, 2\]/);
  await rejectsWith(() => session.run({ x, y: { type: 'float32', dims: [2, 4], data: new Float32Array(6) } }), 'INVALID_SHAPE', /hold 8 elements, but data has 6/);
  await rejectsWith(() => session.run({ x, y: { type: 'float32', dims: [2, -3], data: new Float32Array(6) } }), 'INVALID_SHAPE', /non-negative/);
  await rejectsWith(() => session.run({ x, y: { type: 'float32', dims: [2, 1.5], data: new Float32Array(3) } }), 'INVALID_SHAPE');
});

BadInput('something that is not a tensor is INVALID_TENSOR', async () => {
  const session = await createSession(twoInputModel());
  await rejectsWith(() => session.run({ x, y: 42 as never }), 'INVALID_TENSOR', /got number/);
  await rejectsWith(() => session.run({ x, y: null as never }), 'INVALID_TENSOR');
  await rejectsWith(() => session.run(null as never), 'INVALID_TENSOR');
  const strings = await createSession(identityModel(T.STRING));
  await rejectsWith(() => strings.run({ x: tensor('string', ['a\u0000b']) }), 'INVALID_TENSOR', /U\+0000/);
});

BadInput('wrong output names are INVALID_OUTPUT_NAME; bad run options INVALID_OPTION', async () => {
  const session = await createSession(twoInputModel());
  await rejectsWith(() => session.run({ x, y }, { outputNames: ['total'] }), 'INVALID_OUTPUT_NAME', /no output 'total'.*sum, product/);
  const out = tensor('float32', new Float32Array(6), [2, 3]);
  await rejectsWith(() => session.run({ x, y }, { outputs: { total: out } as never }), 'INVALID_OUTPUT_NAME');
  await rejectsWith(() => session.run({ x, y }, { outputName: ['sum'] } as never), 'INVALID_OPTION', /unknown run option 'outputName'/);
  await rejectsWith(() => session.run({ x, y }, { outputNames: ['sum'], outputs: { product: out } } as never), 'INVALID_OPTION');
  await rejectsWith(() => session.run({ x, y }, { logSeverityLevel: 'loud' as never }), 'INVALID_OPTION', /verbose, info/);
  await rejectsWith(() => session.run({ x, y }, { tag: 7 as never }), 'INVALID_OPTION', /tag must be a string/);
  await rejectsWith(() => session.run({ x, y }, { signal: {} as never }), 'INVALID_OPTION', /AbortSignal/);
  const wrongShape = tensor('float32', new Float32Array(6), [3, 2]);
  await rejectsWith(() => session.run({ x, y }, { outputs: { sum: wrongShape } }), 'INVALID_SHAPE');
});

BadInput('a released session rejects with SESSION_RELEASED', async () => {
  const session = await createSession(twoInputModel());
  session.release();
  session.release(); // twice is fine
  assert.ok(session.released);
  await rejectsWith(() => session.run({ x, y }), 'SESSION_RELEASED');
  await rejectsWith(() => session.runSync({ x, y }), 'SESSION_RELEASED');
  await rejectsWith(() => session.endProfiling(), 'SESSION_RELEASED');
});

BadInput('an error inside ONNX Runtime keeps its status code, and the session survives', async () => {
  // Reshape to a shape that cannot hold the data: only detectable while running.
  const session = await createSession(
    buildModel({
      inputs: [{ name: 'x', type: T.FLOAT, dims: ['n'] }, { name: 'shape', type: T.INT64, dims: [2] }],
      outputs: [{ name: 'y', type: T.FLOAT, dims: ['a', 'b'] }],
      nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
    }),
  );
  const data = tensor('float32', new Float32Array(6), [6]);
  const err = await rejectsWith(() => session.run({ x: data, shape: tensor('int64', [4, 4]) }), 'FAIL', /cannot be reshaped/);
  assert.is(err.ortCode, undefined);
  await rejectsWith(() => session.runSync({ x: data, shape: tensor('int64', [4, 4]) }), 'FAIL');
  const ok = await session.run({ x: data, shape: tensor('int64', [2, 3]) });
  assert.equal(ok.y.dims, [2, 3]);
});

const BadModel = suite('bad models reject cleanly');
const Runtime = suite('loading ONNX Runtime');

BadModel('a missing file is MODEL_NOT_FOUND', async () => {
  await rejectsWith(() => createSession('/no/such/model.onnx'), 'MODEL_NOT_FOUND', /\/no\/such\/model.onnx/);
});

BadModel('corrupt and truncated model files are MODEL_LOAD_FAILED, with ONNX Runtime\'s code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const corrupt = join(dir, 'corrupt.onnx');
  writeFileSync(corrupt, Buffer.from('this is not a protobuf at all, just text'.repeat(10)));
  const err = await rejectsWith(() => createSession(corrupt), 'MODEL_LOAD_FAILED', /corrupt.onnx/);
  assert.ok(err.ortCode, 'ortCode is set');

  const whole = readFileSync(CLS_MODEL);
  const truncated = join(dir, 'truncated.onnx');
  writeFileSync(truncated, whole.subarray(0, whole.length >> 1));
  await rejectsWith(() => createSession(truncated), 'MODEL_LOAD_FAILED');
  await rejectsWith(() => createSession(whole.subarray(0, 1000)), 'MODEL_LOAD_FAILED', /1000-byte buffer/);
  await rejectsWith(() => createSession(new Uint8Array(0)), 'MODEL_LOAD_FAILED', /empty/);
  await rejectsWith(() => createSession(42 as never), 'INVALID_ARGUMENT');

  // A model whose graph is invalid (an output nobody produces).
  const dangling = buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: [1] }],
    outputs: [{ name: 'nowhere', type: T.FLOAT, dims: [1] }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
  });
  await rejectsWith(() => createSession(dangling), 'MODEL_LOAD_FAILED');
  // An operator that does not exist.
  const unknownOp = buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: [1] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: [1] }],
    nodes: [{ op: 'NoSuchOperator', inputs: ['x'], outputs: ['y'] }],
  });
  await rejectsWith(() => createSession(unknownOp), 'MODEL_LOAD_FAILED', /NoSuchOperator/);

  // The process is still fine: a good model loads and runs.
  const session = await createSession(reluModel());
  const { y } = await session.run({ x: tensor('float32', [-1, 2]) });
  assert.equal(Array.from(y.data as Float32Array), [0, 2]);
});

BadModel('bad session options are INVALID_OPTION, naming the valid ones', async () => {
  await rejectsWith(() => createSession(reluModel(), { intraOpThreads: 2 } as never), 'INVALID_OPTION', /"intraOpThreads".*intraOpNumThreads/);
  await rejectsWith(() => createSession(reluModel(), { graphOptimizationLevel: 'max' as never }), 'INVALID_OPTION', /'all'/);
  await rejectsWith(() => createSession(reluModel(), { intraOpNumThreads: -1 }), 'INVALID_OPTION');
  await rejectsWith(() => createSession(reluModel(), { executionProviders: ['cpux' as never] }), 'INVALID_OPTION', /cpu, cuda, tensorrt/);
  await rejectsWith(() => createSession(reluModel(), { executionProviders: [{ name: 'cpu', arena: true } as never] }), 'INVALID_OPTION', /useArena/);
  await rejectsWith(() => createSession(reluModel(), { freeDimensionOverrides: { n: -2 } }), 'INVALID_OPTION');
});

Runtime('a missing runtime library is RUNTIME_LOAD_FAILED, naming the path', () => {
  const err = (() => {
    try {
      loadRuntime('/no/such/libonnxruntime.so');
    } catch (e) {
      return e as { code: string; message: string };
    }
  })();
  assert.is(err?.code, 'RUNTIME_LOAD_FAILED');
  assert.match(err!.message, /\/no\/such\/libonnxruntime.so/);
});

/**
 * createSession() in a fresh process (one process loads one ONNX Runtime) with
 * ORT_DYLIB_PATH set to `library`: the error it rejects with.
 */
function createSessionWithRuntime(library: string): { code: string; message: string } {
  const script = `
    const { createSession } = require(${JSON.stringify(join(root, 'lib', 'index.ts'))});
    createSession(new Uint8Array([1])).catch((e) => { console.log(JSON.stringify({ code: e.code, message: e.message })); });
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    env: { ...process.env, ORT_DYLIB_PATH: library },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { code: string; message: string };
}

Runtime('a file that is not ONNX Runtime fails with the path and the fix, in a fresh process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const fake = join(dir, 'libonnxruntime.so');
  writeFileSync(fake, 'not a shared library');
  const result = createSessionWithRuntime(fake);
  assert.is(result.code, 'RUNTIME_LOAD_FAILED');
  assert.ok(result.message.includes(fake), result.message);
  assert.match(result.message, /ORT_DYLIB_PATH/);
});

Runtime('an ONNX Runtime older than 1.21 is RUNTIME_TOO_OLD, naming the path and the version', () => {
  // A stand-in library whose OrtGetApiBase serves no API version above 20, as ONNX
  // Runtime 1.20 and older do.
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-'));
  const library = join(dir, 'libonnxruntime.so.1.16.3');
  compileTooOldRuntime(library);
  const result = createSessionWithRuntime(library);
  assert.is(result.code, 'RUNTIME_TOO_OLD');
  assert.ok(result.message.includes(library), result.message);
  assert.match(result.message, /1\.16\.3/);
  assert.match(result.message, /1\.21 or newer/);
});

Runtime('loading the same library again is a no-op; a different one is RUNTIME_CONFLICT', () => {
  const info = loadRuntime();
  assert.equal(loadRuntime(info.path), info);
  assert.match(info.version, /^1\.\d+\.\d+/);
  let code: string | undefined;
  try {
    loadRuntime(join(root, 'package.json'));
  } catch (e) {
    code = (e as { code: string }).code;
  }
  assert.is(code, 'RUNTIME_CONFLICT');
});

BadInput.run();
BadModel.run();
Runtime.run();
