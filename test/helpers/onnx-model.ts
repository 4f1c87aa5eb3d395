/**
 * Builds small ONNX models in memory (onnx-proto), so tests need no model files: one
 * node or a few, any op, any element type.
 */
import { onnx } from 'onnx-proto';

/** A graph input or output: name, ONNX element type number, dims (string = named dynamic). */
export interface ValueSpec {
  name: string;
  type: number;
  dims: (number | string)[];
}

/** An attribute's value: a graph (or graphs) for the bodies of If, Loop and Scan. */
export type AttributeValue = number | number[] | string | GraphSpec | GraphSpec[];

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
  domain?: string;
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  /** float32 data. */
  floats?: number[];
  /** int64 data. */
  ints?: number[];
  /** raw_data bytes, in place of floats. */
  raw?: Uint8Array;
  /** With raw: the element type (default float32). */
  type?: number;
}

/** A graph: the model's own, or a subgraph (an attribute of If, Loop, Scan). */
export interface GraphSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  graphName?: string;
}

/** A model-local function (ModelProto.functions), called by nodes of its domain and name. */
export interface FunctionSpec {
  name: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  nodes: NodeSpec[];
}

export interface ModelSpec extends GraphSpec {
  functions?: FunctionSpec[];
  /** Opset versions of domains other than ONNX's (and the functions'). */
  domains?: Record<string, number>;
  opset?: number;
  graphName?: string;
  producerName?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

function valueInfo(v: ValueSpec): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.type,
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (isGraphs(value)) return { name, type: A.GRAPHS, graphs: value.map(graph) };
  if (typeof value === 'object' && !Array.isArray(value)) return { name, type: A.GRAPH, g: graph(value) };
  if (typeof value === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

function isGraphs(value: AttributeValue): value is GraphSpec[] {
  return Array.isArray(value) && value.length > 0 && typeof value[0] === 'object';
}

function nodes(specs: NodeSpec[]): onnx.INodeProto[] {
  return specs.map((n, i) => ({
    name: `${n.op}_${i}`,
    opType: n.op,
    domain: n.domain ?? '',
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
  }));
}

function graph(spec: GraphSpec): onnx.IGraphProto {
  return {
    name: spec.graphName ?? 'test',
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    node: nodes(spec.nodes),
    initializer: (spec.initializers ?? []).map((t) => ({
      name: t.name,
      dims: t.dims,
      dataType: t.type ?? (t.ints ? onnx.TensorProto.DataType.INT64 : onnx.TensorProto.DataType.FLOAT),
      floatData: t.floats ?? [],
      int64Data: t.ints ?? [],
      ...(t.raw ? { rawData: t.raw } : {}),
    })),
  };
}

/** The model's bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const functions = spec.functions ?? [];
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: spec.producerName ?? 'onnx-native tests',
    docString: spec.docString ?? '',
    opsetImport: [
      { domain: '', version: spec.opset ?? 17 },
      ...[...new Set(functions.map((f) => f.domain))].map((domain) => ({ domain, version: 1 })),
      ...Object.entries(spec.domains ?? {}).map(([domain, version]) => ({ domain, version })),
    ],
    graph: graph(spec),
    functions: functions.map((f) => ({
      name: f.name,
      domain: f.domain,
      input: f.inputs,
      output: f.outputs,
      node: nodes(f.nodes),
      opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    })),
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Element type numbers (onnx TensorProto.DataType). */
export const T = onnx.TensorProto.DataType;

/** y = Identity(x) for one element type and shape. */
export function identityModel(type: number, dims: (number | string)[] = ['n']): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type, dims }],
    outputs: [{ name: 'y', type, dims }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  });
}

/** y = Relu(x) on float32 [n]: the tiny model of the bench and the memory test. */
export function reluModel(dims: (number | string)[] = ['n']): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims }],
    outputs: [{ name: 'y', type: T.FLOAT, dims }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
  });
}

/**
 * y = x · W · W · ... (`layers` MatMuls of size n×n): a model that takes as long as you
 * like, for the event-loop and abort tests.
 */
