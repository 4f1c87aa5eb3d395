/**
 * Dynamic int8 quantization (lib/optimize/dynamic-quantization.ts), on small built models
 * and on two real ones, each first optimized by ONNX Runtime at its 'basic' level as the
 * caller does.
 *
 * The bound a quantized product is held to, element by element, follows from the scales:
 * with A's run-time scale s_a (uint8 over A's range widened to hold 0, as
 * DynamicQuantizeLinear computes it) and column n's weight scale s_w[n] (read from the
 * model), each quantized value is off by at most half a step (round to nearest, and no
 * clamping since the ranges cover the values), so for y = Σ_k a_k w_kn:
 *   |ŷ - y| = |Σ_k (ε_k w_kn + â_k δ_kn)| <= s_a/2 Σ_k |w_kn| + s_w[n]/2 Σ_k (|a_k| + s_a/2)
 * plus float32 rounding of the sums (1e-5 of Σ|a||w|). Each model is also compared with the
 * int8 arithmetic redone here (integers exact, then the scales), which it must match to
 * float precision: that catches a wrong scale, zero point or layout that the bound is too
 * loose to see.
 *
 * On x86 CPUs with AVX2 and no VNNI (this machine), ONNX Runtime's u8×s8 kernels add the
 * products of adjacent k in pairs saturated to int16, so full-range int8 weights (±127)
 * with large activations give clipped sums: such an output must then be exactly that
 * saturating arithmetic (redone here too), and the bound is held to the others. The tests
 * of 7-bit (reduceRange) and uint8 weights, which cannot saturate, hold every output to
 * the exact arithmetic and the bound.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, tensor } from '../../lib/index';
import { allGraphs, decodeModel, dimsOf, encodeModel, floatsOf, onnx, onnxOpset, OptimizeError, subgraphsOf } from '../../lib/optimize/onnx-graph';
import { quantizeDynamic, type DynamicQuantizationOptions, type DynamicQuantizationReport } from '../../lib/optimize/dynamic-quantization';
import { roundHalfEven } from '../../lib/optimize/quantization-parameters';
import { drawText, toClassifierInput } from '../../lib/cli/text-image';
import { REC_MODEL, VAD_MODEL, seededUniform } from '../helpers/common';
import { buildModel, T, type ModelSpec, type NodeSpec } from '../helpers/onnx-model';

const Small = suite('dynamic quantization: small models against float32 and the int8 arithmetic');
const Real = suite('dynamic quantization: PP-OCR recognizer and Silero VAD');

const dir = mkdtempSync(join(tmpdir(), 'dynamic-quantization-'));
const f32 = Math.fround;

type Level = 'disabled' | 'basic' | 'extended' | 'all';

/** The model as the caller has it: saved by ONNX Runtime after its 'basic' optimizations. */
async function preOptimized(model: string | Uint8Array, name: string): Promise<onnx.ModelProto> {
  const file = join(dir, `${name}.basic.onnx`);
  const session = await createSession(model, { graphOptimizationLevel: 'basic', optimizedModelFilePath: file, intraOpNumThreads: 1 });
  session.release();
  return decodeModel(readFileSync(file));
}

type Feeds = Record<string, ReturnType<typeof tensor>>;

async function run(model: onnx.IModelProto | Uint8Array, feeds: Feeds, level: Level = 'all'): Promise<Record<string, Float32Array>> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const session = await createSession(bytes, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    session.release();
  }
}

function randoms(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const u = seededUniform(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * u());
}

function initializer(model: onnx.IModelProto, name: string): onnx.ITensorProto {
  for (const g of allGraphs(model.graph!)) for (const t of g.initializer ?? []) if (t.name === name) return t;
  throw new Error(`no initializer ${name}`);
}

/** The main graph, as decoded (its fields filled in). */
function graphOf(model: onnx.IModelProto): onnx.GraphProto {
  return model.graph as onnx.GraphProto;
}

function hasInitializer(model: onnx.IModelProto, name: string): boolean {
  return allGraphs(model.graph!).some((g) => (g.initializer ?? []).some((t) => t.name === name));
}

function opTypes(model: onnx.IModelProto): string[] {
  return allGraphs(model.graph!).flatMap((g) => (g.node ?? []).map((n) => n.opType ?? ''));
}

/** Asserts that each graph's nodes read only what its inputs, initializers, earlier nodes or the graphs around it make. */
function assertSorted(model: onnx.IModelProto): void {
  const visit = (graph: onnx.IGraphProto, outer: Set<string>) => {
    const known = new Set([...outer, ...(graph.input ?? []).map((v) => v.name ?? ''), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
    for (const node of graph.node ?? []) {
      for (const i of node.input ?? []) assert.ok(i === '' || known.has(i), `${graph.name}: ${node.opType} ${node.name} reads ${i} before it is made`);
      for (const sub of subgraphsOf(node)) visit(sub, known);
      for (const o of node.output ?? []) known.add(o);
    }
  };
  visit(model.graph!, new Set());
}

function count(list: string[], op: string): number {
  return list.filter((o) => o === op).length;
}

/** A quantized weight's integers as numbers, in its stored layout. */
function integers(t: onnx.ITensorProto): number[] {
  const raw = t.rawData!;
  return t.dataType === T.INT8 ? Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength)) : Array.from(raw);
}

/** DynamicQuantizeLinear's parameters for a tensor (uint8, range widened to hold 0). */
function activationParams(a: Float32Array): { scale: number; zeroPoint: number } {
  let lo = 0;
  let hi = 0;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = f32((hi - lo) / 255);
  return { scale, zeroPoint: Math.min(255, Math.max(0, roundHalfEven(-lo / scale))) };
}

