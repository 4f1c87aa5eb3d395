/**
 * Per-call time of onnx-native's run() and runSync() against onnxruntime-node's run(),
 * side by side in one process, on a tiny model (Relu on 2 floats: all overhead) and on
 * PP-OCR's text-direction classifier (a real model, batch of 1). Plus the floor: the C
 * API called directly from C++ (bench/c_floor.cc) doing the same work per call.
 *
 * Medians of per-call samples (tinybench), tasks interleaved over several rounds so that
 * machine noise hits every task alike. Usage: npm run bench [-- --time MS --rounds N]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import * as ort from 'onnxruntime-node';
import { createSession, loadRuntime, tensor } from '../lib/index';
import { CLS_MODEL, randomFloats, root } from '../test/helpers/common';
import { BENCH_BUILD, writeTinyModel } from './tiny-model';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const TIME_MS = option('time', 1500);
const ROUNDS = option('rounds', 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The C floor, median ns per call over `runs` runs of the program. */
function cFloor(model: string, runtime: string, runs = 3): number {
  const binary = join(BENCH_BUILD, 'c_floor');
  if (!existsSync(binary)) execFileSync(process.execPath, [join(root, 'scripts', 'build-floor.mjs')], { stdio: 'inherit' });
  const results = Array.from({ length: runs }, () => {
    const out = execFileSync(binary, [runtime, model, '200', '2000'], { encoding: 'utf8' });
    return (JSON.parse(out) as { medianNsPerCall: number }).medianNsPerCall;
  });
  return median(results);
}

interface Case {
  model: string;
  label: string;
  input: { name: string; data: Float32Array; dims: number[] };
  /** Same threads for every contender: the C floor uses 1 on the tiny model. */
  threads?: number;
}

async function measure(c: Case): Promise<Map<string, number[]>> {
  const ours = await createSession(c.model, c.threads ? { intraOpNumThreads: c.threads } : {});
  const peer = await ort.InferenceSession.create(c.model, c.threads ? { intraOpNumThreads: c.threads } : {});
  const feeds = { [c.input.name]: tensor('float32', c.input.data, c.input.dims) };
  const peerFeeds = { [c.input.name]: new ort.Tensor('float32', c.input.data, c.input.dims) };
  // Sanity: the contenders compute the same thing.
  const a = ours.runSync(feeds)[ours.outputNames[0]].data as Float32Array;
  const b = (await peer.run(peerFeeds))[peer.outputNames[0]].data as Float32Array;
  if (a.length !== b.length || a.some((v, i) => Math.abs(v - b[i]) > 1e-5)) throw new Error(`${c.label}: results differ`);

  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS / 3, warmupTime: 100, subtractTimerOverhead: true });
    bench
      .add('onnx-native runSync()', () => {
        ours.runSync(feeds);
      })
      .add('onnx-native run()', async () => {
        await ours.run(feeds);
      })
      .add('onnxruntime-node run()', async () => {
        await peer.run(peerFeeds);
      });
    await bench.run();
    for (const task of bench.tasks) {
      const p50 = task.result && 'latency' in task.result ? task.result.latency.p50 : NaN;
      samples.set(task.name, [...(samples.get(task.name) ?? []), p50 * 1000]);
    }
  }
  ours.release();
  await peer.release();
  return samples;
}

(async () => {
  const runtime = loadRuntime();
  console.log(`ONNX Runtime ${runtime.version} (${runtime.path}); Node ${process.version}; ${ROUNDS} rounds of ${TIME_MS} ms per case\n`);
  const tinyPath = writeTinyModel();
  const floorNs = cFloor(tinyPath, runtime.path);

  const cases: Case[] = [
    { model: tinyPath, label: 'tiny (Relu, 2 floats)', input: { name: 'x', data: new Float32Array([-1, 2]), dims: [2] }, threads: 1 },
    { model: CLS_MODEL, label: 'PP-OCR cls, 1x3x48x192', input: { name: 'x', data: randomFloats(3 * 48 * 192, 3), dims: [1, 3, 48, 192] } },
  ];
  const rows: string[][] = [];
  const report: Record<string, Record<string, number>> = {};
  for (const c of cases) {
    const samples = await measure(c);
    const peerUs = median(samples.get('onnxruntime-node run()')!);
    report[c.label] = {};
    for (const [name, values] of samples) {
      const us = median(values);
      report[c.label][name] = us;
      rows.push([c.label, name, us.toFixed(2), (us / peerUs).toFixed(2)]);
    }
    if (c.threads === 1) rows.push([c.label, 'C API floor (bench/c_floor.cc)', (floorNs / 1000).toFixed(2), (floorNs / 1000 / peerUs).toFixed(2)]);
  }
  const header = ['model', 'call', 'median µs/call', 'x onnxruntime-node run()'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i >= 2 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  rows.forEach((r) => console.log(line(r)));

  const tiny = report[cases[0].label];
  console.log(`\nrunSync() - C floor on the tiny model: ${(tiny['onnx-native runSync()'] - floorNs / 1000).toFixed(2)} µs per call`);
  console.log(`run() / onnxruntime-node run() on the tiny model: ${(tiny['onnx-native run()'] / tiny['onnxruntime-node run()']).toFixed(2)}`);
})();
