/**
 * `checkModel` and `onnx-native check`: real models (PP-OCR's classifier batches, Silero
 * VAD does not, and has subgraphs), and built ones that ONNX Runtime refuses for each
 * reason a converted model is refused: a custom operator, an operator newer than the
 * opset, an opset or IR version newer than the runtime, a truncated file, external data
 * that is missing or short. The command is run in this process (check(args)) and, for
 * exit codes and streams, as a process of its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { check, formatCheck } from '../../lib/cli/check';
import { checkModel, cleanOrtMessage, explainLoadFailure, publishedLimits, type ModelCheck } from '../../lib/optimize/model-check';
import { OptimizeError, decodeModel, encodeModel, onnx, onnxOpset } from '../../lib/optimize/onnx-graph';
import { CLS_MODEL, VAD_MODEL, root } from '../helpers/common';
import { T, buildModel, reluModel } from '../helpers/onnx-model';

const Check = suite('onnx-native check');

let dir = '';

Check.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'onnx-native-check-'));
});

Check.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** check(args) in this process, its stdout and stderr captured. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    const code = await check(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The command as a process of its own (cli.ts does not route to it yet). */
function spawnCheck(...args: string[]) {
  const script = "require('./lib/cli/check').check(process.argv.slice(1)).then((code) => { process.exitCode = code; })";
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', script, ...args], { cwd: root, encoding: 'utf8' });
}

/** y = op(x) on float32 [n], in `domain` (imported at version 1 when not ONNX's). */
function oneOp(op: string, domain = '', opset = 17, type: number = T.FLOAT): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type, dims: ['n'] }],
    outputs: [{ name: 'y', type, dims: ['n'] }],
    nodes: [{ op, domain, inputs: op === 'Add' ? ['x', 'x'] : ['x'], outputs: ['y'] }],
    opset,
    ...(domain ? { domains: { [domain]: 1 } } : {}),
  });
}

/** y = x + w, w a float32 [4] initializer stored in `file` beside the model. */
function externalModel(file: string): Uint8Array {
  const model = decodeModel(
    buildModel({
      inputs: [{ name: 'x', type: T.FLOAT, dims: [4] }],
      outputs: [{ name: 'y', type: T.FLOAT, dims: [4] }],
      nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
      initializers: [{ name: 'w', dims: [4], floats: [1, 2, 3, 4] }],
    }),
  );
  const w = model.graph!.initializer![0];
  w.floatData = [];
  w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  w.externalData = [
    { key: 'location', value: file },
    { key: 'offset', value: '0' },
    { key: 'length', value: '16' },
  ];
  return encodeModel(model);
}

const errors = (r: ModelCheck) => r.problems.filter((p) => p.severity === 'error').map((p) => p.message);

Check('PP-OCR cls: IR version and opsets as in the file, every node counted, dynamic batch: batching usable', async () => {
  const proto = decodeModel(readFileSync(CLS_MODEL));
  const r = await checkModel(CLS_MODEL);
  assert.ok(r.ok, errors(r).join('\n'));
  assert.is(r.irVersion.model, Number(proto.irVersion));
  assert.is(r.irVersion.ok, true);
  assert.equal(r.opsets.map((o) => [o.domain, o.version]), [['ai.onnx', onnxOpset(proto)]]);
  assert.is(r.opsets[0].ok, true);
  assert.is(r.nodes, proto.graph!.node!.length);
  assert.is(r.operators.reduce((a, o) => a + o.count, 0), r.nodes);
  const conv = r.operators.find((o) => o.opType === 'Conv');
  assert.is(conv?.count, proto.graph!.node!.filter((n) => n.opType === 'Conv').length);
  // paddle2onnx names its dynamic dimensions; the image's height and width are dynamic too.
  const dim = (i: number) => `p2o.DynamicDimension.${i}`;
  assert.equal(r.inputs.map((v) => [v.name, v.type, v.dims]), [['x', 'float32', [dim(0), 3, dim(1), dim(2)]]]);
  assert.equal(r.outputs.map((v) => [v.name, v.type, v.dims]), [['softmax_0.tmp_0', 'float32', [dim(3), 2]]]);
  assert.equal(
    r.dynamicDimensions.map((d) => `${d.role} ${d.value}[${d.axis}] ${d.name}`),
    ['input x[0] p2o.DynamicDimension.0', 'input x[2] p2o.DynamicDimension.1', 'input x[3] p2o.DynamicDimension.2', 'output softmax_0.tmp_0[0] p2o.DynamicDimension.3'],
  );
  assert.is(r.batching.usable, true);
  assert.is(r.load.ok, true);
  assert.is(r.load.graphOptimizationLevel, 'disabled');
  assert.equal(r.externalData, []);
  // The runtime's own limits, at least those of the newest version in the published table.
  assert.is(r.runtime.source, 'runtime');
  const table = publishedLimits('1.20.0')!;
  for (const k of ['irVersion', 'onnxOpset', 'mlOpset'] as const) assert.ok((r.runtime[k] as number) >= (table[k] as number), `${k}: ${r.runtime[k]}`);

  const printed = await run(CLS_MODEL);
  assert.is(printed.code, 0, printed.stderr);
  assert.is(printed.stderr, '');
  assert.match(printed.stdout, `ir version: ${Number(proto.irVersion)} (ok)`);
  assert.match(printed.stdout, new RegExp(`\\n  ai\\.onnx:  ${onnxOpset(proto)}  ok \\(<= ${r.runtime.onnxOpset}\\)\\n`));
  assert.match(printed.stdout, `inputs:\n  x: float32 [${dim(0)}, 3, ${dim(1)}, ${dim(2)}]\n`);
  assert.match(printed.stdout, 'batching: usable');
  assert.match(printed.stdout, /\nresult: ok\n$/);
  const json = await run('--json', CLS_MODEL);
  assert.is(json.code, 0);
  const parsed = JSON.parse(json.stdout) as ModelCheck;
  assert.is(parsed.ok, true);
  assert.equal(parsed.inputs, r.inputs);
});

