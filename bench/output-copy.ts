/**
 * Copy small outputs, or wrap ONNX Runtime's memory? Per-call time of run() on Relu
 * models whose output is 8 bytes to 1 MiB, with outputs copied into ordinary
 * ArrayBuffers and with outputs wrapped as external ArrayBuffers (zero-copy), each in
 * its own process (ONNX_NATIVE_COPY_OUTPUTS_UP_TO); runSync(), which always copies; and
 * onnxruntime-node's run() for reference. By default run() wraps every output over 64 bytes.
 *
 * Usage: npx tsx bench/output-copy.ts
 */
import { execFileSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { createSession, tensor } from '../lib/index';
import { reluModel } from '../test/helpers/onnx-model';
import { usePeerRuntime } from './peer-runtime';
import { median, printTable } from './report';

const SIZES = [2, 256, 1024, 4096, 16384, 65536, 262144];

/**
 * µs per call of `fn` in steady state: the median of 15 batches, yielding to the event
 * loop between batches, after 500 calls of warm-up. Wrapped outputs live until the
 * garbage collector finalizes them, so ONNX Runtime's arena first grows to hold those
 * in flight: timing from a cold start measures that growth (page faults on fresh
 * memory), not the cost per call a server sees.
 */
async function perCall(fn: () => unknown, calls: number): Promise<number> {
  for (let i = 0; i < 500; i++) await fn();
  const batches: number[] = [];
  for (let b = 0; b < 15; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await fn();
    batches.push(Number(process.hrtime.bigint() - start) / calls / 1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return median(batches);
}

async function child(): Promise<void> {
  usePeerRuntime();
  const rows: Record<string, number>[] = [];
  for (const n of SIZES) {
    const model = reluModel([n]);
    const options = { intraOpNumThreads: 1 };
    const session = await createSession(model, options);
    const peer = await ort.InferenceSession.create(model, options);
    const feeds = { x: tensor('float32', new Float32Array(n), [n]) };
    const peerFeeds = { x: new ort.Tensor('float32', new Float32Array(n), [n]) };
    const calls = Math.max(200, Math.min(2000, Math.floor(4e6 / n)));
    rows.push({
      bytes: n * 4,
      runSync: await perCall(() => session.runSync(feeds), calls),
      run: await perCall(() => session.run(feeds), calls),
      peer: await perCall(() => peer.run(peerFeeds), calls),
    });
    session.release();
    await peer.release();
  }
  console.log(JSON.stringify(rows));
}

function parent(): void {
  const measure = (copyUpTo: number) =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child'], {
        env: { ...process.env, ONNX_NATIVE_COPY_OUTPUTS_UP_TO: String(copyUpTo) },
        encoding: 'utf8',
      }),
    ) as Record<string, number>[];
  // Alternate the two settings three times and take medians: this machine has slow and
  // fast spells that would otherwise favour whichever ran in the fast one.
  const runs = [0, 1, 2].map(() => [measure(1 << 30), measure(0)]);
  const combine = (which: number) =>
    runs[0][which].map((row, i) => Object.fromEntries(Object.keys(row).map((k) => [k, median(runs.map((r) => r[which][i][k]))])));
  const copied = combine(0);
  const wrapped = combine(1);
  console.log('µs per call (medians of 3 processes each, of 15 batches each); output of Relu on float32[n]\n');
  const header = ['output bytes', 'run() copy', 'run() wrap', 'runSync()', 'onnxruntime-node run()'];
  const rows = copied.map((c, i) =>
    [String(c.bytes), c.run, wrapped[i].run, (c.runSync + wrapped[i].runSync) / 2, (c.peer + wrapped[i].peer) / 2].map((v) => (typeof v === 'number' ? v.toFixed(2) : v)),
  );
  printTable(header, rows, 0);
  console.log('\n(outputs of 64 bytes and under travel inside the run header either way)');
}

if (process.argv.includes('--child')) void child();
else parent();