interface Product {
  /** A as [M, K]. */
  a: Float32Array;
  m: number;
  k: number;
  n: number;
  /** The weight as the product uses it, [K, N] (transposed, times alpha). */
  w: Float32Array;
  /** Its quantized tensors in the model: integers [K, N], scale and zero point, 1 or N of each, and their type. */
  q: number[];
  scales: Float32Array;
  zeroPoints: number[];
  type: number;
  /** Added after the product, broadcast over [M, N] (or undefined). */
  add?: (m: number, n: number) => number;
}

interface Expected {
  /** float32's answer. */
  float: Float32Array;
  /** The int8 arithmetic: integer sums exact, then the scales. */
  emulated: Float32Array;
  /**
   * The same with the integer sums as MLAS's u8×s8 kernel for x86 CPUs without VNNI does
   * them (AVX2's vpmaddubsw): products of adjacent k added in pairs and saturated to int16.
   * Only int8 weights; with uint8 ones (u8×u8) it is the exact sum.
   */
  saturated: Float32Array;
  bound: Float32Array;
}

const sat16 = (x: number) => Math.max(-32768, Math.min(32767, x));

/** The int8 result redone here, and the bound (see the file's comment) of each element. */
function expected(p: Product): Expected {
  const { a, m, k, n, w, q, scales, zeroPoints } = p;
  const act = activationParams(a);
  const qa = Array.from(a, (v) => Math.min(255, Math.max(0, roundHalfEven(v / act.scale) + act.zeroPoint)));
  const out = { float: new Float32Array(m * n), emulated: new Float32Array(m * n), saturated: new Float32Array(m * n), bound: new Float32Array(m * n) };
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const sw = scales.length === 1 ? scales[0] : scales[j];
      const zw = zeroPoints.length === 1 ? zeroPoints[0] : zeroPoints[j];
      let exact = 0;
      let absW = 0;
      let absA = 0;
      let absProducts = 0;
      // Σ (qa - za)(qw - zw) = Σ qa·qw - za Σ qw - zw Σ qa + K za zw: only Σ qa·qw can saturate.
      let products = 0;
      let pairs = 0;
      let sumA = 0;
      let sumW = 0;
      for (let x = 0; x < k; x++) {
        const product = qa[i * k + x] * q[x * n + j];
        products += product;
        pairs += x % 2 === 1 ? 0 : sat16(product + (x + 1 < k ? qa[i * k + x + 1] * q[(x + 1) * n + j] : 0));
        sumA += qa[i * k + x];
        sumW += q[x * n + j];
        exact += a[i * k + x] * w[x * n + j];
        absW += Math.abs(w[x * n + j]);
        absA += Math.abs(a[i * k + x]) + act.scale / 2;
        absProducts += Math.abs(a[i * k + x] * w[x * n + j]);
      }
      const rest = -act.zeroPoint * sumW - zw * sumA + k * act.zeroPoint * zw;
      const add = p.add ? p.add(i, j) : 0;
      const multiplier = f32(act.scale * sw);
      out.float[i * n + j] = exact + add;
      out.emulated[i * n + j] = f32(multiplier * (products + rest)) + add;
      out.saturated[i * n + j] = p.type === T.INT8 ? f32(multiplier * (pairs + rest)) + add : out.emulated[i * n + j];
      out.bound[i * n + j] = (act.scale / 2) * absW + (sw / 2) * absA + 1e-5 * absProducts + 1e-6;
    }
  }
  return out;
}

const near = (x: number, y: number) => Math.abs(x - y) <= 1e-5 * (1 + Math.abs(y));

/**
 * Asserts that each output is the int8 arithmetic to float precision (exact, or as an AVX2
 * CPU without VNNI saturates it: `mayFallOut`), and within the bound of float32 wherever it
 * is exact. Returns the largest error from float32 and how many outputs saturated.
 */
function check(label: string, got: Float32Array, e: Expected, mayFallOut = true): { worst: number; saturated: number; worstSaturated: number } {
  assert.is(got.length, e.float.length, `${label}: length`);
  let worst = 0;
  let saturated = 0;
  let worstSaturated = 0;
  for (let i = 0; i < got.length; i++) {
    if (!near(got[i], e.emulated[i])) {
      assert.ok(mayFallOut && near(got[i], e.saturated[i]), `${label}[${i}]: ${got[i]} is neither the int8 arithmetic's ${e.emulated[i]} nor its int16-saturated ${e.saturated[i]}`);
      saturated++;
      worstSaturated = Math.max(worstSaturated, Math.abs(got[i] - e.float[i]));
      continue;
    }
    const err = Math.abs(got[i] - e.float[i]);
    worst = Math.max(worst, err);
    assert.ok(err <= e.bound[i], `${label}[${i}]: ${got[i]} is ${err} from float32 ${e.float[i]}, past the bound ${e.bound[i]}`);
  }
  // Quantized for real: some error, however small (so some outputs were held to the bound).
  assert.ok(worst > 0, `${label}: no quantization error at all`);
  return { worst, saturated, worstSaturated };
}

/** The quantized tensors of weight `name` (stored as `name`_quantized, _scale, _zero_point). */
function quantizedWeight(model: onnx.IModelProto, name: string): { q: number[]; scales: Float32Array; zeroPoints: number[]; dims: number[]; type: number } {
  const q = initializer(model, `${name}_quantized`);
  return {
    q: integers(q),
    scales: floatsOf(initializer(model, `${name}_scale`)),
    zeroPoints: integers(initializer(model, `${name}_zero_point`)),
    dims: dimsOf(q),
    type: q.dataType ?? 0,
  };
}

