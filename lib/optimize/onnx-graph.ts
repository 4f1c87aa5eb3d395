/**
 * Reading, editing and writing ONNX models (the protobuf schema from onnx-proto): the
 * ground the quantizers and the float16 converter stand on. A model is decoded once into
 * onnx-proto's message objects, edited in place, and encoded again.
 *
 * Tensors' numbers are read from either of the protobuf's places (`raw_data`, or the typed
 * repeated field) and always written back as `raw_data`, which is what ONNX Runtime and the
 * Python tools write.
 */
import { onnx } from 'onnx-proto';
import { float16Value } from '../core/float16';

export { onnx };

/** ONNX's element type numbers (TensorProto.DataType). */
export const DataType = onnx.TensorProto.DataType;

/** Why a model could not be optimized or checked: a message for the person who ran it. */
export class OptimizeError extends Error {
  override name = 'OptimizeError';
}

/** Decodes a model's bytes; a clear error for bytes that are not an ONNX model. */
export function decodeModel(bytes: Uint8Array, where = 'the model'): onnx.ModelProto {
  if (bytes.byteLength === 0) throw new OptimizeError(`${where} is empty (0 bytes)`);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OptimizeError(`${where} is not an ONNX model (protobuf: ${(err as Error).message})`);
  }
  if (!model.graph || ((model.graph.node ?? []).length === 0 && (model.graph.output ?? []).length === 0)) {
    throw new OptimizeError(`${where} is not an ONNX model (no graph)`);
  }
  return model;
}

/** The model's main graph (decodeModel has checked that there is one). */
export function mainGraph(model: onnx.IModelProto): onnx.IGraphProto {
  if (!model.graph) throw new OptimizeError('the model has no graph');
  return model.graph;
}

/** The model's bytes. */
export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** The opset version of ONNX's own domain. */
export function onnxOpset(model: onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return entry ? Number(entry.version) : 0;
}

/** Sets the version of a domain's opset (adding the domain if missing; never lowering one). */
export function requireOpset(model: onnx.IModelProto, domain: string, version: number): void {
  model.opsetImport ??= [];
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  if (entry === undefined) model.opsetImport.push({ domain, version });
  else if (Number(entry.version) < version) entry.version = version;
}

/** A tensor's dimensions as numbers. */
export function dimsOf(t: onnx.ITensorProto): number[] {
  return (t.dims ?? []).map(Number);
}