Check('Silero VAD: no batch dimension (batching not usable, saying why); the ops of its If branches counted', async () => {
  const proto = decodeModel(readFileSync(VAD_MODEL));
  const r = await checkModel(VAD_MODEL);
  assert.ok(r.ok, errors(r).join('\n'));
  assert.is(r.irVersion.model, Number(proto.irVersion));
  assert.is(r.opsets.find((o) => o.domain === 'ai.onnx')?.version, onnxOpset(proto));
  assert.is(r.batching.usable, false);
  assert.match(r.batching.reason!, "input 'sr' is a scalar");
  assert.match(r.batching.reason!, "input 'state' has a fixed first dimension (2)");
  assert.match(r.batching.hint!, 'max_batch_size 0');
  const ifs = r.operators.find((o) => o.domain === 'ai.onnx' && o.opType === 'If');
  assert.ok(ifs && ifs.count > 0);
  const inSubgraphs = r.operators.reduce((a, o) => a + o.inSubgraphs, 0);
  assert.ok(inSubgraphs > 0, 'nodes in the If branches');
  assert.is(r.operators.reduce((a, o) => a + o.count, 0), r.nodes);
  assert.ok(r.nodes > proto.graph!.node!.length);
  const printed = await run(VAD_MODEL);
  assert.is(printed.code, 0);
  assert.match(printed.stdout, "batching: not usable\n  why: ");
});

Check('a custom-domain operator: exit 1, the operator named on stderr and in the report', async () => {
  const path = write('custom.onnx', oneOp('FancyOp', 'com.example'));
  const r = await checkModel(path);
  assert.is(r.ok, false);
  assert.is(r.load.ok, false);
  const op = r.operators.find((o) => o.opType === 'FancyOp');
  assert.is(op?.domain, 'com.example');
  assert.match(op?.unsupported ?? '', 'custom operator');
  assert.is(r.load.reason, 'com.example:FancyOp is a custom operator: this ONNX Runtime has no FancyOp in domain com.example');
  // Said by the load, not again as a warning from the file.
  assert.equal(r.problems.map((p) => p.severity), ['error']);
  const printed = await run(path);
  assert.is(printed.code, 1);
  assert.match(printed.stderr, 'com.example:FancyOp');
  assert.match(printed.stdout, 'CANNOT RUN');
});

Check('an operator newer than the opset the model imports (Gelu at opset 17), and one with no kernel for its type: exit 1, named', async () => {
  const gelu = await checkModel(write('gelu17.onnx', oneOp('Gelu', '', 17)));
  assert.is(gelu.ok, false);
  assert.match(gelu.load.reason!, 'ai.onnx:Gelu is not an operator of ai.onnx opset 17');
  assert.match(gelu.operators.find((o) => o.opType === 'Gelu')?.unsupported ?? '', 'opset 17');
  // Relu's schema takes int16 (opset 14); ONNX Runtime's CPU kernels do not.
  const relu = await checkModel(write('relu-i16.onnx', oneOp('Relu', '', 17, T.INT16)));
  assert.is(relu.ok, false);
  assert.match(relu.load.reason!, /^no kernel for ai\.onnx:Relu \(version 14, node 'Relu_0'\)/);
  assert.match(relu.operators.find((o) => o.opType === 'Relu')?.unsupported ?? '', 'no kernel');
  const printed = await run(join(dir, 'relu-i16.onnx'));
  assert.is(printed.code, 1);
  assert.match(printed.stderr, 'no kernel for ai.onnx:Relu');
  // A type the operator's schema does not take at all.
  const bool = await checkModel(write('relu-bool.onnx', oneOp('Relu', '', 17, T.BOOL)));
  assert.is(bool.load.reason, "Relu (node 'Relu_0') does not take tensor(bool) for its input 'x'");
});

