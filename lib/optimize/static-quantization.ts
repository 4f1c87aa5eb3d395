/**
 * Static int8 quantization in QDQ format: QuantizeLinear/DequantizeLinear pairs around the
 * tensors of the operators ONNX Runtime has quantized kernels for, with weights stored as
 * int8 and biases as int32. The model stays a float model to anyone who reads it (each DQ
 * gives back floats); ONNX Runtime, when it loads it, fuses DQ → op → Q into its QLinear
 * kernels (QLinearConv, QLinearMatMul, QLinearAdd, ...). This is the format ONNX Runtime's
 * `quantize_static` writes by default, and the one it optimizes best on CPU.
 *
 * What is done as ONNX Runtime's QDQ quantizer does it (qdq_quantizer.py and operators/):
 * - an activation is quantized once, after the node that makes it, and its dequantized
 *   value read by all its consumers;
 * - Reshape, Transpose, Squeeze, Unsqueeze, Flatten, MaxPool and Resize pass 8-bit values
 *   through unchanged, so their outputs reuse their input's scale and zero point (the
 *   pair around them then cancels, and ONNX Runtime runs them on the integers);
 * - a Relu or Clip right after a Conv, MatMul, Gemm, Add or Mul is removed, its range given to
 *   the tensor before it: quantizing to a range that starts at 0 clamps as Relu does, and
 *   ONNX Runtime would drop it the same way;
 * - weights are symmetric int8 (per tensor, or per output channel), biases int32 with scale
 *   input scale × weight scale, other constants (an Add's operand) quantized like activations.
 * Subgraphs (If, Loop bodies) are left in float.
 */
import {
  allGraphs,
  DataType,
  dimsOf,
  dropUnusedInitializers,
  floatsOf,
  GraphIndex,
  intAttribute,
  makeTensor,
  onnx,
  onnxOpset,
  OptimizeError,
  requireOpset,
  sortTopologically,
  subgraphsOf,
  mainGraph,
} from './onnx-graph';
import { float16Bits } from '../core/float16';
import { quantizeBias, quantizeWeight, type QuantParams, type QuantType, scaleAndZeroPoint } from './quantization-parameters';
import type { TensorRange } from './calibration';

/** The operators quantized by default. */
export const STATIC_OP_TYPES: readonly string[] = [
  'Conv',
  'ConvTranspose',
  'MatMul',
  'Gemm',
  'Add',
  'Mul',
  'Relu',
  'Clip',
  'LeakyRelu',
  'Sigmoid',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Concat',
  'Reshape',
  'Flatten',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Resize',
  'Softmax',
];

/** Ops whose output reuses the input's quantization (they move values, they do not compute new ones). */
const PASS_THROUGH = new Set(['Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'MaxPool', 'Resize']);

/** Ops a following Relu or Clip can be folded into. */
const ACTIVATION_HOSTS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'Add', 'Mul']);

/** Which inputs of an op carry float values to quantize (others: shapes, axes, roi, scales). */
function quantizedInputs(node: onnx.INodeProto): number[] {
  const n = (node.input ?? []).length;
  switch (node.opType) {
    case 'Conv':
    case 'ConvTranspose':
    case 'Gemm':
      return [0, 1, 2].filter((i) => i < n);
    case 'MatMul':
    case 'Add':
    case 'Mul':
      return [0, 1];
    case 'Concat':
      return [...Array(n).keys()];
    default:
      return [0];
  }
}

/** Options of {@link quantizeStatic}. */
export interface StaticQuantizationOptions {
  /** The activations' type. Default 'uint8' (with int8 weights, the u8s8 kernels x86 CPUs run fastest). */
  activationType?: QuantType;
  /** The weights' type. Default 'int8'. */
  weightType?: QuantType;
  /**
   * A scale per output channel of each weight, rather than one per weight; 'depthwise':
   * only for depthwise (grouped) convolutions, whose channels' ranges differ most once
   * BatchNormalization is folded in, and whose few weights a channel make per-channel
   * scales cost as much as the weights elsewhere. Default false.
   */
  perChannel?: boolean | 'depthwise';
  /**
   * 7-bit weights. Default true: on x86 CPUs without VNNI (AVX2 only, as this package's
   * CI machines), ONNX Runtime's u8s8 and s8s8 kernels sum products in pairs into int16,
   * which saturates with 8-bit weights (measured here: a 3x3 Conv's largest error 0.51 of
   * a range of 1.7 with 8 bits, 0.014 with 7). Set false for VNNI or ARM targets.
   */
  reduceRange?: boolean;
  /** Nodes (by name) to leave in float. */
  excludeNodes?: readonly string[];
  /** The operators to quantize. Default {@link STATIC_OP_TYPES}. */
  opTypes?: readonly string[];
}

