import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, tensor } from '../lib/index';
import { identityModel, reluModel, T } from './helpers/onnx-model';

const Memory = suite('no growth over long runs');

/**
 * Each run here returns a 64 KiB output. Leaking it, or the OrtValue behind it, would
 * grow RSS by 64 KiB x 10,000 = 625 MiB; leaking even a 4 KiB structure per run (a
 * MemoryInfo, a RunOptions, a reference) would add 39 MiB. Allocator caches, the JS
 * heap settling and ONNX Runtime's arena account for a few MiB at most, so 32 MiB
 * separates "flat" from "leaking" with room on both sides.
 */
const BOUND_MIB = 32;
const RUNS = 10_000;
const WARMUP = 2_000;
const ELEMENTS = 16_384; // 64 KiB of float32

const mib = (bytes: number) => bytes / 1024 / 1024;

/**
 * Collects garbage (npm test runs node with --expose-gc) and lets finalizers run, so
 * that RSS shows what is still held, not what the collector has yet to get to.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function growthOver(runs: number, once: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await once(i);
  await settle();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < runs; i++) await once(i);
  // Let finalizers of collected output buffers run before measuring.
  await settle();
  return mib(process.memoryUsage().rss - before);
}

Memory(`10,000 async runs with 64 KiB outputs: RSS grows less than ${BOUND_MIB} MiB`, async () => {
  const session = await createSession(reluModel());
  const x = tensor('float32', new Float32Array(ELEMENTS).fill(-1), [ELEMENTS]);
  const growth = await growthOver(RUNS, () => session.run({ x }));
  session.release();
  assert.ok(growth < BOUND_MIB, `RSS grew ${growth.toFixed(1)} MiB`);
});

Memory(`10,000 runSync calls with abort signals and caller outputs: RSS grows less than ${BOUND_MIB} MiB`, async () => {
  const session = await createSession(reluModel());
  const x = tensor('float32', new Float32Array(ELEMENTS).fill(2), [ELEMENTS]);
  const out = tensor('float32', new Float32Array(ELEMENTS), [ELEMENTS]);
  const growth = await growthOver(RUNS, (i) =>
    i % 2 ? session.runSync({ x }, { signal: new AbortController().signal }) : session.run({ x }, { outputs: { y: out }, signal: new AbortController().signal }),
  );
  session.release();
  assert.ok(growth < BOUND_MIB, `RSS grew ${growth.toFixed(1)} MiB`);
});

Memory(`10,000 string-tensor runs: RSS grows less than ${BOUND_MIB} MiB`, async () => {
  const session = await createSession(identityModel(T.STRING));
  const words = tensor('string', Array.from({ length: 256 }, (_, i) => `word ${i} — ünïcödé`));
  const growth = await growthOver(RUNS, () => session.run({ x: words }));
  session.release();
  assert.ok(growth < BOUND_MIB, `RSS grew ${growth.toFixed(1)} MiB`);
});

Memory(`10,000 batched requests, one in 8 aborted: RSS grows less than ${BOUND_MIB} MiB`, async () => {
  // Requests go in bursts of 8, so they share batches and go through the batch buffers
  // and output views; one in 8 is aborted in the queue, and the batching session's
  // statistics keep only bounded samples.
  const session = await createSession(reluModel(['batch', ELEMENTS / 8]));
  const batched = session.batched({ maxBatchSize: 8, maxQueueDelayMicros: 100 });
  const row = tensor('float32', new Float32Array(ELEMENTS / 8).fill(-1), [1, ELEMENTS / 8]);
  const burst = () =>
    Promise.all(
      Array.from({ length: 8 }, (_, k) => {
        if (k !== 7) return batched.run({ x: row });
        const abort = new AbortController();
        const pending = batched.run({ x: row }, { signal: abort.signal }).catch(() => undefined);
        abort.abort();
        return pending;
      }),
    );
  const growth = await growthOver(RUNS / 8, burst);
  const stats = batched.stats();
  batched.close();
  session.release();
  assert.ok(stats.batches < stats.completed, 'requests did not share batches');
  assert.ok(growth < BOUND_MIB, `RSS grew ${growth.toFixed(1)} MiB`);
});

Memory(`10,000 I/O binding runs, outputs kept and allocated: RSS grows less than ${BOUND_MIB} MiB`, async () => {
  const session = await createSession(reluModel());
  const x = tensor('float32', new Float32Array(ELEMENTS).fill(3), [ELEMENTS]);
  const kept = tensor('float32', new Float32Array(ELEMENTS), [ELEMENTS]);
  const intoKept = session.createBinding().bindInput('x', x).bindOutput('y', kept);
  const allocated = session.createBinding().bindInput('x', x).bindOutput('y');
  const growth = await growthOver(RUNS, async (i) => {
    if (i % 2) return intoKept.run();
    await allocated.run();
    return allocated.outputs().y;
  });
  session.release();
  assert.is(kept.data[0], 3);
  assert.ok(growth < BOUND_MIB, `RSS grew ${growth.toFixed(1)} MiB`);
});

/**
 * Sessions made, run once and released, 20,000 times: what a server that swaps model
 * versions does for as long as it runs. Each run's output (64 KiB, so a view of ONNX
 * Runtime's memory) keeps its released session alive until the output is collected;
 * here the outputs of 500 cycles are kept, then collected together, so 500 sessions are
 * destroyed at once. With sessions made on the run pool's threads and destroyed on
 * this one, malloc kept what they freed resident in several arenas, and RSS grew by
 * about 18 KiB a session and kept rising: 356 to 387 MiB over these cycles, against -8
 * to +1 MiB since (native/session_thread.h). A leaked session (100 KiB and up, even
 * this one) would add 2 GiB. One ONNX Runtime thread per session: its own threads spin
 * for milliseconds when they start, which would make the loop 30 times slower.
 */
const SESSION_CYCLES = 20_000;
const SESSION_BOUND_MIB = 64;
const KEPT = 500;

/**
 * RSS once the session thread has destroyed what the last collection let go and given
 * the memory back: read every 50 ms until it has stopped falling for 200 ms (5 s at most).
 */
async function settledRss(): Promise<number> {
  await settle();
  let low = process.memoryUsage().rss;
  let now = low;
  for (let i = 0, quiet = 0; i < 100 && quiet < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    now = process.memoryUsage().rss;
    quiet = now > low - 256 * 1024 ? quiet + 1 : 0;
    low = Math.min(low, now);
  }
  return now;
}

Memory(`${SESSION_CYCLES.toLocaleString('en')} sessions created, run and released: RSS grows less than ${SESSION_BOUND_MIB} MiB`, async () => {
  const model = reluModel();
  const x = tensor('float32', new Float32Array(ELEMENTS).fill(-1), [ELEMENTS]);
  let kept: unknown[] = [];
  const cycle = async () => {
    const session = await createSession(model, { intraOpNumThreads: 1 });
    kept.push(await session.run({ x }));
    session.release();
    if (kept.length === KEPT) {
      kept = [];
      (globalThis as { gc?: () => void }).gc?.();
    }
  };
  for (let i = 0; i < WARMUP; i++) await cycle();
  const before = await settledRss();
  for (let i = 0; i < SESSION_CYCLES; i++) await cycle();
  const growth = mib((await settledRss()) - before);
  assert.ok(growth < SESSION_BOUND_MIB, `RSS grew ${growth.toFixed(1)} MiB`);
});

Memory.run();
