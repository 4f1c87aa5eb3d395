/**
 * How an optimized model compares with the model it came from, on this machine: per-call
 * time (median of N runs, the same threads for both) and, over evaluation data, each
 * output's error against the original: max and mean absolute error, cosine similarity, and
 * for outputs that hold class scores ([N, C] or [N, T, C]) the share of rows whose top class
 * agrees.
 */
import { float16Bits, float16Value } from '../core/float16';
import type { PlainTensor } from '../core/tensor';
import { createSession, type Session } from '../runtime/session';
import type { CalibrationData } from './calibration';
import { OptimizeError } from './onnx-graph';

/** One output's agreement with the original model's. */
export interface OutputAccuracy {
  name: string;
  /** Largest |optimized - original| over all values. */
  maxAbsError: number;
  meanAbsError: number;
  /** Cosine similarity of the flattened outputs, over all batches (1 = same direction). */
  cosine: number;
  /** For class scores: the share of rows (0 to 1) whose argmax along the last axis agrees. */
  top1Agreement?: number;
  /** Values compared. */
  values: number;
}

/** Timing and accuracy of an optimized model against the original. */
export interface ModelComparison {
  /** Median per-call time in ms of the original and the optimized model on the first batch. */
  msPerCall: { original: number; optimized: number };
  /** Runs each median was taken over. */
  runs: number;
  /** ONNX Runtime's intra-op threads for both. */
  threads: number;
  /** Batches of evaluation data compared. */
  batches: number;
  outputs: OutputAccuracy[];
}

/** Options of {@link compareModels}. */
export interface ComparisonOptions {
  /** Timed runs of each model. Default 20. */
  runs?: number;
  /** Intra-op threads for both. Default 1 (per-call times are steadiest on one thread). */
  threads?: number;
  /** Outputs whose top-1 agreement is measured. Default: those shaped [N, C] or [N, T, C] with C ≥ 2. */
  classOutputs?: readonly string[];
}

/** True for the outputs whose last axis reads as class scores. */
function looksLikeClasses(t: PlainTensor): boolean {
  const rank = t.dims.length;
  return (rank === 2 || rank === 3) && (t.dims[rank - 1] ?? 0) >= 2;
}

