/**
 * Dynamic int8 quantization: weights quantized once, here, and activations quantized by the
 * model itself at run time, from each tensor's own range (no calibration data). This is
 * what ONNX Runtime's `quantize_dynamic` does (onnxruntime/python/tools/quantization/:
 * onnx_quantizer.py in IntegerOps mode, operators/matmul.py, operators/lstm.py), and the
 * forms written are the ones its CPU kernels and graph fusions expect:
 *
 * - MatMul with a constant B, at ONNX opset >= 11: DynamicQuantizeLinear (uint8) on A, then
 *   MatMulInteger → Cast → Mul by (A scale × B scale), as matmul.py writes it. That is the
 *   pattern ONNX Runtime's MatMulIntegerToFloatFusion turns into com.microsoft
 *   MatMulIntegerToFloat (taking a following Add of a 1-D constant as its bias), and that
 *   DynamicQuantizeMatMulFusion then turns, where the DynamicQuantizeLinear has no other
 *   reader, into DynamicQuantizeMatMul: one kernel that quantizes A, runs MLAS's packed
 *   u8×s8 GEMM and scales, with no int32 tensor in memory. Writing the ONNX ops rather than
 *   the fused op keeps the model standard (other runtimes have MatMulInteger), lets one
 *   DynamicQuantizeLinear serve several MatMuls of the same activation, and loses nothing
 *   in ONNX Runtime at its default optimization level, which fuses it (at 'basic' or
 *   'disabled' the unfused ops run, correctly but slower).
 * - At ONNX opset < 11 there is no DynamicQuantizeLinear (and no MatMulInteger below 10).
 *   Raising the model's opset would change the meaning of its other ops (Clip's min/max
 *   became inputs at 11, Upsample went, ...), so com.microsoft DynamicQuantizeMatMul, which
 *   takes float A and exists whatever the ONNX opset, is written directly: the very node
 *   the fusions above end at. Each such node quantizes its own A (a pass over A for its
 *   range: cheap next to the product).
 * - Gemm (ONNX Runtime's tool leaves it float in this mode) is written as the MatMul above:
 *   transB and alpha folded into the quantized weight, transA as a Transpose of A, beta
 *   folded into a constant C, and C added after the product (a 1-D C becomes the fused
 *   kernel's bias).
 * - LSTM with constant W and R becomes com.microsoft DynamicQuantizeLSTM, as lstm.py does:
 *   W and R int8 (symmetric, per direction, or per gate row with `perChannel`), transposed
 *   to [directions, input or hidden, 4 × hidden] as the kernel packs them.
 * - Conv stays float: ConvInteger has no fast CPU kernel in ONNX Runtime (it runs as
 *   im2col plus a generic integer GEMM with no fused requantization, slower than the float
 *   Conv: onnxruntime issues #3130 and #12854), so quantizing it dynamically loses time.
 *   GRU stays float: ONNX Runtime has no quantized GRU kernel.
 *
 * Weights are read wherever they are in scope: a node in an If or Loop body may read an
 * initializer of its own graph or of any graph around it. Quantized weights go beside the
 * float ones (in the graph that held them), and a float weight no node reads any more is
 * removed.
 */
import {
  allGraphs,
  DataType,
  dimsOf,
  elementTypeName,
  floatAttribute,
  floatsOf,
  GraphIndex,
  intAttribute,
  makeTensor,
  onnx,
  onnxOpset,
  OptimizeError,
  requireOpset,
  sizeOf,
  sortTopologically,
  subgraphsOf,
  tensorBytes,
} from './onnx-graph';
import { quantizeWeight, type QuantType, type QuantizedWeight } from './quantization-parameters';

/** The op types {@link quantizeDynamic} rewrites by default. */
export const DYNAMIC_OP_TYPES: readonly string[] = ['MatMul', 'Gemm', 'LSTM'];

