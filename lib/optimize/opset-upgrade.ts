/**
 * Raising a model's ONNX opset to 13, for quantization: ONNX Runtime fuses QDQ groups into
 * ONNX operators (QLinearConv, QLinearMatMul) that exist from opset 10 only, and
 * DequantizeLinear's per-channel axis is opset 13's. A model exported at opset 9 (the PP-OCR
 * classifier and recognizer are) loads fine in float, but its quantized form would be
 * refused once fused ("No Op registered for QLinearConv with domain_version of 9").
 *
 * Only the operators whose meaning changed between the model's opset and 13 are rewritten,
 * each as the ONNX changelog describes it (attributes that became inputs; Softmax's axis;
 * Upsample replaced by Resize); operators known to mean the same are left alone, and any
 * other operator stops the upgrade with an error rather than being guessed at. The
 * rewrite walks subgraphs too.
 */
import { attributeOf, floatTensor, GraphIndex, int64Tensor, onnx, onnxOpset, OptimizeError, subgraphsOf, mainGraph } from './onnx-graph';

/** The opset quantized models are raised to. */
export const QUANTIZATION_OPSET = 13;

/** Operators whose meaning is the same from opset 9 to 13 (new types and negative axes only). */
const UNCHANGED = new Set(
  (
    'Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil Compress Concat Constant ConstantOfShape ' +
    'Conv ConvInteger ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Det Div Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU ' +
    'Gather GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual HardSigmoid Identity If InstanceNormalization ' +
    'IsInf IsNaN LRN LSTM LeakyRelu Less LessOrEqual Log Loop LpNormalization LpPool MatMul MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean ' +
    'MeanVarianceNormalization Min Mod Mul Multinomial Neg NonMaxSuppression NonZero Not OneHot Or PRelu Pow QLinearConv QLinearMatMul QuantizeLinear RNN ' +
    'RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ' +
    'ReduceMin ReduceProd ReduceSumSquare Relu Reshape ReverseSequence RoiAlign Round Scan Selu Shape Shrink Sigmoid Sign Sin Sinh Size Softplus ' +
    'Softsign SpaceToDepth Sqrt Sub Sum Tan Tanh ThresholdedRelu Tile Transpose Unique Where Xor'
  ).split(' '),
);

/** The main-graph tensors whose rank {@link upgradeOpset} needs: the inputs of Softmax and its kin, before opset 13. */
export function tensorsNeedingRanks(model: onnx.ModelProto): string[] {
  if (onnxOpset(model) >= 13) return [];
  return (mainGraph(model).node ?? []).filter((n) => ['Softmax', 'LogSoftmax', 'Hardmax'].includes(n.opType ?? '') && (n.domain ?? '') === '').map((n) => n.input?.[0] ?? '');
}

/** What {@link upgradeOpset} rewrote. */
export interface OpsetUpgrade {
  from: number;
  to: number;
  /** Nodes rewritten, by op type. */
  rewritten: Record<string, number>;
}

/**
 * Raises the model's ONNX opset to `target` (at least 10, at most 13) in place, rewriting
 * the operators whose form changed. `ranks` gives tensors' ranks where known (from
 * calibration runs): Softmax before 13 works on a flattened 2-D view, which is the same
 * as 13's only when its axis is the last. Does nothing for a model at `target` or above.
 */