function matmulSpec(aDims: (number | string)[], k: number, n: number, w: Float32Array, opset = 17): ModelSpec {
  return {
    inputs: [{ name: 'a', type: T.FLOAT, dims: aDims }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: [...aDims.slice(0, -1), n] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }],
    initializers: [{ name: 'w', dims: [k, n], floats: Array.from(w) }],
    opset,
  };
}

async function quantized(spec: ModelSpec, name: string, options?: DynamicQuantizationOptions): Promise<{ model: onnx.ModelProto; report: DynamicQuantizationReport }> {
  const model = await preOptimized(buildModel(spec), name);
  const report = quantizeDynamic(model, options);
  return { model, report };
}

Small('MatMul, 2-D activation: DynamicQuantizeLinear → MatMulInteger → Cast → Mul; fused and unfused, within the bound', async () => {
  const [m, k, n] = [4, 64, 16];
  const w = randoms(k * n, 1, -0.5, 0.5);
  const a = randoms(m * k, 2, -2, 3);
  const { model, report } = await quantized(matmulSpec([m, k], k, n, w), 'matmul2d');
  assert.equal(report.quantized, { MatMul: 1 });
  assert.is(report.form, 'MatMulInteger');
  assert.equal(report.nodes, [{ name: 'MatMul_0', opType: 'MatMul', graph: 'test', as: 'MatMulInteger', perChannel: false }]);
  assert.equal(report.skipped, []);
  assert.is(report.activationQuantizers, 1);
  // int8 [64, 16] + a float scale and an int8 zero point, for 4096 float bytes.
  assert.equal(report.weightBytes, { before: k * n * 4, after: k * n + 4 + 1 });
  assert.equal(opTypes(model), ['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul']);
  assert.not.ok(hasInitializer(model, 'w'), 'the float weight is gone');
  assert.is(onnxOpset(model), 17);
  const qw = quantizedWeight(model, 'w');
  assert.is(qw.type, T.INT8);
  assert.equal(qw.dims, [k, n]);
  assert.equal(qw.zeroPoints, [0]);
  // Symmetric int8: the largest |w| maps to 127.
  let max = 0;
  for (const v of w) max = Math.max(max, Math.abs(v));
  assert.is(qw.scales[0], f32(max / 127));
  const e = expected({ a, m, k, n, w, ...qw });
  const feeds = { a: tensor('float32', a, [m, k]) };
  // 'all' fuses it into DynamicQuantizeMatMul; 'disabled' runs the ONNX ops as written.
  const fused = check('fused', (await run(model, feeds, 'all')).y, e);
  const unfused = check('unfused', (await run(model, feeds, 'disabled')).y, e);
  assert.ok(fused.worst < 0.05 && unfused.worst < 0.05, `errors ${fused.worst}, ${unfused.worst}`);
  console.log(
    `      full-range int8, A in [-2, 3]: worst error ${fused.worst.toFixed(4)} (bounds up to ${Math.max(...e.bound).toFixed(3)}); ` +
      `${fused.saturated} of ${m * n} outputs int16-saturated on this CPU (worst of those ${fused.worstSaturated.toFixed(3)})`,
  );
});

Small('MatMul, 3-D activation [2, 5, 32] x [32, 8]: one scale for the whole activation', async () => {
  const [b, t, k, n] = [2, 5, 32, 8];
  const w = randoms(k * n, 3);
  const a = randoms(b * t * k, 4, -1, 1);
  const { model, report } = await quantized(matmulSpec(['b', t, k], k, n, w), 'matmul3d');
  assert.equal(report.quantized, { MatMul: 1 });
  const out = await run(model, { a: tensor('float32', a, [b, t, k]) });
  check('y', out.y, expected({ a, m: b * t, k, n, w, ...quantizedWeight(model, 'w') }));
});

Small('Gemm: transB, alpha and beta folded, bias C added; transA transposed first; C of [M, N]', async () => {
  const [m, k, n] = [3, 24, 10];
  const b = randoms(n * k, 5); // [N, K]: transB
  const b2 = randoms(k * n, 55); // [K, N]
  const c = randoms(n, 6);
  const full = randoms(m * n, 7);
  const a = randoms(m * k, 8, -1, 2);
  const at = new Float32Array(k * m); // [K, M]: transA
  for (let i = 0; i < m; i++) for (let x = 0; x < k; x++) at[x * m + i] = a[i * k + x];
  const spec: ModelSpec = {
    inputs: [
      { name: 'a', type: T.FLOAT, dims: [m, k] },
      { name: 'at', type: T.FLOAT, dims: [k, m] },
    ],
    outputs: [
      { name: 'y', type: T.FLOAT, dims: [m, n] },
      { name: 'z', type: T.FLOAT, dims: [m, n] },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['y'], attributes: { transB: 1, alpha: 0.5, beta: 1.5 } },
      { op: 'Gemm', inputs: ['at', 'b2', 'full'], outputs: ['z'], attributes: { transA: 1 } },
    ],
    initializers: [
      { name: 'b', dims: [n, k], floats: Array.from(b) },
      { name: 'c', dims: [n], floats: Array.from(c) },
      { name: 'b2', dims: [k, n], floats: Array.from(b2) },
      { name: 'full', dims: [m, n], floats: Array.from(full) },
    ],
  };
  const { model, report } = await quantized(spec, 'gemm');
  assert.equal(report.quantized, { Gemm: 2 });
  assertSorted(model);
  assert.ok(opTypes(model).includes('Transpose'));
  assert.not.ok(opTypes(model).includes('Gemm'));
  const out = await run(model, { a: tensor('float32', a, [m, k]), at: tensor('float32', at, [k, m]) });
  // y = 0.5 · a · bᵀ + 1.5 c
  const wy = new Float32Array(k * n);
  for (let x = 0; x < k; x++) for (let j = 0; j < n; j++) wy[x * n + j] = f32(0.5 * b[j * k + x]);
  const ey = expected({ a, m, k, n, w: wy, ...quantizedWeight(model, 'b'), add: (_, j) => f32(1.5 * c[j]) });
  check('y', out.y, ey);
  // z = (atᵀ) · b2 + full
  const ez = expected({ a, m, k, n, w: b2, ...quantizedWeight(model, 'b2'), add: (i, j) => full[i * n + j] });
  check('z', out.z, ez);
});

