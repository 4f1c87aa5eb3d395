/**
 * Linear 8-bit quantization's arithmetic: the integer range of a type, the scale and zero
 * point that map a real range onto it, and quantizing weights (per tensor or per channel)
 * and biases. The conventions are ONNX Runtime's (onnxruntime/python/tools/quantization/
 * quant_utils.py), so that its QLinear kernels see the parameters they were tuned for:
 * - the range always holds 0 (so that zero padding is exact);
 * - symmetric int8 uses [-127, 127] (not -128), with zero point 0;
 * - reduce_range keeps 7 bits ([0, 127], [-64, 64]): on CPUs without VNNI, u8s8 products
 *   summed in pairs can saturate int16 (the "reduce_range" note of ONNX Runtime's docs);
 * - real = scale * (q - zero_point), q = saturate(round_half_even(real / scale) + zero_point).
 */
import { float16Bits, float16Value } from '../core/float16';

/** The 8-bit integer types ONNX's QuantizeLinear produces. */
export type QuantType = 'int8' | 'uint8';

/** How a range is mapped. */
export interface RangeOptions {
  /** Centre the range on zero (zero point 0 for int8, 128 for uint8). */
  symmetric?: boolean;
  /** 7 bits instead of 8 (see the file's comment). */
  reduceRange?: boolean;
}

/** The smallest and largest integer a quantized value may take. */
export function quantRange(type: QuantType, { symmetric = false, reduceRange = false }: RangeOptions = {}): { qmin: number; qmax: number } {
  if (type === 'uint8') return reduceRange ? { qmin: 0, qmax: 127 } : { qmin: 0, qmax: 255 };
  if (reduceRange) return { qmin: -64, qmax: 64 };
  return symmetric ? { qmin: -127, qmax: 127 } : { qmin: -128, qmax: 127 };
}

/** A scale and zero point. */
export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** Round half to even, as numpy's and ONNX's QuantizeLinear's rounding. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** float32 rounding: ONNX Runtime's tool computes scales and zero points in float32 (numpy), so a zero point on a .5 falls as it does there. */
const f32 = Math.fround;

/**
 * The scale and zero point mapping [rmin, rmax] (widened to hold 0) onto the type's range.
 * An empty range (all zeros) gets scale 1, so that dequantizing stays finite.
 */
export function scaleAndZeroPoint(rmin: number, rmax: number, type: QuantType, options: RangeOptions = {}): QuantParams {
  if (!Number.isFinite(rmin) || !Number.isFinite(rmax) || rmin > rmax) {
    throw new RangeError(`a quantization range must be finite with min <= max, not [${rmin}, ${rmax}]`);
  }
  const { qmin, qmax } = quantRange(type, options);
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (options.symmetric) {
    const absMax = Math.max(-lo, hi);
    lo = -absMax;
    hi = absMax;
  }
  const scale = f32((hi - lo) / (qmax - qmin));
  if (scale < Number.EPSILON || !Number.isFinite(scale)) return { scale: 1, zeroPoint: options.symmetric ? roundHalfEven((qmin + qmax) / 2) : qmin };
  const zeroPoint = options.symmetric ? roundHalfEven((qmin + qmax) / 2) : roundHalfEven(f32(qmin - f32(lo / scale)));
  return { scale, zeroPoint: Math.min(qmax, Math.max(qmin, zeroPoint)) };
}

/** One value quantized. */
export function quantizeValue(x: number, { scale, zeroPoint }: QuantParams, qmin: number, qmax: number): number {
  return Math.min(qmax, Math.max(qmin, roundHalfEven(x / scale) + zeroPoint));
}

/** A weight tensor quantized: the integers and, per channel or once, their parameters. */
export interface QuantizedWeight {
  data: Int8Array | Uint8Array;
  scales: Float32Array;
  zeroPoints: Int8Array | Uint8Array;
  /** The channel axis, or undefined for one scale for the whole tensor. */
  axis?: number;
  /** Every scale is a float16 value (see {@link WeightOptions.float16Scales}). */
  scalesInFloat16?: true;
}

