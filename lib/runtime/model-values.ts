/**
 * @internal A model's inputs and outputs as sessions and their bindings see them (slots),
 * and the checks of a tensor against one: element type, shape, and the shapes ONNX
 * Runtime must not be given.
 */
import type { NativeValueInfo } from './binding';
import { type DTypeInfo, type ElementType, dtypeByOnnx, onnxTypeName } from '../core/dtypes';
import { OrtError } from '../core/errors';
import { type CheckedTensor, label, readTensor } from '../core/tensor';

/** One input or output of a model. */
export interface ValueMetadata {
  /** The name to feed or read it by. */
  readonly name: string;
  /** What kind of value it is; only tensors can be fed and read. */
  readonly kind: 'tensor' | 'sequence' | 'map' | 'opaque' | 'sparse_tensor' | 'optional' | 'unknown';
  /** The element type, or the ONNX name of a type JavaScript has no array for (e.g. `complex64`). */
  readonly type: ElementType | string;
  /**
   * The shape: a number for a fixed dimension, the dimension's name (`'batch'`) for a
   * named dynamic one, null for an unnamed dynamic one.
   */
  readonly dims: readonly (number | string | null)[];
}

/** @internal A value's metadata plus what validating feeds against it needs. */
export interface Slot {
  readonly index: number;
  readonly meta: ValueMetadata;
  readonly dtype: DTypeInfo | undefined;
  /** Where the shape reads "[batch, 3, 48, 192]". */
  readonly shape: string;
  /**
   * For an input of a model with operators ONNX Runtime aborts the process in on some
   * empty input (model-ops.ts ABORTS_ON_EMPTY), those operators ('LSTM'): a zero
   * dimension is refused. Undefined otherwise.
   */
  readonly abortsOnEmpty: string | undefined;
}

function toMetadata(info: NativeValueInfo): ValueMetadata {
  return Object.freeze({
    name: info.name,
    kind: info.kind,
    type: onnxTypeName(info.elementType),
    dims: Object.freeze(info.dims),
  });
}

/** @internal The slot of a model's input or output `info`, at `index` in the model's list. */
export function toSlot(info: NativeValueInfo, index: number, abortsOnEmpty?: string): Slot {
  return {
    index,
    meta: toMetadata(info),
    dtype: info.kind === 'tensor' ? dtypeByOnnx[info.elementType] : undefined,
    shape: `[${info.dims.map((d) => d ?? '?').join(', ')}]`,
    abortsOnEmpty,
  };
}

/** @internal Checks a tensor against a model input or output; returns it as checked (see readTensor). */
export function checkAgainst(t: unknown, slot: Slot, role: 'input' | 'output'): CheckedTensor {
  const checked = readTensor(t, role, slot.meta.name, expectedDtype(slot, role));
  checkFits(checked.dtype, checked.dims, slot, role);
  return checked;
}

/** The element type `slot` takes, or NOT_IMPLEMENTED for a value onnx-native cannot pass. */
function expectedDtype(slot: Slot, role: 'input' | 'output'): DTypeInfo {
  if (!slot.dtype) {
    throw new OrtError(`${label(role, slot.meta.name)} is a ${slot.meta.kind} of ${slot.meta.type}, which onnx-native cannot pass`, 'NOT_IMPLEMENTED');
  }
  return slot.dtype;
}

/** @internal Checks a (checked) tensor's element type and dims against the model's `slot`. */
export function checkFits(dtype: DTypeInfo, dims: readonly number[], slot: Slot, role: 'input' | 'output'): void {
  const expected = expectedDtype(slot, role);
  const name = slot.meta.name;
  if (dtype !== expected) {
    throw new OrtError(`${label(role, name)} expects a ${expected.name} tensor, got ${dtype.name}`, 'INVALID_DTYPE');
  }
  if (slot.abortsOnEmpty !== undefined) refuseEmpty(dims, slot);
  // A model that declares no shape reports rank 0: leave such inputs to ONNX Runtime.
  const want = slot.meta.dims;
  if (want.length === 0) return;
  let fits = dims.length === want.length;
  for (let i = 0; fits && i < want.length; i++) {
    if (typeof want[i] === 'number' && want[i] !== dims[i]) fits = false;
  }
  if (!fits) {
    throw new OrtError(`${label(role, name)} expects shape ${slot.shape}, got [${dims.join(', ')}]`, 'INVALID_SHAPE');
  }
}

/**
 * Throws INVALID_SHAPE for a tensor with a zero dimension, fed to a model whose
 * operators ONNX Runtime aborts the process in on such inputs (model-ops.ts
 * ABORTS_ON_EMPTY). Where the zero would reach the operator is not worked out: the
 * operator's inputs are computed (Silero VAD's LSTM is fed from a Conv, through
 * reshapes, inside an If), so any zero in any input is refused.
 */
function refuseEmpty(dims: readonly number[], slot: Slot): void {
  if (!dims.includes(0)) return;
  throw new OrtError(
    `${label('input', slot.meta.name)} has a zero dimension, [${dims.join(', ')}], which this model is not given: ` +
      `ONNX Runtime aborts the whole process, instead of failing the run, when its ${slot.abortsOnEmpty} operators get empty tensors`,
    'INVALID_SHAPE',
  );
}