Small('one DynamicQuantizeLinear per activation, however many MatMuls read it; one quantized weight per weight', async () => {
  const [m, k, n] = [2, 16, 4];
  const w1 = randoms(k * n, 9);
  const w2 = randoms(k * n, 10, -3, 3);
  const a = randoms(m * k, 11);
  const b = randoms(m * k, 111, -4, 1);
  const spec: ModelSpec = {
    inputs: [
      { name: 'a', type: T.FLOAT, dims: [m, k] },
      { name: 'b', type: T.FLOAT, dims: [m, k] },
    ],
    outputs: ['y1', 'y2', 'y3'].map((name) => ({ name, type: T.FLOAT, dims: [m, n] })),
    nodes: [
      { op: 'MatMul', inputs: ['a', 'w1'], outputs: ['y1'] },
      { op: 'MatMul', inputs: ['a', 'w2'], outputs: ['y2'] },
      { op: 'MatMul', inputs: ['b', 'w1'], outputs: ['y3'] },
    ],
    initializers: [
      { name: 'w1', dims: [k, n], floats: Array.from(w1) },
      { name: 'w2', dims: [k, n], floats: Array.from(w2) },
    ],
  };
  const { model, report } = await quantized(spec, 'shared');
  assert.equal(report.quantized, { MatMul: 3 });
  assertSorted(model);
  assert.is(report.activationQuantizers, 2);
  const dql = graphOf(model).node.filter((nd) => nd.opType === 'DynamicQuantizeLinear');
  assert.equal(dql.map((nd) => nd.input), [['a'], ['b']]);
  assert.is(count(opTypes(model), 'MatMulInteger'), 3);
  assert.equal(graphOf(model).initializer.map((t) => t.name).sort(), ['w1_quantized', 'w1_scale', 'w1_zero_point', 'w2_quantized', 'w2_scale', 'w2_zero_point']);
  const feeds = { a: tensor('float32', a, [m, k]), b: tensor('float32', b, [m, k]) };
  for (const level of ['all', 'disabled'] as const) {
    const out = await run(model, feeds, level);
    check(`y1 (${level})`, out.y1, expected({ a, m, k, n, w: w1, ...quantizedWeight(model, 'w1') }));
    check(`y2 (${level})`, out.y2, expected({ a, m, k, n, w: w2, ...quantizedWeight(model, 'w2') }));
    check(`y3 (${level})`, out.y3, expected({ a: b, m, k, n, w: w1, ...quantizedWeight(model, 'w1') }));
  }
});

Small('per channel: a scale per output column, a smaller error on small columns than per tensor; uint8 asymmetric too', async () => {
  const [m, k, n] = [3, 32, 6];
  // Column j's weights are 4^-j as large as column 0's: one scale for all wastes the small ones' bits.
  const w = randoms(k * n, 12).map((v, i) => v * 4 ** -(i % n));
  const a = randoms(m * k, 13);
  const feeds = { a: tensor('float32', a, [m, k]) };
  const errors: Record<string, number[]> = {};
  for (const [label, options] of [
    // 7-bit int8, which no CPU saturates (see the reduceRange test), so that every output is compared.
    ['per tensor', { reduceRange: true }],
    ['per channel', { perChannel: true, reduceRange: true }],
    ['per channel uint8', { perChannel: true, weightType: 'uint8' }],
  ] as const) {
    const { model, report } = await quantized(matmulSpec([m, k], k, n, w), `channels-${label.replace(/ /g, '-')}`, options);
    const qw = quantizedWeight(model, 'w');
    assert.is(report.nodes[0].perChannel, label !== 'per tensor', label);
    assert.is(qw.scales.length, label === 'per tensor' ? 1 : n, label);
    assert.is(qw.type, label.endsWith('uint8') ? T.UINT8 : T.INT8, label);
    if (label.endsWith('uint8')) assert.ok(qw.zeroPoints.some((z) => z !== 128), 'asymmetric zero points');
    const e = expected({ a, m, k, n, w, ...qw });
    const out = (await run(model, feeds)).y;
    check(label, out, e, false);
    // The error of the smallest column, relative to its size.
    errors[label] = Array.from({ length: n }, (_, j) => {
      let worst = 0;
      for (let i = 0; i < m; i++) worst = Math.max(worst, Math.abs(out[i * n + j] - e.float[i * n + j]));
      return worst;
    });
  }
  const last = n - 1;
  assert.ok(errors['per channel'][last] * 4 < errors['per tensor'][last], `smallest column: per channel ${errors['per channel'][last]}, per tensor ${errors['per tensor'][last]}`);
});

Small('reduceRange: weights in [-64, 64] (7 bits), scale max/64, still within the bound', async () => {
  const [m, k, n] = [2, 32, 8];
  const w = randoms(k * n, 14);
  const a = randoms(m * k, 15);
  const { model } = await quantized(matmulSpec([m, k], k, n, w), 'reduce-range', { reduceRange: true });
  const qw = quantizedWeight(model, 'w');
  assert.ok(Math.max(...qw.q.map(Math.abs)) === 64, 'the largest weight is ±64');
  let max = 0;
  for (const v of w) max = Math.max(max, Math.abs(v));
  assert.is(qw.scales[0], f32(max / 64));
  // 255 × 64 × 2 < 32767: the pairs of an AVX2 CPU without VNNI cannot saturate.
  check('y', (await run(model, { a: tensor('float32', a, [m, k]) })).y, expected({ a, m, k, n, w, ...qw }), false);
});

