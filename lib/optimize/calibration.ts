/**
 * Calibration for static quantization: the model is augmented so that the tensors to be
 * quantized become outputs, run on this runtime over the calibration data, and each
 * tensor's values summarised into the range its scale and zero point will cover.
 *
 * Methods, as ONNX Runtime's calibrate.py names them:
 * - `minmax`: the smallest and largest value seen.
 * - `percentile`: a histogram of |x| (2048 bins by default), cut where it holds the given
 *   share of the values (99.999% by default), so that rare outliers do not widen the range
 *   for everything else.
 * - `entropy`: the cut of the same histogram that keeps the quantized distribution closest
 *   to the float one (least Kullback-Leibler divergence over 128 levels: TensorRT's method).
 * The cut is symmetric around zero for tensors that take negative values, and [0, cut] for
 * those that never do (after Relu, Sigmoid), which keeps all 256 levels for them.
 */
import type { PlainTensor } from '../core/tensor';
import { createSession } from '../runtime/session';
import { mainGraphElementTypes } from './element-types';
import { DataType, decodeModel, encodeModel, type onnx, OptimizeError, mainGraph } from './onnx-graph';

/** How calibration turns the values seen into a range. */
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Batches of model inputs, by input name (a single nameless input also accepted). */
export type CalibrationData = AsyncIterable<Readonly<Record<string, PlainTensor>>> | Iterable<Readonly<Record<string, PlainTensor>>>;

/** The range a tensor is quantized over. */
export interface TensorRange {
  min: number;
  max: number;
}

/** Options of {@link calibrate}. */
export interface CalibrationOptions {
  /** Default 'minmax'. */
  method?: CalibrationMethod;
  /** For 'percentile': the share of |x| kept, in percent. Default 99.999. */
  percentile?: number;
  /** Histogram bins for 'percentile' and 'entropy'. Default 2048. */
  bins?: number;
  /** Called after each batch with the number of batches run so far. */
  onProgress?: (batches: number) => void;
  /** ONNX Runtime threads for the calibration runs. Default: ONNX Runtime's. */
  intraOpNumThreads?: number;
}

/** What calibration found. */
export interface Calibration {
  /** Ranges of the float tensors among those asked for (others, e.g. int64 shapes, are absent). */
  ranges: Map<string, TensorRange>;
  /** The rank each of them had (opset upgrades need some). */
  ranks: Map<string, number>;
  batches: number;
}

/** Values of a tensor accumulated over batches. */
interface Collector {
  add(data: Float32Array): void;
  range(): TensorRange;
}

class MinMaxCollector implements Collector {
  min = Infinity;
  max = -Infinity;
  add(data: Float32Array): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }
  range(): TensorRange {
    return { min: Number.isFinite(this.min) ? this.min : 0, max: Number.isFinite(this.max) ? this.max : 0 };
  }
}

/**
 * A histogram of |x| over [0, top]. When a batch holds a larger |x|, the histogram is
 * widened and its counts moved to the new bins by their centres: ONNX Runtime's collector
 * does the same, which makes the result depend slightly on batch order but keeps one pass.
 */
export class HistogramCollector implements Collector {
  readonly counts: Float64Array;
  top = 0;
  private readonly extremes = new MinMaxCollector();

  constructor(
    readonly bins: number,
    private readonly cut: (h: HistogramCollector) => number,
  ) {
    this.counts = new Float64Array(bins);
  }

  add(data: Float32Array): void {
    this.extremes.add(data);
    const absMax = Math.max(-this.extremes.min, this.extremes.max);
    if (absMax > this.top) this.widen(absMax);
    if (this.top === 0) {
      this.counts[0] += data.length;
      return;
    }
    const per = this.bins / this.top;
    const last = this.bins - 1;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      const b = Math.floor((v < 0 ? -v : v) * per);
      this.counts[b > last ? last : b]++;
    }
  }

  private widen(top: number): void {
    if (this.top > 0) {
      const old = Float64Array.from(this.counts);
      this.counts.fill(0);
      const oldWidth = this.top / this.bins;
      for (let b = 0; b < this.bins; b++) {
        if (old[b] === 0) continue;
        const to = Math.min(this.bins - 1, Math.floor(((b + 0.5) * oldWidth * this.bins) / top));
        this.counts[to] += old[b];
      }
    }
    this.top = top;
  }

  range(): TensorRange {
    const { min, max } = this.extremes.range();
    const cut = this.top === 0 ? 0 : this.cut(this);
    return { min: Math.max(min, -cut), max: Math.min(max, cut) };
  }
}

/** The |x| below which `percent` of the histogram's values lie (a bin's upper edge). */
export function percentileCut(h: HistogramCollector, percent: number): number {
  let total = 0;
  for (const c of h.counts) total += c;
  const want = (total * percent) / 100;
  let sum = 0;
  for (let b = 0; b < h.bins; b++) {
    sum += h.counts[b];
    if (sum >= want) return ((b + 1) * h.top) / h.bins;
  }
  return h.top;
}

/**
 * The |x| cut whose 128-level quantization of the histogram diverges least from it (KL
 * divergence; values beyond the cut are folded into its last bin, as they would saturate).
 * Cuts are tried every few bins rather than at each: the divergence changes slowly with
 * the cut, and trying all 1920 costs seconds per tensor on large models.
 */
