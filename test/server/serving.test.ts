/**
 * The server's scheduling and access as a client sees them: a full queue is 503 with
 * Retry-After, queue timeouts (the config's and a request's own), priorities served
 * first, bearer tokens for inference and for the repository API, explicit model control
 * (load, unload, a reload while requests keep coming that fails none of them), TLS.
 * A slow model (a chain of matrix products, tens of ms a request) keeps requests queued.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { matmulChainModel } from '../helpers/onnx-model';
import { ONNX_TYPE_OF_DATATYPE, addModel, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const N = 512;
const ROWS = 16;
const SLOW = matmulChainModel(N, 4000); // about 300 ms a request on this project's machines

/** A config for the slow model: one instance, each request (ROWS rows) a batch of its own. */
function slowConfig(batching: string): string {
  return [
    `max_batch_size: ${ROWS}`,
    `input [{ name: "x", data_type: TYPE_FP32, dims: [${N}] }]`,
    `output [{ name: "y", data_type: TYPE_FP32, dims: [${N}] }]`,
    'instance_group [{ count: 1, kind: KIND_CPU }]',
    `dynamic_batching { max_queue_delay_microseconds: 0 ${batching} }`,
  ].join('\n');
}

/**
 * A request for the slow model, in binary tensor data: next to nothing to parse, so that
 * requests sent together arrive together, well within one run.
 */
function slowRequest(parameters: Record<string, unknown> = {}, id?: string): RequestInit {
  const head = Buffer.from(JSON.stringify({ ...(id !== undefined && { id }), parameters, inputs: [{ name: 'x', datatype: 'FP32', shape: [ROWS, N], parameters: { binary_data_size: ROWS * N * 4 } }] }));
  const body = Buffer.concat([head, Buffer.from(new Float32Array(ROWS * N).fill(0.01).buffer)]);
  return { method: 'POST', headers: { 'Inference-Header-Content-Length': String(head.byteLength) }, body: body as unknown as BodyInit };
}

async function started(options: Partial<Parameters<typeof createServer>[0]> & { repository: string }): Promise<{ server: ModelServer; http: string }> {
  const server = await createServer({ httpPort: 0, grpcPort: false, metricsPort: false, strictReadiness: false, log: memoryLog().log, ...options });
  return { server, http: (await server.listen()).http };
}

const Scheduling = suite('serving: queue, timeouts, priorities');
let repo: string;
let server: ModelServer;
let http: string;

Scheduling.before(async () => {
  repo = writeRepository({
    small_queue: { config: slowConfig('default_queue_policy { max_queue_size: 2 }'), versions: { 1: SLOW } },
    timeouts: { config: slowConfig('default_queue_policy { default_timeout_microseconds: 20000 }'), versions: { 1: SLOW } },
    overridable: { config: slowConfig('default_queue_policy { allow_timeout_override: true }'), versions: { 1: SLOW } },
    priorities: { config: slowConfig('priority_levels: 2 default_priority_level: 2'), versions: { 1: SLOW } },
  });
  ({ server, http } = await started({ repository: repo }));
});

Scheduling.after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

const infer = (model: string, request: RequestInit) => fetch(`${http}/v2/models/${model}/infer`, request);

/**
 * Waits until model `name` has `running` requests running and `queued` waiting: the
 * tests go on from what the server holds, not from how long they slept.
 */
