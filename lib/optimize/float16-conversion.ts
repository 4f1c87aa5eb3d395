/**
 * Float16 conversion: a float32 model's weights, activations and float types turned into
 * IEEE half floats, as onnxconverter-common's `convert_float_to_float16` (float16.py) and
 * ONNX Runtime's copy of it (onnxruntime/python/tools/transformers/float16.py) do: the
 * same clamping of weights, the same default block list, Casts around the operators that
 * stay float32, `keep_io_types`.
 *
 * The Python tools rely on ONNX's shape inference to know which values are float; there
 * is none here, so every value's element type is worked out from the graph (declared types,
 * initializers, and each operator's typing rule, below) before anything is changed. The
 * plan is then made per value, not per node: each float value gets one "home" type (the
 * type it is computed in) and each reader states the type it needs, so that one value read
 * by several float32 nodes gets one Cast, not one per reader, and two neighbouring float32
 * nodes get none between them (where float16.py inserts a pair and removes it afterwards).
 * Constants (initializers, Constant, ConstantOfShape, Cast to float) are "flexible": they
 * are stored in the type their readers need, and copied rather than cast when readers
 * need both, so that a float32 reader sees the original numbers, unclamped.
 *
 * Names are assumed unique across the whole model, subgraphs included (ONNX's SSA rule;
 * subgraph names that shadow outer ones are not supported).
 */
import { float16Bits } from '../core/float16';
import { outputTypes } from './element-types';
import {
  DataType,
  GraphIndex,
  OptimizeError,
  allGraphs,
  attributeOf,
  dimsOf,
  floatsOf,
  intAttribute,
  makeTensor,
  onnx,
  onnxOpset,
  sortTopologically,
  subgraphsOf,
  tensorBytes,
} from './onnx-graph';

const FLOAT = DataType.FLOAT;
const FLOAT16 = DataType.FLOAT16;
const A = onnx.AttributeProto.AttributeType;

/**
 * The operators onnxconverter-common keeps in float32 by default (its
 * DEFAULT_OP_BLOCK_LIST): ONNX-ML operators, and ONNX operators whose float16 kernels are
 * missing or inaccurate in ONNX Runtime.
 */
export const DEFAULT_OP_BLOCK_LIST: readonly string[] = Object.freeze([
  'ArrayFeatureExtractor',
  'Binarizer',
  'CastMap',
  'CategoryMapper',
  'DictVectorizer',
  'FeatureVectorizer',
  'Imputer',
  'LabelEncoder',
  'LinearClassifier',
  'LinearRegressor',
  'Normalizer',
  'OneHotEncoder',
  'RandomUniformLike',
  'SVMClassifier',
  'SVMRegressor',
  'Scaler',
  'TreeEnsembleClassifier',
  'TreeEnsembleRegressor',
  'ZipMap',
  'NonMaxSuppression',
  'TopK',
  'RoiAlign',
  'Resize',
  'Range',
  'CumSum',
  'Min',
  'Max',
  'Upsample',
]);

/** How {@link convertToFloat16} converts. */
export interface Float16Options {
  /**
   * Nonzero weights nearer to zero than this become ±this (zeros stay zero), so that small
   * weights do not vanish in float16's range. Default 1e-7, as onnxconverter-common; at
   * least 2^-24 (≈ 5.96e-8, float16's smallest subnormal).
   */
  minPositiveValue?: number;
  /**
   * Finite weights larger in magnitude than this become ±this (infinities stay), so that
   * products and sums of them stay finite. Default 1e4, as onnxconverter-common; at most
   * 65504 (float16's largest).
   */
  maxFiniteValue?: number;
  /**
   * Keep the model's float32 inputs and outputs float32, with a Cast after each input and
   * before each output; `true` for all of them, or the names of those to keep. Default
   * false: they become float16 (callers then feed and read `float16` tensors).
   */
  keepIoTypes?: boolean | readonly string[];
  /** Operator types to keep in float32, besides {@link DEFAULT_OP_BLOCK_LIST}. */
  blockOps?: readonly string[];
  /** Names of nodes to keep in float32. A name no node has is an error (a typo, most likely). */
  blockNodes?: readonly string[];
  /**
   * Whether {@link DEFAULT_OP_BLOCK_LIST} applies. Default true; false keeps only
   * `blockOps` (and the operators ONNX defines for float32 only) in float32. With it off,
   * Resize runs in float16 while its `roi` and `scales` stay float32, as ONNX requires.
   */
  defaultBlockList?: boolean;
  /**
   * Convert a model that already holds float16 tensors. Default false: such a model is
   * refused, since converting a converted model clamps and rounds its weights twice (the
   * check of onnxconverter-common's `check_fp16_ready`).
   */
  force?: boolean;
}