/** The element count of dims. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** True when the tensor's numbers live in a file beside the model. */
export function isExternal(t: onnx.ITensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

function rawBytes(t: onnx.ITensorProto): Uint8Array | undefined {
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

/** An aligned copy of raw bytes, viewed as `Ctor`'s elements. */
function viewRaw<T>(raw: Uint8Array, bytesPer: number, Ctor: new (buffer: ArrayBuffer, offset: number, length: number) => T): T {
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return new Ctor(copy.buffer, 0, raw.byteLength / bytesPer);
}

/** A float tensor's numbers (FLOAT, or FLOAT16 and DOUBLE widened/narrowed), as float32. */
export function floatsOf(t: onnx.ITensorProto): Float32Array {
  if (isExternal(t)) throw new OptimizeError(`tensor ${t.name}: its data is in an external file; load the model from its path so that the file is read`);
  const raw = rawBytes(t);
  const count = sizeOf(dimsOf(t));
  let out: Float32Array;
  switch (t.dataType) {
    case DataType.FLOAT:
      out = raw ? viewRaw(raw, 4, Float32Array) : Float32Array.from(t.floatData ?? []);
      break;
    case DataType.DOUBLE:
      out = Float32Array.from(raw ? viewRaw(raw, 8, Float64Array) : (t.doubleData ?? []));
      break;
    case DataType.FLOAT16: {
      const halves = raw ? viewRaw(raw, 2, Uint16Array) : Uint16Array.from(t.int32Data ?? []);
      out = new Float32Array(halves.length);
      for (let i = 0; i < halves.length; i++) out[i] = float16Value(halves[i]);
      break;
    }
    default:
      throw new OptimizeError(`tensor ${t.name}: element type ${elementTypeName(t.dataType ?? 0)} is not a float type`);
  }
  if (out.length !== count) throw new OptimizeError(`tensor ${t.name}: ${out.length} numbers for dims [${dimsOf(t).join(', ')}] (${count})`);
  return out;
}

/** An integer tensor's numbers (INT64 and INT32), as plain numbers: shapes, axes, indices. */
export function integersOf(t: onnx.ITensorProto): number[] {
  const raw = rawBytes(t);
  switch (t.dataType) {
    case DataType.INT64:
      return raw ? Array.from(viewRaw(raw, 8, BigInt64Array), Number) : (t.int64Data ?? []).map(Number);
    case DataType.INT32:
      return raw ? Array.from(viewRaw(raw, 4, Int32Array)) : (t.int32Data ?? []).map(Number);
    default:
      throw new OptimizeError(`tensor ${t.name}: element type ${elementTypeName(t.dataType ?? 0)} is not an integer type`);
  }
}

/** The typed arrays a tensor can be made from, by element type. */
export type TensorNumbers = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

/** A TensorProto holding `data` as raw_data. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], data: TensorNumbers): onnx.TensorProto {
  if (data.length !== sizeOf(dims)) throw new OptimizeError(`tensor ${name}: ${data.length} numbers for dims [${dims.join(', ')}]`);
  return onnx.TensorProto.create({
    name,
    dataType,
    dims: [...dims],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  });
}

/** A scalar or 1-D float32 initializer. */
export function floatTensor(name: string, values: readonly number[] | Float32Array, dims: readonly number[] = values.length === 1 ? [] : [values.length]): onnx.TensorProto {
  return makeTensor(name, DataType.FLOAT, dims, Float32Array.from(values));
}

/** An int64 initializer (shapes, axes). */
export function int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): onnx.TensorProto {
  return makeTensor(name, DataType.INT64, dims, BigInt64Array.from(values.map(BigInt)));
}

/** The bytes a tensor's numbers take in the file. */
export function tensorBytes(t: onnx.ITensorProto): number {
  const raw = rawBytes(t);
  if (raw) return raw.byteLength;
  return (
    (t.floatData?.length ?? 0) * 4 +
    (t.int32Data?.length ?? 0) * 4 +
    (t.int64Data?.length ?? 0) * 8 +
    (t.doubleData?.length ?? 0) * 8 +
    (t.uint64Data?.length ?? 0) * 8
  );
}

const TYPE_NAMES = new Map<number, string>(Object.entries(onnx.TensorProto.DataType).map(([k, v]) => [v as number, k]));

/** FLOAT, INT8, ... for an element type number. */
export function elementTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}

