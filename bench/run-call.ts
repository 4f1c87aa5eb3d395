/**
 * Per-call time of onnx-native's run() and runSync() against onnxruntime-node's run(),
 * side by side in one process, on a tiny model (Relu on 2 floats: all overhead) and on
 * PP-OCR's text-direction classifier (a real model, batch of 1); and the floor: the C
 * API called directly from C++ (bench/c_floor.cc), doing the same work per call.
 *
 * Each round measures every contender, the floor included, one after another, so that
 * the machine's slow and fast spells hit them alike; the table gives medians over the
 * rounds of each task's median per-call time (tinybench), and the ratios and the
 * runSync-to-floor difference are taken within each round first. In each round the
 * floor is measured just before and just after runSync(), which is compared with their
 * mean.
 *
 * Usage: npm run bench [-- --rounds N --time MS]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import * as ort from 'onnxruntime-node';
import { createSession, tensor } from '../lib/index';
import { CLS_MODEL, randomFloats, root } from '../test/helpers/common';
import { BENCH_BUILD, writeTinyModel } from './tiny-model';
import { usePeerRuntime } from './peer-runtime';
import { median, printTable } from './report';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
// Nine short rounds rather than a few long ones: this machine's speed drifts in spells
// of seconds, and the median of more rounds is steadier.
const ROUNDS = option('rounds', 9);
const TIME_MS = option('time', 400);


const RUN_SYNC = 'onnx-native runSync()';
const RUN = 'onnx-native run()';
const PEER = 'onnxruntime-node run()';
const FLOOR = 'C API floor (bench/c_floor.cc)';

function floorBinary(): string {
  const binary = join(BENCH_BUILD, 'c_floor');
  if (!existsSync(binary)) execFileSync(process.execPath, [join(root, 'scripts', 'build-floor.mjs')], { stdio: 'inherit' });
  return binary;
}

/** One run of the C floor program (50 batches of 2000 calls): median µs per call. */
function cFloorUs(binary: string, runtime: string, model: string): number {
  const out = execFileSync(binary, [runtime, model, '50', '2000'], { encoding: 'utf8' });
  return (JSON.parse(out) as { medianNsPerCall: number }).medianNsPerCall / 1000;
}

interface Case {
  label: string;
  model: string;
  input: { name: string; data: Float32Array; dims: number[] };
  /** Intra-op threads for every contender; the C floor uses 1. */
  threads?: number;
  floor?: () => number;
}

/** Times each task with tinybench, one after another; adds their median µs per call to `result`. */
async function timeTasks(result: Record<string, number>, tasks: Record<string, () => unknown>): Promise<void> {
  const bench = new Bench({ time: TIME_MS, warmupTime: 50, subtractTimerOverhead: true });
  for (const [name, task] of Object.entries(tasks)) bench.add(name, task as () => void);
  await bench.run();
  for (const task of bench.tasks) {
    if (task.result && 'latency' in task.result) result[task.name] = task.result.latency.p50 * 1000;
  }
}

async function measure(c: Case): Promise<Record<string, number>[]> {
  const options = c.threads ? { intraOpNumThreads: c.threads } : {};
  const ours = await createSession(c.model, options);
  const peer = await ort.InferenceSession.create(c.model, options);
  const feeds = { [c.input.name]: tensor('float32', c.input.data, c.input.dims) };
  const peerFeeds = { [c.input.name]: new ort.Tensor('float32', c.input.data, c.input.dims) };
  // The contenders must compute the same thing.
  const a = ours.runSync(feeds)[ours.outputNames[0]].data as Float32Array;
  const b = (await peer.run(peerFeeds))[peer.outputNames[0]].data as Float32Array;
  if (a.length !== b.length || a.some((v, i) => Math.abs(v - b[i]) > 1e-5)) throw new Error(`${c.label}: results differ`);

  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const result: Record<string, number> = {};
    // The floor is measured just before and just after runSync(), and their mean taken:
    // the machine's speed drifts over seconds, and a drift between two measurements
    // would otherwise show up as the binding's overhead (or hide it).
    const floorBefore = c.floor?.();
    await timeTasks(result, { [RUN_SYNC]: () => void ours.runSync(feeds) });
    if (c.floor) result[FLOOR] = (floorBefore! + c.floor()) / 2;
    await timeTasks(result, {
      [RUN]: async () => void (await ours.run(feeds)),
      [PEER]: async () => void (await peer.run(peerFeeds)),
    });
    rounds.push(result);
  }
  ours.release();
  await peer.release();
  return rounds;
}

(async () => {
  const runtime = usePeerRuntime();
  console.log(`ONNX Runtime ${runtime.version} (${runtime.path}); Node ${process.version}; ${ROUNDS} rounds, ${TIME_MS} ms per task per round\n`);
  const tiny = writeTinyModel();
  const binary = floorBinary();

  const cases: Case[] = [
    {
      label: 'tiny (Relu, 2 floats)',
      model: tiny,
      input: { name: 'x', data: new Float32Array([-1, 2]), dims: [2] },
      threads: 1,
      floor: () => cFloorUs(binary, runtime.path, tiny),
    },
    // The same with ONNX Runtime's default threads (one per core), as most sessions run.
    { label: 'tiny, default threads', model: tiny, input: { name: 'x', data: new Float32Array([-1, 2]), dims: [2] } },
    { label: 'PP-OCR cls 1x3x48x192', model: CLS_MODEL, input: { name: 'x', data: randomFloats(3 * 48 * 192, 3), dims: [1, 3, 48, 192] } },
  ];
  const rows: string[][] = [];
  const summary: string[] = [];
  for (const c of cases) {
    const rounds = await measure(c);
    for (const name of [RUN_SYNC, RUN, PEER, FLOOR]) {
      if (!(name in rounds[0])) continue;
      const us = median(rounds.map((r) => r[name]));
      const ratio = median(rounds.map((r) => r[name] / r[PEER]));
      rows.push([c.label, name, us.toFixed(2), ratio.toFixed(2)]);
    }
    summary.push(`${c.label}: run() / onnxruntime-node run() = ${median(rounds.map((r) => r[RUN] / r[PEER])).toFixed(2)} (per round: ${rounds.map((r) => (r[RUN] / r[PEER]).toFixed(2)).join(', ')})`);
    if (c.floor) {
      const gaps = rounds.map((r) => r[RUN_SYNC] - r[FLOOR]);
      summary.push(`${c.label}: runSync() - C floor = ${median(gaps).toFixed(2)} µs per call (per round: ${gaps.map((g) => g.toFixed(2)).join(', ')})`);
    }
  }
  const header = ['model', 'call', 'median µs/call', 'x onnxruntime-node run()'];
  printTable(header, rows, 2);
  console.log();
  summary.forEach((s) => console.log(s));
})();