/** Why a node was kept in float32. */
export type Float32Reason =
  /** Its operator type is in the block list (the default one or `blockOps`). */
  | 'blockOps'
  /** Its name is in `blockNodes`. */
  | 'blockNodes'
  /** ONNX (at the model's opset) defines it for float32 only: quantization, NonMaxSuppression, ONNX-ML, sequences... */
  | 'float32-only'
  /** It calls one of the model's local functions, whose bodies are not converted. */
  | 'function';

/** A node left in float32, with Casts on its float inputs and outputs. */
export interface Float32Node {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** The (sub)graph it is in. */
  readonly graph: string;
  readonly reason: Float32Reason;
}

/** What {@link convertToFloat16} did, for a CLI or a log to print. */
export interface Float16Report {
  /** Float initializers stored as float16 (copies made for float16 readers included). */
  initializersConverted: number;
  /** Constant nodes' (and ConstantOfShape's) float tensors stored as float16. */
  constantsConverted: number;
  /** initializersConverted + constantsConverted. */
  tensorsConverted: number;
  /** Bytes those tensors took as float32, and take as float16. */
  bytesBefore: number;
  bytesAfter: number;
  /** Numbers of those tensors clamped to ±minPositiveValue or ±maxFiniteValue. */
  valuesClamped: number;
  /** Declared value types (graph inputs, outputs, value_info) changed from float32 to float16. */
  valueTypesChanged: number;
  /** Cast nodes added (around float32 nodes, after kept inputs, before kept outputs). */
  castsInserted: number;
  /** The model's own Cast nodes that became no-ops (float16 to float16) or were merged, and were removed. */
  castsRemoved: number;
  /** Nodes kept in float32 (not counting the nodes inside their subgraphs), in model order. */
  float32Nodes: Float32Node[];
  /** Graph inputs kept float32 (keepIoTypes). */
  float32Inputs: string[];
  /** Graph outputs kept float32 (keepIoTypes). */
  float32Outputs: string[];
}

/** The element type a reader needs: a float type, or whatever the value is (Cast, Shape). */
type Want = number | 'any';

interface Scope {
  readonly graph: onnx.IGraphProto;
  readonly parent: Scope | undefined;
  /** False inside the subgraphs of a node kept in float32: everything there stays float32. */
  readonly converted: boolean;
  readonly values: Map<string, Value>;
  /** The graph's nodes before the conversion added any. */
  readonly nodes: onnx.INodeProto[];
  readonly added: onnx.INodeProto[];
}

interface Value {
  readonly name: string;
  readonly scope: Scope;
  /** The element type in the float32 model; a sequence's is negated; undefined when unknown. */
  readonly type: number | undefined;
  readonly isInput: boolean;
  readonly producer?: onnx.INodeProto;
  readonly outputIndex: number;
  initializer?: onnx.ITensorProto;
  readers: number;
  wantsHalf: boolean;
  /** Stored in whichever type its readers need, and copied (not cast) for the others. */
  flexible: boolean;
  /** The type it is computed in after conversion. */
  home: number;
  /** The names it is available under, by type (the home one first). */
  readonly names: Map<number, string>;
}

interface NodePlan {
  readonly scope: Scope;
  /** Why it stays float32: a reason, or 'graph' inside a float32 node's subgraph. */
  readonly keep: Float32Reason | 'graph' | undefined;
}

/**
 * Converts a float32 model to float16, in place: float initializers and Constant tensors
 * (subgraphs of If, Loop and Scan included) are stored as float16, clamped to
 * ±[minPositiveValue, maxFiniteValue]; float value types, Cast targets and dtype
 * attributes (ConstantOfShape, RandomNormal, ...) become float16; nodes kept in float32
 * (the block lists, and operators ONNX defines for float32 only) get Casts on their float
 * inputs and outputs; inputs that ONNX requires in float32 (Resize's roi and scales,
 * GroupNorm's gamma and beta) stay so. The result is topologically sorted, and no Cast
 * feeds a Cast that undoes it.
 *
 * @param model - A decoded model (onnx-graph.ts's `decodeModel`); edited in place.
 * @param options - Clamping bounds, block lists, keepIoTypes.
 * @returns What was converted, clamped, cast and kept.
 * @throws {@link OptimizeError} for bad options, a `blockNodes` or `keepIoTypes` name the
 *   model lacks, a model that already holds float16 tensors (unless `force`), tensors in
 *   external files.
 * @example
 * ```ts
 * const model = decodeModel(readFileSync('model.onnx'));
 * const report = convertToFloat16(model, { keepIoTypes: true });
 * writeFileSync('model.fp16.onnx', encodeModel(model));
 * ```
 */
export function convertToFloat16(model: onnx.ModelProto, options: Float16Options = {}): Float16Report {
  return new Converter(model, options).run();
}