/** Op types that may be named in `opTypes` although they are never rewritten (their nodes are listed as skipped, with why). */
const KEPT_FLOAT: Readonly<Record<string, string>> = {
  Conv: 'Conv stays float: ConvInteger has no fast CPU kernel in ONNX Runtime (onnxruntime #3130, #12854)',
  GRU: 'GRU stays float: ONNX Runtime has no dynamically quantized GRU kernel',
};

/** Options of {@link quantizeDynamic}. */
export interface DynamicQuantizationOptions {
  /**
   * The weights' integer type (default `'int8'`, as ONNX Runtime's `quantize_dynamic`).
   * LSTM weights are always int8 (symmetric), as ONNX Runtime's lstm.py writes them: its
   * kernel requires zero points of 0 for per-channel int8.
   */
  weightType?: QuantType;
  /**
   * Centre weights' ranges on zero (zero point 0 for int8). Default: true for int8 and false
   * for uint8, as ONNX Runtime's `WeightSymmetric`.
   */
  symmetric?: boolean;
  /**
   * One scale per output column of a MatMul/Gemm weight (per gate row of an LSTM's) rather
   * than one per tensor (default false). A MatMul whose weight is not 2-D stays per tensor.
   */
  perChannel?: boolean;
  /**
   * Quantize weights to 7 bits (default false, as ONNX Runtime's tool). On x86 CPUs with
   * AVX2 but no VNNI, ONNX Runtime's u8×s8 kernels (MLAS, vpmaddubsw) add the products of
   * adjacent k in pairs saturated to int16: with full-range int8 weights (±127) and
   * activations near 255 a pair passes 32767 and the sum is clipped. Measured with ONNX
   * Runtime 1.28 on such a CPU: the outputs are exactly that saturating arithmetic, and
   * for random uniform data most of a K = 64 product's outputs are hit; PP-OCR's text and
   * Silero VAD's probabilities (within 0.008) were not visibly affected. 7 bits (±64, so
   * 255 × 64 × 2 < 32767) or `weightType: 'uint8'` (u8×u8 kernels widen to 16 bits first)
   * avoid it on every CPU; VNNI and ARM CPUs do not saturate.
   */
  reduceRange?: boolean;
  /** The op types to quantize (default {@link DYNAMIC_OP_TYPES}); 'Conv' and 'GRU' are accepted and reported as kept float. */
  opTypes?: readonly string[];
  /** Names of nodes to leave in float (reported as skipped, "excluded"). */
  excludeNodes?: readonly string[];
}

/** A node rewritten by {@link quantizeDynamic}. */
export interface QuantizedNodeInfo {
  /** The node's name (or `<opType>#<index>` for an unnamed node). */
  name: string;
  /** Its op type before: MatMul, Gemm, LSTM. */
  opType: string;
  /** The name of the graph holding it (subgraphs have their own). */
  graph: string;
  /** The op that now does the product: MatMulInteger, DynamicQuantizeMatMul or DynamicQuantizeLSTM. */
  as: string;
  /** Whether its weight has a scale per channel. */
  perChannel: boolean;
}

/** A node of a requested op type that {@link quantizeDynamic} left in float. */
export interface SkippedNodeInfo {
  name: string;
  opType: string;
  graph: string;
  /** Why: "excluded", "weight is not constant (...)", ... */
  reason: string;
}

/** What {@link quantizeDynamic} did. */
export interface DynamicQuantizationReport {
  /** Nodes rewritten, counted by their op type before. */
  quantized: Record<string, number>;
  /** Each node rewritten. */
  nodes: QuantizedNodeInfo[];
  /** Each node of a requested op type left in float, with the reason. */
  skipped: SkippedNodeInfo[];
  /** DynamicQuantizeLinear nodes added (one per activation, however many products read it). */
  activationQuantizers: number;
  /**
   * The bytes all initializers of all graphs took before and after (what the model's file
   * size follows).
   */
  weightBytes: { before: number; after: number };
  /** The products' form: ONNX's MatMulInteger (opset >= 11), or com.microsoft's DynamicQuantizeMatMul. */
  form: 'MatMulInteger' | 'DynamicQuantizeMatMul';
}