export function entropyCut(h: HistogramCollector, levels = 128): number {
  const { bins, counts } = h;
  if (bins <= levels) return h.top;
  const step = Math.max(1, Math.floor((bins - levels) / 128));
  let best = bins;
  let bestDivergence = Infinity;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  const beyond = new Float64Array(bins + 1);
  for (let b = bins - 1; b >= 0; b--) beyond[b] = beyond[b + 1] + counts[b];
  for (let i = levels; i <= bins; i += step) {
    for (let b = 0; b < i; b++) p[b] = counts[b];
    p[i - 1] += beyond[i];
    q.fill(0, 0, i);
    const merged = i / levels;
    for (let j = 0; j < levels; j++) {
      const start = Math.floor(j * merged);
      const end = j === levels - 1 ? i : Math.floor((j + 1) * merged);
      let total = 0;
      let nonZero = 0;
      for (let b = start; b < end; b++) {
        total += counts[b];
        if (counts[b] !== 0) nonZero++;
      }
      if (nonZero === 0) continue;
      for (let b = start; b < end; b++) if (counts[b] !== 0) q[b] = total / nonZero;
    }
    let pSum = 0;
    let qSum = 0;
    for (let b = 0; b < i; b++) {
      pSum += p[b];
      qSum += q[b];
    }
    if (pSum === 0 || qSum === 0) continue;
    let divergence = 0;
    for (let b = 0; b < i; b++) {
      if (p[b] === 0) continue;
      const pp = p[b] / pSum;
      // A level the quantized histogram leaves empty while the float one has values there
      // (only the folded-in last bin can be so) costs as if nearly nothing were left.
      const qq = q[b] === 0 ? 1e-12 : q[b] / qSum;
      divergence += pp * Math.log(pp / qq);
    }
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = i;
    }
  }
  return (best * h.top) / bins;
}

function collectorFor(options: CalibrationOptions): () => Collector {
  const method = options.method ?? 'minmax';
  const bins = options.bins ?? 2048;
  if (!Number.isInteger(bins) || bins < 256) throw new OptimizeError(`bins must be an integer of at least 256, not ${bins}`);
  switch (method) {
    case 'minmax':
      return () => new MinMaxCollector();
    case 'percentile': {
      const percent = options.percentile ?? 99.999;
      if (!(percent > 0 && percent <= 100)) throw new OptimizeError(`percentile must be in (0, 100], not ${percent}`);
      return () => new HistogramCollector(bins, (h) => percentileCut(h, percent));
    }
    case 'entropy':
      return () => new HistogramCollector(bins, (h) => entropyCut(h));
    default:
      throw new OptimizeError(`calibration method must be minmax, percentile or entropy, not ${String(method)}`);
  }
}

/** A copy of the model whose outputs also include `tensors` (in its main graph). */
export function augmentForCalibration(model: onnx.ModelProto, tensors: readonly string[]): Uint8Array {
  const copy = decodeModel(encodeModel(model));
  const graph = mainGraph(copy);
  graph.output ??= [];
  const present = new Set(graph.output.map((o) => o.name));
  for (const name of tensors) {
    if (present.has(name)) continue;
    present.add(name);
    // The element type only: ONNX Runtime infers the shape, and a wrong one would refuse the model.
    graph.output.push({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
  }
  return encodeModel(copy);
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs the model over `data` with `tensors` as extra outputs and returns each one's range.
 * Tensors that turn out not to be float32 are left out of the result.
 */
export async function calibrate(model: onnx.ModelProto, tensors: readonly string[], data: CalibrationData, options: CalibrationOptions = {}): Promise<Calibration> {
  const makeCollector = collectorFor(options);
  const constants = new Set((mainGraph(model).initializer ?? []).map((t) => t.name));
  // Only tensors known to be float32 become outputs: a graph output declared float that
  // is int64 (a shape) would make ONNX Runtime refuse the model.
  const types = mainGraphElementTypes(model);
  const floatTensors = tensors.filter((name) => !constants.has(name) && types.get(name) === DataType.FLOAT);
  const augmented = augmentForCalibration(model, floatTensors);
  let session;
  try {
    session = await createSession(augmented, { ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }) });
  } catch (err) {
    throw new OptimizeError(`ONNX Runtime cannot load the model augmented for calibration: ${(err as Error).message}`);
  }
  const collectors = new Map<string, Collector>();
  const ranks = new Map<string, number>();
  let batches = 0;
  try {
    const inputNames = session.inputNames;
    const wanted = floatTensors.filter((n) => session.outputNames.includes(n));
    for await (const given of data) {
      const names = Object.keys(given);
      const feeds = inputNames.length === 1 && names.length === 1 && names[0] !== inputNames[0] ? { [inputNames[0]]: given[names[0]] } : given;
      let results;
      try {
        results = await session.run(feeds as Record<string, PlainTensor>, { outputNames: wanted });
      } catch (err) {
        throw new OptimizeError(`calibration batch ${batches + 1}: ${(err as Error).message}`);
      }
      for (const name of wanted) {
        const t = (results as Record<string, PlainTensor>)[name];
        if (t === undefined || t.type !== 'float32') continue;
        ranks.set(name, t.dims.length);
        let c = collectors.get(name);
        if (c === undefined) {
          c = makeCollector();
          collectors.set(name, c);
        }
        c.add(t.data as Float32Array);
        // One tensor at a time, then a turn for the event loop: a large model's
        // intermediates of one batch take a second or more to summarise.
        await yieldTurn();
      }
      batches++;
      options.onProgress?.(batches);
    }
  } finally {
    session.release();
  }
  if (batches === 0) throw new OptimizeError('the calibration data hold no batches');
  const ranges = new Map<string, TensorRange>();
  for (const [name, c] of collectors) ranges.set(name, c.range());
  return { ranges, ranks, batches };
}