/** What {@link quantizeStatic} did. */
export interface StaticQuantizationReport {
  /** Quantized nodes by op type. */
  quantized: Record<string, number>;
  /** Nodes left in float: their name, op type and why. */
  skipped: { name: string; opType: string; reason: string }[];
  /** Relu and Clip nodes folded into the quantization of the tensor before them. */
  foldedActivations: number;
  /** Divisions by a constant folded into the scale of the DequantizeLinear before them. */
  foldedDivisions: number;
  /** Activations given a QuantizeLinear/DequantizeLinear pair. */
  activations: number;
  /** Weights stored as 8-bit integers. */
  weights: number;
  /** Biases stored as int32. */
  biases: number;
}

/**
 * The main-graph tensors whose ranges {@link quantizeStatic} needs: the float inputs and
 * outputs of the nodes it would quantize (before any activation is folded).
 */
export function tensorsToCalibrate(model: onnx.ModelProto, options: StaticQuantizationOptions = {}): string[] {
  const index = new GraphIndex(mainGraph(model));
  const out = new Set<string>();
  for (const node of candidates(mainGraph(model), options).nodes) {
    for (const i of quantizedInputs(node)) {
      const name = node.input?.[i] ?? '';
      if (name !== '' && !index.initializers.has(name)) out.add(name);
    }
    const first = node.output?.[0] ?? '';
    if (first !== '') out.add(first);
  }
  return [...out];
}

function candidates(graph: onnx.IGraphProto, options: StaticQuantizationOptions): { nodes: onnx.INodeProto[]; skipped: StaticQuantizationReport['skipped'] } {
  const ops = new Set(options.opTypes ?? STATIC_OP_TYPES);
  const excluded = new Set(options.excludeNodes ?? []);
  const nodes: onnx.INodeProto[] = [];
  const skipped: StaticQuantizationReport['skipped'] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') continue;
    if (excluded.has(node.name ?? '')) skipped.push({ name: node.name ?? '', opType: op, reason: 'excluded' });
    else if (ops.has(op)) nodes.push(node);
    else if (op !== 'Constant') skipped.push({ name: node.name ?? '', opType: op, reason: 'no quantized kernel' });
  }
  return { nodes, skipped };
}

/**
 * Quantizes the model's main graph in place, from the `ranges` calibration found for
 * {@link tensorsToCalibrate}'s tensors. The model should have gone through
 * {@link optimizeGraph} at 'basic' first (weights as initializers, BatchNormalization folded).
 */
