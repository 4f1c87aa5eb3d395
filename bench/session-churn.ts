/**
 * Memory over session churn: creates a session, runs it once and releases it, N times,
 * and prints RSS every 1,000 cycles (after a gc()), for this package or onnxruntime-node.
 * A server that swaps model versions for as long as it runs does exactly this.
 *
 * Usage: npm run bench:churn -- [--model relu|cls] [--batch N] [--elements N] [--cycles N] [--every K] [--peer] [--peer-runtime]
 *   --peer          onnxruntime-node instead of this package
 *   --peer-runtime  this package on onnxruntime-node's library (1.30), not the bundled one
 *   --batch N       PP-OCR cls's batch (1: its 8-byte output is copied; from 9 on it comes
 *                   back over ONNX Runtime's memory and keeps the released session alive)
 *   --options JSON  session options, e.g. '{"intraOpNumThreads":1}'
 *   --gc-every K    gc() every K cycles (100; 0: only before each report)
 * Try it under MALLOC_ARENA_MAX=1 and ONNX_NATIVE_RUN_THREADS=1 too, and with
 * bench/malloc-stats.c preloaded for glibc's own figures at each report.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { CLS_MODEL, randomFloats } from '../test/helpers/common';
import { reluModel } from '../test/helpers/onnx-model';
import type { SessionOptions } from '../lib/index';
import type { InferenceSession } from 'onnxruntime-node';

type PeerOptions = InferenceSession.SessionOptions;

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const MODEL = arg('model') ?? 'relu';
const CYCLES = Number(arg('cycles') ?? 20_000);
const EVERY = Number(arg('every') ?? 1_000);
const PEER = args.includes('--peer');
const OPTIONS = JSON.parse(arg('options') ?? '{}') as SessionOptions;
// A gc() every GC_EVERY cycles (0: only before each report); outputs that keep a
// released session alive go with it.
const GC_EVERY = Number(arg('gc-every') ?? 100);
// The Relu model's input length: 16,384 floats (64 KiB) by default, so that its output
// comes back over ONNX Runtime's memory (outputs of 64 bytes or less are copied).
const ELEMENTS = Number(arg('elements') ?? 16_384);
const BATCH = Number(arg('batch') ?? 1);

const maybeGc = (globalThis as { gc?: () => void }).gc;
if (!maybeGc) throw new Error('run node with --expose-gc');
const gc = maybeGc;

const bytes = MODEL === 'cls' ? new Uint8Array(readFileSync(CLS_MODEL)) : reluModel();
const dims = MODEL === 'cls' ? [BATCH, 3, 48, 192] : [ELEMENTS];
const data = MODEL === 'cls' ? randomFloats(BATCH * 3 * 48 * 192) : randomFloats(ELEMENTS).map((v) => v - 0.5);

type Cycle = () => Promise<void>;

async function cycleOf(): Promise<Cycle> {
  if (PEER) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const x = new ort.Tensor('float32', data, dims);
    return async () => {
      const s = await ort.InferenceSession.create(bytes, OPTIONS as PeerOptions);
      await s.run({ x });
      await s.release();
    };
  }
  const { createSession, tensor } = await import('../lib/index');
  if (args.includes('--peer-runtime')) (await import('./peer-runtime')).usePeerRuntime();
  const x = tensor('float32', data, dims);
  return async () => {
    const s = await createSession(bytes, OPTIONS);
    await s.run({ x });
    s.release();
  };
}

/** With bench/malloc-stats.c preloaded (MSTATS_TRIGGER=file), asks it for malloc's figures. */
async function mallocStats(): Promise<void> {
  const trigger = process.env.MSTATS_TRIGGER;
  if (!trigger) return;
  writeFileSync(trigger, '');
  while (existsSync(trigger)) await new Promise((resolve) => setTimeout(resolve, 10));
}

/**
 * Collects, then waits until RSS has stopped falling (for 200 ms; 5 s at most): the
 * sessions that the collection let go are destroyed off this thread, and their memory
 * given back after that.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  let low = process.memoryUsage().rss;
  for (let i = 0, quiet = 0; i < 100 && quiet < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = process.memoryUsage().rss;
    quiet = now > low - 256 * 1024 ? quiet + 1 : 0;
    low = Math.min(low, now);
  }
}

async function main(): Promise<void> {
  const cycle = await cycleOf();
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  await settle();
  const start = process.memoryUsage().rss;
  console.log(`${PEER ? 'onnxruntime-node' : 'onnx-native'} ${MODEL}: rss ${mb(start)} MB at start`);
  let last = performance.now();
  for (let i = 1; i <= CYCLES; i++) {
    await cycle();
    if (GC_EVERY && i % GC_EVERY === 0) gc();
    if (i % EVERY === 0) {
      await settle();
      const now = performance.now();
      const { rss, heapUsed, external } = process.memoryUsage();
      console.log(
        `${String(i).padStart(6)} cycles: rss ${mb(rss)} MB (+${mb(rss - start)}), js heap ${mb(heapUsed)}, external ${mb(external)}, ${((now - last) / EVERY).toFixed(2)} ms/cycle`,
      );
      last = now;
      await mallocStats();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
