/**
 * Element types of a graph's tensors, worked out from its inputs, initializers and each
 * operator's type rule (ONNX's type constraints, reduced to where each output's type comes
 * from), since models often carry no value_info and TypeScript has no ONNX shape
 * inference: the float16 converter needs them to place its Casts, calibration to know
 * which tensors are float.
 */
import { attributeOf, DataType, intAttribute, mainGraph, onnx, onnxOpset } from './onnx-graph';

/** The element type of a Constant's output. */
function constantType(node: onnx.INodeProto): number | undefined {
  for (const a of node.attribute ?? []) {
    switch (a.name) {
      case 'value':
        return a.t?.dataType ?? undefined;
      case 'value_float':
      case 'value_floats':
        return DataType.FLOAT;
      case 'value_int':
      case 'value_ints':
        return DataType.INT64;
      case 'value_string':
      case 'value_strings':
        return DataType.STRING;
      case 'sparse_value':
        return a.sparseTensor?.values?.dataType ?? undefined;
    }
  }
  return undefined;
}

const BOOL_OUTPUTS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OUTPUTS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'SequenceLength']);

/**
 * The element types of a node's outputs, from its inputs' types, its attributes and its
 * subgraphs' outputs: ONNX's type constraints, reduced to where each output's type comes
 * from. Most operators are `T -> T` (the default); the others are listed.
 */
export function outputTypes(node: onnx.INodeProto, inputs: (number | undefined)[], bodies: (number | undefined)[][], opset: number): (number | undefined)[] {
  const count = (node.output ?? []).length;
  const all = (t: number | undefined) => new Array<number | undefined>(count).fill(t);
  const domain = node.domain ?? '';
  // ONNX-ML's operators type their outputs in many ways; without declared types they are left alone.
  if (domain === 'ai.onnx.ml') return all(undefined);
  const first = inputs[0] ?? inputs.find((t) => t !== undefined);
  const dtype = (name: string, fallback: number | undefined) => (attributeOf(node, name) ? intAttribute(node, name, 0) : fallback);
  const op = node.opType ?? '';
  if (BOOL_OUTPUTS.has(op)) return all(DataType.BOOL);
  if (INT64_OUTPUTS.has(op)) return all(DataType.INT64);
  switch (op) {
    case 'Cast':
      return all(intAttribute(node, 'to', 0));
    case 'CastLike':
      return all(inputs[1]);
    case 'Constant':
      return all(constantType(node));
    case 'ConstantOfShape':
      return all(attributeOf(node, 'value')?.t?.dataType ?? DataType.FLOAT);
    case 'TopK':
    case 'MaxPool':
      return [first, DataType.INT64];
    case 'Unique':
      return [first, DataType.INT64, DataType.INT64, DataType.INT64];
    case 'Dropout':
      return [first, DataType.BOOL];
    case 'BatchNormalization':
      return [first, inputs[3], inputs[4]];
    case 'LayerNormalization':
      return [first, DataType.FLOAT, DataType.FLOAT];
    case 'RandomNormal':
    case 'RandomUniform':
      return all(dtype('dtype', DataType.FLOAT));
    case 'HannWindow':
    case 'HammingWindow':
    case 'BlackmanWindow':
    case 'MelWeightMatrix':
      return all(dtype('output_datatype', DataType.FLOAT));
    case 'RandomNormalLike':
    case 'RandomUniformLike':
    case 'Bernoulli':
    case 'EyeLike':
      return all(dtype('dtype', first));
    case 'Multinomial':
      return all(dtype('dtype', DataType.INT32));
    case 'QuantizeLinear':
      return all(inputs[2] ?? dtype('output_dtype', DataType.UINT8));
    case 'DequantizeLinear':
      return all(opset >= 19 ? inputs[1] : DataType.FLOAT);
    case 'DynamicQuantizeLinear':
      return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
    case 'MatMulInteger':
    case 'ConvInteger':
      return all(DataType.INT32);
    case 'QLinearConv':
    case 'QLinearMatMul':
      return all(inputs[7]);
    case 'TfIdfVectorizer':
      return all(DataType.FLOAT);
    case 'StringNormalizer':
      return all(DataType.STRING);
    case 'Where':
      return all(inputs[1] ?? inputs[2]);
    case 'OneHot':
      return all(inputs[2]);
    case 'If':
      return all(undefined).map((_, i) => bodies[0]?.[i] ?? bodies[1]?.[i]);
    case 'Loop':
      return all(undefined).map((_, i) => bodies[0]?.[i + 1]);
    case 'Scan':
      return all(undefined).map((_, i) => bodies[0]?.[i]);
    case 'SplitToSequence':
    case 'SequenceConstruct':
      return all(first === undefined ? undefined : -Math.abs(first));
    case 'SequenceEmpty':
      return all(-dtype('dtype', DataType.FLOAT)!);
    case 'SequenceAt':
    case 'ConcatFromSequence':
      return all(first === undefined ? undefined : Math.abs(first));
    default:
      return all(first);
  }
}

/** The element type of every tensor of the model's main graph that can be worked out (subgraphs' outputs are not followed). */
export function mainGraphElementTypes(model: onnx.IModelProto): Map<string, number> {
  const graph = mainGraph(model);
  const types = new Map<string, number>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const t = v.type?.tensorType?.elemType;
    if (t) types.set(v.name ?? '', t);
  }
  for (const t of graph.initializer ?? []) if (t.dataType) types.set(t.name ?? '', t.dataType);
  const opset = onnxOpset(model);
  for (const node of graph.node ?? []) {
    const out = outputTypes(node, (node.input ?? []).map((i) => types.get(i)), [], opset);
    (node.output ?? []).forEach((name, i) => {
      const t = out[i];
      if (name !== '' && t !== undefined && !types.has(name)) types.set(name, t);
    });
  }
  return types;
}
