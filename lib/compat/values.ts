/**
 * @internal What passes between onnxruntime-common's API and this package's sessions: its
 * tensors (of any copy of onnxruntime-common, ES module or CommonJS, recognised by their
 * fields), its value metadata, and ONNX Runtime's own wording for a feed that does not fit
 * the model, which onnxruntime-node's users see and test for.
 */
import { Tensor } from 'onnxruntime-common';
import type { InferenceSession as OrtInferenceSession } from 'onnxruntime-common';
import type { AnyTensor, TensorLike } from '../core/tensor';
import { OrtError } from '../core/errors';
import type { ValueMetadata } from '../runtime/model-values';

/** The fields this package reads of an onnxruntime-common `Tensor` (any copy of the class). */
export interface TensorFields extends TensorLike {
  readonly location?: string;
}

/**
 * Whether `value` is a tensor of some copy of onnxruntime-common: `instanceof` cannot
 * tell, since an ES module and a CommonJS copy of the package are two classes (the one
 * transformers.js makes its inputs with is not the one `require('onnxruntime-node')` gives).
 */
export function isTensorLike(value: unknown): value is TensorFields {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Partial<TensorFields>;
  return typeof t.type === 'string' && Array.isArray(t.dims);
}

/** onnxruntime-common's metadata of one of our inputs or outputs. */
export function toOrtMetadata(meta: ValueMetadata): OrtInferenceSession.ValueMetadata {
  if (meta.kind !== 'tensor') return { name: meta.name, isTensor: false };
  return {
    name: meta.name,
    isTensor: true,
    type: meta.type as Tensor.Type,
    // onnxruntime-node gives an unnamed dynamic dimension as its empty symbolic name.
    shape: meta.dims.map((d) => d ?? ''),
  };
}

/** ONNX Runtime's names of element types, as in its messages (`tensor(float)`). */
function ortTypeName(type: string): string {
  return type === 'float32' ? 'float' : type === 'float64' ? 'double' : type;
}

/**
 * Checks feed `value` for input `meta` as ONNX Runtime does before a run, with its
 * messages (onnxruntime-node passes them on; code that matches them keeps working). The
 * session checks again, with this package's messages, what is left: the data's array
 * class and length.
 */
export function checkFeed(value: unknown, meta: ValueMetadata): void {
  if (!isTensorLike(value)) {
    throw new TypeError(`input '${meta.name}' must be a Tensor (an object with type, dims and data).`);
  }
  if (value.location !== undefined && value.location !== 'cpu' && value.location !== 'cpu-pinned') {
    throw new OrtError(
      `input '${meta.name}' is on '${value.location}': onnx-native takes tensors whose data is in CPU memory`,
      'INVALID_TENSOR',
    );
  }
  if (meta.kind !== 'tensor') return; // the session refuses it, naming the kind
  if (value.type !== meta.type) {
    throw new OrtError(
      `Unexpected input data type. Actual: (tensor(${ortTypeName(value.type)})) , expected: (tensor(${ortTypeName(meta.type)}))`,
      'INVALID_DTYPE',
    );
  }
  const dims = value.dims;
  if (dims.length !== meta.dims.length) {
    throw new OrtError(
      `Invalid rank for input: ${meta.name} Got: ${dims.length} Expected: ${meta.dims.length} Please fix either the inputs/outputs or the model.`,
      'INVALID_SHAPE',
    );
  }
  let wrong = '';
  for (let i = 0; i < dims.length; i++) {
    const expected = meta.dims[i];
    if (typeof expected === 'number' && dims[i] !== expected) wrong += ` index: ${i} Got: ${dims[i]} Expected: ${expected}\n`;
  }
  if (wrong !== '') {
    throw new OrtError(
      `Got invalid dimensions for input: ${meta.name} for the following indices\n${wrong} Please fix either the inputs/outputs or the model.`,
      'INVALID_SHAPE',
    );
  }
}

/** An output of ours as onnxruntime-common's `Tensor` (over the same memory: no copy). */
export function toOrtTensor(name: string, output: AnyTensor): Tensor {
  if (output.type === 'bfloat16') {
    throw new OrtError(
      `output '${name}' is bfloat16, which onnxruntime-common's Tensor cannot hold; fetch the other outputs, or use this package's createSession()`,
      'INVALID_DTYPE',
    );
  }
  // The constructor's overloads are typed per element type; `output` is checked already.
  return new Tensor(output.type, output.data as Tensor.DataType, output.dims);
}