Small('excludeNodes and a weight that is not constant: left in float, listed with the reason', async () => {
  const [m, k, n] = [2, 8, 3];
  const w = randoms(k * n, 16);
  const spec: ModelSpec = {
    inputs: [
      { name: 'a', type: T.FLOAT, dims: [m, k] },
      { name: 'a2', type: T.FLOAT, dims: [m, k] },
      { name: 'b', type: T.FLOAT, dims: [k, n] },
    ],
    outputs: [
      { name: 'y1', type: T.FLOAT, dims: [m, n] },
      { name: 'y2', type: T.FLOAT, dims: [m, n] },
      { name: 'y3', type: T.FLOAT, dims: [m, n] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['a', 'w'], outputs: ['y1'] },
      { op: 'MatMul', inputs: ['a2', 'w'], outputs: ['y2'] },
      { op: 'MatMul', inputs: ['a', 'b'], outputs: ['y3'] },
    ],
    initializers: [{ name: 'w', dims: [k, n], floats: Array.from(w) }],
  };
  const bytes = buildModel(spec);
  const { model, report } = await quantized(spec, 'exclude', { excludeNodes: ['MatMul_1'] });
  assert.equal(report.quantized, { MatMul: 1 });
  assert.equal(report.skipped, [
    { name: 'MatMul_1', opType: 'MatMul', graph: 'test', reason: 'excluded' },
    { name: 'MatMul_2', opType: 'MatMul', graph: 'test', reason: 'weight is not constant (a graph input)' },
  ]);
  // The excluded node still reads the float weight, so it stays; the quantized one is added.
  assert.ok(hasInitializer(model, 'w') && hasInitializer(model, 'w_quantized'));
  assert.is(count(opTypes(model), 'MatMul'), 2);
  const a = randoms(m * k, 17);
  const b = randoms(k * n, 18);
  const feeds = { a: tensor('float32', a, [m, k]), a2: tensor('float32', randoms(m * k, 19), [m, k]), b: tensor('float32', b, [k, n]) };
  const float = await run(bytes, feeds);
  const out = await run(model, feeds);
  assert.equal(out.y2, float.y2, 'the excluded node is float32 exactly');
  assert.equal(out.y3, float.y3, 'the non-constant product is float32 exactly');
  check('y1', out.y1, expected({ a, m, k, n, w, ...quantizedWeight(model, 'w') }));
});

Small('ONNX opset 9: com.microsoft DynamicQuantizeMatMul (no DynamicQuantizeLinear before 11), the opset left at 9; Gemm bias as its bias', async () => {
  const [m, k, n] = [3, 16, 5];
  const w = randoms(k * n, 19);
  const w2 = randoms(k * n, 119);
  const c = randoms(n, 20);
  const a = randoms(m * k, 21);
  const spec: ModelSpec = {
    inputs: [{ name: 'a', type: T.FLOAT, dims: [m, k] }],
    outputs: [
      { name: 'y', type: T.FLOAT, dims: [m, n] },
      { name: 'z', type: T.FLOAT, dims: [m, n] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] },
      { op: 'Gemm', inputs: ['a', 'w2', 'c'], outputs: ['z'], attributes: { beta: 0.5 } },
    ],
    initializers: [
      { name: 'w', dims: [k, n], floats: Array.from(w) },
      { name: 'w2', dims: [k, n], floats: Array.from(w2) },
      { name: 'c', dims: [1, n], floats: Array.from(c) },
    ],
    opset: 9,
  };
  const { model, report } = await quantized(spec, 'opset9', { perChannel: true });
  assert.is(report.form, 'DynamicQuantizeMatMul');
  assert.equal(report.quantized, { MatMul: 1, Gemm: 1 });
  assert.equal(opTypes(model), ['DynamicQuantizeMatMul', 'DynamicQuantizeMatMul']);
  assert.is(onnxOpset(model), 9);
  assert.ok(model.opsetImport.some((o) => o.domain === 'com.microsoft' && Number(o.version) === 1));
  const gemm = graphOf(model).node.find((nd) => nd.output?.[0] === 'z')!;
  assert.is(gemm.input?.length, 5, 'C (times beta, made [N]) is the kernel bias');
  assert.equal(dimsOf(initializer(model, gemm.input![4])), [n]);
  const out = await run(model, { a: tensor('float32', a, [m, k]) });
  check('y', out.y, expected({ a, m, k, n, w, ...quantizedWeight(model, 'w') }));
  check('z', out.z, expected({ a, m, k, n, w: w2, ...quantizedWeight(model, 'w2'), add: (_, j) => f32(0.5 * c[j]) }));
});