async function until(name: string, running: number, queued: number): Promise<void> {
  const served = server.core.repository.resolve(name);
  const deadline = performance.now() + 10_000;
  while (!(served.pending - served.queued === running && served.queued === queued)) {
    if (performance.now() > deadline) throw new Error(`${name}: ${served.pending} pending, ${served.queued} queued; waited for ${running} running, ${queued} queued`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

Scheduling('a full queue: 503 with Retry-After; the requests it took all succeed', async () => {
  // One running, then seven at once: two wait, five are refused.
  const running = infer('small_queue', slowRequest());
  await until('small_queue', 1, 0);
  const rest = Promise.all(Array.from({ length: 7 }, () => infer('small_queue', slowRequest())));
  const answers = [await running, ...(await rest)];
  const statuses = answers.map((a) => a.status);
  // One running, two waiting: the other five are turned away at once.
  assert.is(statuses.filter((s) => s === 200).length, 3, String(statuses));
  const refused = answers.filter((a) => a.status === 503);
  assert.is(refused.length, 5);
  for (const r of refused) {
    assert.is(r.headers.get('retry-after'), '1');
    assert.match(((await r.json()) as { error: string }).error, /queue is full/);
  }
  assert.is((await infer('small_queue', slowRequest())).status, 200, 'serving afterwards');
});

Scheduling("queue timeouts: the config's default, and a request's own where the config allows it", async () => {
  const answers = await Promise.all(Array.from({ length: 4 }, () => infer('timeouts', slowRequest())));
  const statuses = answers.map((a) => a.status);
  // The first runs at once; the others wait far longer than 1 ms and time out.
  assert.ok(statuses.includes(200), String(statuses));
  const timedOut = answers.filter((a) => a.status === 503);
  assert.ok(timedOut.length >= 2, String(statuses));
  assert.match(((await timedOut[0].json()) as { error: string }).error, /timed out/);
  // No default timeout; a request asking for 20 ms times out behind a running one, those that ask nothing wait.
  const mixed = await Promise.all([infer('overridable', slowRequest()), infer('overridable', slowRequest({ timeout: 20000 })), infer('overridable', slowRequest())]);
  assert.equal(mixed.map((a) => a.status), [200, 503, 200]);
  assert.is((await infer('overridable', slowRequest({ timeout: 'soon' }))).status, 400);
});

Scheduling('priorities: a level-1 request queued last runs before the level-2 ones queued before it', async () => {
  const order: string[] = [];
  const send = (id: string, parameters: Record<string, unknown> = {}) =>
    infer('priorities', slowRequest(parameters, id)).then(async (r) => {
      assert.is(r.status, 200);
      order.push(((await r.json()) as { id: string }).id);
    });
  // 'first' runs (about 300 ms); the others queue behind it, 'high' last.
  const first = send('first');
  await until('priorities', 1, 0);
  const low = ['low-1', 'low-2', 'low-3'].map((id) => send(id));
  await until('priorities', 1, 3);
  const high = send('high', { priority: 1 });
  await Promise.all([first, ...low, high]);
  assert.is(order[0], 'first');
  assert.is(order[1], 'high', order.join(', '));
  assert.is((await infer('priorities', slowRequest({ priority: 3 }))).status, 400, 'a level the model does not have');
});

const Access = suite('serving: tokens, explicit model control, TLS');

Access('bearer tokens: inference needs one, the repository API needs the admin one, health needs none', async () => {
  const repository = writeRepository({ m: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } } });
  const { server: s, http: url } = await started({ repository, modelControl: 'explicit', loadModels: ['m'], token: 'user-secret', adminToken: 'admin-secret' });
  try {
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    const call = (path: string, token?: string, method = 'POST') =>
      fetch(`${url}${path}`, { method, ...(method === 'POST' && { body }), headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    assert.is((await call('/v2/health/ready', undefined, 'GET')).status, 200);
    const missing = await call('/v2/models/m/infer');
    assert.is(missing.status, 401);
    assert.is(missing.headers.get('www-authenticate'), 'Bearer');
    assert.is((await call('/v2/models/m/infer', 'wrong')).status, 401);
    assert.is((await call('/v2/models/m/infer', 'user-secret')).status, 200);
    assert.is((await call('/v2/repository/models/m/unload', 'user-secret')).status, 401, 'the user token is not the admin one');
    assert.is((await call('/v2/repository/models/m/unload', 'admin-secret')).status, 200);
    assert.is((await call('/v2/models/m/infer', 'user-secret')).status, 404, 'unloaded');
  } finally {
    await s.close();
    rmSync(repository, { recursive: true, force: true });
  }
});

Access('explicit model control: load, unload, and a reload under load that fails no request', async () => {
  const repository = writeRepository({ m: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } } });
  const { server: s, http: url } = await started({ repository, modelControl: 'explicit' });
  try {
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    const infer1 = () => fetch(`${url}/v2/models/m/infer`, { method: 'POST', body });
    assert.is((await infer1()).status, 404, 'not loaded at start');
    const index = (await (await fetch(`${url}/v2/repository/index`, { method: 'POST' })).json()) as { name: string; state?: string }[];
    assert.equal(index, [{ name: 'm' }]);
    assert.is((await fetch(`${url}/v2/repository/models/m/load`, { method: 'POST' })).status, 200);
    assert.is((await infer1()).status, 200);
    assert.is((await fetch(`${url}/v2/repository/models/nope/load`, { method: 'POST' })).status, 404);
    assert.is((await fetch(`${url}/v2/repository/models/..%2Fetc/load`, { method: 'POST' })).status, 400);

    // A new version appears; reloading swaps it in while requests keep coming.
    addModel(repository, 'm', { versions: { 2: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } });
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const load = (async () => {
      while (!stop) {
        const r = await infer1();
        statuses.push(r.status);
        versions.add(((await r.json()) as { model_version?: string }).model_version ?? '?');
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.is((await fetch(`${url}/v2/repository/models/m/load`, { method: 'POST' })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await load;
    assert.ok(statuses.length > 10, `${statuses.length} requests`);
    assert.equal([...new Set(statuses)], [200], 'no request failed during the reload');
    assert.equal([...versions].sort(), ['1', '2']);
    assert.is((await fetch(`${url}/v2/repository/models/m/unload`, { method: 'POST' })).status, 200);
    assert.is((await infer1()).status, 404);
  } finally {
    await s.close();
    rmSync(repository, { recursive: true, force: true });
  }
});

Access('request logging: off by default, a share of requests when asked', async () => {
  const repository = writeRepository({ m: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } } });
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
  try {
    for (const share of [0, 1]) {
      const { log, lines } = memoryLog();
      const { server: s, http: url } = await started({ repository, log, logRequests: share === 0 ? undefined : share });
      for (let i = 0; i < 5; i++) assert.is((await fetch(`${url}/v2/models/m/infer`, { method: 'POST', body })).status, 200);
      await s.close();
      const logged = lines.filter((l) => l.msg === 'request');
      assert.is(logged.length, share * 5, `logRequests ${share}`);
      if (share === 1) assert.equal([logged[0].method, logged[0].url, logged[0].status], ['POST', '/v2/models/m/infer', 200]);
    }
  } finally {
    rmSync(repository, { recursive: true, force: true });
  }
});

Access('TLS: HTTPS from certificate files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return; // no openssl on this machine
  }
  const repository = writeRepository({ m: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } } });
  const { server: s, http: url } = await started({ repository, tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
  try {
    assert.ok(url.startsWith('https://'), url);
    // A client that trusts this certificate, and only it.
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) =>
      get(`${url}/v2/health/ready`, { ca: readFileSync(join(dir, 'cert.pem')) }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      }).on('error', reject),
    );
    assert.equal(body, { status: 200, text: '{"ready":true}' });
  } finally {
    await s.close();
    rmSync(repository, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

Scheduling.run();
Access.run();