const MS_DOMAIN = 'com.microsoft';

/** A graph being rewritten, and the graphs around it (whose names it can read). */
interface Scope {
  graph: onnx.IGraphProto;
  index: GraphIndex;
  parent: Scope | undefined;
  /** Activations already quantized in this graph, by name (DynamicQuantizeLinear's outputs). */
  quantizedActivations: Map<string, { q: string; scale: string; zeroPoint: string }>;
  /** Transposed activations (Gemm's transA), by name. */
  transposed: Map<string, string>;
}

/** A weight written as integers, with the names of its tensors. */
interface QuantizedTensors {
  q: string;
  scale: string;
  zeroPoint: string;
  perChannel: boolean;
}

/** A float weight to quantize, as its product reads it. */
interface WeightSource {
  values: Float32Array;
  dims: number[];
  /** The axis with a scale per slice (none: one scale). */
  axis?: number;
  type?: QuantType;
  symmetric?: boolean;
  /** The scales' and zero points' dims (default: [] per tensor, [dims[axis]] per axis). */
  scaleDims?: number[];
  /** Whether to report the weight as per channel (default: when it has an axis). */
  perChannel?: boolean;
  /** The integers' layout as stored, when not the values' own. */
  reorder?: (q: QuantizedWeight) => { data: Int8Array | Uint8Array; dims: number[] };
}

type Lookup = { tensor: onnx.ITensorProto; owner: Scope } | { reason: string };

/**
 * Quantizes a model's MatMul, Gemm and LSTM weights to 8 bits, their activations to be
 * quantized at run time (see the file's comment for the forms written and why). Edits
 * `model` in place. Expects a model that ONNX Runtime has optimized at its 'basic' level
 * (so that constants are initializers); weights that come from a Constant node are skipped.
 *
 * On x86 CPUs without VNNI, ONNX Runtime's u8×s8 kernels can saturate with the default
 * full-range int8 weights (see `reduceRange`); `perChannel` plus `reduceRange` avoids that.
 *
 * @returns What was quantized, what was not and why, and the initializers' bytes.
 * @throws {@link OptimizeError} for bad options, or a model of ONNX opset < 7 (before
 *   numpy-style broadcasting, which the added Mul and Add rely on).
 * @example
 * ```ts
 * const model = decodeModel(readFileSync('model.basic.onnx'));
 * const report = quantizeDynamic(model, { perChannel: true });
 * writeFileSync('model.int8.onnx', encodeModel(model));
 * ```
 */
export function quantizeDynamic(model: onnx.IModelProto, options: DynamicQuantizationOptions = {}): DynamicQuantizationReport {
  if (!model.graph) throw new OptimizeError('the model has no graph');
  const opset = onnxOpset(model);
  if (opset < 7) throw new OptimizeError(`the model's ONNX opset is ${opset}; dynamic quantization needs 7 or newer (numpy-style broadcasting). Convert the model to a newer opset first.`);
  const q = new DynamicQuantizer(model, checkOptions(options), opset >= 11 ? 'MatMulInteger' : 'DynamicQuantizeMatMul');
  return q.run();
}

interface Settings {
  weightType: QuantType;
  symmetric: boolean;
  perChannel: boolean;
  reduceRange: boolean;
  opTypes: Set<string>;
  exclude: Set<string>;
}

