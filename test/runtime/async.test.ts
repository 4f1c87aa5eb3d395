import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createSession, tensor } from '../../lib/index';
import { DET_MODEL, randomFloats, rejectsWith, timerGaps } from '../helpers/common';
import { reluModel } from '../helpers/onnx-model';

const Async = suite('runs off the JavaScript thread');

/** A real input that takes PP-OCR det well over 100 ms on these machines. */
const LONG_DIMS = [1, 3, 960, 960];
const longInput = () => ({ x: tensor('float32', randomFloats(3 * 960 * 960, 5), LONG_DIMS) });


Async('while a run of 100+ ms is in flight, a 1 ms timer never waits more than 10 ms', async () => {
  // One intra-op thread leaves the event loop a core of its own on these 2-core
  // machines: with ONNX Runtime's default pool busy on every core, it is the OS
  // scheduler, not this package, that delays the timer (see README, "Threads").
  const session = await createSession(DET_MODEL, { intraOpNumThreads: 1 });
  const feeds = longInput();
  await session.run(feeds); // warm-up: the first run allocates and plans memory
  // A blocking binding blocks on every attempt; a noisy virtual machine now and then
  // stalls a whole process for reasons of its own. Five attempts tell the two apart.
  const attempts: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const gaps = timerGaps();
    const start = performance.now();
    await session.run(feeds);
    const runMs = performance.now() - start;
    const longestGap = gaps.stop();
    assert.ok(runMs >= 100, `the run took ${runMs.toFixed(1)} ms: too short to show anything`);
    attempts.push(`${longestGap.toFixed(1)} ms in a ${runMs.toFixed(0)} ms run`);
    if (longestGap <= 10) break;
  }
  session.release();
  const last = attempts.at(-1)!;
  assert.ok(Number.parseFloat(last) <= 10, `longest timer gap per attempt: ${attempts.join('; ')}`);
});

Async('runs awaited back to back, their results taken without going round the event loop, leave timers and I/O served', async () => {
  // lib/runtime/completion-polling.ts takes a small model's results within one turn, run after
  // run, for a bounded time: a 1 ms timer and file reads must still come round.
  const session = await createSession(reluModel());
  const x = tensor('float32', [-1, 1]);
  const attempts: { gap: number; reads: number; runs: number }[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const gaps = timerGaps();
    let reads = 0;
    const reading = (async () => {
      for (const end = performance.now() + 100; performance.now() < end; reads++) await stat(__filename);
    })();
    let runs = 0;
    for (const end = performance.now() + 100; performance.now() < end; runs++) await session.run({ x });
    await reading;
    const gap = gaps.stop();
    attempts.push({ gap, reads, runs });
    if (gap <= 10 && reads >= 10) break;
  }
  session.release();
  const { gap, reads } = attempts.at(-1)!;
  const seen = attempts.map((a) => `gap ${a.gap.toFixed(1)} ms, ${a.reads} reads, ${a.runs} runs`).join('; ');
  assert.ok(gap <= 10 && reads >= 10, seen);
});

Async('concurrent runs on one session each get their own results', async () => {
  const session = await createSession(reluModel());
  const inputs = Array.from({ length: 16 }, (_, i) => Float32Array.from(randomFloats(1000, i + 1), (v) => v - 0.5));
  const results = await Promise.all(inputs.map((data) => session.run({ x: tensor('float32', data) })));
  results.forEach((r, i) => {
    assert.equal(Array.from(r.y.data as Float32Array), Array.from(inputs[i], (v) => Math.max(0, v)));
  });
});

Async('an AbortSignal rejects the run with ABORTED, and the session keeps working', async () => {
  const session = await createSession(DET_MODEL);
  const feeds = longInput();
  let started = performance.now();
  await session.run(feeds);
  const fullMs = performance.now() - started;

  const controller = new AbortController();
  let abortedAt = 0;
  const run = session.run(feeds, { signal: controller.signal });
  setTimeout(() => {
    abortedAt = performance.now();
    controller.abort(new Error('user gave up'));
  }, 20);
  started = performance.now();
  const err = await rejectsWith(() => run, 'ABORTED', /user gave up/);
  const afterAbortMs = performance.now() - abortedAt;
  // "At once": in the same turn as abort(), not when ONNX Runtime gets round to stopping.
  assert.ok(afterAbortMs < fullMs / 2, `rejected ${afterAbortMs.toFixed(1)} ms after abort(); a whole run takes ${fullMs.toFixed(0)} ms`);
  assert.instance(err.cause, Error);

  // Already aborted: rejected before anything runs, sync or async.
  const aborted = AbortSignal.abort();
  await rejectsWith(() => session.run(longInput(), { signal: aborted }), 'ABORTED');
  await rejectsWith(() => session.runSync(longInput(), { signal: aborted }), 'ABORTED');

  // A signal that never fires changes nothing.
  const { 'sigmoid_0.tmp_0': map } = await session.run(
    { x: tensor('float32', randomFloats(3 * 64 * 64), [1, 3, 64, 64]) },
    { signal: new AbortController().signal },
  );
  assert.equal(map.dims, [1, 1, 64, 64]);
  session.release();
});