export function quantizeStatic(model: onnx.ModelProto, ranges: ReadonlyMap<string, TensorRange>, options: StaticQuantizationOptions = {}): StaticQuantizationReport {
  const graph = mainGraph(model);
  const activationType = options.activationType ?? 'uint8';
  const weightType = options.weightType ?? 'int8';
  const opset = onnxOpset(model);
  // ONNX Runtime fuses QDQ groups into ONNX's QLinearConv and QLinearMatMul, which exist
  // from opset 10: an older model's fused form would not load (upgradeOpset raises it).
  if (opset < 10) throw new OptimizeError(`the model's opset is ${opset}; static quantization needs opset 10 or later (upgradeOpset raises it)`);
  // DequantizeLinear's per-channel axis is opset 13's; from 10 to 12 the com.microsoft op of
  // the same name, which has it, is used. ONNX Runtime's QDQ fusions accept both.
  const domain = opset >= 13 || !options.perChannel ? '' : 'com.microsoft';
  const { nodes, skipped } = candidates(graph, options);
  const report: StaticQuantizationReport = { quantized: {}, skipped, foldedActivations: 0, foldedDivisions: 0, activations: 0, weights: 0, biases: 0 };
  if (nodes.length === 0) return report;

  let index = new GraphIndex(graph);
  const quantizing = new Set(nodes);

  // Fold Relu/Clip into the tensor before them.
  for (const node of nodes) {
    if (node.opType !== 'Relu' && node.opType !== 'Clip') continue;
    const x = node.input?.[0] ?? '';
    const host = index.producer.get(x);
    const out = node.output?.[0] ?? '';
    if (!host || !quantizing.has(host) || !ACTIVATION_HOSTS.has(host.opType ?? '')) continue;
    if ((index.consumers.get(x) ?? []).length !== 1 || index.outputs.has(x) || !ranges.has(out)) continue;
    if (node.opType === 'Clip' && !clipHoldsZero(node, index)) continue;
    host.output = (host.output ?? []).map((o) => (o === x ? out : o));
    graph.node = (graph.node ?? []).filter((n) => n !== node);
    quantizing.delete(node);
    report.foldedActivations++;
  }
  index = new GraphIndex(graph);

  const params = new Map<string, QuantParams>();
  const activationParams = (name: string): QuantParams | undefined => {
    const known = params.get(name);
    if (known) return known;
    const range = ranges.get(name);
    if (!range) return undefined;
    const p = scaleAndZeroPoint(range.min, range.max, activationType);
    params.set(name, p);
    return p;
  };
  // Pass-through ops: the output takes the input's parameters (in graph order, so chains work).
  for (const node of graph.node ?? []) {
    if (!quantizing.has(node) || !PASS_THROUGH.has(node.opType ?? '')) continue;
    const p = activationParams(node.input?.[0] ?? '');
    const out = node.output?.[0] ?? '';
    if (p && out !== '' && ranges.has(out)) params.set(out, p);
  }

  const qType = activationType === 'int8' ? DataType.INT8 : DataType.UINT8;
  const wType = weightType === 'int8' ? DataType.INT8 : DataType.UINT8;
  const added: onnx.INodeProto[] = [];
  const initializers = graph.initializer ?? [];
  const dequantized = new Map<string, string>();
  let usesMsDomain = false;

  // Names of what is added are short and nodes unnamed: in a small model such as PP-OCR's
  // classifier, 400 QDQ nodes with names derived from the tensors' (batch_norm_0.tmp_3_...)
  // would weigh as much as its int8 weights.
  let counter = 0;
  const fresh = (): string => index.uniqueName(`q${(counter++).toString(36)}`);
  const qdqNode = (op: 'QuantizeLinear' | 'DequantizeLinear', inputs: string[], output: string, axis?: number): onnx.INodeProto => {
    if (domain !== '') usesMsDomain = true;
    return {
      opType: op,
      // Only when set: an empty domain is still 2 bytes on the wire, 800 in a small model.
      ...(domain !== '' && { domain }),
      input: inputs,
      output: [output],
      attribute: axis === undefined ? [] : [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
    };
  };
  // Scalars are shared by value: most weights have zero point 0, many activations the same one.
  const scalars = new Map<string, string>();
  const scalar = (type: number, value: number): string => {
    const key = `${type}:${value}`;
    let name = scalars.get(key);
    if (name === undefined) {
      name = fresh();
      const data = type === DataType.FLOAT ? Float32Array.of(value) : type === DataType.INT8 ? Int8Array.of(value) : type === DataType.INT32 ? Int32Array.of(value) : Uint8Array.of(value);
      initializers.push(makeTensor(name, type, [], data));
      scalars.set(key, name);
    }
    return name;
  };
  const scalarParams = (p: QuantParams, type: number): [string, string] => [scalar(DataType.FLOAT, p.scale), scalar(type, p.zeroPoint)];

  /** Each quantized activation's Q and DQ, and the parameters they share. */
  const pairs = new Map<string, { params: QuantParams; zero: string; quantized: string; q: onnx.INodeProto; dq: onnx.INodeProto }>();
  /** A quantized tensor's producer writes a new name: from it back to the tensor's own. */
  const renamedTo = new Map<string, string>();
  /** Q → DQ on an activation; consumers keep reading its name (the producer's output is renamed). */
  const quantizeActivation = (name: string): boolean => {
    if (dequantized.has(name)) return true;
    const p = activationParams(name);
    if (!p) return false;
    const [scale, zero] = scalarParams(p, qType);
    const quantized = fresh();
    const producer = index.producer.get(name);
    // A graph input's name cannot move, so its readers are pointed at the DQ's output; any
    // other tensor's producer is renamed, and the DQ takes over its name.
    const raw = producer ? fresh() : name;
    const out = producer ? name : fresh();
    if (producer) producer.output = (producer.output ?? []).map((o) => (o === name ? raw : o));
    else renameReads(graph, name, out);
    const q = qdqNode('QuantizeLinear', [raw, scale, zero], quantized);
    const dq = qdqNode('DequantizeLinear', [quantized, scale, zero], out);
    added.push(q, dq);
    dequantized.set(name, out);
    pairs.set(name, { params: p, zero, quantized, q, dq });
    if (producer) renamedTo.set(raw, name);
    report.activations++;
    return true;
  };

  /**
   * An initializer stored as integers behind a DequantizeLinear; returns the DQ's output and
   * the name of its scale. Without `zeroPoints` (biases and symmetric int8 weights: all 0)
   * the DQ has none, as ONNX allows: bytes a channel saved, and ONNX Runtime's fusions read a
   * missing one as 0. `scaleName` names a scale already in the graph (a per-channel bias's,
   * computed from its input's and weight's) instead of storing `scales`; `halfScales` stores
   * per-channel scales (float16 values already) as float16 behind a Cast to float.
   */
  const storeQuantized = (
    data: Int8Array | Uint8Array | Int32Array,
    dims: number[],
    scales: Float32Array,
    zeroPoints: Int8Array | Uint8Array | undefined,
    type: number,
    stored: { axis?: number; scaleName?: string; halfScales?: boolean } = {},
  ): { out: string; scale: string } => {
    const { axis } = stored;
    const q = fresh();
    const perChannel = axis !== undefined && scales.length > 1;
    initializers.push(makeTensor(q, type, dims, data));
    const inputs = [q];
    if (perChannel) {
      const scale = stored.scaleName ?? fresh();
      if (stored.scaleName === undefined && stored.halfScales === true) {
        // ONNX Runtime folds the Cast when it loads the model (constant folding runs before
        // the QDQ fusions), so its kernels see float32 scales, as DequantizeLinear-13 needs.
        const half = fresh();
        initializers.push(makeTensor(half, DataType.FLOAT16, [scales.length], Uint16Array.from(scales, (s) => float16Bits(s))));
        added.push({ opType: 'Cast', input: [half], output: [scale], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }] });
      } else if (stored.scaleName === undefined) {
        initializers.push(makeTensor(scale, DataType.FLOAT, [scales.length], scales));
      }
      inputs.push(scale);
      if (zeroPoints) {
        const zero = fresh();
        initializers.push(makeTensor(zero, type, [zeroPoints.length], zeroPoints));
        inputs.push(zero);
      }
    } else {
      inputs.push(scalar(DataType.FLOAT, scales[0]));
      if (zeroPoints) inputs.push(scalar(type, zeroPoints[0]));
    }
    const out = fresh();
    added.push(qdqNode('DequantizeLinear', inputs, out, perChannel ? axis : undefined));
    return { out, scale: inputs[1] };
  };

  const weightAxis = (node: onnx.INodeProto, dims: number[]): number | undefined => {
    if (!options.perChannel) return undefined;
    if (options.perChannel === 'depthwise' && node.opType !== 'Conv') return undefined;
    switch (node.opType) {
      case 'Conv':
        if (options.perChannel === 'depthwise' && intAttribute(node, 'group', 1) === 1) return undefined;
        return 0;
      case 'ConvTranspose':
        return intAttribute(node, 'group', 1) === 1 ? 1 : undefined;
      case 'Gemm':
        return intAttribute(node, 'transB', 0) === 1 ? 0 : 1;
      case 'MatMul':
        return dims.length - 1;
      default:
        return undefined;
    }
  };

  type StoredConstant = { out: string; scales: Float32Array; scale: string };
  const weightCache = new Map<string, StoredConstant>();
  const quantizeConstant = (node: onnx.INodeProto, slot: number, name: string): StoredConstant | undefined => {
    const t = index.constantFloats(name);
    if (!t) return undefined;
    const dims = dimsOf(t);
    const values = floatsOf(t);
    const isWeight = slot === 1 && ['Conv', 'ConvTranspose', 'MatMul', 'Gemm'].includes(node.opType ?? '');
    // Scalar operands (the 3 and 6 of hardswish, repeated in every block) share one DQ by value.
    const key = !isWeight && values.length === 1 ? `scalar:${dims.length}:${values[0]}` : name;
    const cached = weightCache.get(key);
    if (cached) return cached;
    let result;
    if (isWeight) {
      const axis = weightAxis(node, dims);
      // Per-channel scales in float16: in a small model (PP-OCR's classifier, 3,148 channels)
      // their float32 bytes are 2% of the original's, a tenth of what int8 leaves.
      const w = quantizeWeight(values, dims, { type: weightType, symmetric: weightType === 'int8', reduceRange: options.reduceRange ?? true, float16Scales: true, ...(axis !== undefined && { axis }) });
      // Symmetric int8 weights have zero points of 0, which DequantizeLinear assumes when it
      // has none. Only for convolutions: ONNX Runtime fuses Gemm into QGemm only with one.
      const implicitZero = weightType === 'int8' && (node.opType === 'Conv' || node.opType === 'ConvTranspose');
      result = { ...storeQuantized(w.data, dims, w.scales, implicitZero ? undefined : w.zeroPoints, wType, { ...(axis !== undefined && { axis }), halfScales: w.scalesInFloat16 === true }), scales: w.scales };
      report.weights++;
    } else {
      // An operand of Add, Mul, Concat: quantized as the activations are, so that the
      // op's inputs share one type and ONNX Runtime can fuse it.
      const w = quantizeWeight(values, dims, { type: activationType });
      result = { ...storeQuantized(w.data, dims, w.scales, w.zeroPoints, qType), scales: w.scales };
    }
    weightCache.set(key, result);
    return result;
  };

  for (const node of graph.node ?? []) {
    if (!quantizing.has(node)) continue;
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    // Read before the loop below points it at its dequantized form: the bias's scale needs its parameters.
    const activation = inputs[0] ?? '';
    let weight: StoredConstant | undefined;
    let ok = true;
    for (const slot of quantizedInputs(node)) {
      const name = inputs[slot] ?? '';
      if (name === '') continue;
      const isBias = slot === 2 && (op === 'Conv' || op === 'ConvTranspose' || op === 'Gemm');
      if (isBias) continue;
      if (index.initializers.has(name)) {
        const q = quantizeConstant(node, slot, name);
        if (!q) {
          ok = false;
          continue;
        }
        inputs[slot] = q.out;
        if (slot === 1) weight = q;
      } else if (quantizeActivation(name)) {
        inputs[slot] = dequantized.get(name) ?? name;
      } else {
        ok = false;
      }
    }
    // The bias: int32 at input scale × weight scale, once both are known.
    const bias = inputs[2] ?? '';
    if ((op === 'Conv' || op === 'ConvTranspose' || op === 'Gemm') && bias !== '') {
      const b = index.constantFloats(bias);
      const inputScale = params.get(activation)?.scale;
      if (b && weight && inputScale !== undefined && dimsOf(b).length === 1 && (index.consumers.get(bias) ?? []).length === 1) {
        const q = quantizeBias(floatsOf(b), inputScale, weight.scales);
        // A per-channel bias's scales are the weight's times the input's: computed by a Mul
        // that ONNX Runtime folds when it loads the model (constant folding runs before the
        // QDQ fusions), instead of stored. A float32 product of two float32s rounds the same
        // as quantizeBias's, so the int32 values match the folded scale exactly. In PP-OCR's
        // classifier this is 12 KB, 6% of the quantized file.
        let biasScale: string | undefined;
        if (q.scales.length > 1) {
          biasScale = fresh();
          added.push({ opType: 'Mul', input: [scalar(DataType.FLOAT, inputScale), weight.scale], output: [biasScale] });
        }
        inputs[2] = storeQuantized(q.data, dimsOf(b), q.scales, undefined, DataType.INT32, q.scales.length > 1 ? { axis: 0, ...(biasScale !== undefined && { scaleName: biasScale }) } : {}).out;
        report.biases++;
      }
    }
    const out = node.output?.[0] ?? '';
    if (out !== '') quantizeActivation(out);
    if (ok) report.quantized[op] = (report.quantized[op] ?? 0) + 1;
    else report.skipped.push({ name: node.name ?? '', opType: op, reason: 'an input has no range or is not a float constant' });
  }

  // A division by a positive constant after a quantized tensor is a change of scale: its
  // output is the same integers dequantized at scale / c (hardswish's "/ 6", 18 times in
  // PP-OCR's classifier). Folded so, it leaves no float island of DQ → Div → Q behind.
  const removed = new Set<onnx.INodeProto>();
  for (const node of graph.node ?? []) {
    if (node.opType !== 'Div' || (node.domain ?? '') !== '') continue;
    const [x = '', divisor = ''] = node.input ?? [];
    const c = index.constantFloats(divisor);
    const from = pairs.get(x);
    const y = (node.output ?? [])[0] ?? '';
    if (!from || !c || floatsOf(c).length !== 1 || !(floatsOf(c)[0] > 0) || !Number.isFinite(floatsOf(c)[0]) || y === '') continue;
    const scale = Math.fround(from.params.scale / floatsOf(c)[0]);
    if (!(scale > 0)) continue;
    removed.add(node);
    const listed = report.skipped.findIndex((k) => k.opType === 'Div' && k.name === (node.name ?? ''));
    if (listed >= 0) report.skipped.splice(listed, 1);
    // The Div's output was itself quantized: its pair goes, the new DQ takes its name.
    const to = pairs.get(renamedTo.get(y) ?? y);
    const name = to ? to.dq.output![0] : y;
    if (to) {
      removed.add(to.q).add(to.dq);
      report.activations--;
    }
    added.push(qdqNode('DequantizeLinear', [from.quantized, scalar(DataType.FLOAT, scale), from.zero], name));
    report.foldedDivisions++;
  }
  graph.node = [...(graph.node ?? []), ...added].filter((n) => !removed.has(n));
  dropDeadDequantizations(graph);
  graph.initializer = initializers;
  dropUnusedInitializers(graph);
  sortTopologically(graph);
  if (usesMsDomain) requireOpset(model, 'com.microsoft', 1);
  if (report.activations === 0) throw new OptimizeError('no tensor could be quantized: the calibration found no ranges for the tensors of the quantizable nodes');
  return report;
}