class Converter {
  private readonly minPositive: number;
  private readonly maxFinite: number;
  private readonly minPositiveF: number;
  private readonly maxFiniteF: number;
  private readonly blockOps: Set<string>;
  private readonly blockNodes: Set<string>;
  private readonly keepIo: (name: string) => boolean;
  private readonly functions: Set<string>;
  private readonly opset: number;
  private readonly graph: onnx.IGraphProto;
  private readonly index: GraphIndex;
  private readonly plans = new Map<onnx.INodeProto, NodePlan>();
  private readonly scopes: Scope[] = [];
  /** Casts this conversion added. */
  private readonly inserted = new Set<onnx.INodeProto>();
  /** Element types of names the conversion made (casts, copies) or retyped. */
  private readonly finalTypes = new Map<string, number>();
  private readonly report: Float16Report = {
    initializersConverted: 0,
    constantsConverted: 0,
    tensorsConverted: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    valuesClamped: 0,
    valueTypesChanged: 0,
    castsInserted: 0,
    castsRemoved: 0,
    float32Nodes: [],
    float32Inputs: [],
    float32Outputs: [],
  };

  constructor(
    model: onnx.ModelProto,
    private readonly options: Float16Options,
  ) {
    if (!model.graph) throw new OptimizeError('the model has no graph');
    this.graph = model.graph;
    this.minPositive = options.minPositiveValue ?? 1e-7;
    this.maxFinite = options.maxFiniteValue ?? 1e4;
    if (!(this.minPositive >= 2 ** -24)) throw new OptimizeError(`minPositiveValue must be at least 2^-24 (5.96e-8, float16's smallest), got ${this.minPositive}`);
    if (!(this.maxFinite <= 65504)) throw new OptimizeError(`maxFiniteValue must be at most 65504 (float16's largest), got ${this.maxFinite}`);
    if (!(this.minPositive < this.maxFinite)) throw new OptimizeError(`minPositiveValue (${this.minPositive}) must be below maxFiniteValue (${this.maxFinite})`);
    // The float32 numbers are compared in float32, as numpy compares a float32 array with a Python float.
    this.minPositiveF = Math.fround(this.minPositive);
    this.maxFiniteF = Math.fround(this.maxFinite);
    this.blockOps = new Set([...(options.defaultBlockList === false ? [] : DEFAULT_OP_BLOCK_LIST), ...(options.blockOps ?? [])]);
    this.blockNodes = new Set(options.blockNodes ?? []);
    const keep = options.keepIoTypes ?? false;
    const keepNames = typeof keep === 'boolean' ? undefined : new Set(keep);
    this.keepIo = (name) => (keepNames ? keepNames.has(name) : keep === true);
    this.functions = new Set((model.functions ?? []).map((f) => `${f.domain ?? ''}:${f.name ?? ''}`));
    this.opset = onnxOpset(model);
    this.index = new GraphIndex(this.graph);
  }

  run(): Float16Report {
    if (!this.options.force) this.refuseFloat16();
    const top = this.buildScope(this.graph, undefined, true);
    this.checkNames();
    this.collectWants();
    for (const scope of this.scopes) for (const v of scope.values.values()) this.chooseHome(v);
    this.rewire(top);
    this.convertInPlace();
    this.retypeDeclarations();
    for (const scope of this.scopes) {
      scope.graph.node = [...(scope.graph.node ?? []), ...scope.added];
      sortTopologically(scope.graph);
    }
    this.removeRedundantCasts();
    const present = new Set(allGraphs(this.graph).flatMap((g) => g.node ?? []));
    this.report.castsInserted = [...this.inserted].filter((n) => present.has(n)).length;
    this.report.tensorsConverted = this.report.initializersConverted + this.report.constantsConverted;
    return this.report;
  }

  // -------------------------------------------------------------------------------------
  // Element types of the float32 model.