export function upgradeOpset(model: onnx.ModelProto, target = QUANTIZATION_OPSET, ranks: ReadonlyMap<string, number> = new Map()): OpsetUpgrade {
  const from = onnxOpset(model);
  const upgrade: OpsetUpgrade = { from, to: Math.max(from, target), rewritten: {} };
  if (from >= target) return upgrade;
  if (from < 9) throw new OptimizeError(`the model's opset is ${from}; raising opsets below 9 is not supported (convert it first: python -m onnx.version_converter, or re-export at opset 13)`);
  const index = new GraphIndex(mainGraph(model));
  const walk = (graph: onnx.IGraphProto) => {
    const nodes: onnx.INodeProto[] = [];
    for (const node of graph.node ?? []) {
      for (const g of subgraphsOf(node)) walk(g);
      const domain = node.domain ?? '';
      if (domain !== '' && domain !== 'ai.onnx') {
        nodes.push(node);
        continue;
      }
      const rewritten = rewrite(node, from, graph, index, ranks);
      if (rewritten !== node || changedInPlace.has(node)) upgrade.rewritten[node.opType ?? ''] = (upgrade.rewritten[node.opType ?? ''] ?? 0) + 1;
      nodes.push(rewritten);
    }
    graph.node = nodes;
  };
  const changedInPlace = new Set<onnx.INodeProto>();
  const rewrite = (node: onnx.INodeProto, opset: number, graph: onnx.IGraphProto, idx: GraphIndex, known: ReadonlyMap<string, number>): onnx.INodeProto => {
    const op = node.opType ?? '';
    const constant = (t: onnx.TensorProto): string => {
      graph.initializer ??= [];
      graph.initializer.push(t);
      return t.name;
    };
    const moveInts = (attr: string, slot: number, required: boolean) => {
      const a = attributeOf(node, attr);
      const inputs = node.input ?? [];
      if (a === undefined) {
        if (required) throw new OptimizeError(`node ${node.name} (${op}) has no ${attr}`);
        return;
      }
      while (inputs.length < slot) inputs.push('');
      inputs[slot] = constant(int64Tensor(idx.uniqueName(`${node.name || op}_${attr}`), (a.ints ?? []).map(Number)));
      node.input = inputs;
      node.attribute = (node.attribute ?? []).filter((x) => x !== a);
      changedInPlace.add(node);
    };
    switch (op) {
      case 'Clip':
        if (opset < 11) {
          const inputs = [node.input?.[0] ?? ''];
          for (const [attr, fallback] of [['min', -3.4028234663852886e38], ['max', 3.4028234663852886e38]] as const) {
            const a = attributeOf(node, attr);
            inputs.push(a ? constant(floatTensor(idx.uniqueName(`${node.name || op}_${attr}`), [a.f ?? fallback])) : '');
          }
          while (inputs.length > 1 && inputs[inputs.length - 1] === '') inputs.pop();
          node.input = inputs;
          node.attribute = [];
          changedInPlace.add(node);
        }
        return node;
      case 'Slice':
        if (opset < 10) {
          moveInts('starts', 1, true);
          moveInts('ends', 2, true);
          moveInts('axes', 3, false);
        }
        return node;
      case 'Squeeze':
      case 'ReduceSum':
      case 'Split':
        if (opset < 13) moveInts(op === 'Split' ? 'split' : 'axes', 1, false);
        return node;
      case 'Unsqueeze':
        if (opset < 13) moveInts('axes', 1, true);
        return node;
      case 'TopK':
        if (opset < 10) {
          const k = attributeOf(node, 'k');
          node.input = [node.input?.[0] ?? '', constant(int64Tensor(idx.uniqueName(`${node.name || op}_k`), [Number(k?.i ?? 0)]))];
          node.attribute = (node.attribute ?? []).filter((x) => x !== k);
          changedInPlace.add(node);
        }
        return node;
      case 'Pad':
        if (opset < 11) {
          const pads = attributeOf(node, 'pads');
          const value = attributeOf(node, 'value');
          node.input = [node.input?.[0] ?? '', constant(int64Tensor(idx.uniqueName(`${node.name || op}_pads`), (pads?.ints ?? []).map(Number)))];
          if (value) node.input.push(constant(floatTensor(idx.uniqueName(`${node.name || op}_value`), [value.f ?? 0])));
          node.attribute = (node.attribute ?? []).filter((x) => x.name === 'mode');
          changedInPlace.add(node);
        }
        return node;
      case 'Softmax':
      case 'LogSoftmax':
      case 'Hardmax':
        if (opset < 13) {
          const rank = known.get(node.input?.[0] ?? '');
          let axis = Number(attributeOf(node, 'axis')?.i ?? 1);
          if (rank === undefined) throw new OptimizeError(`node ${node.name} (${op}): its input's rank is unknown, so its opset ${opset} axis cannot be carried to opset 13`);
          if (axis < 0) axis += rank;
          if (axis !== rank - 1) throw new OptimizeError(`node ${node.name} (${op}) normalizes over the dimensions from ${axis} of ${rank}; opset 13's ${op} normalizes over one, so it cannot be raised`);
          node.attribute = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }];
          changedInPlace.add(node);
        }
        return node;
      case 'Upsample':
      case 'Resize':
        if (op === 'Upsample' || opset < 11) {
          const mode = attributeOf(node, 'mode');
          const modeName = mode?.s ? Buffer.from(mode.s).toString() : 'nearest';
          let scales = node.input?.[1] ?? '';
          const scalesAttr = attributeOf(node, 'scales');
          if (scalesAttr) scales = constant(floatTensor(idx.uniqueName(`${node.name || op}_scales`), scalesAttr.floats ?? []));
          const text = (name: string, value: string): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(value) });
          // Upsample and opset 10's Resize map output to input coordinates as x / scale,
          // and nearest rounds down: opset 13 calls that asymmetric and floor.
          return {
            name: node.name,
            opType: 'Resize',
            domain: '',
            input: [node.input?.[0] ?? '', '', scales],
            output: node.output,
            attribute: [
              text('mode', modeName === 'bilinear' ? 'linear' : modeName),
              text('coordinate_transformation_mode', 'asymmetric'),
              ...(modeName === 'nearest' ? [text('nearest_mode', 'floor')] : []),
            ],
          };
        }
        return node;
      case 'Dropout':
        // Inference only: Dropout is the identity (opset 12 moved its ratio to an input).
        if (opset < 12) {
          if ((node.output ?? []).length > 1 && (node.output?.[1] ?? '') !== '') throw new OptimizeError(`node ${node.name} (Dropout) has its mask output read; it cannot be raised`);
          return { name: node.name, opType: 'Identity', domain: '', input: [node.input?.[0] ?? ''], output: [node.output?.[0] ?? ''], attribute: [] };
        }
        return node;
      default:
        if (!UNCHANGED.has(op)) throw new OptimizeError(`node ${node.name} (${op}): raising its opset from ${opset} to 13 is not supported; export the model at opset 13 or later`);
        return node;
    }
  };
  walk(mainGraph(model));
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (entry) entry.version = target;
  // Opset 13 needs IR version 7 or later.
  if (Number(model.irVersion) < 7) model.irVersion = 7;
  upgrade.to = target;
  return upgrade;
}