/** Removes DequantizeLinear nodes nobody reads (their reader was folded away). */
function dropDeadDequantizations(graph: onnx.IGraphProto): void {
  // Subgraphs read the main graph's tensors by name too.
  const read = new Set((graph.output ?? []).map((v) => v.name ?? ''));
  for (const g of allGraphs(graph)) for (const n of g.node ?? []) for (const i of n.input ?? []) read.add(i);
  graph.node = (graph.node ?? []).filter((n) => n.opType !== 'DequantizeLinear' || read.has(n.output?.[0] ?? ''));
}

/** True when a Clip's bounds hold 0 (so a range widened to hold 0 stays inside them). */
function clipHoldsZero(node: onnx.INodeProto, index: GraphIndex): boolean {
  const bound = (slot: number, attr: string, fallback: number): number | undefined => {
    const name = node.input?.[slot] ?? '';
    if (name === '') {
      const a = (node.attribute ?? []).find((x) => x.name === attr);
      return a?.f ?? fallback;
    }
    const t = index.constantFloats(name);
    return t ? floatsOf(t)[0] : undefined;
  };
  const lo = bound(1, 'min', -Infinity);
  const hi = bound(2, 'max', Infinity);
  return lo !== undefined && hi !== undefined && lo <= 0 && hi >= 0;
}

/** Points every reader of `from` (in the graph and its subgraphs) at `to`. */
function renameReads(graph: onnx.IGraphProto, from: string, to: string): void {
  for (const node of graph.node ?? []) {
    // In place: the caller may hold a node's input list while this runs.
    const inputs = node.input ?? [];
    for (let k = 0; k < inputs.length; k++) if (inputs[k] === from) inputs[k] = to;
    for (const g of subgraphsOf(node)) {
      if ((g.input ?? []).some((v) => v.name === from)) continue;
      renameReads(g, from, to);
    }
  }
}