Small('weights in subgraphs: an If branch reading its own weight and one of the outer graph', async () => {
  const [m, k, n] = [2, 12, 4];
  const outer = randoms(k * n, 22);
  const inner = randoms(k * n, 23, -2, 2);
  const branch = (name: string, nodes: NodeSpec[], own: boolean) => ({
    graphName: name,
    inputs: [],
    outputs: [{ name: `${name}_y`, type: T.FLOAT, dims: [m, n] }],
    nodes,
    initializers: own ? [{ name: 'inner', dims: [k, n], floats: Array.from(inner) }] : [],
  });
  const spec: ModelSpec = {
    inputs: [
      { name: 'a', type: T.FLOAT, dims: [m, k] },
      { name: 'flag', type: T.BOOL, dims: [] },
    ],
    outputs: [{ name: 'y', type: T.FLOAT, dims: [m, n] }],
    nodes: [
      {
        op: 'If',
        inputs: ['flag'],
        outputs: ['y'],
        attributes: {
          then_branch: branch('then', [{ op: 'MatMul', inputs: ['a', 'outer'], outputs: ['then_y'] }], false),
          else_branch: branch('else', [{ op: 'MatMul', inputs: ['a', 'inner'], outputs: ['else_y'] }], true),
        },
      },
    ],
    initializers: [{ name: 'outer', dims: [k, n], floats: Array.from(outer) }],
  };
  const { model, report } = await quantized(spec, 'subgraphs');
  assert.equal(report.quantized, { MatMul: 2 });
  assertSorted(model);
  assert.equal(report.nodes.map((x) => x.graph).sort(), ['else', 'then']);
  const [thenBranch, elseBranch] = graphOf(model).node[0].attribute!.map((at) => at.g as onnx.GraphProto);
  // Each quantized weight lives where its float weight did, which is gone.
  assert.equal(graphOf(model).initializer.map((t) => t.name), ['outer_quantized', 'outer_scale', 'outer_zero_point']);
  assert.equal(thenBranch.initializer, []);
  assert.equal(elseBranch.initializer.map((t) => t.name), ['inner_quantized', 'inner_scale', 'inner_zero_point']);
  const a = randoms(m * k, 24);
  for (const [flag, w, name] of [[true, outer, 'outer'], [false, inner, 'inner']] as const) {
    const out = await run(model, { a: tensor('float32', a, [m, k]), flag: tensor('bool', [flag], []) });
    check(name, out.y, expected({ a, m, k, n, w, ...quantizedWeight(model, name) }));
  }
});

Small('LSTM → com.microsoft DynamicQuantizeLSTM: int8 weights transposed to [dirs, K, 4H]; one step within the bound', async () => {
  const [inputSize, hidden, batch, dirs] = [6, 5, 2, 2];
  const g = 4 * hidden;
  const W = randoms(dirs * g * inputSize, 25, -0.6, 0.6);
  const R = randoms(dirs * g * hidden, 26, -0.6, 0.6);
  const B = randoms(dirs * 2 * g, 27, -0.3, 0.3);
  const spec: ModelSpec = {
    inputs: [
      { name: 'X', type: T.FLOAT, dims: [1, batch, inputSize] },
      { name: 'H0', type: T.FLOAT, dims: [dirs, batch, hidden] },
      { name: 'C0', type: T.FLOAT, dims: [dirs, batch, hidden] },
    ],
    outputs: [{ name: 'Y_h', type: T.FLOAT, dims: [dirs, batch, hidden] }],
    nodes: [{ op: 'LSTM', inputs: ['X', 'W', 'R', 'B', '', 'H0', 'C0'], outputs: ['', 'Y_h'], attributes: { hidden_size: hidden, direction: 'bidirectional' } }],
    initializers: [
      { name: 'W', dims: [dirs, g, inputSize], floats: Array.from(W) },
      { name: 'R', dims: [dirs, g, hidden], floats: Array.from(R) },
      { name: 'B', dims: [dirs, 2 * g], floats: Array.from(B) },
    ],
    opset: 14,
  };
  const x = randoms(batch * inputSize, 28, -2, 2);
  const h0 = randoms(dirs * batch * hidden, 29, -0.9, 0.9);
  const c0 = randoms(dirs * batch * hidden, 30, -1.5, 1.5);
  const feeds = { X: tensor('float32', x, [1, batch, inputSize]), H0: tensor('float32', h0, [dirs, batch, hidden]), C0: tensor('float32', c0, [dirs, batch, hidden]) };
  const float = (await run(buildModel(spec), feeds)).Y_h;
  // 7-bit weights: with full-range int8 ones, x·Wᵀ here has pairs of products past int16
  // (up to 51627), which an x86 CPU without VNNI saturates (see the first MatMul test), and
  // the kernel's arithmetic is not redone here to tell those outputs apart.
  for (const perChannel of [false, true]) {
    const { model, report } = await quantized(spec, `lstm-${perChannel}`, { perChannel, reduceRange: true });
    assert.equal(report.quantized, { LSTM: 1 });
    assert.equal(opTypes(model), ['DynamicQuantizeLSTM']);
    const node = graphOf(model).node[0];
    assert.is(node.domain, 'com.microsoft');
    const qw = quantizedWeight(model, 'W');
    const qr = quantizedWeight(model, 'R');
    assert.equal(qw.dims, [dirs, inputSize, g]);
    assert.equal(qr.dims, [dirs, hidden, g]);
    assert.equal(dimsOf(initializer(model, 'W_scale')), perChannel ? [dirs, g] : [dirs]);
    assert.ok(qw.zeroPoints.every((z) => z === 0) && qw.type === T.INT8);
    // Stored transposed: element (d, row, col) of W is at (d, col, row), scaled back to within half a step.
    for (const [d, row, col] of [[0, 0, 0], [1, 7, 3], [1, g - 1, inputSize - 1]]) {
      const s = qw.scales.length === dirs ? qw.scales[d] : qw.scales[d * g + row];
      const back = qw.q[d * inputSize * g + col * g + row] * s;
      assert.ok(Math.abs(back - W[(d * g + row) * inputSize + col]) <= s / 2 + 1e-7, `W(${d}, ${row}, ${col})`);
    }
    // One step from (H0, C0): each gate's pre-activation is off by at most E, the bound of
    // x·Wᵀ plus that of h0·Rᵀ (file's comment; scales from the model, x and h0 each quantized
    // over their whole tensor, which only overstates the kernel's). Sigmoid moves at most
    // E/4, tanh E: c = f·c0 + i·g is off by E/4 |c0| + E/4 + E, h = o·tanh(c) by E/4 more
    // than c, and 10% covers the second-order terms.
    const sx = activationParams(x).scale;
    const sh = activationParams(h0).scale;
    const out = (await run(model, feeds)).Y_h;
    let worst = 0;
    for (let d = 0; d < dirs; d++) {
      for (let bIdx = 0; bIdx < batch; bIdx++) {
        let e = 0;
        for (let row = 0; row < g; row++) {
          const swScale = qw.scales.length === dirs ? qw.scales[d] : qw.scales[d * g + row];
          const srScale = qr.scales.length === dirs ? qr.scales[d] : qr.scales[d * g + row];
          let bound = 0;
          for (let c = 0; c < inputSize; c++) bound += (sx / 2) * Math.abs(W[(d * g + row) * inputSize + c]) + (swScale / 2) * (Math.abs(x[bIdx * inputSize + c]) + sx / 2);
          for (let c = 0; c < hidden; c++) bound += (sh / 2) * Math.abs(R[(d * g + row) * hidden + c]) + (srScale / 2) * (Math.abs(h0[(d * batch + bIdx) * hidden + c]) + sh / 2);
          e = Math.max(e, bound);
        }
        for (let j = 0; j < hidden; j++) {
          const at = (d * batch + bIdx) * hidden + j;
          const limit = 1.1 * (e / 4 + (e / 4) * Math.abs(c0[at]) + e / 4 + e);
          const err = Math.abs(out[at] - float[at]);
          worst = Math.max(worst, err);
          assert.ok(err <= limit, `Y_h[${at}] (perChannel ${perChannel}): ${err} past ${limit}`);
        }
      }
    }
    assert.ok(worst > 0, 'quantized for real');
  }
});

