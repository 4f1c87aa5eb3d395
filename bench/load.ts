/**
 * Throughput and latency under load: C clients each keep one request in flight (C = 1,
 * 8, 64) for a fixed time, against onnxruntime-node, this package unbatched, and this
 * package batched; on PP-OCR's direction classifier (batch-1 requests) and on Silero
 * VAD (512-sample chunks, each with its own recurrent state). Then a pipeline with
 * JavaScript preprocessing of a full camera frame, on the main thread and in a pool.
 *
 * Usage: npm run bench:load [-- --seconds S --clients 1,8,64]
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createPool, createSession, tensor, type BatchingOptions } from '../lib/index';
import { CLS_MODEL, VAD_MODEL, randomFloats } from '../test/helpers/common';
import { usePeerRuntime } from './peer-runtime';
import { printTable, quantiles } from './report';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const SECONDS = Number(arg('seconds') ?? 3);
const CLIENTS = (arg('clients') ?? '1,8,64').split(',').map(Number);

interface Outcome {
  perSecond: number;
  p50: number;
  p99: number;
}

/** `clients` loops, each sending its next request when the last one returns, for SECONDS. */
async function load(clients: number, request: (client: number) => Promise<unknown>): Promise<Outcome> {
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const warmEnd = performance.now() + Math.min(500, SECONDS * 200);
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < end) {
        const start = performance.now();
        await request(client);
        const done = performance.now();
        if (start >= warmEnd) latencies.push(done - start);
      }
    }),
  );
  const [p50, p99] = quantiles(latencies, 0.5, 0.99);
  const measured = SECONDS * 1000 - (warmEnd - (end - SECONDS * 1000));
  return {
    perSecond: (latencies.length / measured) * 1000,
    p50,
    p99,
  };
}

type Row = [string, number, Outcome];
const rows: Row[] = [];

function print(title: string, rowsOf: Row[], baseline: string): void {
  console.log(`\n${title}`);
  const header = ['contender', 'in flight', 'req/s', 'x baseline', 'p50 ms', 'p99 ms'];
  const lines = rowsOf.map(([name, c, o]) => {
    const base = rowsOf.find(([n, cc]) => n === baseline && cc === c)![2];
    return [name, String(c), o.perSecond.toFixed(0), (o.perSecond / base.perSecond).toFixed(2), o.p50.toFixed(2), o.p99.toFixed(2)];
  });
  printTable(header, lines);
}

async function classifier(): Promise<void> {
  const images = Array.from({ length: 64 }, (_, i) => randomFloats(3 * 48 * 192, i + 1));
  const peer = await ort.InferenceSession.create(CLS_MODEL);
  const session = await createSession(CLS_MODEL);
  // Tuned for a CPU of few cores, as the README advises: one single-threaded batch per
  // core beats one batch on all cores (ONNX Runtime's intra-op threads scale this small
  // CNN poorly), and batches of 4 stay in cache (per image, 1 thread: 1.28 ms at batch
  // 4, 1.58 ms at 16, measured on this 2-core machine).
  const sessionOptions = { intraOpNumThreads: 1 };
  const batching: BatchingOptions = { maxBatchSize: 4, maxQueueDelayMicros: 0, maxInFlight: 2 };
  const batchedSession = await createSession(CLS_MODEL, sessionOptions);
  const batched = batchedSession.batched(batching);
  const mine: Row[] = [];
  for (const c of CLIENTS) {
    mine.push(['onnxruntime-node', c, await load(c, (i) => peer.run({ x: new ort.Tensor('float32', images[i % 64], [1, 3, 48, 192]) }))]);
    mine.push(['onnx-native', c, await load(c, (i) => session.run({ x: tensor('float32', images[i % 64], [1, 3, 48, 192]) }))]);
    mine.push(['onnx-native batched', c, await load(c, (i) => batched.run({ x: tensor('float32', images[i % 64], [1, 3, 48, 192]) }))]);
  }
  print(`PP-OCR cls, one 1x3x48x192 image per request (batched: ${JSON.stringify({ ...sessionOptions, ...batching })})`, mine, 'onnxruntime-node');
  console.log(`batch sizes: ${JSON.stringify(batched.stats().batchSizes)}`);
  rows.push(...mine);
  await peer.release();
  session.release();
  batched.close();
  batchedSession.release();
}