/** Runs both models over `data` and compares their outputs; times both on the first batch. */
export async function compareModels(original: Uint8Array, optimized: Uint8Array, data: CalibrationData, options: ComparisonOptions = {}): Promise<ModelComparison> {
  const runs = options.runs ?? 20;
  const threads = options.threads ?? 1;
  if (!Number.isInteger(runs) || runs < 1) throw new OptimizeError(`runs must be a whole number of at least 1, not ${runs}`);
  const open = async (bytes: Uint8Array, which: string): Promise<Session> => {
    try {
      return await createSession(bytes, { intraOpNumThreads: threads });
    } catch (err) {
      throw new OptimizeError(`the ${which} model does not load: ${(err as Error).message}`);
    }
  };
  const a = await open(original, 'original');
  const b = await open(optimized, 'optimized').catch((err: unknown) => {
    a.release();
    throw err;
  });
  try {
    const names = a.outputNames.filter((n) => b.outputNames.includes(n));
    const sums = new Map(names.map((n) => [n, { max: 0, abs: 0, dot: 0, aa: 0, bb: 0, values: 0, rows: 0, agree: 0, classes: false }]));
    let first: Record<string, PlainTensor> | undefined;
    let firstOptimized: Record<string, PlainTensor> | undefined;
    let batches = 0;
    for await (const given of data) {
      const keys = Object.keys(given);
      const feeds = (a.inputNames.length === 1 && keys.length === 1 ? { [a.inputNames[0]]: given[keys[0]] } : given) as Record<string, PlainTensor>;
      first ??= feeds;
      firstOptimized ??= asInputsOf(b, feeds);
      const [ra, rbRaw] = (await Promise.all([a.run(feeds), b.run(asInputsOf(b, feeds))])) as [Record<string, PlainTensor>, Record<string, PlainTensor>];
      const rb = Object.fromEntries(Object.entries(rbRaw).map(([n, t]) => [n, asFloat32(t)]));
      for (const name of names) {
        const x = ra[name];
        const y = rb[name];
        const s = sums.get(name);
        if (!s || !x || !y || !(x.data instanceof Float32Array) || !(y.data instanceof Float32Array)) continue;
        if (x.data.length !== y.data.length) throw new OptimizeError(`output ${name}: ${y.data.length} values from the optimized model, ${x.data.length} from the original`);
        for (let i = 0; i < x.data.length; i++) {
          const d = Math.abs(y.data[i] - x.data[i]);
          if (d > s.max || Number.isNaN(d)) s.max = Number.isNaN(d) ? Infinity : d;
          s.abs += d;
          s.dot += x.data[i] * y.data[i];
          s.aa += x.data[i] * x.data[i];
          s.bb += y.data[i] * y.data[i];
        }
        s.values += x.data.length;
        const classes = options.classOutputs ? options.classOutputs.includes(name) : looksLikeClasses(x);
        if (classes) {
          s.classes = true;
          const c = x.dims[x.dims.length - 1] as number;
          for (let r = 0; r < x.data.length / c; r++) {
            s.rows++;
            if (argmax(x.data, r * c, c) === argmax(y.data, r * c, c)) s.agree++;
          }
        }
      }
      batches++;
    }
    if (first === undefined) throw new OptimizeError('the evaluation data hold no batches');
    const time = async (s: Session, feeds: Record<string, PlainTensor>): Promise<number> => {
      await s.run(feeds);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint();
        await s.run(feeds);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return median(times);
    };
    // Alternating would share the machine's noise more evenly, but each model's runs in
    // one stretch keep its caches warm, which is what a server sees.
    const msOriginal = await time(a, first);
    const msOptimized = await time(b, firstOptimized as Record<string, PlainTensor>);
    const outputs: OutputAccuracy[] = [];
    for (const [name, s] of sums) {
      if (s.values === 0) continue;
      const cosine = s.aa === 0 && s.bb === 0 ? 1 : s.dot / Math.sqrt(s.aa * s.bb || Number.MIN_VALUE);
      outputs.push({
        name,
        maxAbsError: s.max,
        meanAbsError: s.abs / s.values,
        cosine,
        ...(s.classes && { top1Agreement: s.rows === 0 ? 1 : s.agree / s.rows }),
        values: s.values,
      });
    }
    return { msPerCall: { original: msOriginal, optimized: msOptimized }, runs, threads, batches, outputs };
  } finally {
    a.release();
    b.release();
  }
}

/** float32 feeds given as the optimized model takes them (float16 for a model converted without keepIoTypes). */
function asInputsOf(session: Session, feeds: Record<string, PlainTensor>): Record<string, PlainTensor> {
  const out: Record<string, PlainTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const want = session.inputs.find((v) => v.name === name)?.type;
    if (want === 'float16' && t.data instanceof Float32Array) {
      const bits = new Uint16Array(t.data.length);
      for (let i = 0; i < bits.length; i++) bits[i] = float16Bits(t.data[i]);
      out[name] = { type: 'float16', dims: t.dims, data: bits } as PlainTensor;
    } else out[name] = t;
  }
  return out;
}

/** A float16 output widened to float32, so that it compares with the original's. */
function asFloat32(t: PlainTensor): PlainTensor {
  if (t.type !== 'float16') return t;
  const bits = t.data as Uint16Array;
  return { type: 'float32', dims: t.dims, data: Float32Array.from(bits, float16Value) } as PlainTensor;
}

function argmax(data: Float32Array, start: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (data[start + i] > data[start + best]) best = i;
  return best;
}

/** The median of a list of numbers. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