Small('a model with no float weights: nothing quantized, the model unchanged and valid', async () => {
  const spec: ModelSpec = {
    inputs: [{ name: 'a', type: T.INT32, dims: [2, 3] }],
    outputs: [{ name: 'y', type: T.INT32, dims: [2, 2] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }],
    initializers: [{ name: 'w', dims: [3, 2], type: T.INT32, raw: new Uint8Array(Int32Array.of(1, 2, 3, 4, 5, 6).buffer) }],
  };
  const model = await preOptimized(buildModel(spec), 'no-floats');
  const before = encodeModel(model);
  const report = quantizeDynamic(model);
  assert.equal(report.quantized, {});
  assert.equal(report.nodes, []);
  assert.equal(report.skipped, [{ name: 'MatMul_0', opType: 'MatMul', graph: 'test', reason: 'weight is INT32, not FLOAT' }]);
  assert.is(report.weightBytes.before, report.weightBytes.after);
  assert.equal(encodeModel(model), before, 'byte for byte');
  const session = await createSession(encodeModel(model));
  const out = await session.run({ a: tensor('int32', [1, 0, 0, 0, 1, 1], [2, 3]) });
  session.release();
  assert.equal(Array.from(out.y.data as Int32Array), [1, 2, 8, 10]);
});

Small('com.microsoft opset 1 added when its ops are written (a model ONNX Runtime has not saved), and only then', () => {
  const old = decodeModel(buildModel(matmulSpec([1, 4], 4, 2, randoms(8, 32), 9)));
  quantizeDynamic(old);
  assert.equal(old.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', 9], ['com.microsoft', 1]]);
  const recent = decodeModel(buildModel(matmulSpec([1, 4], 4, 2, randoms(8, 32), 13)));
  quantizeDynamic(recent);
  assert.equal(recent.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', 13]]);
});

Small('refused: bad options, opset < 7; Conv and GRU named in opTypes are reported as kept float', async () => {
  const model = () => decodeModel(buildModel(matmulSpec([1, 2], 2, 2, Float32Array.of(1, 2, 3, 4))));
  assert.throws(() => quantizeDynamic(model(), { weightType: 'int4' as never }), (e: unknown) => e instanceof OptimizeError && /weightType/.test((e as Error).message));
  assert.throws(() => quantizeDynamic(model(), { opTypes: ['Matmul'] }), (e: unknown) => e instanceof OptimizeError && /"Matmul" cannot be quantized/.test((e as Error).message));
  assert.throws(() => quantizeDynamic(decodeModel(buildModel(matmulSpec([1, 2], 2, 2, Float32Array.of(1, 2, 3, 4), 6)))), (e: unknown) => e instanceof OptimizeError && /opset is 6/.test((e as Error).message));
  const conv = decodeModel(
    buildModel({
      inputs: [{ name: 'x', type: T.FLOAT, dims: [1, 1, 4, 4] }],
      outputs: [{ name: 'y', type: T.FLOAT, dims: [1, 1, 4, 4] }],
      nodes: [{ op: 'Conv', inputs: ['x', 'k'], outputs: ['y'] }],
      initializers: [{ name: 'k', dims: [1, 1, 1, 1], floats: [2] }],
    }),
  );
  const report = quantizeDynamic(conv, { opTypes: ['Conv', 'MatMul'] });
  assert.is(report.skipped.length, 1);
  assert.match(report.skipped[0].reason, /ConvInteger has no fast CPU kernel/);
});

// ---- real models ----------------------------------------------------------------------

/** Greedy CTC: the best class per step, repeats collapsed, blanks (0) dropped. */
function ctcDecode(probs: Float32Array, steps: number, classes: number): number[] {
  const out: number[] = [];
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[t * classes + c] > probs[t * classes + best]) best = c;
    if (best !== previous && best !== 0) out.push(best);
    previous = best;
  }
  return out;
}

