/**
 * Whether a shadow version's answer agrees with the serving version's, as a shadow
 * deployment judges a candidate: for a classifier's scores (floating-point outputs with a
 * last dimension of 2 or more) the top class of each row; for other outputs every value,
 * within a tolerance for floating point (the same model on another build, or quantized,
 * differs in the last digits).
 */
import type { InferOutput } from '../protocol/types';

/** How close floating-point values must be to agree: |a - b| <= atol + rtol * |a|. */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** Default tolerance: what float32 rounding across builds gives, not what a different model gives. */
export const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-4, rtol: 1e-3 };

type Values = ArrayLike<number | bigint | boolean | string>;

const FLOATING = new Set(['FP16', 'BF16', 'FP32', 'FP64']);

/** Whether `candidate`'s outputs agree with `serving`'s (same names, shapes, and values as the module's comment says). */
export function outputsAgree(serving: readonly InferOutput[], candidate: readonly InferOutput[], tolerance: Tolerance = DEFAULT_TOLERANCE): boolean {
  if (serving.length !== candidate.length) return false;
  const byName = new Map(candidate.map((o) => [o.name, o]));
  for (const a of serving) {
    const b = byName.get(a.name);
    if (b === undefined || a.datatype !== b.datatype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
    const x = a.tensor.data as Values;
    const y = b.tensor.data as Values;
    if (x.length !== y.length) return false;
    const floating = FLOATING.has(a.datatype);
    const classes = a.shape.at(-1) ?? 1;
    if (floating && classes >= 2) {
      for (let row = 0; row < x.length; row += classes) if (argmax(x, row, classes) !== argmax(y, row, classes)) return false;
      continue;
    }
    for (let i = 0; i < x.length; i++) {
      if (floating) {
        const [p, q] = [Number(x[i]), Number(y[i])];
        if (!(Math.abs(p - q) <= tolerance.atol + tolerance.rtol * Math.abs(p)) && !(Number.isNaN(p) && Number.isNaN(q))) return false;
      } else if (x[i] !== y[i]) {
        return false;
      }
    }
  }
  return true;
}

function argmax(values: Values, from: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (Number(values[from + i]) > Number(values[from + best])) best = i;
  return best;
}
