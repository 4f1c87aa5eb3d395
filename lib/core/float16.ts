/**
 * IEEE half floats (FP16) and bfloat16 (BF16) to and from JavaScript numbers, as 16-bit
 * patterns (lib/core/dtypes.ts holds both in a Uint16Array). JSON clients send these
 * types as numbers; the KServe spec (docs/predict-api/v2/required_api.md, "Tensor Data")
 * leaves the conversion to the server, and Triton refuses FP16/BF16 in JSON altogether
 * (src/http_server.cc, ReadDataFromJson), so the rounding here is this package's own:
 * IEEE 754 round-to-nearest, ties to even, straight from the double.
 */

/** One small float format: its mantissa and exponent widths. */
interface Format {
  readonly mantissaBits: number;
  readonly bias: number;
  /** The all-ones exponent field, which holds infinities and NaNs. */
  readonly maxField: number;
  readonly signBit: number;
  /** Smallest normal value, 2^(1 - bias). */
  readonly minNormal: number;
  /** 2^(bias - 1 + mantissaBits): scales a subnormal to its integer mantissa. */
  readonly subnormalScale: number;
  /** 2^mantissaBits. */
  readonly mantissaScale: number;
}

function format(mantissaBits: number, exponentBits: number): Format {
  const bias = (1 << (exponentBits - 1)) - 1;
  return {
    mantissaBits,
    bias,
    maxField: (1 << exponentBits) - 1,
    signBit: 1 << (mantissaBits + exponentBits),
    minNormal: 2 ** (1 - bias),
    subnormalScale: 2 ** (bias - 1 + mantissaBits),
    mantissaScale: 2 ** mantissaBits,
  };
}

const HALF = format(10, 5);
const BFLOAT = format(7, 8);

/** `r` (>= 0) rounded to an integer, ties to even. */
function roundHalfEven(r: number): number {
  const floor = Math.floor(r);
  const rest = r - floor; // exact (Sterbenz): floor is 0 or at least r / 2
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor + (floor % 2);
}

function encode(x: number, f: Format): number {
  // A quiet NaN, sign dropped: JavaScript does not let a NaN's sign be relied on.
  if (x !== x) return (f.maxField << f.mantissaBits) | (1 << (f.mantissaBits - 1));
  const sign = x < 0 || (x === 0 && 1 / x < 0) ? f.signBit : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | (f.maxField << f.mantissaBits);
  if (a < f.minNormal) {
    // Subnormal (or zero): the value in units of the smallest subnormal. Scaling by a
    // power of two is exact, so the one rounding is this one. A result of 2^mantissaBits
    // is the smallest normal, whose encoding is that same integer.
    return sign | roundHalfEven(a * f.subnormalScale);
  }
  // The binary exponent, exactly: log2 may be off by one near powers of two.
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // a / 2^e is exact and in [1, 2); its fraction scaled to the mantissa width is exact too.
  let mantissa = roundHalfEven((a / 2 ** e - 1) * f.mantissaScale);
  let field = e + f.bias;
  if (mantissa === f.mantissaScale) {
    // Rounded up into the next binade.
    mantissa = 0;
    field++;
  }
  if (field >= f.maxField) return sign | (f.maxField << f.mantissaBits);
  return sign | (field << f.mantissaBits) | mantissa;
}

function decode(bits: number, f: Format): number {
  const sign = bits & f.signBit ? -1 : 1;
  const field = (bits >>> f.mantissaBits) & f.maxField;
  const mantissa = bits & (f.mantissaScale - 1);
  if (field === f.maxField) return mantissa === 0 ? sign * Infinity : NaN;
  if (field === 0) return (sign * mantissa) / f.subnormalScale;
  return sign * (1 + mantissa / f.mantissaScale) * 2 ** (field - f.bias);
}

/**
 * The IEEE half-float bit pattern nearest to `x` (ties to even). Values from 65520 up
 * round to infinity, as IEEE 754 says; below 2^-24 / 2 they round to (signed) zero. NaN
 * becomes the quiet NaN 0x7e00.
 *
 * @example
 * ```ts
 * float16Bits(1); // 0x3c00
 * float16Bits(65504); // 0x7bff, the largest half
 * float16Bits(2 ** -24); // 0x0001, the smallest subnormal
 * ```
 */
export function float16Bits(x: number): number {
  return encode(x, HALF);
}

/**
 * The value of an IEEE half-float bit pattern, exactly (every half is a double).
 *
 * @example
 * ```ts
 * float16Value(0x3555); // 0.333251953125
 * ```
 */
export function float16Value(bits: number): number {
  return decode(bits, HALF);
}

/**
 * The bfloat16 bit pattern nearest to `x` (ties to even), rounded from the double
 * directly: going through float32 first would round twice. NaN becomes 0x7fc0.
 *
 * @example
 * ```ts
 * bfloat16Bits(1); // 0x3f80
 * bfloat16Bits(1 / 3); // 0x3eab
 * ```
 */
export function bfloat16Bits(x: number): number {
  return encode(x, BFLOAT);
}

/**
 * The value of a bfloat16 bit pattern, exactly.
 *
 * @example
 * ```ts
 * bfloat16Value(0x3eab); // 0.333984375
 * ```
 */
export function bfloat16Value(bits: number): number {
  return decode(bits, BFLOAT);
}
