import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bfloat16Bits, bfloat16Value, float16Bits, float16Value } from '../../lib/core/float16';

const Half = suite('FP16 conversions');

/**
 * Bit patterns worked out by hand from IEEE 754 binary16 (1 sign, 5 exponent bits with
 * bias 15, 10 mantissa bits): value = 1.m * 2^(e - 15), or m * 2^-24 when e is 0.
 */
const HALF_CASES: readonly [number, number, string][] = [
  [0, 0x0000, 'zero'],
  [-0, 0x8000, 'negative zero keeps its sign'],
  [1, 0x3c00, 'one: exponent 15'],
  [-2, 0xc000, 'minus two'],
  [0.5, 0x3800, 'a half'],
  [1 / 3, 0x3555, '1/3: 1.0101010101|0101... rounds down'],
  [0.1, 0x2e66, '0.1: 1.1001100110|0110... * 2^-4 rounds up'],
  [65504, 0x7bff, 'the largest half'],
  [65519.99, 0x7bff, 'just under the halfway point to 65536 rounds down'],
  [65520, 0x7c00, 'halfway between 65504 (odd mantissa) and 65536 rounds to even: infinity'],
  [1e6, 0x7c00, 'overflow is infinity'],
  [Infinity, 0x7c00, 'infinity'],
  [-Infinity, 0xfc00, 'minus infinity'],
  [2 ** -14, 0x0400, 'the smallest normal'],
  [2 ** -24, 0x0001, 'the smallest subnormal'],
  [1023 * 2 ** -24, 0x03ff, 'the largest subnormal'],
  [2 ** -25, 0x0000, 'half the smallest subnormal: a tie, rounds to even zero'],
  [2 ** -25 + 2 ** -40, 0x0001, 'just above that tie rounds up'],
  [3 * 2 ** -25, 0x0002, '1.5 subnormal units: a tie, rounds to even 2'],
  [-(2 ** -26), 0x8000, 'underflow keeps the sign'],
  [(1024 - 0.5) * 2 ** -24, 0x0400, 'halfway from the largest subnormal to the smallest normal rounds to even: the normal'],
  [1 + 2 ** -11, 0x3c00, 'halfway between 1 and the next half rounds to even: 1'],
  [1 + 3 * 2 ** -11, 0x3c02, 'halfway between 0x3c01 and 0x3c02 rounds to even 0x3c02'],
  [1 + 2 ** -11 + 2 ** -30, 0x3c01, 'above the tie by less than a float32 ulp: rounding through float32 would give 0x3c00'],
];

Half('numbers become the bit patterns worked out by hand', () => {
  for (const [x, bits, why] of HALF_CASES) {
    assert.is(float16Bits(x), bits, `${x} (${why}): got 0x${float16Bits(x).toString(16)}, expected 0x${bits.toString(16)}`);
  }
  // 2047.5 = 2^10 * 1.9995117..., mantissa 1023.5 units: a tie with 1023 odd, so it rounds
  // up to 1024 units, which carries into the next binade: 2^11 = 0x6800.
  assert.is(float16Bits(2047.5), 0x6800);
  assert.is(float16Bits(2047), 0x67ff);
  assert.is(float16Bits(2046.5), 0x67fe, 'a tie with 1022 even stays');
});

Half('NaN becomes the quiet NaN 0x7e00', () => {
  assert.is(float16Bits(NaN), 0x7e00);
});

Half('bit patterns become their exact values', () => {
  assert.is(float16Value(0x0001), 2 ** -24);
  assert.is(float16Value(0x03ff), 1023 * 2 ** -24);
  assert.is(float16Value(0x0400), 2 ** -14);
  assert.is(float16Value(0x3555), 0.333251953125);
  assert.is(float16Value(0x7bff), 65504);
  assert.is(float16Value(0xc000), -2);
  assert.is(float16Value(0x7c00), Infinity);
  assert.is(float16Value(0xfc00), -Infinity);
  assert.ok(Number.isNaN(float16Value(0x7e00)));
  assert.ok(Number.isNaN(float16Value(0x7c01)), 'any non-zero mantissa with the top exponent is NaN');
  assert.ok(Object.is(float16Value(0x8000), -0));
});

Half('every one of the 65,536 patterns survives value -> bits (NaNs become the quiet NaN)', () => {
  for (let b = 0; b < 0x10000; b++) {
    const v = float16Value(b);
    const back = float16Bits(v);
    if (Number.isNaN(v)) assert.is(back, 0x7e00);
    else if (back !== b) assert.unreachable(`0x${b.toString(16)} -> ${v} -> 0x${back.toString(16)}`);
  }
});