function checkOptions(options: DynamicQuantizationOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new OptimizeError('options must be an object');
  const weightType = options.weightType ?? 'int8';
  if (weightType !== 'int8' && weightType !== 'uint8') throw new OptimizeError(`weightType must be 'int8' or 'uint8', not ${JSON.stringify(weightType)}`);
  const opTypes = new Set(options.opTypes ?? DYNAMIC_OP_TYPES);
  for (const op of opTypes) {
    if (!DYNAMIC_OP_TYPES.includes(op) && !(op in KEPT_FLOAT)) {
      throw new OptimizeError(`opTypes: ${JSON.stringify(op)} cannot be quantized dynamically; the op types are ${[...DYNAMIC_OP_TYPES, ...Object.keys(KEPT_FLOAT)].join(', ')}`);
    }
  }
  for (const [name, value] of Object.entries({ symmetric: options.symmetric, perChannel: options.perChannel, reduceRange: options.reduceRange })) {
    if (value !== undefined && typeof value !== 'boolean') throw new OptimizeError(`${name} must be a boolean`);
  }
  if (options.excludeNodes !== undefined && !Array.isArray(options.excludeNodes)) throw new OptimizeError('excludeNodes must be an array of node names');
  return {
    weightType,
    symmetric: options.symmetric ?? weightType === 'int8',
    perChannel: options.perChannel ?? false,
    reduceRange: options.reduceRange ?? false,
    opTypes,
    exclude: new Set(options.excludeNodes ?? []),
  };
}

function allInitializerBytes(graph: onnx.IGraphProto): number {
  let bytes = 0;
  for (const g of allGraphs(graph)) for (const t of g.initializer ?? []) bytes += tensorBytes(t);
  return bytes;
}

function isOnnxDomain(node: onnx.INodeProto): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

const INT_TYPE = { int8: DataType.INT8, uint8: DataType.UINT8 } as const;

class DynamicQuantizer {
  private readonly names: GraphIndex;
  private readonly report: DynamicQuantizationReport;
  /** Quantized weights already written, by owner graph and a key of the weight and its variant. */
  private readonly written = new Map<onnx.IGraphProto, Map<string, QuantizedTensors>>();
  /** Float weights replaced, by owner graph: removed at the end if nothing reads them any more. */
  private readonly replaced = new Map<onnx.IGraphProto, Set<string>>();
  private usedContribOps = false;

  constructor(
    private readonly model: onnx.IModelProto,
    private readonly settings: Settings,
    private readonly form: 'MatMulInteger' | 'DynamicQuantizeMatMul',
  ) {
    this.names = new GraphIndex(model.graph!);
    this.report = {
      quantized: {},
      nodes: [],
      skipped: [],
      activationQuantizers: 0,
      weightBytes: { before: allInitializerBytes(model.graph!), after: 0 },
      form,
    };
  }

  run(): DynamicQuantizationReport {
    this.rewriteGraph(this.model.graph!, undefined);
    for (const [graph, names] of this.replaced) removeUnread(graph, names);
    if (this.usedContribOps) requireOpset(this.model, MS_DOMAIN, 1);
    this.report.weightBytes.after = allInitializerBytes(this.model.graph!);
    return this.report;
  }

  private rewriteGraph(graph: onnx.IGraphProto, parent: Scope | undefined): void {
    const scope: Scope = { graph, index: new GraphIndex(graph), parent, quantizedActivations: new Map(), transposed: new Map() };
    const out: onnx.INodeProto[] = [];
    let changed = false;
    (graph.node ?? []).forEach((node, i) => {
      for (const sub of subgraphsOf(node)) this.rewriteGraph(sub, scope);
      const replacement = this.rewriteNode(node, i, scope);
      if (replacement) {
        out.push(...replacement);
        changed = true;
      } else {
        out.push(node);
      }
    });
    if (changed) {
      graph.node = out;
      sortTopologically(graph);
    }
  }