  /** Builds the scope of a graph and of its subgraphs, inferring every value's element type. */
  private buildScope(graph: onnx.IGraphProto, parent: Scope | undefined, converted: boolean, inputHints: (number | undefined)[] = []): Scope {
    sortTopologically(graph);
    const scope: Scope = { graph, parent, converted, values: new Map(), nodes: [...(graph.node ?? [])], added: [] };
    this.scopes.push(scope);
    const declared = new Map<string, number>();
    for (const v of [...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
      const t = declaredType(v);
      if (t !== undefined) declared.set(v.name ?? '', t);
    }
    const add = (v: Omit<Value, 'scope' | 'readers' | 'wantsHalf' | 'flexible' | 'home' | 'names'>) =>
      scope.values.set(v.name, { ...v, scope, readers: 0, wantsHalf: false, flexible: false, home: v.type ?? 0, names: new Map() });
    (graph.input ?? []).forEach((v, i) => add({ name: v.name ?? '', type: declaredType(v) ?? inputHints[i], isInput: true, outputIndex: -1 }));
    for (const t of graph.initializer ?? []) {
      const existing = scope.values.get(t.name ?? '');
      if (existing) existing.initializer = t;
      else add({ name: t.name ?? '', type: t.dataType ?? undefined, isInput: false, outputIndex: -1, initializer: t });
    }
    for (const node of scope.nodes) {
      const keep = converted ? this.keepReason(node) : 'graph';
      this.plans.set(node, { scope, keep });
      if (keep !== undefined && keep !== 'graph') {
        this.report.float32Nodes.push({ name: node.name ?? '', opType: node.opType ?? '', domain: node.domain ?? '', graph: graph.name ?? '', reason: keep });
      }
      const inputs = (node.input ?? []).map((name) => (name === '' ? undefined : lookup(scope, name)?.type));
      const bodies: (number | undefined)[][] = [];
      for (const g of subgraphsOf(node)) {
        const child = this.buildScope(g, scope, converted && keep === undefined, bodyInputHints(node, inputs));
        bodies.push((g.output ?? []).map((o) => lookup(child, o.name ?? '')?.type ?? declaredType(o)));
      }
      const outputs = outputTypes(node, inputs, bodies, this.opset);
      (node.output ?? []).forEach((name, i) => {
        if (name !== '') add({ name, type: declared.get(name) ?? outputs[i], isInput: false, outputIndex: i, producer: node });
      });
    }
    return scope;
  }

  private keepReason(node: onnx.INodeProto): Float32Reason | undefined {
    if (node.name && this.blockNodes.has(node.name)) return 'blockNodes';
    if (this.blockOps.has(node.opType ?? '')) return 'blockOps';
    if (float32Only(node, this.opset)) return 'float32-only';
    if (this.functions.has(`${node.domain ?? ''}:${node.opType ?? ''}`)) return 'function';
    return undefined;
  }

  /** Names in the options that the model lacks are refused: a typo would otherwise convert what was meant to stay. */
  private checkNames(): void {
    const nodeNames = new Set([...this.plans.keys()].map((n) => n.name ?? ''));
    const missing = [...this.blockNodes].filter((n) => !nodeNames.has(n));
    if (missing.length > 0) throw new OptimizeError(`blockNodes: the model has no node named ${missing.map((n) => JSON.stringify(n)).join(', ')}`);
    const keep = this.options.keepIoTypes;
    if (Array.isArray(keep)) {
      const io = new Set([...(this.graph.input ?? []), ...(this.graph.output ?? [])].map((v) => v.name ?? ''));
      const unknown = keep.filter((n) => !io.has(n));
      if (unknown.length > 0) throw new OptimizeError(`keepIoTypes: the model has no input or output named ${unknown.map((n) => JSON.stringify(n)).join(', ')}`);
    }
  }

  /** Refuses a model that looks converted already (float16 tensors or Casts to float16). */
  private refuseFloat16(): void {
    for (const g of allGraphs(this.graph)) {
      const where = [
        ...(g.input ?? []).filter((v) => declaredType(v) === FLOAT16).map((v) => `input ${v.name}`),
        ...(g.output ?? []).filter((v) => declaredType(v) === FLOAT16).map((v) => `output ${v.name}`),
        ...(g.valueInfo ?? []).filter((v) => declaredType(v) === FLOAT16).map((v) => `value ${v.name}`),
        ...(g.initializer ?? []).filter((t) => t.dataType === FLOAT16).map((t) => `initializer ${t.name}`),
        ...(g.node ?? [])
          .filter((n) => (n.opType === 'Cast' && intAttribute(n, 'to', 0) === FLOAT16) || (n.opType === 'Constant' && attributeOf(n, 'value')?.t?.dataType === FLOAT16))
          .map((n) => `${n.opType} node ${n.name}`),
      ];
      if (where.length > 0) {
        throw new OptimizeError(`the model already holds float16 tensors (${where[0]}); convert its float32 original, or pass force to convert it again`);
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // The plan: what each reader needs, and each value's home type.

  private collectWants(): void {
    for (const scope of this.scopes) {
      for (const node of scope.nodes) {
        (node.input ?? []).forEach((name, i) => this.noteWant(scope, name, this.want(node, i)));
      }
      for (const o of scope.graph.output ?? []) this.noteWant(scope, o.name ?? '', this.outputWant(scope, o.name ?? ''));
    }
  }

  private noteWant(scope: Scope, name: string, want: Want): void {
    const v = name === '' ? undefined : lookup(scope, name);
    if (v?.type !== FLOAT) return;
    v.readers++;
    if (want === FLOAT16) v.wantsHalf = true;
  }

  /** The type a node needs its float32 input `i` in. */
  private want(node: onnx.INodeProto, i: number): Want {
    if (this.plans.get(node)?.keep !== undefined) return FLOAT;
    const op = node.opType ?? '';
    // These take any type: casting before them would only add a Cast.
    if (((op === 'Cast' || op === 'CastLike') && i === 0) || op === 'Shape' || op === 'Size') return 'any';
    if (alwaysFloatInputs(node, this.opset).includes(i)) return FLOAT;
    return FLOAT16;
  }

  private outputWant(scope: Scope, name: string): number {
    if (scope.parent === undefined) return this.keepIo(name) ? FLOAT : FLOAT16;
    return scope.converted ? FLOAT16 : FLOAT;
  }

  private chooseHome(v: Value): void {
    if (v.type !== FLOAT) return;
    const { scope } = v;
    const topOutput = scope.parent === undefined && (scope.graph.output ?? []).some((o) => o.name === v.name) ? this.outputWant(scope, v.name) : undefined;
    const byReaders = () => topOutput ?? (v.wantsHalf || v.readers === 0 ? FLOAT16 : FLOAT);
    if (v.isInput) {
      v.home = scope.parent === undefined ? (this.keepIo(v.name) ? FLOAT : FLOAT16) : scope.converted ? FLOAT16 : FLOAT;
      if (scope.parent === undefined && v.home === FLOAT) this.report.float32Inputs.push(v.name);
    } else if (v.initializer) {
      v.flexible = scope.converted;
      v.home = scope.converted ? byReaders() : FLOAT;
    } else {
      const producer = v.producer as onnx.INodeProto;
      if (this.plans.get(producer)?.keep !== undefined) v.home = FLOAT;
      else if (isFlexibleNode(producer)) {
        v.flexible = true;
        v.home = byReaders();
      } else v.home = fixedFloatOutputs(producer).includes(v.outputIndex) ? FLOAT : FLOAT16;
    }
    v.names.set(v.home, v.name);
    if (topOutput === undefined) return;
    if (topOutput === FLOAT) this.report.float32Outputs.push(v.name);
    if (topOutput === v.home) return;
    // The model's output keeps its name and declared type: the value is computed under a
    // new name, and a Cast makes the output from it.
    if (!v.producer) throw new OptimizeError(`output ${v.name} is also an input or initializer, and keepIoTypes keeps one but not the other`);
    const fresh = this.index.uniqueName(`${v.name}_${typeTag(v.home)}`);
    v.producer.output![v.outputIndex] = fresh;
    v.names.set(v.home, fresh);
    v.names.set(topOutput, v.name);
    this.addCast(scope, fresh, v.name, topOutput);
  }

  // -------------------------------------------------------------------------------------
  // Rewiring readers to a name of the type they need.

  private rewire(top: Scope): void {
    for (const scope of this.scopes) {
      for (const node of scope.nodes) {
        const inputs = node.input ?? [];
        inputs.forEach((name, i) => (inputs[i] = this.resolve(scope, name, this.want(node, i))));
      }
      for (const o of scope.graph.output ?? []) {
        const name = o.name ?? '';
        const v = lookup(scope, name);
        if (v?.type !== FLOAT) continue;
        const want = this.outputWant(scope, name);
        if (scope === top) {
          if (this.resolve(scope, name, want) !== name) throw new OptimizeError(`internal error: output ${name} is not made in its declared type`);
        } else if (v.scope === scope) {
          o.name = this.resolve(scope, name, want);
        } else if (v.names.get(want) !== name) {
          // A subgraph returning an outer value in another type casts it itself: ONNX
          // Runtime refuses a subgraph output that is an outer value it did not make.
          const fresh = this.index.uniqueName(`${name}_${typeTag(want)}`);
          this.addCast(scope, v.names.get(v.home) as string, fresh, want);
          o.name = fresh;
        }
      }
    }
  }

  /** The name under which `name` (read in `scope`) is available as `want`, making it if needed. */
  private resolve(scope: Scope, name: string, want: Want): string {
    const v = name === '' ? undefined : lookup(scope, name);
    if (v?.type !== FLOAT) return name;
    const home = v.names.get(v.home) as string;
    // A constant read by Cast or Shape is read in float32: its numbers unrounded.
    if (want === 'any') return v.flexible ? (v.names.get(FLOAT) ?? home) : home;
    const have = v.names.get(want);
    if (have !== undefined) return have;
    const fresh = this.index.uniqueName(`${v.name}_${typeTag(want)}`);
    if (v.flexible) this.copyConstant(v, fresh, want);
    else this.addCast(v.scope, home, fresh, want);
    v.names.set(want, fresh);
    return fresh;
  }

  private addCast(scope: Scope, from: string, to: string, type: number): void {
    const node = onnx.NodeProto.create({
      name: this.index.uniqueName(`${to}_Cast`),
      opType: 'Cast',
      domain: '',
      input: [from],
      output: [to],
      attribute: [{ name: 'to', type: A.INT, i: type }],
    });
    scope.added.push(node);
    this.inserted.add(node);
    this.finalTypes.set(to, type);
  }

  /** A copy of a flexible value in the other float type: another initializer, Constant, ConstantOfShape or Cast. */
  private copyConstant(v: Value, name: string, type: number): void {
    this.finalTypes.set(name, type);
    if (v.initializer) {
      const t = this.floatTensor(name, v.initializer, type);
      v.scope.graph.initializer = [...(v.scope.graph.initializer ?? []), t];
      if (type === FLOAT16) this.report.initializersConverted++;
      return;
    }
    const node = v.producer as onnx.INodeProto;
    const copy = onnx.NodeProto.create({ name: this.index.uniqueName(`${name}_${node.opType}`), opType: node.opType, domain: node.domain ?? '', input: [...(node.input ?? [])], output: [name] });
    if (node.opType === 'Cast') {
      copy.attribute = [{ name: 'to', type: A.INT, i: type }];
      copy.input = [this.resolve(v.scope, node.input?.[0] ?? '', 'any')];
    } else {
      copy.attribute = [{ name: 'value', type: A.TENSOR, t: this.floatTensor('', constantValue(node), type) }];
      if (type === FLOAT16) this.report.constantsConverted++;
    }
    v.scope.added.push(copy);
  }

  // -------------------------------------------------------------------------------------
  // Changing tensors, attributes and declared types.

  private convertInPlace(): void {
    for (const scope of this.scopes) {
      for (const v of scope.values.values()) {
        if (v.type !== FLOAT || v.home !== FLOAT16) continue;
        if (v.initializer) {
          this.halveTensor(v.initializer);
          this.report.initializersConverted++;
        } else if (v.producer) {
          this.convertNode(v.producer);
        }
      }
    }
  }

  /** Sets a converted node's float attributes (its tensor or output dtype) to float16. */
  private convertNode(node: onnx.INodeProto): void {
    const attrs = node.attribute ?? [];
    const setInt = (name: string) => {
      const a = attrs.find((x) => x.name === name);
      if (a) a.i = FLOAT16;
      else attrs.push({ name, type: A.INT, i: FLOAT16 });
      node.attribute = attrs;
    };
    switch (node.opType) {
      case 'Constant':
      case 'ConstantOfShape': {
        node.attribute = [{ name: 'value', type: A.TENSOR, t: this.floatTensor('', constantValue(node), FLOAT16) }];
        this.report.constantsConverted++;
        return;
      }
      case 'Cast':
        setInt('to');
        return;
      case 'RandomNormal':
      case 'RandomUniform':
        setInt('dtype');
        return;
      case 'RandomNormalLike':
      case 'RandomUniformLike':
      case 'Bernoulli':
      case 'EyeLike':
        // Without dtype these follow their input, which is float16 already.
        if (attributeOf(node, 'dtype')) setInt('dtype');
        return;
      case 'HannWindow':
      case 'HammingWindow':
      case 'BlackmanWindow':
      case 'MelWeightMatrix':
        setInt('output_datatype');
        return;
    }
  }

  /** A float32 tensor's numbers as a new tensor of `type` (FLOAT or FLOAT16). */
  private floatTensor(name: string, t: onnx.ITensorProto, type: number): onnx.TensorProto {
    const floats = floatsOf(t);
    if (type === FLOAT) return makeTensor(name, FLOAT, dimsOf(t), floats);
    this.report.bytesBefore += floats.byteLength;
    const halves = this.halves(floats);
    this.report.bytesAfter += halves.byteLength;
    return makeTensor(name, FLOAT16, dimsOf(t), halves);
  }

  private halveTensor(t: onnx.ITensorProto): void {
    this.report.bytesBefore += tensorBytes(t);
    const halves = this.halves(floatsOf(t));
    this.report.bytesAfter += halves.byteLength;
    t.dataType = FLOAT16;
    t.floatData = [];
    t.rawData = new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength);
  }

  /** float16 bit patterns of float32 numbers, clamped as onnxconverter-common's convert_np_to_float16. */
  private halves(floats: Float32Array): Uint16Array {
    const { minPositive, maxFinite, minPositiveF, maxFiniteF } = this;
    const out = new Uint16Array(floats.length);
    let clamped = 0;
    for (let i = 0; i < floats.length; i++) {
      let x = floats[i];
      if (x > 0) {
        if (x < minPositiveF) (x = minPositive), clamped++;
        else if (x > maxFiniteF && x !== Infinity) (x = maxFinite), clamped++;
      } else if (x < 0) {
        if (x > -minPositiveF) (x = -minPositive), clamped++;
        else if (x < -maxFiniteF && x !== -Infinity) (x = -maxFinite), clamped++;
      }
      out[i] = float16Bits(x);
    }
    this.report.valuesClamped += clamped;
    return out;
  }

  /** Declared types (inputs, outputs, value_info) follow the values' new types. */
  private retypeDeclarations(): void {
    for (const scope of this.scopes) {
      for (const v of scope.values.values()) if (v.type === FLOAT) for (const [type, name] of v.names) this.finalTypes.set(name, type);
    }
    for (const g of allGraphs(this.graph)) {
      for (const vi of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) {
        const t = vi.type?.tensorType;
        const type = this.finalTypes.get(vi.name ?? '');
        if (t && t.elemType === FLOAT && type === FLOAT16) {
          t.elemType = FLOAT16;
          this.report.valueTypesChanged++;
        }
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Redundant Casts.

  /**
   * Removes Casts that cast a value to its own type (the model's Casts to float, of values
   * now float16), and lets a Cast read past a widening Cast before it (float16 → float32 →
   * float16 is the value itself), so that no Cast→Cast pair remains.
   */
  private removeRedundantCasts(): void {
    const parents = new Map(this.scopes.map((s) => [s.graph, s.parent?.graph]));
    const typeOf = (name: string): number | undefined => {
      const t = this.finalTypes.get(name);
      if (t !== undefined) return t;
      for (const s of this.scopes) {
        const v = s.values.get(name);
        if (v) return v.type;
      }
      return undefined;
    };
    const removed = new Set<onnx.INodeProto>();
    const isCast = (n: onnx.INodeProto | undefined): n is onnx.INodeProto => n !== undefined && n.opType === 'Cast' && (n.domain ?? '') === '' && !removed.has(n);
    /** The node making `name` as seen from `graph` (its own nodes, then outer graphs'). */
    const producerOf = (graph: onnx.IGraphProto, name: string) => {
      for (let g: onnx.IGraphProto | undefined = graph; g; g = parents.get(g)) {
        const node = (g.node ?? []).find((n) => !removed.has(n) && (n.output ?? []).includes(name));
        if (node) return { node, graph: g };
        if ([...(g.input ?? []), ...(g.initializer ?? [])].some((v) => v.name === name)) return undefined;
      }
      return undefined;
    };
    // A value is read in its own graph and the subgraphs below it.
    const readers = (graph: onnx.IGraphProto, name: string) => allGraphs(graph).flatMap((g) => (g.node ?? []).filter((n) => !removed.has(n) && (n.input ?? []).includes(name)));
    const isOutput = (graph: onnx.IGraphProto, name: string) => allGraphs(graph).some((g) => (g.output ?? []).some((o) => o.name === name));
    for (const { graph } of this.scopes) {
      for (const cast of graph.node ?? []) {
        if (!isCast(cast) || !cast.input?.[0] || !cast.output?.[0]) continue;
        const input = cast.input;
        const output = cast.output[0];
        const before = producerOf(graph, input[0]);
        if (before && isCast(before.node) && before.node.input?.[0] && widens(typeOf(before.node.input[0]), intAttribute(before.node, 'to', 0))) {
          const skipped = input[0];
          input[0] = before.node.input[0];
          if (!isOutput(before.graph, skipped) && readers(before.graph, skipped).length === 0) this.dropCast(before.node, removed);
        }
        if (typeOf(input[0]) === intAttribute(cast, 'to', 0) && !isOutput(graph, output)) {
          for (const n of readers(graph, output)) n.input = (n.input ?? []).map((x) => (x === output ? input[0] : x));
          this.dropCast(cast, removed);
        }
      }
    }
    if (removed.size === 0) return;
    const gone = new Set([...removed].flatMap((n) => n.output ?? []));
    for (const { graph } of this.scopes) {
      graph.node = (graph.node ?? []).filter((n) => !removed.has(n));
      graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !gone.has(v.name ?? ''));
    }
  }

  private dropCast(node: onnx.INodeProto, removed: Set<onnx.INodeProto>): void {
    removed.add(node);
    if (!this.inserted.has(node)) this.report.castsRemoved++;
  }
}

// ---------------------------------------------------------------------------------------
// Operator knowledge.

function lookup(scope: Scope, name: string): Value | undefined {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    const v = s.values.get(name);
    if (v) return v;
  }
  return undefined;
}

function typeTag(type: number): string {
  return type === FLOAT16 ? 'fp16' : 'fp32';
}

/** A float cast that loses nothing (so that a Cast after it may read its input instead). */
function widens(from: number | undefined, to: number): boolean {
  return (from === FLOAT16 && (to === FLOAT || to === DataType.DOUBLE)) || (from === FLOAT && to === DataType.DOUBLE);
}

/** A value's declared element type (a sequence's negated), or undefined. */
function declaredType(v: onnx.IValueInfoProto): number | undefined {
  const tensor = v.type?.tensorType;
  if (tensor?.elemType) return tensor.elemType;
  const element = v.type?.sequenceType?.elemType?.tensorType;
  if (element?.elemType) return -element.elemType;
  return undefined;
}

/** Types of a Loop's or Scan's body inputs, where the body does not declare them. */
function bodyInputHints(node: onnx.INodeProto, inputs: (number | undefined)[]): (number | undefined)[] {
  if (node.opType === 'Loop') return [DataType.INT64, DataType.BOOL, ...inputs.slice(2)];
  if (node.opType === 'Scan') return inputs;
  return [];
}

/** A Constant's (or ConstantOfShape's) float32 value as a tensor. */
function constantValue(node: onnx.INodeProto): onnx.ITensorProto {
  for (const a of node.attribute ?? []) {
    if (a.name === 'value' && a.t) return a.t;
    if (a.name === 'value_float') return makeTensor('', FLOAT, [], Float32Array.of(a.f ?? 0));
    if (a.name === 'value_floats') return makeTensor('', FLOAT, [(a.floats ?? []).length], Float32Array.from(a.floats ?? []));
  }
  // ConstantOfShape's default value: a float32 zero.
  return makeTensor('', FLOAT, [1], new Float32Array(1));
}

/** Nodes whose float output is a constant or a cast, which can be made in either float type. */
function isFlexibleNode(node: onnx.INodeProto): boolean {
  if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') return false;
  switch (node.opType) {
    case 'Constant':
      return (node.attribute ?? []).some((a) => (a.name === 'value' && a.t?.dataType === FLOAT) || a.name === 'value_float' || a.name === 'value_floats');
    case 'ConstantOfShape': {
      const value = attributeOf(node, 'value')?.t;
      return !value || value.dataType === FLOAT;
    }
    case 'Cast':
      return intAttribute(node, 'to', 0) === FLOAT;
    default:
      return false;
  }
}

const SEQUENCE_OPS = new Set([
  'SequenceEmpty',
  'SequenceConstruct',
  'SequenceInsert',
  'SequenceAt',
  'SequenceErase',
  'SequenceLength',
  'SequenceMap',
  'SplitToSequence',
  'ConcatFromSequence',
  'Optional',
  'OptionalGetElement',
  'OptionalHasElement',
]);

/** ONNX operators without float16 in their type constraints (at the model's opset), and others' domains. */
function float32Only(node: onnx.INodeProto, opset: number): boolean {
  const domain = node.domain ?? '';
  const op = node.opType ?? '';
  if (domain === 'ai.onnx.ml') return true;
  if (domain === 'com.microsoft') return /^(QLinear|QGemm|QAttention|QOrdered|QEmbed)|Quantize|Integer/.test(op);
  if (domain !== '' && domain !== 'ai.onnx') return false;
  // Sequences are kept whole in float32: their element types are not tracked through them.
  if (SEQUENCE_OPS.has(op)) return true;
  // A sparse constant would have to be rebuilt; it is cast instead.
  if (op === 'Constant' && attributeOf(node, 'sparse_value')) return true;
  switch (op) {
    case 'NonMaxSuppression':
    case 'Range':
    case 'TfIdfVectorizer':
    case 'DynamicQuantizeLinear':
    case 'QLinearConv':
    case 'Celu':
      return true;
    case 'QuantizeLinear':
    case 'DequantizeLinear':
      return opset < 19;
    case 'QLinearMatMul':
      return opset < 21;
    case 'CumSum':
      return opset < 14;
    default:
      return false;
  }
}

/**
 * Inputs that ONNX types as float32 whatever the node's own type (onnxruntime's
 * ALWAYS_FLOAT_INPUTS, with Resize's roi too: float32 roi is always valid, and ONNX
 * Runtime's CPU Resize has no float16 kernel for it anyway).
 */
function alwaysFloatInputs(node: onnx.INodeProto, opset: number): number[] {
  const domain = node.domain ?? '';
  if (domain === 'com.microsoft') return node.opType === 'GroupNorm' || node.opType === 'SkipGroupNorm' ? [1, 2] : [];
  if (domain !== '' && domain !== 'ai.onnx') return [];
  if (node.opType === 'Resize') return opset >= 11 ? [1, 2] : [1];
  if (node.opType === 'Upsample') return [1];
  return [];
}

/** Outputs that stay float32 when their node runs in float16 (statistics of layer norms, typed U = float). */
function fixedFloatOutputs(node: onnx.INodeProto): number[] {
  switch (node.opType) {
    case 'LayerNormalization':
    case 'SkipLayerNormalization':
    case 'SkipSimplifiedLayerNormalization':
      return [1, 2];
    case 'SimplifiedLayerNormalization':
      return [1];
    default:
      return [];
  }
}