Check('an opset and an IR version newer than the runtime reads: exit 1, the versions named', async () => {
  const { runtime } = await checkModel(write('relu.onnx', reluModel()));
  const maxOpset = runtime.onnxOpset as number;
  const maxIr = runtime.irVersion as number;
  const opset = await checkModel(write('opset.onnx', oneOp('Relu', '', maxOpset + 1)));
  assert.is(opset.ok, false);
  assert.is(opset.opsets[0].ok, false);
  assert.match(errors(opset)[0], `imports ai.onnx opset ${maxOpset + 1}; ONNX Runtime ${runtime.version} reads up to opset ${maxOpset}`);
  assert.is(opset.load.ok, false);
  const model = decodeModel(reluModel());
  model.irVersion = maxIr + 1;
  const ir = await checkModel(write('ir.onnx', encodeModel(model)));
  assert.is(ir.ok, false);
  assert.is(ir.irVersion.ok, false);
  assert.match(errors(ir)[0], `IR version ${maxIr + 1} is newer than ONNX Runtime ${runtime.version} reads (${maxIr} at most)`);
  // Said once, not again as the load's failure.
  assert.is(errors(ir).length, 1);
  assert.match(ir.load.reason!, `IR version ${maxIr + 1}`);
});

Check('a truncated file: exit 1 with a clear message, as a process too', async () => {
  const bytes = readFileSync(CLS_MODEL);
  const path = write('truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 2)));
  try {
    await checkModel(path);
    assert.unreachable('a truncated model was read');
  } catch (err) {
    assert.instance(err, OptimizeError);
    assert.match((err as Error).message, `${path} is not an ONNX model`);
  }
  const inProcess = await run(path);
  assert.is(inProcess.code, 1);
  assert.match(inProcess.stderr, /^onnx-native check: .* is not an ONNX model \(protobuf: /);
  const spawned = spawnCheck(path);
  assert.is(spawned.status, 1, spawned.stderr);
  assert.match(spawned.stderr, 'is not an ONNX model');
  assert.not.match(spawned.stderr, /\n\s+at /, 'no stack trace');
});

Check('external data: missing (exit 1, the file named, not loaded), short (not loaded), present (ok)', async () => {
  const missing = write('ext-missing.onnx', externalModel('missing-weights.bin'));
  const r = await checkModel(missing);
  assert.is(r.ok, false);
  assert.equal(r.externalData.map((f) => [f.location, f.exists, f.tensors, f.bytesNeeded]), [['missing-weights.bin', false, 1, 16]]);
  assert.match(errors(r)[0], `the external data file missing-weights.bin (1 tensor) is missing: no file at ${join(dir, 'missing-weights.bin')}`);
  assert.is(r.load.attempted, false);
  const spawned = spawnCheck(missing, '--json');
  assert.is(spawned.status, 1);
  assert.match(spawned.stderr, 'missing-weights.bin');
  assert.is((JSON.parse(spawned.stdout) as ModelCheck).externalData[0].exists, false);

  const shortPath = write('ext-short.onnx', externalModel('short.bin'));
  write('short.bin', new Uint8Array(8));
  const short = await checkModel(shortPath);
  assert.is(short.ok, false);
  assert.match(errors(short)[0], 'short.bin is 8 bytes; its tensors need 16');
  assert.is(short.load.attempted, false);

  const present = write('ext-ok.onnx', externalModel('weights.bin'));
  write('weights.bin', new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
  const ok = await checkModel(present, { run: true });
  assert.ok(ok.ok, errors(ok).join('\n'));
  assert.equal(ok.externalData.map((f) => [f.location, f.exists, f.bytes, f.ok]), [['weights.bin', true, 16, true]]);
  assert.is(ok.load.ok, true);
  assert.is(ok.run?.ok, true);
  assert.equal(ok.run?.feeds, { x: [4] });
  assert.match(formatCheck(ok), /external data:\n  weights\.bin  1 tensor, 16 bytes needed  ok \(16 bytes\)\n/);
});

Check('a model with an If: the ops of both branches counted, as in subgraphs', async () => {
  const branch = (op: string, out: string) => ({ inputs: [], outputs: [{ name: out, type: T.FLOAT, dims: ['n'] }], nodes: [{ op, inputs: ['x'], outputs: [out] }] });
  const path = write(
    'if.onnx',
    buildModel({
      inputs: [
        { name: 'c', type: T.BOOL, dims: [] },
        { name: 'x', type: T.FLOAT, dims: ['n'] },
      ],
      outputs: [{ name: 'y', type: T.FLOAT, dims: ['n'] }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'If', inputs: ['c'], outputs: ['y'], attributes: { then_branch: branch('Relu', 't'), else_branch: { ...branch('Neg', 'e0'), nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['e1'] }, { op: 'Abs', inputs: ['e1'], outputs: ['e0'] }] } } },
      ],
    }),
  );
  const r = await checkModel(path, { run: true });
  assert.ok(r.ok, errors(r).join('\n'));
  const ops = Object.fromEntries(r.operators.map((o) => [o.opType, [o.count, o.inSubgraphs]]));
  assert.equal(ops, { Relu: [2, 1], If: [1, 0], Abs: [1, 1], Neg: [1, 1] });
  assert.is(r.nodes, 5);
  // c is a scalar: no batching, and the trial run feeds it as one.
  assert.is(r.batching.usable, false);
  assert.equal(r.run?.feeds, { c: [], x: [1] });
  assert.match(formatCheck(r), /\n  ai\.onnx:Relu     2  1 in subgraphs\n/);
});