/** A node attribute's value by name, or undefined. */
export function attributeOf(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

/** An INT attribute's value, or `fallback`. */
export function intAttribute(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = attributeOf(node, name);
  return a?.i !== undefined && a.i !== null ? Number(a.i) : fallback;
}

/** A FLOAT attribute's value, or `fallback`. */
export function floatAttribute(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = attributeOf(node, name);
  return a?.f !== undefined && a.f !== null ? a.f : fallback;
}

/** The graphs held by a node's attributes (If's branches, Loop's and Scan's bodies). */
export function subgraphsOf(node: onnx.INodeProto): onnx.IGraphProto[] {
  const out: onnx.IGraphProto[] = [];
  for (const a of node.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

/** Every graph of a model: the main one first, then the subgraphs, depth first. */
export function allGraphs(graph: onnx.IGraphProto): onnx.IGraphProto[] {
  const out = [graph];
  for (const node of graph.node ?? []) for (const g of subgraphsOf(node)) out.push(...allGraphs(g));
  return out;
}

/**
 * Who makes and who reads each tensor of one graph, and its initializers by name. Built
 * once per pass; a pass that edits the graph builds a new one.
 */
export class GraphIndex {
  readonly producer = new Map<string, onnx.INodeProto>();
  readonly consumers = new Map<string, onnx.INodeProto[]>();
  readonly initializers = new Map<string, onnx.ITensorProto>();
  readonly inputs = new Set<string>();
  readonly outputs = new Set<string>();
  /** Every name in use in the model's graphs (so that new names never collide). */
  private readonly names = new Set<string>();

  constructor(readonly graph: onnx.IGraphProto) {
    for (const t of graph.initializer ?? []) this.initializers.set(t.name ?? '', t);
    for (const v of graph.input ?? []) this.inputs.add(v.name ?? '');
    for (const v of graph.output ?? []) this.outputs.add(v.name ?? '');
    for (const node of graph.node ?? []) {
      for (const o of node.output ?? []) if (o !== '') this.producer.set(o, node);
      for (const i of node.input ?? []) {
        if (i === '') continue;
        const list = this.consumers.get(i);
        if (list) list.push(node);
        else this.consumers.set(i, [node]);
      }
    }
    for (const g of allGraphs(graph)) {
      for (const t of g.initializer ?? []) this.names.add(t.name ?? '');
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) this.names.add(v.name ?? '');
      for (const n of g.node ?? []) {
        if (n.name) this.names.add(n.name);
        for (const x of [...(n.input ?? []), ...(n.output ?? [])]) this.names.add(x);
      }
    }
  }

  /** A name not yet used in the model, from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** The constant float tensor named `name` (an initializer that is not also a graph input), or undefined. */
  constantFloats(name: string): onnx.ITensorProto | undefined {
    const t = this.initializers.get(name);
    if (t === undefined || this.inputs.has(name)) return undefined;
    return t.dataType === DataType.FLOAT ? t : undefined;
  }
}

/**
 * Sorts a graph's nodes so that each comes after the nodes whose outputs it reads (Kahn's
 * algorithm, stable: nodes already in order stay so). Names read from an outer graph count
 * as available. Throws on a cycle.
 */
export function sortTopologically(graph: onnx.IGraphProto): void {
  const nodes = graph.node ?? [];
  const made = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o !== '' && made.set(o, i)));
  const waiting = new Array<number>(nodes.length).fill(0);
  const readers = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    const needs = new Set<number>();
    for (const name of [...(n.input ?? []), ...subgraphsOf(n).flatMap(outerNames)]) {
      const from = made.get(name);
      if (from !== undefined && from !== i) needs.add(from);
    }
    waiting[i] = needs.size;
    for (const from of needs) readers[from].push(i);
  });
  const ready: number[] = [];
  nodes.forEach((_, i) => waiting[i] === 0 && ready.push(i));
  const order: number[] = [];
  // A min-heap would keep the order exactly stable; taking the smallest ready index does
  // the same at these graphs' sizes without one.
  while (ready.length > 0) {
    let at = 0;
    for (let k = 1; k < ready.length; k++) if (ready[k] < ready[at]) at = k;
    const i = ready.splice(at, 1)[0];
    order.push(i);
    for (const r of readers[i]) if (--waiting[r] === 0) ready.push(r);
  }
  if (order.length !== nodes.length) throw new OptimizeError(`graph ${graph.name ?? ''}: the nodes form a cycle`);
  graph.node = order.map((i) => nodes[i]);
}

/** Names a subgraph reads that none of its own nodes, inputs or initializers make. */
export function outerNames(graph: onnx.IGraphProto): string[] {
  const own = new Set<string>([...(graph.input ?? []).map((v) => v.name ?? ''), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
  for (const n of graph.node ?? []) for (const o of n.output ?? []) own.add(o);
  const out = new Set<string>();
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) if (i !== '' && !own.has(i)) out.add(i);
    for (const g of subgraphsOf(n)) for (const name of outerNames(g)) if (!own.has(name)) out.add(name);
  }
  return [...out];
}

