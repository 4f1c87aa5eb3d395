/**
 * The model server under load, against the baseline the seeds and most tutorials write
 * (bench/fixtures/baseline-server.mjs: fastify + onnxruntime-node, one session, one run
 * per request, JSON in and out), in one run: PP-OCR's text-direction classifier, batch-1
 * requests of one 3 x 48 x 192 image, the same payloads, C = 1, 8 and 64 requests in
 * flight for a fixed time (autocannon for HTTP, a @grpc/grpc-js client for gRPC, each
 * in a process of its own... autocannon in this one), rounds interleaved, medians
 * reported. Both servers are child processes of this one on the same machine, each on
 * its defaults. Then the server's own overhead: a tiny model's requests per second
 * against fastify's hello-world.
 *
 * Usage: npm run bench:server [-- --seconds N] [-- --rounds N]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { CLS_MODEL, randomFloats, root } from '../test/helpers/common';
import { ONNX_TYPE_OF_DATATYPE, TEXT_DIRECTION, identity2Model, writeRepository } from '../test/helpers/model-repository';
import { median, printTable } from './report';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const SECONDS = option('--seconds', 5);
const ROUNDS = option('--rounds', 2);
const CONCURRENCY = [1, 8, 64];

const repo = writeRepository({ text_direction: TEXT_DIRECTION, tiny: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } } });
const work = mkdtempSync(join(tmpdir(), 'bench-server-'));
const children: ChildProcess[] = [];

function start(command: string, argv: string[], readyLine: RegExp): Promise<ChildProcess> {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (readyLine.test(out)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`${command} ${argv.join(' ')} exited with ${code}: ${out}`)));
  });
}

interface Load {
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
}

async function http(url: string, connections: number, body: Buffer, headers: Record<string, string>): Promise<Load> {
  const result = await autocannon({ url, connections, duration: SECONDS, method: 'POST', headers, body });
  return { perSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, failed: result.non2xx + result.errors + result.timeouts };
}

function grpcLoad(address: string, connections: number, input: string): Load {
  const job = { address, proto: 'grpc_service.proto', protoDir: join(root, 'proto'), model: 'text_direction', input, shape: [1, 3, 48, 192], connections, seconds: SECONDS };
  const out = JSON.parse(execFileSync('node', [join(__dirname, 'fixtures', 'grpc-load.mjs'), JSON.stringify(job)], { cwd: root }).toString()) as Load & { errors: number };
  return { ...out, failed: out.errors };
}

async function main(): Promise<void> {
  const ports = { ours: 18400 + (process.pid % 500), grpc: 18900 + (process.pid % 500), baseline: 19400 + (process.pid % 500) };
  await start('node', [join(root, 'dist', 'cli', 'cli.js'), 'serve', repo, '--http-port', String(ports.ours), '--grpc-port', String(ports.grpc), '--metrics-port', 'off', '--log-level', 'warn'], /^ready:/m);
  await start('node', [join(__dirname, 'fixtures', 'baseline-server.mjs'), CLS_MODEL, String(ports.baseline)], /^ready$/m);

  const image = randomFloats(3 * 48 * 192, 11);
  const jsonBody = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(image) }] }));
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], parameters: { binary_data_size: image.byteLength } }], parameters: { binary_data_output: true } }));
  const binaryBody = Buffer.concat([head, Buffer.from(image.buffer)]);
  const rawFile = join(work, 'image.raw');
  writeFileSync(rawFile, Buffer.from(image.buffer));
  const json = { 'content-type': 'application/json' };
  const binary = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.byteLength) };
  const ours = `http://127.0.0.1:${ports.ours}/v2/models/text_direction/infer`;
  const baseline = `http://127.0.0.1:${ports.baseline}/v2/models/text_direction/infer`;

  const modes = {
    'baseline (fastify + onnxruntime-node), JSON': (c: number) => http(baseline, c, jsonBody, json),
    'onnx-native serve, JSON': (c: number) => http(ours, c, jsonBody, json),
    'onnx-native serve, binary': (c: number) => http(ours, c, binaryBody, binary),
    'onnx-native serve, gRPC': async (c: number) => grpcLoad(`127.0.0.1:${ports.grpc}`, c, rawFile),
  };
  // Warm both up (first runs, connection set-up, JIT) before anything is timed.
  for (const run of Object.values(modes)) await run(8);

  const results = new Map<string, Load[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONCURRENCY) {
      for (const [name, run] of Object.entries(modes)) {
        const key = `${name}|${c}`;
        results.set(key, [...(results.get(key) ?? []), await run(c)]);
      }
    }
  }
  const summary = (key: string) => {
    const runs = results.get(key) as Load[];
    return { perSecond: median(runs.map((r) => r.perSecond)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), failed: runs.reduce((n, r) => n + r.failed, 0) };
  };
  const rows: string[][] = [];
  for (const c of CONCURRENCY) {
    const base = summary(`baseline (fastify + onnxruntime-node), JSON|${c}`);
    for (const name of Object.keys(modes)) {
      const s = summary(`${name}|${c}`);
      rows.push([String(c), name, s.perSecond.toFixed(0), (s.perSecond / base.perSecond).toFixed(2), s.p50.toFixed(1), s.p99.toFixed(1), (s.p99 / base.p99).toFixed(2), String(s.failed)]);
    }
  }
  console.log(`PP-OCR cls, batch-1 requests (3 x 48 x 192 floats); ${SECONDS} s per run, ${ROUNDS} rounds interleaved, medians; Node ${process.version}\n`);
  printTable(['in flight', 'server', 'requests/s', 'x baseline', 'p50 ms', 'p99 ms', 'p99 x baseline', 'failed'], rows, 2);

  // The server's own overhead: a tiny model (identity of 2 floats) against hello-world.
  const tinyBody = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }));
  const hello = await autocannon({ url: `http://127.0.0.1:${ports.baseline}/hello`, connections: 64, duration: SECONDS });
  const tiny = await http(`http://127.0.0.1:${ports.ours}/v2/models/tiny/infer`, 64, tinyBody, json);
  console.log(`\noverhead, 64 in flight: tiny model ${tiny.perSecond.toFixed(0)} requests/s (p99 ${tiny.p99.toFixed(1)} ms) against fastify hello-world ${hello.requests.average.toFixed(0)} requests/s (p99 ${hello.latency.p99.toFixed(1)} ms): ${(tiny.perSecond / hello.requests.average).toFixed(2)}x`);
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