Check('--run: a batch declared dynamic but baked into a Reshape runs with 1 and not with 2: batching not usable, said why', async () => {
  const path = write(
    'baked-batch.onnx',
    buildModel({
      inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 4] }],
      outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 4] }],
      nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
      initializers: [{ name: 'shape', dims: [2], ints: [1, 4] }],
    }),
  );
  const loadOnly = await checkModel(path);
  assert.is(loadOnly.batching.usable, true);
  const r = await checkModel(path, { run: true });
  assert.ok(r.ok, errors(r).join('\n'));
  assert.is(r.batching.usable, false);
  assert.match(r.batching.reason!, 'it runs with a batch of 1 but not of 2');
  assert.equal(r.run?.feeds, { x: [1, 4] });
  const printed = await run(path, '--run');
  assert.is(printed.code, 0);
  assert.match(printed.stdout, 'run: ok');
  assert.match(printed.stdout, 'batching: not usable\n  why: it runs with a batch of 1 but not of 2');
});

Check('usage errors exit 2: no model, no file there, an unknown option', async () => {
  const none = await run();
  assert.is(none.code, 2);
  assert.match(none.stderr, 'check needs a model path');
  const absent = await run(join(dir, 'nothing-here.onnx'));
  assert.is(absent.code, 2);
  assert.match(absent.stderr, 'no model file at');
  assert.is((await run('--bogus', CLS_MODEL)).code, 2);
  assert.is((await run('check', CLS_MODEL, '--level', 'all')).code, 0);
  const spawned = spawnCheck();
  assert.is(spawned.status, 2);
  assert.match(spawned.stderr, 'Usage: onnx-native check MODEL');
});

Check("ONNX Runtime's messages: source locations and signatures dropped, each reason parsed", () => {
  const raw =
    "cannot load the model from m.onnx: Load model from m.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const string&, int) ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 30 is under development and support for this is limited. The operator schemas and or other functionality may change before next ONNX release and in this case ONNX Runtime will not guarantee backward compatibility. Current official support for domain ai.onnx is till opset 23.";
  assert.match(cleanOrtMessage(raw), /^ONNX Runtime only \*guarantees\*/);
  assert.is(explainLoadFailure(raw).reason, 'the model imports opset 30 of ai.onnx; this ONNX Runtime reads up to opset 23');
  const kernel = explainLoadFailure(
    "/onnxruntime_src/onnxruntime/core/session/inference_session.cc:2000 onnxruntime::common::Status onnxruntime::InferenceSession::Initialize() Could not find an implementation for Resize(19) node with name 'up'",
    new Map([['up', { domain: 'ai.onnx', opType: 'Resize' }]]),
  );
  assert.is(kernel.operator, 'ai.onnx:Resize');
  assert.match(kernel.reason, "no kernel for ai.onnx:Resize (version 19, node 'up')");
  assert.is(explainLoadFailure('Unrecognized attribute: axes for operator ReduceMean').operator, 'ai.onnx:ReduceMean');
  assert.is(explainLoadFailure('something new').reason, 'something new');
});

Check.run();