export function matmulChainModel(n: number, layers: number): Uint8Array {
  const w = Array.from({ length: n * n }, (_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const nodes: NodeSpec[] = [];
  let previous = 'x';
  for (let i = 0; i < layers; i++) {
    const out = i === layers - 1 ? 'y' : `h${i}`;
    nodes.push({ op: 'MatMul', inputs: [previous, 'w'], outputs: [`m${i}`] });
    // Tanh keeps values bounded however deep the chain is.
    nodes.push({ op: 'Tanh', inputs: [`m${i}`], outputs: [out] });
    previous = out;
  }
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', n] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', n] }],
    nodes,
    initializers: [{ name: 'w', dims: [n, n], floats: w }],
  });
}

/** The optional inputs of {@link recurrentModel}. */
export interface RecurrentInputs {
  /** sequence_lens: 'L', int32 [batch]. */
  sequenceLens?: boolean;
  /** initial_h: 'H0', float32 [1, batch, 4] (and initial_c 'C0' for LSTM). */
  initialH?: boolean;
}

/**
 * One LSTM, GRU or RNN node, forward, hidden size 4, in ONNX's layout: X [seq, batch,
 * inputSize] float32; W and R are initializers. Outputs Y [seq, 1, batch, 4] and Y_h
 * [1, batch, 4].
 */
export function recurrentModel(op: 'LSTM' | 'GRU' | 'RNN', inputSize: number, optional: RecurrentInputs = {}): Uint8Array {
  const hidden = 4;
  const gates = { LSTM: 4, GRU: 3, RNN: 1 }[op] * hidden;
  const inputs: ValueSpec[] = [{ name: 'X', type: T.FLOAT, dims: ['seq', 'batch', inputSize] }];
  const nodeInputs = ['X', 'W', 'R', '', optional.sequenceLens ? 'L' : ''];
  if (optional.sequenceLens) inputs.push({ name: 'L', type: T.INT32, dims: ['batch'] });
  if (optional.initialH) {
    for (const name of op === 'LSTM' ? ['H0', 'C0'] : ['H0']) {
      inputs.push({ name, type: T.FLOAT, dims: [1, 'batch', hidden] });
      nodeInputs.push(name);
    }
  }
  while (nodeInputs.at(-1) === '') nodeInputs.pop();
  return buildModel({
    inputs,
    outputs: [
      { name: 'Y', type: T.FLOAT, dims: ['seq', 1, 'batch', hidden] },
      { name: 'Y_h', type: T.FLOAT, dims: [1, 'batch', hidden] },
    ],
    nodes: [{ op, inputs: nodeInputs, outputs: ['Y', 'Y_h'], attributes: { hidden_size: hidden } }],
    initializers: [
      { name: 'W', dims: [1, gates, inputSize], floats: Array(gates * inputSize).fill(0.05) },
      { name: 'R', dims: [1, gates, hidden], floats: Array(gates * hidden).fill(0.05) },
    ],
    opset: 14,
  });
}

/**
 * ONNX Runtime's com.microsoft DynamicQuantizeLSTM (int8 weights), hidden size 4: X
 * [seq, batch, 3] float32, outputs Y and Y_h as for {@link recurrentModel}.
 */
export function quantizedLstmModel(): Uint8Array {
  const hidden = 4;
  const int8 = (name: string, dims: number[], value: number) => ({ name, dims, type: T.INT8, raw: new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(value) });
  return buildModel({
    inputs: [{ name: 'X', type: T.FLOAT, dims: ['seq', 'batch', 3] }],
    outputs: [
      { name: 'Y', type: T.FLOAT, dims: ['seq', 1, 'batch', hidden] },
      { name: 'Y_h', type: T.FLOAT, dims: [1, 'batch', hidden] },
    ],
    nodes: [
      {
        op: 'DynamicQuantizeLSTM',
        domain: 'com.microsoft',
        inputs: ['X', 'W', 'R', '', '', '', '', '', 'W_scale', 'W_zero', 'R_scale', 'R_zero'],
        outputs: ['Y', 'Y_h'],
        attributes: { hidden_size: hidden },
      },
    ],
    initializers: [
      int8('W', [1, 3, 4 * hidden], 3),
      int8('R', [1, hidden, 4 * hidden], 3),
      int8('W_zero', [1], 0),
      int8('R_zero', [1], 0),
      { name: 'W_scale', dims: [1], floats: [0.01] },
      { name: 'R_scale', dims: [1], floats: [0.01] },
    ],
    opset: 14,
    domains: { 'com.microsoft': 1 },
  });
}