async function vad(): Promise<void> {
  const chunks = Array.from({ length: 64 }, (_, i) => Float32Array.from(randomFloats(512, i + 100), (v) => v - 0.5));
  const states = Array.from({ length: 64 }, () => new Float32Array(2 * 128));
  const sr = tensor('int64', [16000n], []);
  const peer = await ort.InferenceSession.create(VAD_MODEL);
  const peerSr = new ort.Tensor('int64', new BigInt64Array([16000n]), []);
  const session = await createSession(VAD_MODEL);
  const options: BatchingOptions = { maxBatchSize: 64, maxQueueDelayMicros: 0, maxInFlight: 2, batchAxes: { input: 0, state: 1, sr: null }, outputBatchAxes: { output: 0, stateN: 1 } };
  const batched = session.batched(options);
  const mine: Row[] = [];
  // Each client is one audio stream: its state carries over from chunk to chunk.
  const step = async (client: number, run: (f: Record<string, never>) => Promise<Record<string, { data: unknown }>>, make: (x: Float32Array, s: Float32Array) => Record<string, never>) => {
    const out = await run(make(chunks[client % 64], states[client % 64]));
    states[client % 64] = out.stateN.data as Float32Array<ArrayBuffer>;
  };
  for (const c of CLIENTS) {
    mine.push([
      'onnxruntime-node',
      c,
      await load(c, (i) =>
        step(i, (f) => peer.run(f) as never, (x, s) => ({ input: new ort.Tensor('float32', x, [1, 512]), state: new ort.Tensor('float32', s, [2, 1, 128]), sr: peerSr }) as never),
      ),
    ]);
    const ours = (x: Float32Array, s: Float32Array) => ({ input: tensor('float32', x, [1, 512]), state: tensor('float32', s, [2, 1, 128]), sr }) as never;
    mine.push(['onnx-native', c, await load(c, (i) => step(i, (f) => session.run(f) as never, ours))]);
    mine.push(['onnx-native batched', c, await load(c, (i) => step(i, (f) => batched.run(f) as never, ours))]);
  }
  print('Silero VAD v5, one 512-sample chunk per request, state carried per stream (batched: maxBatchSize 64, maxQueueDelayMicros 0, maxInFlight 2; state along axis 1)', mine, 'onnxruntime-node');
  console.log(`batch sizes: ${JSON.stringify(batched.stats().batchSizes)}`);
  await peer.release();
  session.release();
}

async function pipeline(): Promise<void> {
  const module = join(__dirname, 'pipeline-module.cjs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { preprocess, postprocess } = require(module) as {
    preprocess(frame: unknown, model: unknown): Record<string, never>;
    postprocess(outputs: unknown, frame: unknown, model: unknown): number;
  };
  const width = 640;
  const height = 480;
  const frames = Array.from({ length: 8 }, (_, i) => ({ pixels: Uint8Array.from(randomFloats(width * height * 3, i), (v) => v * 255), width, height }));
  const session = await createSession(CLS_MODEL);
  const model = { inputs: session.inputs, outputs: session.outputs };
  const workers = Math.max(2, availableParallelism());
  const pool = await createPool({ model: CLS_MODEL, module, workers });
  const mine: Row[] = [];
  for (const c of CLIENTS.filter((n) => n > 1)) {
    mine.push([
      'main thread',
      c,
      await load(c, async (i) => {
        const frame = frames[i % 8];
        return postprocess(await session.run(preprocess(frame, model)), frame, model);
      }),
    ]);
    mine.push([`pool, ${workers} workers`, c, await load(c, (i) => pool.run(frames[i % 8]))]);
  }
  print(`Pipeline: normalize a ${width}x${height} RGB frame and resize it in JavaScript, then PP-OCR cls`, mine, 'main thread');
  await pool.close();
  session.release();
}

(async () => {
  const runtime = usePeerRuntime();
  console.log(`ONNX Runtime ${runtime.version} (onnxruntime-node's library, in both packages)`);
  console.log(`${SECONDS} s per measurement, clients ${CLIENTS.join(', ')}; ${availableParallelism()} CPUs`);
  await classifier();
  await vad();
  await pipeline();
})();
