/**
 * What optimization buys on this machine: each real model of the suite in float32, static
 * int8 (QDQ, calibrated on images drawn here), dynamic int8 and float16 (float32 inputs
 * and outputs kept), where the form applies: file size, per-call time at batch 1 and 8
 * (median of N runs, one intra-op thread, every variant timed in the same process, in
 * turns), and accuracy against float32 on evaluation data drawn apart from the calibration
 * data (top-1 agreement for the classifier, IoU of the thresholded maps for the detector,
 * same greedy CTC decode for the recognizer, largest probability difference for the VAD).
 *
 * Usage: npm run bench:optimize [-- --runs N]
 */
import { readFileSync } from 'node:fs';
import { optimizeModel, type OptimizeOptions } from '../lib/optimize/optimize-model';
import { createSession, type Session } from '../lib/runtime/session';
import { CLS_MODEL, DET_MODEL, REC_MODEL, VAD_MODEL, seededUniform } from '../test/helpers/common';
import { clsBatches, detBatches, textLine } from '../test/helpers/ocr-images';
import { drawText } from '../lib/cli/text-image';
import { median, printTable } from './report';

const args = process.argv.slice(2);
const RUNS = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 30;

type Feeds = Record<string, { type: string; dims: number[]; data: Float32Array | BigInt64Array }>;
type Tensor = { dims: number[]; data: Float32Array };

/** PP-OCR rec inputs: lines at height 48, width 320, (x/255 - 0.5) / 0.5. */
function recBatches(seed: number, batches: number, lines: number): Feeds[] {
  const draw = seededUniform(seed);
  const W = 320;
  return Array.from({ length: batches }, () => {
    const data = new Float32Array(lines * 3 * 48 * W).fill(1);
    for (let l = 0; l < lines; l++) {
      const im = drawText(textLine(draw).slice(0, 14), 4);
      const scale = im.height / 48;
      for (let y = 0; y < 48; y++) {
        for (let x = 0; x < Math.min(W, Math.floor(im.width / scale)); x++) {
          const v = im.pixels[Math.min(im.height - 1, Math.floor(y * scale)) * im.width + Math.min(im.width - 1, Math.floor(x * scale))] / 255 / 0.5 - 1;
          for (let c = 0; c < 3; c++) data[((l * 3 + c) * 48 + y) * W + x] = v;
        }
      }
    }
    return { x: { type: 'float32', dims: [lines, 3, 48, W], data } };
  });
}

/** Silero VAD chunks: a tone burst in noise, 512 samples each, state zero (the bench times calls, not streams). */
function vadBatches(seed: number, count: number): Feeds[] {
  const draw = seededUniform(seed);
  return Array.from({ length: count }, (_, k) => ({
    input: { type: 'float32', dims: [1, 512], data: Float32Array.from({ length: 512 }, (_, i) => (k % 4 < 2 ? 0.4 * Math.sin((k * 512 + i) * 0.07) : 0) + 0.02 * (draw() - 0.5)) },
    state: { type: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
    sr: { type: 'int64', dims: [], data: BigInt64Array.of(16000n) },
  }));
}

/** The first `rows` rows of a batch (a view). */
function rowsOf(feeds: Feeds, rows: number): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(feeds)) {
    if (t.dims.length === 0 || name !== 'x') {
      out[name] = t;
      continue;
    }
    const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
    out[name] = { ...t, dims: [rows, ...t.dims.slice(1)], data: (t.data as Float32Array).subarray(0, rows * per) };
  }
  return out;
}

function ctc(t: Tensor, row: number): number[] {
  const [, steps, classes] = t.dims;
  const out: number[] = [];
  let last = -1;
  for (let s = 0; s < steps; s++) {
    let best = 0;
    const base = (row * steps + s) * classes;
    for (let c = 1; c < classes; c++) if (t.data[base + c] > t.data[base + best]) best = c;
    if (best !== last && best !== 0) out.push(best);
    last = best;
  }
  return out;
}

interface ModelCase {
  name: string;
  path: string;
  calibration: () => Feeds[];
  evaluation: Feeds[];
  batch8: boolean;
  variants: Record<string, OptimizeOptions | undefined>;
  accuracy: (a: Tensor[], b: Tensor[]) => string;
}

const iou = (a: Tensor[], b: Tensor[]) => {
  let inter = 0;
  let union = 0;
  a.forEach((t, k) => t.data.forEach((v, i) => {
    const p = v > 0.3;
    const q = b[k].data[i] > 0.3;
    if (p && q) inter++;
    if (p || q) union++;
  }));
  return `IoU ${(inter / union).toFixed(3)}`;
};