/** Removes initializers no node of the graph (or of its subgraphs) reads and that are not outputs. */
export function dropUnusedInitializers(graph: onnx.IGraphProto): void {
  const used = new Set<string>((graph.output ?? []).map((v) => v.name ?? ''));
  for (const g of allGraphs(graph)) for (const n of g.node ?? []) for (const i of n.input ?? []) used.add(i);
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
}

/**
 * Renames every tensor but the model's inputs and outputs to a short name (t0, t1, ...),
 * in the main graph and its subgraphs alike (ONNX names are unique across both). Node
 * names are kept. For small models whose tensor names (batch_norm_0.tmp_3) weigh more
 * than their int8 weights.
 */
export function shortenTensorNames(model: onnx.IModelProto): void {
  const graph = mainGraph(model);
  const keep = new Set<string>([...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name ?? ''));
  const renamed = new Map<string, string>();
  let counter = 0;
  const taken = new Set(keep);
  const rename = (name: string): string => {
    if (name === '' || keep.has(name)) return name;
    let to = renamed.get(name);
    if (to === undefined) {
      do to = `t${(counter++).toString(36)}`;
      while (taken.has(to));
      taken.add(to);
      renamed.set(name, to);
    }
    return to;
  };
  for (const g of allGraphs(graph)) {
    for (const t of g.initializer ?? []) t.name = rename(t.name ?? '');
    for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) v.name = rename(v.name ?? '');
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map(rename);
      n.output = (n.output ?? []).map(rename);
    }
  }
}

/** Attribute values that say what the operator's default already does, by op type. */
const DEFAULT_ATTRIBUTES: Readonly<Record<string, (a: onnx.IAttributeProto) => boolean>> = {
  dilations: (a) => (a.ints ?? []).every((v) => Number(v) === 1),
  strides: (a) => (a.ints ?? []).every((v) => Number(v) === 1),
  pads: (a) => (a.ints ?? []).every((v) => Number(v) === 0),
  group: (a) => Number(a.i ?? 1) === 1,
  auto_pad: (a) => a.s === undefined || a.s === null || Buffer.from(a.s).toString() === 'NOTSET',
  // Optional: "inferred from input W" (ONNX's Conv), which is always there.
  kernel_shape: () => true,
};

/**
 * Removes the opset imports of domains no node uses: ONNX Runtime's optimized-model output
 * (the pre-optimization step) imports a dozen it knows (training, preview, nchwc...), 250
 * bytes that a small quantized model pays for nothing. The default domain always stays.
 */
export function dropUnusedOpsetImports(model: onnx.IModelProto): void {
  const used = new Set(['', 'ai.onnx']);
  const graph = model.graph;
  if (graph) for (const g of allGraphs(graph)) for (const n of g.node ?? []) used.add(n.domain ?? '');
  for (const f of model.functions ?? []) used.add(f.domain ?? '');
  model.opsetImport = (model.opsetImport ?? []).filter((o) => used.has(o.domain ?? ''));
}

/**
 * Removes Conv and ConvTranspose attributes that repeat their defaults (strides, dilations
 * and group of 1, pads of 0) and kernel_shape, which ONNX reads from the weight's shape
 * when absent: a small model has as many bytes in them as in its biases.
 */
export function dropDefaultAttributes(model: onnx.IModelProto): void {
  for (const g of allGraphs(mainGraph(model))) {
    for (const n of g.node ?? []) {
      if ((n.opType !== 'Conv' && n.opType !== 'ConvTranspose') || (n.domain ?? '') !== '') continue;
      n.attribute = (n.attribute ?? []).filter((a) => !(DEFAULT_ATTRIBUTES[a.name ?? '']?.(a) ?? false));
    }
  }
}
