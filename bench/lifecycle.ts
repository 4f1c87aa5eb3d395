/**
 * Swaps under load, in one run: the server (a child process, `onnx-native serve` on its
 * defaults, explicit model control) serves PP-OCR's text-direction classifier as two
 * models, `steady` and `swapped`. Rounds interleave two phases of --seconds each: quiet
 * (requests only) and swapping (the same requests while `swapped`'s model file is
 * rewritten and reloaded one swap after another: a new copy loaded and warmed up, the old
 * one retired). Reported: `steady`'s p50 and p99 in each phase (medians over rounds) and
 * their ratio, requests that failed on either model, the swaps made and their median time.
 * Then the time from a new version's files appearing to its serving traffic, with
 * `--model-control poll --repository-poll-secs 1` (the watcher waits for two scans a
 * second apart that see the same files).
 *
 * Usage: npm run bench:lifecycle [-- --seconds N] [-- --rounds N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { CLS_MODEL, randomFloats, root } from '../test/helpers/common';
import { writeRepository } from '../test/helpers/model-repository';
import { median, printTable, quantiles } from './report';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const SECONDS = option('--seconds', 10);
const ROUNDS = option('--rounds', 3);
const STEADY_CONNECTIONS = 8;
const SWAPPED_CONNECTIONS = 2;

const children: ChildProcess[] = [];

// The example's configuration (batching up to 64, one instance per core) under each name.
const EXAMPLE_CONFIG = readFileSync(join(root, 'examples', 'model-repository', 'text_direction', 'config.pbtxt'), 'utf8');
const classifier = (name: string) => ({ config: EXAMPLE_CONFIG.replace('name: "text_direction"', `name: "${name}"`), versions: { 1: CLS_MODEL } });

/** Starts `onnx-native serve` on `repo` with `flags`; resolves with its HTTP address. */
function serve(repo: string, flags: string[]): Promise<string> {
  const child = spawn('node', [join(root, 'dist', 'cli', 'cli.js'), 'serve', repo, '--http-port', '0', '--grpc-port', 'off', '--metrics-port', 'off', '--log-level', 'warn', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /^ready: HTTP (\S+?)[,\s]/m.exec(out);
      if (ready) resolve(ready[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

const image = randomFloats(3 * 48 * 192, 11);
const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], parameters: { binary_data_size: image.byteLength } }] }));
const body = Buffer.concat([head, Buffer.from(image.buffer)]);
const headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.byteLength) };

interface Phase {
  p50: number;
  p99: number;
  perSecond: number;
  failed: number;
  swaps: number;
  swapMs: number[];
}

async function phase(http: string, repo: string, swapping: boolean): Promise<Phase> {
  const load = (model: string, connections: number) => autocannon({ url: `${http}/v2/models/${model}/infer`, connections, duration: SECONDS, method: 'POST', headers, body });
  const steady = load('steady', STEADY_CONNECTIONS);
  const swapped = load('swapped', SWAPPED_CONNECTIONS);
  const swapMs: number[] = [];
  let failedSwaps = 0;
  if (swapping) {
    const until = performance.now() + SECONDS * 1000 - 300;
    while (performance.now() < until) {
      // A new file in place (a new inode and time): the version loads again.
      copyFileSync(CLS_MODEL, join(repo, 'swapped', '1', 'model.onnx'));
      const started = performance.now();
      const r = await fetch(`${http}/v2/repository/models/swapped/load`, { method: 'POST' });
      if (r.status !== 200) failedSwaps++;
      await r.arrayBuffer();
      swapMs.push(performance.now() - started);
    }
  }
  const [a, b] = await Promise.all([steady, swapped]);
  const failed = a.non2xx + a.errors + a.timeouts + b.non2xx + b.errors + b.timeouts + failedSwaps;
  return { p50: a.latency.p50, p99: a.latency.p99, perSecond: a.requests.average, failed, swaps: swapMs.length, swapMs };
}

/** Seconds from a new version folder's files appearing to the default answering from it, with polling every second. */
async function timeToServe(repo: string, http: string, version: number): Promise<number> {
  const started = performance.now();
  cpSync(join(repo, 'steady', '1'), join(repo, 'steady', String(version)), { recursive: true });
  const request = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(image) }] });
  for (;;) {
    const r = await fetch(`${http}/v2/models/steady/infer`, { method: 'POST', body: request });
    const answer = (await r.json()) as { model_version?: string };
    if (answer.model_version === String(version)) return (performance.now() - started) / 1000;
    if (performance.now() - started > 60_000) throw new Error(`version ${version} was not serving after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function main(): Promise<void> {
  const repo = writeRepository({ steady: classifier('steady'), swapped: classifier('swapped') });
  const polled = writeRepository({ steady: classifier('steady') });
  try {
    const http = await serve(repo, ['--model-control', 'explicit', '--load-model', '*']);
    for (const model of ['steady', 'swapped']) {
      const r = await fetch(`${http}/v2/models/${model}/infer`, { method: 'POST', headers, body });
      if (r.status !== 200) throw new Error(`${model} does not answer: ${r.status} ${await r.text()}`);
    }
    console.log(`swaps under load: PP-OCR cls as two models; ${STEADY_CONNECTIONS} connections on "steady", ${SWAPPED_CONNECTIONS} on "swapped", binary requests of one image; ${ROUNDS} rounds of ${SECONDS} s per phase, interleaved\n`);
    const quiet: Phase[] = [];
    const swapping: Phase[] = [];
    await phase(http, repo, false); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      quiet.push(await phase(http, repo, false));
      swapping.push(await phase(http, repo, true));
    }
    const m = (phases: Phase[], key: 'p50' | 'p99' | 'perSecond') => median(phases.map((p) => p[key]));
    const swaps = swapping.reduce((n, p) => n + p.swaps, 0);
    const swapTimes = swapping.flatMap((p) => p.swapMs);
    const rows = [
      ['quiet', m(quiet, 'perSecond').toFixed(0), m(quiet, 'p50').toFixed(1), m(quiet, 'p99').toFixed(1), '1.00', String(quiet.reduce((n, p) => n + p.failed, 0)), '0', ''],
      [
        'swapping "swapped"',
        m(swapping, 'perSecond').toFixed(0),
        m(swapping, 'p50').toFixed(1),
        m(swapping, 'p99').toFixed(1),
        (m(swapping, 'p99') / m(quiet, 'p99')).toFixed(2),
        String(swapping.reduce((n, p) => n + p.failed, 0)),
        String(swaps),
        `${median(swapTimes).toFixed(0)} (p90 ${quantiles(swapTimes, 0.9)[0].toFixed(0)})`,
      ],
    ];
    printTable(['phase', '"steady" req/s', 'p50 ms', 'p99 ms', 'p99 x quiet', 'failed requests', 'swaps', 'ms per swap'], rows);
    console.log(`\np99 of "steady" by round, quiet / swapping: ${quiet.map((q, i) => `${q.p99} / ${swapping[i].p99}`).join(', ')} ms`);

    const polledHttp = await serve(polled, ['--model-control', 'poll', '--repository-poll-secs', '1']);
    const times: number[] = [];
    for (let v = 2; v <= 6; v++) times.push(await timeToServe(polled, polledHttp, v));
    console.log(`\nnew version's files to serving, polling every 1 s: median ${median(times).toFixed(2)} s (${times.map((t) => t.toFixed(2)).join(', ')})`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    rmSync(repo, { recursive: true, force: true });
    rmSync(polled, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  for (const child of children) child.kill('SIGKILL');
  process.exitCode = 1;
});