Real('PP-OCRv4 rec (opset 9): its MatMuls as DynamicQuantizeMatMul; the same text as float32 on drawn lines', async () => {
  const started = performance.now();
  const original = readFileSync(REC_MODEL).byteLength;
  const model = await preOptimized(REC_MODEL, 'rec');
  const floatBytes = encodeModel(model);
  const report = quantizeDynamic(model);
  const quantBytes = encodeModel(model);
  assert.is(report.form, 'DynamicQuantizeMatMul');
  assert.is(onnxOpset(model), 9);
  assertSorted(model);
  const products = (report.quantized.MatMul ?? 0) + (report.quantized.Gemm ?? 0);
  assert.ok(products >= 9, `products quantized: ${JSON.stringify(report.quantized)}`);
  // Attention's q·kᵀ and scores·v multiply two activations.
  const notConstant = report.skipped.filter((s) => s.reason.startsWith('weight is not constant'));
  assert.is(notConstant.length, 4, JSON.stringify(report.skipped));
  assert.is(report.skipped.length, 4);
  assert.ok(report.weightBytes.after < report.weightBytes.before * 0.8, JSON.stringify(report.weightBytes));
  const lines = ['HELLO WORLD', 'ONNX 2024', 'QUANT-8.5 OK'];
  const float = await createSession(floatBytes, { intraOpNumThreads: 2 });
  const quant = await createSession(quantBytes, { intraOpNumThreads: 2 });
  const decoded: string[] = [];
  try {
    for (const text of lines) {
      const image = drawText(text, 4);
      const width = Math.ceil((image.width * 48) / image.height);
      const x = tensor('float32', toClassifierInput(image, 48, width), [1, 3, 48, width]);
      const [fo, qo] = [await float.run({ x }), await quant.run({ x })];
      const [out] = Object.values(fo);
      const [, steps, classes] = out.dims;
      const want = ctcDecode(out.data as Float32Array, steps, classes);
      const got = ctcDecode(Object.values(qo)[0].data as Float32Array, steps, classes);
      assert.ok(want.length >= text.replace(/ /g, '').length - 2, `float32 reads ${want.length} characters of ${JSON.stringify(text)}`);
      assert.equal(got, want, `the int8 model's reading of ${JSON.stringify(text)}`);
      decoded.push(`${want.length} chars`);
    }
  } finally {
    float.release();
    quant.release();
  }
  console.log(
    `      rec: file ${original} bytes, after 'basic' ${floatBytes.byteLength}, quantized ${quantBytes.byteLength}; ${JSON.stringify(report.quantized)}; ${decoded.join(', ')}; ${Math.round(performance.now() - started)} ms`,
  );
});

Real('Silero VAD v5: its LSTMs (inside nested Ifs) as DynamicQuantizeLSTM; speech probabilities within 0.02 of float32', async () => {
  const started = performance.now();
  const original = readFileSync(VAD_MODEL).byteLength;
  const model = await preOptimized(VAD_MODEL, 'vad');
  const floatBytes = encodeModel(model);
  const report = quantizeDynamic(model);
  const quantBytes = encodeModel(model);
  assert.ok((report.quantized.LSTM ?? 0) >= 1, JSON.stringify(report));
  assert.is(report.quantized.MatMul, undefined);
  assert.equal(report.skipped, []);
  assertSorted(model);
  assert.ok(report.nodes.every((x) => x.graph !== model.graph!.name), 'the LSTMs are in subgraphs');
  const float = await createSession(floatBytes, { intraOpNumThreads: 1 });
  const quant = await createSession(quantBytes, { intraOpNumThreads: 1 });
  // 0.64 s at 16 kHz: noise, a 0.32 s vowel-like burst (a 180 Hz tone and harmonics), noise.
  const u = seededUniform(31);
  const chunks = 20;
  const audio = new Float32Array(chunks * 512);
  for (let i = 0; i < audio.length; i++) {
    const t = i / 16000;
    const burst = i >= 5 * 512 && i < 15 * 512 ? 0.3 * (Math.sin(2 * Math.PI * 180 * t) + 0.5 * Math.sin(2 * Math.PI * 360 * t) + 0.25 * Math.sin(2 * Math.PI * 720 * t)) : 0;
    audio[i] = burst + 0.01 * (u() - 0.5);
  }
  const sr = tensor('int64', [16000n], []);
  let floatState = tensor('float32', new Float32Array(256), [2, 1, 128]);
  let quantState = floatState;
  let worst = 0;
  const probs: string[] = [];
  try {
    for (let c = 0; c < chunks; c++) {
      const input = tensor('float32', audio.slice(c * 512, (c + 1) * 512), [1, 512]);
      const fo = await float.run({ input, state: floatState, sr });
      const qo = await quant.run({ input, state: quantState, sr });
      floatState = tensor('float32', fo.stateN.data as Float32Array, [2, 1, 128]);
      quantState = tensor('float32', qo.stateN.data as Float32Array, [2, 1, 128]);
      const [pf, pq] = [(fo.output.data as Float32Array)[0], (qo.output.data as Float32Array)[0]];
      worst = Math.max(worst, Math.abs(pf - pq));
      probs.push(`${pf.toFixed(3)}/${pq.toFixed(3)}`);
    }
  } finally {
    float.release();
    quant.release();
  }
  assert.ok(worst <= 0.02, `speech probability off by ${worst}: ${probs.join(' ')}`);
  console.log(
    `      vad: file ${original} bytes, after 'basic' ${floatBytes.byteLength}, quantized ${quantBytes.byteLength}; ${JSON.stringify(report.quantized)}; worst |Δp| ${worst.toFixed(4)}; ${Math.round(performance.now() - started)} ms`,
  );
});

Real.after(() => rmSync(dir, { recursive: true, force: true }));

Small.run();
Real.run();
