/**
 * Does a run block the event loop? While PP-OCR's detector runs on a 960x960 image
 * (hundreds of milliseconds), a 1 ms interval timer records how late each tick is. A
 * package that runs inference on the JavaScript thread delays the timer by the whole
 * run; one that runs it elsewhere delays it by about nothing.
 *
 * Usage: npm run bench:event-loop [-- --runs N]
 */
import * as ort from 'onnxruntime-node';
import { createSession, tensor } from '../lib/index';
import { DET_MODEL, randomFloats } from '../test/helpers/common';
import { usePeerRuntime } from './peer-runtime';
import { median, printTable, quantiles } from './report';

const args = process.argv.slice(2);
const RUNS = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const DIMS = [1, 3, 960, 960];

interface Result {
  contender: string;
  runMs: number;
  longestGapMs: number;
  p99GapMs: number;
}

/** Runs `run` RUNS times under a 1 ms interval timer and reports the timer's gaps. */
async function underTimer(contender: string, run: () => Promise<unknown>): Promise<Result> {
  await run(); // warm-up
  const gaps: number[] = [];
  const runTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 1);
    const start = performance.now();
    await run();
    runTimes.push(performance.now() - start);
    clearInterval(timer);
    gaps.push(performance.now() - last); // the gap the run ended in
  }
  const [p99GapMs, longestGapMs] = quantiles(gaps, 0.99, 1);
  return { contender, runMs: median(runTimes), longestGapMs, p99GapMs };
}

(async () => {
  const runtime = usePeerRuntime();
  console.log(`ONNX Runtime ${runtime.version} (onnxruntime-node's library, in both packages)`);
  const data = randomFloats(DIMS.reduce((a, b) => a * b, 1), 5);
  const results: Result[] = [];
  for (const threads of [0, 1]) {
    const options = threads ? { intraOpNumThreads: threads } : {};
    const label = threads ? `intraOpNumThreads ${threads}` : 'default threads';
    const ours = await createSession(DET_MODEL, options);
    const feeds = { x: tensor('float32', data, DIMS) };
    results.push(await underTimer(`onnx-native run(), ${label}`, () => ours.run(feeds)));
    ours.release();
    const peer = await ort.InferenceSession.create(DET_MODEL, options);
    const peerFeeds = { x: new ort.Tensor('float32', data, DIMS) };
    results.push(await underTimer(`onnxruntime-node run(), ${label}`, () => peer.run(peerFeeds)));
    await peer.release();
  }
  console.log(`PP-OCR det on 1x3x960x960, ${RUNS} runs each, 1 ms interval timer\n`);
  const header = ['contender', 'run ms (median)', 'longest timer gap ms', 'p99 gap ms', 'blocked (gap > 10 ms)'];
  const rows = results.map((r) => [r.contender, r.runMs.toFixed(1), r.longestGapMs.toFixed(1), r.p99GapMs.toFixed(1), r.longestGapMs > 10 ? 'yes' : 'no']);
  printTable(header, rows);
})();