/** Options of {@link quantizeWeight}. */
export interface WeightOptions extends RangeOptions {
  type: QuantType;
  /** Quantize each slice along this axis with its own scale (per-channel). */
  axis?: number;
  /**
   * Per-channel symmetric weights: round each scale up to a float16 value, so that the
   * scales can be stored in half the bytes. Ignored where a scale is outside float16's
   * normal range (then `scalesInFloat16` is not set).
   */
  float16Scales?: boolean;
}

const MIN_NORMAL_HALF = 2 ** -14;
const MAX_HALF = 65504;
/** The least float16 value at or above `x` (a positive normal half). */
function halfAtOrAbove(x: number): number {
  const bits = float16Bits(x);
  const v = float16Value(bits);
  return v >= x ? v : float16Value(bits + 1);
}

/** Quantizes a float32 weight of shape `dims`. */
export function quantizeWeight(values: Float32Array, dims: readonly number[], options: WeightOptions): QuantizedWeight {
  const { type, axis } = options;
  const Int = type === 'int8' ? Int8Array : Uint8Array;
  const { qmin, qmax } = quantRange(type, options);
  const data = new Int(values.length);
  if (axis === undefined) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (values.length === 0) lo = hi = 0;
    const params = scaleAndZeroPoint(lo, hi, type, options);
    for (let i = 0; i < values.length; i++) data[i] = quantizeValue(values[i], params, qmin, qmax);
    return { data, scales: Float32Array.of(params.scale), zeroPoints: Int.of(params.zeroPoint) };
  }
  if (axis < 0 || axis >= dims.length) throw new RangeError(`axis ${axis} is outside a weight of ${dims.length} dimensions`);
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = values.length / (channels * inner);
  const params: QuantParams[] = [];
  for (let c = 0; c < channels; c++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const v = values[base + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    params.push(scaleAndZeroPoint(lo, hi, type, options));
  }
  // Rounded up, so that no value the float32 scale held is clipped; only symmetric
  // weights (zero point 0, which a new scale leaves as it is), and only when every scale
  // is a normal half, whose 11 bits keep it within 0.1% (one step up) of the float32 one.
  const halves = options.float16Scales === true && options.symmetric === true && params.every((p) => p.scale >= MIN_NORMAL_HALF && p.scale <= MAX_HALF);
  if (halves) for (const p of params) p.scale = halfAtOrAbove(p.scale);
  const scales = new Float32Array(channels);
  const zeroPoints = new Int(channels);
  for (let c = 0; c < channels; c++) {
    scales[c] = params[c].scale;
    zeroPoints[c] = params[c].zeroPoint;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) data[base + i] = quantizeValue(values[base + i], params[c], qmin, qmax);
    }
  }
  if (halves) return { data, scales, zeroPoints, axis, scalesInFloat16: true };
  return { data, scales, zeroPoints, axis };
}

/**
 * A bias quantized to int32 for a Conv, MatMul or Gemm whose input has scale `inputScale`
 * and whose weight has `weightScales` (one, or one per output channel): scale = input
 * scale x weight scale, zero point 0, which is what QLinearConv adds into its int32 sums.
 */
export function quantizeBias(values: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array } {
  const scales = new Float32Array(values.length);
  const data = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const s = f32(inputScale * (weightScales.length === 1 ? weightScales[0] : weightScales[i]));
    // Exactly input scale x weight scale: ONNX Runtime's fused kernels assume it. Weight
    // scales are never 0 (an all-zero weight gets scale 1), so neither is this.
    if (!(s > 0)) throw new RangeError(`a bias scale must be positive, not ${s} (input scale ${inputScale})`);
    scales[i] = s;
    data[i] = Math.max(-2147483648, Math.min(2147483647, roundHalfEven(values[i] / scales[i])));
  }
  return { data, scales: weightScales.length === 1 ? scales.subarray(0, Math.min(1, scales.length)) : scales };
}