Async('an aborted run rejects once ONNX Runtime has stopped it (terminate flag), far sooner than it would finish; a queued one at once', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'fixtures', 'abort-terminates.ts')], {
    env: { ...process.env, ONNX_NATIVE_RUN_THREADS: '1' },
    encoding: 'utf8',
  });
  const { fullMs, running, queued } = JSON.parse(out.trim().split('\n').at(-1)!) as {
    fullMs: number;
    running: { code: string; ms: number }[];
    queued: { code: string; ms: number };
  };
  const seen = `a whole run takes ${fullMs.toFixed(0)} ms; aborted runs rejected ${running.map((r) => `${r.ms.toFixed(1)} ms`).join(', ')} after abort(); the queued one ${queued.ms.toFixed(1)} ms`;
  assert.equal([...running.map((r) => r.code), queued.code], Array(running.length + 1).fill('ABORTED'), seen);
  // Stopped, a run rejects within an operator or two (measured: 1 to 13 ms of a 380 ms
  // run); not stopped, it would reject when it finished, 280 ms and more after these
  // aborts (they land 10 to 100 ms in).
  for (const r of running) assert.ok(r.ms < 0.2 * fullMs, seen);
  // Never started: nothing to wait for (were it left queued, it would wait out the run ahead).
  assert.ok(queued.ms < 0.05 * fullMs, seen);
});

Async('release() during runs: runs in flight finish, new ones reject, outputs stay valid', async () => {
  const session = await createSession(DET_MODEL);
  const inFlight = [session.run(longInput()), session.run(longInput())];
  session.release();
  await rejectsWith(() => session.run(longInput()), 'SESSION_RELEASED');
  const results = await Promise.all(inFlight);
  for (const r of results) {
    const map = r['sigmoid_0.tmp_0'];
    assert.equal(map.dims, [1, 1, 960, 960]);
    const data = map.data as Float32Array;
    // Sigmoid output: every value in [0, 1], read after the session was released.
    let inRange = true;
    for (let i = 0; i < data.length; i += 997) inRange &&= data[i] >= 0 && data[i] <= 1;
    assert.ok(inRange);
  }
});

Async('results can be written into caller-provided output tensors', async () => {
  const session = await createSession(reluModel([4]));
  const out = tensor('float32', new Float32Array(4), [4]);
  const results = await session.run({ x: tensor('float32', [-1, 2, -3, 4], [4]) }, { outputs: { y: out } });
  assert.is(results.y, out);
  assert.equal(Array.from(out.data), [0, 2, 0, 4]);
  session.runSync({ x: tensor('float32', [5, -6, 7, -8], [4]) }, { outputs: { y: out } });
  assert.equal(Array.from(out.data), [5, 0, 7, 0]);
});

Async('worker threads each run models, and terminating one mid-run leaves the process sound', async () => {
  const fixture = join(__dirname, '..', 'fixtures', 'worker-run.ts');
  const bootstrap = `require('tsx/cjs'); require(${JSON.stringify(fixture)});`;
  const start = (size: number) => new Worker(bootstrap, { eval: true, workerData: { size } });
  // Terminated while its run is on the pool: its environment shuts down after the run.
  const doomed = start(960);
  await new Promise<void>((resolve) => doomed.on('message', (m: { loaded?: boolean }) => m.loaded && resolve()));
  await new Promise((resolve) => setTimeout(resolve, 30));
  await doomed.terminate();
  // Two workers at once, each with its own copy of the addon's state.
  const finished = await Promise.all(
    [64, 96].map(
      (size) =>
        new Promise<number[]>((resolve, reject) => {
          const worker = start(size);
          worker.on('message', (m: { dims?: number[] }) => m.dims && (resolve(m.dims), void worker.terminate()));
          worker.on('error', reject);
        }),
    ),
  );
  assert.equal(finished, [[1, 1, 64, 64], [1, 1, 96, 96]]);
  // And this thread still runs models.
  const session = await createSession(reluModel());
  assert.equal(Array.from((await session.run({ x: tensor('float32', [-1, 1]) })).y.data as Float32Array), [0, 1]);
});

Async('await using releases the session at the end of the block', async () => {
  let outer: Awaited<ReturnType<typeof createSession>> | undefined;
  {
    await using session = await createSession(reluModel());
    outer = session;
    assert.not.ok(session.released);
  }
  assert.ok(outer.released);
});

Async.run();
