/**
 * What drift monitoring costs the server: PP-OCR's text-direction classifier with a
 * reference profile, served by two `onnx-native serve` processes on the same repository,
 * one with `--monitoring off`, one at the monitoring's defaults (every version with a
 * profile watched, up to 100 requests a second observed), under the same load: batch-1
 * requests of one 3 x 48 x 192 image (binary and JSON bodies), 64 in flight for a fixed
 * time (autocannon), rounds interleaved (in the reverse order every other round: the
 * first server measured after a switch tends to lose), medians reported, and the
 * throughput of the monitored server against the unmonitored one. Then the same with
 * payload logging to a JSON-lines file on top, at its default (every request) and at 1%.
 * Server processes differ by 10 to 20% run to run on this 2-core machine whatever they
 * run, more than the monitoring costs; so the monitoring's own work is also timed where
 * it runs, in this process: a request observed (its tensors reduced into the windows),
 * and a comparison of the windows with the profile (a scrape), in microseconds, and what
 * that is of a core at the rate the server observes.
 *
 * Usage: npm run bench:monitoring [-- --seconds N] [-- --rounds N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { profileVersion } from '../lib/monitor/profile-version';
import { DriftMonitoring } from '../lib/monitor/drift-monitoring';
import type { ServingVersion } from '../lib/server/model/serving-observer';
import type { InferRequest, InferResponse } from '../lib/server/protocol/types';
import { clsImage, randomFloats, root, seededUniform } from '../test/helpers/common';
import { TEXT_DIRECTION, writeRepository } from '../test/helpers/model-repository';
import { median, printTable } from './report';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const SECONDS = option('--seconds', 5);
const ROUNDS = option('--rounds', 8);
const CONCURRENCY = [64];

const repo = writeRepository({ text_direction: TEXT_DIRECTION });
const work = mkdtempSync(join(tmpdir(), 'bench-monitoring-'));
const children: ChildProcess[] = [];

function serve(port: number, extra: string[]): Promise<ChildProcess> {
  const child = spawn('node', [join(root, 'dist', 'cli', 'cli.js'), 'serve', repo, '--http-port', String(port), '--grpc-port', 'off', '--metrics-port', 'off', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^ready:/m.test(out)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`serve ${extra.join(' ')} exited with ${code}: ${out}`)));
  });
}

async function load(url: string, connections: number, body: Buffer, headers: Record<string, string>): Promise<{ perSecond: number; p99: number; failed: number }> {
  const r = await autocannon({ url, connections, duration: SECONDS, method: 'POST', headers, body });
  return { perSecond: r.requests.average, p99: r.latency.p99, failed: r.non2xx + r.errors + r.timeouts };
}

async function main(): Promise<void> {
  // The profile: 400 crops drawn as the tests draw them; the load's images are other noise, so windows drift (as they would, watched).
  const u = seededUniform(5);
  const batches = Array.from({ length: 8 }, () => {
    const data = new Float32Array(50 * 3 * 48 * 192);
    for (let i = 0; i < 50; i++) data.set(clsImage(u, 0).data, i * 3 * 48 * 192);
    return { x: { type: 'float32' as const, dims: [50, 3, 48, 192], data } };
  });
  await profileVersion({ repository: repo, model: 'text_direction', data: batches });
  const base = 18400 + (process.pid % 400);
  const servers = {
    'monitoring off': base,
    'monitoring on (defaults)': base + 1,
    'monitoring on + payload log to a file, every request': base + 2,
    'monitoring on + payload log to a file, 1%': base + 3,
  };
  await serve(servers['monitoring off'], ['--monitoring', 'off']);
  await serve(servers['monitoring on (defaults)'], []);
  await serve(servers['monitoring on + payload log to a file, every request'], ['--payload-log-file', join(work, 'all.jsonl')]);
  await serve(servers['monitoring on + payload log to a file, 1%'], ['--payload-log-file', join(work, 'some.jsonl'), '--payload-log-sample', '0.01']);

  const image = randomFloats(3 * 48 * 192, 11);
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], parameters: { binary_data_size: image.byteLength } }], parameters: { binary_data_output: true } }));
  const bodies = {
    binary: { body: Buffer.concat([head, Buffer.from(image.buffer)]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.byteLength) } },
    JSON: { body: Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(image) }] })), headers: { 'content-type': 'application/json' } },
  };
  const url = (port: number) => `http://127.0.0.1:${port}/v2/models/text_direction/infer`;
  for (const port of Object.values(servers)) await load(url(port), 8, bodies.binary.body, bodies.binary.headers); // warm-up

  const results = new Map<string, { perSecond: number; p99: number; failed: number }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONCURRENCY) {
      for (const [kind, b] of Object.entries(bodies)) {
        const order = Object.entries(servers);
        for (const [name, port] of round % 2 === 0 ? order : order.reverse()) {
          const key = `${c}|${kind}|${name}`;
          results.set(key, [...(results.get(key) ?? []), await load(url(port), c, b.body, b.headers)]);
        }
      }
    }
  }
  const rows: string[][] = [];
  for (const c of CONCURRENCY) {
    for (const kind of Object.keys(bodies)) {
      const off = median((results.get(`${c}|${kind}|monitoring off`) ?? []).map((r) => r.perSecond));
      for (const name of Object.keys(servers)) {
        const runs = results.get(`${c}|${kind}|${name}`) ?? [];
        const perSecond = median(runs.map((r) => r.perSecond));
        rows.push([String(c), kind, name, perSecond.toFixed(0), (perSecond / off).toFixed(3), median(runs.map((r) => r.p99)).toFixed(1), String(runs.reduce((n, r) => n + r.failed, 0))]);
      }
    }
  }
  console.log(`PP-OCR cls with a reference profile, batch-1 requests; ${SECONDS} s per run, ${ROUNDS} rounds interleaved, medians; Node ${process.version}\n`);
  printTable(['in flight', 'body', 'server', 'requests/s', 'x monitoring off', 'p99 ms', 'failed'], rows, 3);
  const monitored = await (await fetch(`http://127.0.0.1:${servers['monitoring on (defaults)']}/v2/models/text_direction/monitoring`)).json();
  const v = (monitored as { versions: { observed: number; skipped: number; state: string }[] }).versions[0];
  console.log(`\nthe monitored server observed ${v.observed} requests and skipped ${v.skipped} over the rate; its state: ${v.state}`);
  await ownWork(image);
}

/** The monitoring's work itself, timed in this process on the same request: reducing an observed request, and comparing the windows with the profile. */
async function ownWork(image: Float32Array): Promise<void> {
  const drift = new DriftMonitoring({ checkEveryMs: 0, maxPerSecond: 1e9, maxPending: 1e9 });
  const served = {
    folder: join(repo, 'text_direction', '1'),
    plan: { maxBatchSize: 64, inputs: [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }], outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', dims: [2] }] },
    parameters: {},
  } as unknown as ServingVersion;
  const observer = drift.versionServing('text_direction', 1, 0, served);
  await drift.settled();
  const request = { model: 'text_direction', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], tensor: { type: 'float32', dims: [1, 3, 48, 192], data: image } }] } as unknown as InferRequest;
  const response = { model_name: 'text_direction', model_version: '1', outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [1, 2], tensor: { type: 'float32', dims: [1, 2], data: new Float32Array([0.7, 0.3]) } }] } as unknown as InferResponse;
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  const perObservation: number[] = [];
  const perComparison: number[] = [];
  for (let round = 0; round < 7; round++) {
    let start = process.cpuUsage();
    for (let i = 0; i < 500; i++) {
      observer.onInference?.(request, response, 'default');
      await tick();
    }
    let used = process.cpuUsage(start);
    // Less the empty turns' own cost.
    start = process.cpuUsage();
    for (let i = 0; i < 500; i++) await tick();
    const empty = process.cpuUsage(start);
    perObservation.push((used.user + used.system - empty.user - empty.system) / 500);
    start = process.cpuUsage();
    for (let i = 0; i < 50; i++) drift.versions()[0].monitor?.drift();
    used = process.cpuUsage(start);
    perComparison.push((used.user + used.system) / 50);
  }
  const observe = median(perObservation);
  const compare = median(perComparison);
  console.log(
    `the monitoring's own work (CPU time, medians of 7): ${observe.toFixed(1)} µs a request observed (its 27,648 floats reduced to 3 channel means, and the 2 scores to a class and a confidence), ` +
      `${compare.toFixed(0)} µs a comparison of the version's 5 windows of 1000 with its profile (each scrape and each log check); ` +
      `at the default 100 observed a second, ${((observe * 100) / 1e4).toFixed(2)}% of one core`,
  );
  drift.close();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
    rmSync(repo, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });
