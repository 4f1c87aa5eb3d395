/**
 * `onnx-native serve --example` as a user runs it: a child process on ports it picks
 * (port 0), the README's quick-start requests against it (curl where the machine has it,
 * fetch otherwise), then SIGTERM with requests in flight: readiness turns false at once,
 * new requests get 503, the ones in flight all finish, and the process exits 0.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomFloats, root } from '../helpers/common';

const Serve = suite('onnx-native serve');
const CLI = join(root, 'dist', 'cli', 'cli.js');

/** Starts the CLI; resolves once it prints its ready line, with the HTTP URL and the output so far. */
function startServe(args: string[]): Promise<{ child: ChildProcess; http: string; grpc: string; metrics?: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The metrics URL comes after gRPC's address, when there is one.
      const ready = /^ready: HTTP (\S+), gRPC ([^\s,]+)(?:, metrics (\S+))?$/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve({ child, http: ready[1], grpc: ready[2], ...(ready[3] !== undefined && { metrics: ready[3] }), output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before it was ready:\n${output}`));
    });
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

Serve('the example repository serves; curl gets health, metadata and an inference', async () => {
  const { child, http, output } = await startServe(['--example', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0']);
  try {
    assert.match(output(), /model silero_vad version 1: READY/);
    assert.match(output(), /model text_direction version 1: READY/);
    const curl = async (...args: string[]) => (await promisify(execFile)('curl', ['-s', ...args])).stdout;
    let haveCurl = true;
    try {
      await curl('--version');
    } catch {
      haveCurl = false;
    }
    const get = async (path: string) => (haveCurl ? curl(`${http}${path}`) : (await fetch(`${http}${path}`)).text());
    assert.equal(JSON.parse(await get('/v2/health/ready')), { ready: true });
    assert.is((JSON.parse(await get('/v2/models/text_direction')) as { platform: string }).platform, 'onnxruntime_onnx');
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(randomFloats(27648, 2)) }] });
    const file = join(mkdtempSync(join(tmpdir(), 'serve-test-')), 'request.json');
    writeFileSync(file, body);
    const answer = haveCurl
      ? await curl('-X', 'POST', `${http}/v2/models/text_direction/infer`, '-H', 'Content-Type: application/json', '--data-binary', `@${file}`)
      : await (await fetch(`${http}/v2/models/text_direction/infer`, { method: 'POST', body })).text();
    const probs = (JSON.parse(answer) as { outputs: { data: number[] }[] }).outputs[0].data;
    assert.is(probs.length, 2);
    assert.ok(Math.abs(probs[0] + probs[1] - 1) < 1e-5, 'probabilities');
    rmSync(dirname(file), { recursive: true, force: true });
  } finally {
    child.kill('SIGKILL');
  }
});

Serve('SIGTERM: ready turns false at once, new requests get 503, requests in flight all finish, exit 0', async () => {
  const { child, http, metrics } = await startServe(['--example', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--log-level', 'warn']);
  const code = exited(child);
  /** Requests the classifier has taken: answered or pending (from /metrics). */
  const taken = async () => {
    const text = await (await fetch(metrics as string)).text();
    const value = (prefix: string) => Number(text.split('\n').find((l) => l.startsWith(prefix))?.split(' ').pop() ?? 0);
    return value('onnx_native_pending_requests{model="text_direction"') + value('onnx_native_requests_total{model="text_direction",version="1",outcome="success"');
  };
  // Eight requests of 64 rows each: each a batch of its own, a few hundred ms apiece.
  const image = randomFloats(64 * 3 * 48 * 192, 4);
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [64, 3, 48, 192], parameters: { binary_data_size: image.byteLength } }] }));
  const body = Buffer.concat([head, Buffer.from(image.buffer)]);
  const inFlight = Array.from({ length: 8 }, () =>
    fetch(`${http}/v2/models/text_direction/infer`, { method: 'POST', headers: { 'Inference-Header-Content-Length': String(head.byteLength) }, body: body as unknown as BodyInit }).then(
      async (res) => ({ status: res.status, text: await res.text() }),
      (err: unknown) => ({ status: -1, text: String(err) }),
    ),
  );
  // Once the server has taken all eight (their bodies uploaded and decoded: on a busy
  // machine that can come after the first answer), and one has been answered.
  await Promise.race(inFlight);
  for (let i = 0; i < 300 && (await taken()) < 8; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const ready = await fetch(`${http}/v2/health/ready`);
  assert.is(ready.status, 503, 'readiness false at once');
  const late = await fetch(`${http}/v2/models/text_direction/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(randomFloats(27648, 1)) }] }) });
  assert.is(late.status, 503, 'a new request during shutdown');
  assert.ok(late.headers.get('retry-after') !== null);
  const answers = await Promise.all(inFlight);
  assert.equal(answers.map((a) => a.status), Array(8).fill(200), answers.map((a) => a.text.slice(0, 200)).join('\n'));
  assert.is(await code, 0);
});

Serve.run();
