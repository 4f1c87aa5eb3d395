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

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[] | string>;
  domain?: string;
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  /** float32 data. */
  floats?: number[];
  /** int64 data. */
  ints?: number[];
}

export interface ModelSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
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

function attribute(name: string, value: number | number[] | string): onnx.IAttributeProto {
  if (typeof value === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

/** The model's bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const graph: onnx.IGraphProto = {
    name: spec.graphName ?? 'test',
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    node: spec.nodes.map((n, i) => ({
      name: `${n.op}_${i}`,
      opType: n.op,
      domain: n.domain ?? '',
      input: n.inputs,
      output: n.outputs,
      attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
    })),
    initializer: (spec.initializers ?? []).map((t) => ({
      name: t.name,
      dims: t.dims,
      dataType: t.ints ? onnx.TensorProto.DataType.INT64 : onnx.TensorProto.DataType.FLOAT,
      floatData: t.floats ?? [],
      int64Data: t.ints ?? [],
    })),
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: spec.producerName ?? 'onnx-native tests',
    docString: spec.docString ?? '',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph,
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