  private rewriteNode(node: onnx.INodeProto, position: number, scope: Scope): onnx.INodeProto[] | undefined {
    const op = node.opType ?? '';
    if (!isOnnxDomain(node) || !this.settings.opTypes.has(op)) return undefined;
    const name = node.name || `${op}#${position}`;
    const where = { name, opType: op, graph: scope.graph.name ?? '' };
    const skip = (reason: string): undefined => {
      this.report.skipped.push({ ...where, reason });
      return undefined;
    };
    if (op in KEPT_FLOAT) return skip(KEPT_FLOAT[op]);
    if (node.name && this.settings.exclude.has(node.name)) return skip('excluded');
    let result: { nodes: onnx.INodeProto[]; as: string; perChannel: boolean } | string;
    switch (op) {
      case 'MatMul':
        result = this.matMul(node, scope);
        break;
      case 'Gemm':
        result = this.gemm(node, scope);
        break;
      case 'LSTM':
        result = this.lstm(node, scope);
        break;
      default:
        return undefined;
    }
    if (typeof result === 'string') return skip(result);
    this.report.quantized[op] = (this.report.quantized[op] ?? 0) + 1;
    this.report.nodes.push({ ...where, as: result.as, perChannel: result.perChannel });
    return result.nodes;
  }

  /** The constant float tensor `name` reads, looking outward from `scope`, or why there is none. */
  private lookup(name: string, scope: Scope): Lookup {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const producer = s.index.producer.get(name);
      if (producer) {
        return producer.opType === 'Constant'
          ? { reason: "weight is not an initializer (a Constant node's output): optimize the model with ONNX Runtime at the 'basic' level first" }
          : { reason: `weight is not constant (the output of ${[producer.opType, producer.name].filter(Boolean).join(' ')})` };
      }
      // An initializer that is also a graph input is a default the caller may override.
      if (s.index.inputs.has(name)) return { reason: 'weight is not constant (a graph input)' };
      const t = s.index.initializers.get(name);
      if (t) {
        if (t.dataType !== DataType.FLOAT) return { reason: `weight is ${elementTypeName(t.dataType ?? 0)}, not FLOAT` };
        if (sizeOf(dimsOf(t)) === 0) return { reason: 'weight is empty' };
        return { tensor: t, owner: s };
      }
    }
    return { reason: 'weight is not constant (not found in scope)' };
  }

  /** Writes the quantized form of a weight into its owner graph (once per weight and variant). */
  private writeWeight(
    owner: Scope,
    key: string,
    baseName: string,
    make: () => WeightSource,
  ): QuantizedTensors {
    let byKey = this.written.get(owner.graph);
    if (!byKey) this.written.set(owner.graph, (byKey = new Map()));
    const cached = byKey.get(key);
    if (cached) return cached;
    const { values, dims, axis, type = this.settings.weightType, symmetric = this.settings.symmetric, scaleDims, reorder, perChannel = axis !== undefined } = make();
    const weight = quantizeWeight(values, dims, { type, symmetric, reduceRange: this.settings.reduceRange, axis });
    const stored = reorder ? reorder(weight) : { data: weight.data, dims };
    const paramDims = scaleDims ?? (axis === undefined ? [] : [dims[axis]]);
    const names: QuantizedTensors = {
      q: this.names.uniqueName(`${baseName}_quantized`),
      scale: this.names.uniqueName(`${baseName}_scale`),
      zeroPoint: this.names.uniqueName(`${baseName}_zero_point`),
      perChannel,
    };
    owner.graph.initializer ??= [];
    owner.graph.initializer.push(
      makeTensor(names.q, INT_TYPE[type], stored.dims, stored.data),
      makeTensor(names.scale, DataType.FLOAT, paramDims, weight.scales),
      makeTensor(names.zeroPoint, INT_TYPE[type], paramDims, weight.zeroPoints),
    );
    byKey.set(key, names);
    return names;
  }

  private markReplaced(owner: Scope, name: string): void {
    let names = this.replaced.get(owner.graph);
    if (!names) this.replaced.set(owner.graph, (names = new Set()));
    names.add(name);
  }

  private matMul(node: onnx.INodeProto, scope: Scope): { nodes: onnx.INodeProto[]; as: string; perChannel: boolean } | string {
    const [a, b] = node.input ?? [];
    const y = node.output?.[0];
    if (!a || !b || !y) return 'MatMul without both inputs and an output';
    const found = this.lookup(b, scope);
    if ('reason' in found) return found.reason;
    const dims = dimsOf(found.tensor);
    if (dims.length < 2) return 'weight is 1-D (a vector product)';
    const axis = this.settings.perChannel && dims.length === 2 ? 1 : undefined;
    const w = this.writeWeight(found.owner, `${b}|matmul|${axis ?? '-'}`, b, () => ({ values: floatsOf(found.tensor), dims, axis }));
    this.markReplaced(found.owner, b);
    const nodes = this.product(scope, node, a, w, y, undefined, undefined);
    return { nodes, as: this.form, perChannel: w.perChannel };
  }

  private gemm(node: onnx.INodeProto, scope: Scope): { nodes: onnx.INodeProto[]; as: string; perChannel: boolean } | string {
    const [a, b, c] = node.input ?? [];
    const y = node.output?.[0];
    if (!a || !b || !y) return 'Gemm without both inputs and an output';
    const found = this.lookup(b, scope);
    if ('reason' in found) return found.reason;
    const dims = dimsOf(found.tensor);
    if (dims.length !== 2) return `weight has ${dims.length} dimensions, not 2`;
    const transA = intAttribute(node, 'transA', 0) !== 0;
    const transB = intAttribute(node, 'transB', 0) !== 0;
    const alpha = floatAttribute(node, 'alpha', 1);
    const beta = floatAttribute(node, 'beta', 1);
    const [k, n] = transB ? [dims[1], dims[0]] : dims;
    const axis = this.settings.perChannel ? 1 : undefined;
    const w = this.writeWeight(found.owner, `${b}|gemm|${transB}|${alpha}|${axis ?? '-'}`, b, () => {
      const values = floatsOf(found.tensor);
      // The product uses B as [K, N], scaled by alpha: quantizing that makes alpha free.
      const kn = new Float32Array(values.length);
      for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) kn[i * n + j] = Math.fround(alpha * (transB ? values[j * k + i] : values[i * n + j]));
      return { values: kn, dims: [k, n], axis };
    });
    this.markReplaced(found.owner, b);
    const nodes: onnx.INodeProto[] = [];
    let input = a;
    if (transA) {
      // Transposed in float, before DynamicQuantizeLinear: ONNX Runtime's fusion into
      // DynamicQuantizeMatMul reads the DynamicQuantizeLinear's own input as A, so nothing
      // may stand between them.
      input = scope.transposed.get(a) ?? '';
      if (!input) {
        input = this.names.uniqueName(`${a}_transposed`);
        scope.transposed.set(a, input);
        nodes.push(makeNode('Transpose', [a], [input], this.names.uniqueName(`${node.name || 'Gemm'}_transpose_a`), [intsAttribute('perm', [1, 0])]));
      }
    }
    let addend: string | undefined;
    let bias: string | undefined;
    if (c && beta !== 0) {
      const constant = this.lookup(c, scope);
      if ('tensor' in constant) {
        const cDims = dimsOf(constant.tensor);
        const isRow = cDims.length >= 1 && cDims[cDims.length - 1] === n && cDims.slice(0, -1).every((d) => d === 1);
        if (beta !== 1 || (this.form === 'DynamicQuantizeMatMul' && isRow && cDims.length !== 1)) {
          // beta folded in, and, for DynamicQuantizeMatMul's bias, a [1, N] C made [N].
          const values = floatsOf(constant.tensor).map((v) => Math.fround(beta * v));
          const name = this.names.uniqueName(`${c}_bias`);
          constant.owner.graph.initializer!.push(makeTensor(name, DataType.FLOAT, isRow ? [n] : cDims, values));
          this.markReplaced(constant.owner, c);
          addend = name;
        } else {
          addend = c;
        }
        if (isRow && this.form === 'DynamicQuantizeMatMul') [bias, addend] = [addend, undefined];
      } else if (beta !== 1) {
        const betaName = this.names.uniqueName(`${node.name || 'Gemm'}_beta`);
        scope.graph.initializer ??= [];
        scope.graph.initializer.push(makeTensor(betaName, DataType.FLOAT, [], Float32Array.of(beta)));
        addend = this.names.uniqueName(`${c}_times_beta`);
        nodes.push(makeNode('Mul', [c, betaName], [addend], this.names.uniqueName(`${node.name || 'Gemm'}_beta_mul`)));
      } else {
        addend = c;
      }
    }
    nodes.push(...this.product(scope, node, input, w, y, bias, addend));
    return { nodes, as: this.form, perChannel: w.perChannel };
  }

  /**
   * Y = A × W (+ bias, + addend), W quantized: ONNX's ops or com.microsoft's
   * DynamicQuantizeMatMul, as the file's comment says. `bias` (DynamicQuantizeMatMul only)
   * is a constant [N]; `addend` anything Add broadcasts.
   */
  private product(scope: Scope, node: onnx.INodeProto, a: string, w: QuantizedTensors, y: string, bias: string | undefined, addend: string | undefined): onnx.INodeProto[] {
    const base = node.name || node.opType || 'MatMul';
    const nodes: onnx.INodeProto[] = [];
    const product = addend ? this.names.uniqueName(`${y}_before_bias`) : y;
    if (this.form === 'DynamicQuantizeMatMul') {
      this.usedContribOps = true;
      const inputs = [a, w.q, w.scale, w.zeroPoint];
      if (bias) inputs.push(bias);
      nodes.push(makeNode('DynamicQuantizeMatMul', inputs, [product], this.names.uniqueName(`${base}_quant`), [], MS_DOMAIN));
    } else {
      const qa = this.quantizeActivation(scope, a, nodes);
      const integers = this.names.uniqueName(`${y}_output_quantized`);
      const floats = this.names.uniqueName(`${integers}_cast_output`);
      const scales = this.names.uniqueName(`${base}_quant_scales_mul_output`);
      // The order of the scale Mul's inputs (A's, then W's) is the one the fusion takes
      // for MatMulIntegerToFloat's a_scale and b_scale.
      nodes.push(
        makeNode('MatMulInteger', [qa.q, w.q, qa.zeroPoint, w.zeroPoint], [integers], this.names.uniqueName(`${base}_quant`)),
        makeNode('Cast', [integers], [floats], this.names.uniqueName(`${integers}_cast`), [intAttr('to', DataType.FLOAT)]),
        makeNode('Mul', [qa.scale, w.scale], [scales], this.names.uniqueName(`${base}_quant_scales_mul`)),
        makeNode('Mul', [floats, scales], [product], this.names.uniqueName(`${base}_quant_output_scale_mul`)),
      );
    }
    // The product first, the addend second: MatMulIntegerToFloatFusion looks for the bias as the Add's second input.
    if (addend) nodes.push(makeNode('Add', [product, addend], [y], this.names.uniqueName(`${base}_bias_add`)));
    return nodes;
  }

  /** DynamicQuantizeLinear of an activation, shared by all the products that read it in this graph. */
  private quantizeActivation(scope: Scope, a: string, nodes: onnx.INodeProto[]): { q: string; scale: string; zeroPoint: string } {
    const known = scope.quantizedActivations.get(a);
    if (known) return known;
    const out = {
      q: this.names.uniqueName(`${a}_quantized`),
      scale: this.names.uniqueName(`${a}_scale`),
      zeroPoint: this.names.uniqueName(`${a}_zero_point`),
    };
    nodes.push(makeNode('DynamicQuantizeLinear', [a], [out.q, out.scale, out.zeroPoint], this.names.uniqueName(`${a}_QuantizeLinear`)));
    scope.quantizedActivations.set(a, out);
    this.report.activationQuantizers++;
    return out;
  }

  private lstm(node: onnx.INodeProto, scope: Scope): { nodes: onnx.INodeProto[]; as: string; perChannel: boolean } | string {
    const inputs = node.input ?? [];
    const [x, wName, rName] = inputs;
    if (!x || !wName || !rName) return 'LSTM without X, W and R';
    if (intAttribute(node, 'layout', 0) !== 0) return 'layout 1 (batch first): DynamicQuantizeLSTM has no layout attribute';
    const hidden = intAttribute(node, 'hidden_size', 0);
    const weights: { tensor: onnx.ITensorProto; owner: Scope; name: string }[] = [];
    for (const name of [wName, rName]) {
      const found = this.lookup(name, scope);
      if ('reason' in found) return found.reason;
      const dims = dimsOf(found.tensor);
      if (dims.length !== 3 || (hidden > 0 && dims[1] !== 4 * hidden)) return `weight ${name} has dims [${dims.join(', ')}], not [directions, 4 × hidden_size, ...]`;
      weights.push({ ...found, name });
    }
    const quantized = weights.map((found) => this.lstmWeight(found, found.name));
    for (const found of weights) this.markReplaced(found.owner, found.name);
    this.usedContribOps = true;
    const padded = [...inputs.slice(0, 8)];
    while (padded.length < 8) padded.push('');
    const [w, r] = quantized;
    const attributes = (node.attribute ?? []).filter((at) => at.name !== 'layout');
    const quantNode = makeNode(
      'DynamicQuantizeLSTM',
      [...padded.slice(0, 1), w.q, r.q, ...padded.slice(3), w.scale, w.zeroPoint, r.scale, r.zeroPoint],
      [...(node.output ?? [])],
      this.names.uniqueName(`${node.name || 'LSTM'}_quant`),
      attributes,
      MS_DOMAIN,
    );
    return { nodes: [quantNode], as: 'DynamicQuantizeLSTM', perChannel: w.perChannel };
  }

  /**
   * An LSTM weight [directions, 4 × hidden, K] as DynamicQuantizeLSTM takes it: int8,
   * symmetric, one scale per direction (or per gate row), stored as [directions, K, 4 × hidden].
   */
  private lstmWeight(found: { tensor: onnx.ITensorProto; owner: Scope }, name: string): QuantizedTensors {
    const [d, g, k] = dimsOf(found.tensor);
    const perChannel = this.settings.perChannel;
    return this.writeWeight(found.owner, `${name}|lstm|${perChannel}`, name, () => ({
      values: floatsOf(found.tensor),
      // Per direction: the tensor seen as [d, g·k]; per gate row: as [d·g, k]. Either way axis 0.
      dims: perChannel ? [d * g, k] : [d, g * k],
      axis: 0,
      type: 'int8',
      symmetric: true,
      scaleDims: perChannel ? [d, g] : [d],
      perChannel,
      reorder: (qw) => {
        const data = new Int8Array(qw.data.length);
        for (let dir = 0; dir < d; dir++) {
          const base = dir * g * k;
          for (let row = 0; row < g; row++) for (let col = 0; col < k; col++) data[base + col * g + row] = qw.data[base + row * k + col];
        }
        return { data, dims: [d, k, g] };
      },
    }));
  }
}

/** Removes from `graph` the initializers among `names` that no node of it (or of its subgraphs) reads and that are not outputs. */
function removeUnread(graph: onnx.IGraphProto, names: Set<string>): void {
  const read = new Set<string>((graph.output ?? []).map((v) => v.name ?? ''));
  for (const g of allGraphs(graph)) for (const n of g.node ?? []) for (const i of n.input ?? []) read.add(i);
  graph.initializer = (graph.initializer ?? []).filter((t) => !names.has(t.name ?? '') || read.has(t.name ?? ''));
}

function makeNode(opType: string, input: string[], output: string[], name: string, attribute: onnx.IAttributeProto[] = [], domain = ''): onnx.INodeProto {
  return onnx.NodeProto.create({ opType, input, output, name, attribute, domain });
}

function intAttr(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function intsAttribute(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}