const CASES: ModelCase[] = [
  {
    name: 'PP-OCR cls',
    path: CLS_MODEL,
    calibration: () => clsBatches(1, 4, 8),
    evaluation: clsBatches(2, 5, 20),
    batch8: true,
    variants: {
      'static int8 (per channel)': { int8: 'static', method: 'percentile', perChannel: true },
      'static int8 (depthwise per channel)': { int8: 'static', method: 'percentile', perChannel: 'depthwise' },
      'dynamic int8': { int8: 'dynamic' },
      float16: { fp16: true, keepIoTypes: true },
    },
    accuracy: (a, b) => {
      let agree = 0;
      let rows = 0;
      a.forEach((t, k) => {
        for (let r = 0; r < t.data.length / 2; r++, rows++) if (t.data[2 * r] > t.data[2 * r + 1] === b[k].data[2 * r] > b[k].data[2 * r + 1]) agree++;
      });
      return `top-1 agreement ${((agree / rows) * 100).toFixed(1)}%`;
    },
  },
  {
    name: 'PP-OCR det',
    path: DET_MODEL,
    calibration: () => detBatches(3, 4, 2),
    evaluation: detBatches(4, 3, 2),
    batch8: false,
    variants: {
      'static int8 (per channel)': { int8: 'static', perChannel: true },
      'static int8 (per channel, 8-bit weights)': { int8: 'static', perChannel: true, reduceRange: false },
      float16: { fp16: true, keepIoTypes: true },
    },
    accuracy: iou,
  },
  {
    name: 'PP-OCR rec',
    path: REC_MODEL,
    calibration: () => recBatches(5, 4, 4),
    evaluation: recBatches(6, 3, 8),
    batch8: true,
    variants: {
      'static int8 (per channel)': { int8: 'static', perChannel: true },
      'dynamic int8': { int8: 'dynamic' },
      float16: { fp16: true, keepIoTypes: true },
    },
    accuracy: (a, b) => {
      let same = 0;
      let lines = 0;
      a.forEach((t, k) => {
        for (let r = 0; r < t.dims[0]; r++, lines++) if (JSON.stringify(ctc(t, r)) === JSON.stringify(ctc(b[k], r))) same++;
      });
      return `same text ${same}/${lines} lines`;
    },
  },
  {
    name: 'Silero VAD',
    path: VAD_MODEL,
    calibration: () => vadBatches(7, 8),
    evaluation: vadBatches(8, 16),
    batch8: false,
    variants: { 'dynamic int8': { int8: 'dynamic' }, float16: { fp16: true, keepIoTypes: true } },
    accuracy: (a, b) => `max |p - p32| ${Math.max(...a.map((t, k) => Math.abs(t.data[0] - b[k].data[0]))).toFixed(4)}`,
  },
];

async function outputs(session: Session, batches: Feeds[]): Promise<Tensor[]> {
  const out: Tensor[] = [];
  for (const f of batches) out.push(Object.values(await session.run(f as never))[0] as unknown as Tensor);
  return out;
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  for (const c of CASES) {
    const original = readFileSync(c.path);
    const models: [string, Uint8Array][] = [['float32', original]];
    for (const [name, options] of Object.entries(c.variants)) {
      const { model } = await optimizeModel(original, { ...options, ...(options?.int8 === 'static' && { calibration: c.calibration }), runs: 1, threads: 1 } as OptimizeOptions);
      models.push([name, model]);
    }
    const sessions = await Promise.all(models.map(([, bytes]) => createSession(bytes, { intraOpNumThreads: 1 })));
    const reference = await outputs(sessions[0], c.evaluation);
    const sizes = [1, ...(c.batch8 ? [8] : [])];
    const times = sessions.map(() => sizes.map(() => [] as number[]));
    // In turns: one call of each variant, then the next round, so that the machine's drift falls on all alike.
    for (let run = 0; run < RUNS; run++) {
      for (let s = 0; s < sessions.length; s++) {
        for (let z = 0; z < sizes.length; z++) {
          const feeds = rowsOf(c.evaluation[0], sizes[z]);
          const t0 = process.hrtime.bigint();
          await sessions[s].run(feeds as never);
          if (run > 0) times[s][z].push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }
    }
    for (let s = 0; s < sessions.length; s++) {
      const [name, bytes] = models[s];
      const ms = times[s].map(median);
      const base = times[0].map(median);
      rows.push([
        c.name,
        name,
        `${(bytes.byteLength / 1e6).toFixed(2)} MB (${(bytes.byteLength / original.byteLength).toFixed(2)}x)`,
        `${ms[0].toFixed(2)} (${(ms[0] / base[0]).toFixed(2)}x)`,
        c.batch8 ? `${ms[1].toFixed(2)} (${(ms[1] / base[1]).toFixed(2)}x)` : '-',
        s === 0 ? '-' : c.accuracy(reference, await outputs(sessions[s], c.evaluation)),
      ]);
    }
    for (const s of sessions) s.release();
  }
  console.log(`median of ${RUNS - 1} calls, 1 intra-op thread; "x": against float32 in the same run (time: lower is faster)\n`);
  printTable(['model', 'form', 'file', 'batch 1 ms', 'batch 8 ms', 'accuracy against float32'], rows, 2);
}

void main();