Half('a value between two halves rounds to the nearer, ties to the even one', () => {
  for (let b = 0; b < 0x7bff; b++) {
    const lo = float16Value(b);
    const hi = float16Value(b + 1);
    const mid = (lo + hi) / 2; // exact: both are small dyadic rationals
    assert.is(float16Bits(mid), b % 2 === 0 ? b : b + 1, `tie between 0x${b.toString(16)} and its successor`);
    assert.is(float16Bits(lo + (hi - lo) / 4), b);
    assert.is(float16Bits(hi - (hi - lo) / 4), b + 1);
  }
});

const Bf = suite('BF16 conversions');

/** bfloat16: 1 sign, 8 exponent bits with bias 127, 7 mantissa bits: the top half of a float32. */
const BF_CASES: readonly [number, number, string][] = [
  [0, 0x0000, 'zero'],
  [-0, 0x8000, 'negative zero'],
  [1, 0x3f80, 'one'],
  [-2, 0xc000, 'minus two'],
  [1 / 3, 0x3eab, '1/3: 1.0101010|1010... rounds up'],
  [0.1, 0x3dcd, '0.1: 1.1001100|1100... * 2^-4 rounds up'],
  [3.3895313892515355e38, 0x7f7f, 'the largest bfloat16, (2 - 2^-7) * 2^127'],
  [(2 - 2 ** -8) * 2 ** 127, 0x7f80, 'halfway to 2^128 from an odd mantissa: infinity'],
  [(2 - 2 ** -8 - 2 ** -20) * 2 ** 127, 0x7f7f, 'just below that tie'],
  [Infinity, 0x7f80, 'infinity'],
  [-Infinity, 0xff80, 'minus infinity'],
  [2 ** -126, 0x0080, 'the smallest normal'],
  [2 ** -133, 0x0001, 'the smallest subnormal'],
  [2 ** -134, 0x0000, 'half of it: a tie, rounds to even zero'],
  [3 * 2 ** -134, 0x0002, '1.5 units: a tie, rounds to even 2'],
  [1 + 2 ** -8, 0x3f80, 'halfway between 1 and the next: even 1'],
  [1 + 2 ** -8 + 2 ** -30, 0x3f81, 'above that tie by less than a float32 ulp: through float32 it would be 0x3f80'],
  [Number.MAX_VALUE, 0x7f80, 'a double beyond the range'],
  [Number.MIN_VALUE, 0x0000, 'a double far below the smallest subnormal'],
];

Bf('numbers become the bit patterns worked out by hand', () => {
  for (const [x, bits, why] of BF_CASES) {
    assert.is(bfloat16Bits(x), bits, `${x} (${why}): got 0x${bfloat16Bits(x).toString(16)}, expected 0x${bits.toString(16)}`);
  }
  assert.is(bfloat16Bits(NaN), 0x7fc0);
});

Bf('bit patterns become their exact values', () => {
  assert.is(bfloat16Value(0x3eab), 0.333984375);
  assert.is(bfloat16Value(0x7f7f), 255 * 2 ** 120);
  assert.is(bfloat16Value(0x0001), 2 ** -133);
  assert.is(bfloat16Value(0xff80), -Infinity);
  assert.ok(Number.isNaN(bfloat16Value(0x7fc0)));
  assert.ok(Object.is(bfloat16Value(0x8000), -0));
});

Bf('every one of the 65,536 patterns survives value -> bits, and is the top half of the float32', () => {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let b = 0; b < 0x10000; b++) {
    const v = bfloat16Value(b);
    u32[0] = b << 16;
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(f32[0]));
      assert.is(bfloat16Bits(v), 0x7fc0);
      continue;
    }
    if (f32[0] !== v) assert.unreachable(`0x${b.toString(16)}: ${v}, float32 says ${f32[0]}`);
    if (bfloat16Bits(v) !== b) assert.unreachable(`0x${b.toString(16)} -> ${v} -> 0x${bfloat16Bits(v).toString(16)}`);
  }
});

Bf('float32 values round as the usual bit trick rounds them (a float32 is one rounding already)', () => {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let s = 12345;
  for (let i = 0; i < 100_000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    u32[0] = s;
    if (Number.isNaN(f32[0])) continue;
    const expected = ((s + 0x7fff + ((s >>> 16) & 1)) >>> 16) & 0xffff;
    if (bfloat16Bits(f32[0]) !== expected) assert.unreachable(`float32 0x${s.toString(16)}: 0x${bfloat16Bits(f32[0]).toString(16)}, expected 0x${expected.toString(16)}`);
  }
});

Half.run();
Bf.run();
