/**
 * Traffic between versions through the lifecycle API on a real listening server: a
 * weighted split honoured within a stated bound, sticky keys that always get the same
 * version, routes by header and by request parameter, shadow traffic whose agreement is
 * counted (on a candidate that agrees and one that disagrees on purpose), the metrics
 * labelled by route, bad traffic refused, and the traffic surviving a restart.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifecycle } from '../../lib/lifecycle/lifecycle-extension';
import type { LifecycleStatus } from '../../lib/lifecycle/version-control';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { root } from '../helpers/common';
import { addConstantModel, flipModel, memoryLog, writeRepository } from '../helpers/model-repository';

const Traffic = suite('traffic: splits, sticky keys, routes, shadow');

let repo: string;
let server: ModelServer;
let http: string;

async function start(): Promise<void> {
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: 0, log: memoryLog().log, extensions: [lifecycle()] });
  http = (await server.listen()).http;
}

Traffic.before.each(async () => {
  repo = writeRepository({
    m: { config: 'version_policy: { all: {} }', versions: { 1: addConstantModel(1), 2: addConstantModel(2), 3: addConstantModel(3), 4: flipModel() } },
  });
  await start();
});

Traffic.after.each(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(http + path, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** The version that answers a default request with these headers and parameters. */
async function answering(headers: Record<string, string> = {}, parameters?: Record<string, string>): Promise<string> {
  const r = await fetch(`${http}/v2/models/m/infer`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ ...(parameters && { parameters }), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.5] }] }),
  });
  const body = (await r.json()) as { model_version: string; error?: string };
  assert.is(r.status, 200, body.error);
  assert.is(r.headers.get('model-version'), body.model_version);
  return body.model_version;
}

/** `n` requests, 16 at a time; the count by version. */
async function counts(n: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const v = await answering(headers(next++));
        seen.set(v, (seen.get(v) ?? 0) + 1);
      }
    }),
  );
  return seen;
}

const metric = async (pattern: RegExp): Promise<number> => {
  const line = (await server.metrics?.metrics())?.split('\n').find((l) => pattern.test(l));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
};

Traffic('a 90/10 split is honoured within 4.5 standard deviations over 2000 requests, and counted by route', async () => {
  const set = await call('PUT', '/v2/models/m/traffic', { split: [{ version: 1, weight: 90 }, { version: 2, weight: 10 }] });
  assert.is(set.status, 200, JSON.stringify(set.body));
  const seen = await counts(2000);
  // Binomial(2000, 0.1): mean 200, standard deviation 13.4; 4.5 of them either way fails a fair split once in ~150,000 runs.
  const two = seen.get('2') ?? 0;
  assert.ok(two >= 140 && two <= 260, `version 2 got ${two} of 2000`);
  assert.equal([...seen.keys()].sort(), ['1', '2']);
  assert.is(await metric(/^onnx_native_routed_requests_total\{model="m",version="2",route="split"\}/), two);
  assert.is(await metric(/^onnx_native_traffic_share\{model="m",version="1",route="split"\}/), 0.9);
  assert.is(await metric(/^onnx_native_traffic_share\{model="m",version="2",route="split"\}/), 0.1);
  // A label is a series to join on.
  assert.is((await call('PUT', '/v2/models/m/labels/canary', { version: 2 })).status, 200);
  assert.is(await metric(/^onnx_native_version_label\{model="m",version="2",label="canary"\} 1$/), 1);
  // A request naming a version, or a label, is not split.
  const named = await call('POST', '/v2/models/m/versions/3/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0, 0] }] });
  assert.is(named.body.model_version, '3');
  assert.is(await metric(/^onnx_native_routed_requests_total\{model="m",version="3",route="version"\}/), 1);
  // Cleared: all to the default (the highest ready, 4) again.
  assert.is((await call('DELETE', '/v2/models/m/traffic')).status, 200);
  assert.is(await answering(), '4');
  assert.not.ok((await server.metrics?.metrics())?.includes('onnx_native_traffic_share{'), 'no shares without a split');
});

Traffic('sticky keys always get the same version; the split between keys holds too', async () => {
  assert.is((await call('PUT', '/v2/models/m/traffic', { split: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }], sticky_key: 'X-User-Id' })).status, 200);
  const byUser = new Map<string, Set<string>>();
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, user) => {
        const v = await answering({ 'x-user-id': `user-${user}` });
        byUser.set(`user-${user}`, (byUser.get(`user-${user}`) ?? new Set()).add(v));
      }),
    );
  }
  assert.ok([...byUser.values()].every((versions) => versions.size === 1), 'each user kept one version');
  // Binomial(100, 0.5) over the users: 4.5 standard deviations (5) either way.
  const onTwo = [...byUser.values()].filter((versions) => versions.has('2')).length;
  assert.ok(onTwo >= 27 && onTwo <= 73, `${onTwo} of 100 users on version 2`);
  // The key as a request parameter works the same.
  assert.is(await answering({}, { 'x-user-id': 'user-7' }), [...(byUser.get('user-7') as Set<string>)][0]);
});

Traffic('routes by header and by parameter go first; the rest follow the split', async () => {
  assert.is((await call('PUT', '/v2/models/m/traffic', { routes: [{ key: 'x-group', value: 'beta', version: 3 }], split: [{ version: 1, weight: 1 }] })).status, 200);
  for (let i = 0; i < 20; i++) assert.is(await answering({ 'x-group': 'beta' }), '3');
  assert.is(await answering({}, { 'x-group': 'beta' }), '3');
  assert.is(await answering({ 'x-group': 'alpha' }), '1');
  assert.is(await answering(), '1');
  // TF Serving's clients are routed the same way.
  const tf = await fetch(`${http}/v1/models/m:predict`, { method: 'POST', headers: { 'x-group': 'beta' }, body: JSON.stringify({ instances: [[0.25, 0.5]] }) });
  assert.equal(await tf.json(), { predictions: [[3.25, 3.5]] });
  assert.is(await metric(/^onnx_native_routed_requests_total\{model="m",version="3",route="route"\}/), 22);
});

/** Waits until the shadow has answered `n` copies (counted in the metrics). */
async function shadowed(version: number, n: number): Promise<Record<string, number>> {
  const outcomes = ['agree', 'disagree', 'failed', 'skipped'];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
    const pairs = await Promise.all(outcomes.map(async (o): Promise<[string, number]> => [o, await metric(new RegExp(`^onnx_native_shadow_requests_total\\{model="m",version="${version}",outcome="${o}"\\}`))]));
    const got: Record<string, number> = Object.fromEntries(pairs);
    if (Object.values(got).reduce((a, b) => a + b, 0) >= n) return got;
  }
  throw new Error(`the shadow did not answer ${n} copies in 10 s`);
}

Traffic('shadow traffic: answers compared, agreement counted, nothing of it reaches the client', async () => {
  // Version 3 adds 3 where 1 adds 1: the top class is the same.
  await call('POST', '/v2/models/m/promote', { version: 1 });
  assert.is((await call('PUT', '/v2/models/m/traffic', { shadow: { version: 3, share: 1 } })).status, 200);
  for (let i = 0; i < 50; i++) assert.is(await answering(), '1');
  assert.equal(await shadowed(3, 50), { agree: 50, disagree: 0, failed: 0, skipped: 0 });
  // Version 4 (1 - x) picks the other class: every copy disagrees.
  assert.is((await call('PUT', '/v2/models/m/traffic', { shadow: { version: 4, share: 1 } })).status, 200);
  for (let i = 0; i < 50; i++) assert.is(await answering(), '1');
  assert.equal(await shadowed(4, 50), { agree: 0, disagree: 50, failed: 0, skipped: 0 });
  assert.match((await server.metrics?.metrics()) ?? '', /onnx_native_shadow_duration_seconds_count\{model="m",version="4"\} 50/);
  // A share of 0.25 over 400 requests: Binomial(400, 0.25), mean 100, standard deviation 8.7.
  assert.is((await call('PUT', '/v2/models/m/traffic', { shadow: { version: 3, share: 0.25 } })).status, 200);
  assert.is(await metric(/^onnx_native_traffic_share\{model="m",version="3",route="shadow"\}/), 0.25);
  for (let i = 0; i < 400; i++) await answering();
  await new Promise((r) => setTimeout(r, 200));
  const copies = (await shadowed(3, 50)).agree - 50;
  assert.ok(copies >= 61 && copies <= 139, `${copies} of 400 copied`);
});

Traffic('bad traffic is refused with what is wrong; the traffic survives a restart', async () => {
  const refused = async (body: unknown, status: number, message: RegExp) => {
    const r = await call('PUT', '/v2/models/m/traffic', body);
    assert.is(r.status, status, JSON.stringify(body));
    assert.match(String(r.body.error), message);
  };
  await refused({ split: [{ version: 1, weight: -1 }] }, 400, /weight must be a number of 0 or more/);
  await refused({ split: [{ version: 1, weight: 0 }] }, 400, /cannot all be 0/);
  await refused({ split: [] }, 400, /at least one version/);
  await refused({ split: [{ version: 9, weight: 1 }] }, 404, /no version 9/);
  await refused({ shadow: { version: 2, share: 2 } }, 400, /share must be from 0 to 1/);
  await refused({ sticky_key: 'not a header' }, 400, /not a routing key/);
  await refused({ weights: [] }, 400, /unknown field "weights"/);
  const traffic = { split: [{ version: 1, weight: 3 }, { version: 2, weight: 1 }], sticky_key: 'x-user-id', shadow: { version: 3, share: 0.5 } };
  assert.is((await call('PUT', '/v2/models/m/traffic', traffic)).status, 200);
  const before = (await call('GET', '/v2/models/m/lifecycle')).body as unknown as LifecycleStatus;
  assert.equal(before.traffic, traffic);
  const user = await answering({ 'x-user-id': 'someone' });
  await server.close();
  await start();
  assert.equal(((await call('GET', '/v2/models/m/lifecycle')).body as unknown as LifecycleStatus).traffic, traffic);
  assert.is(await answering({ 'x-user-id': 'someone' }), user, 'the same user, the same version, after the restart');
});

Traffic('the CLI: rollout traffic sets, shows and clears the split, routes and shadow', async () => {
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), 'rollout', ...args, '--url', http], { cwd: root }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  const set = await cli('traffic', 'm', '--split', '1=3,2=1', '--sticky', 'x-user-id', '--route', 'x-group=beta:3', '--shadow', '4:0.5');
  assert.is(set.code, 0, set.err);
  assert.match(set.out, /traffic: x-group=beta -> 3; split 1: 75\.0%, 2: 25\.0% \(sticky on x-user-id\); shadow 4 \(50\.0% copied\)/);
  assert.equal(((await call('GET', '/v2/models/m/lifecycle')).body as unknown as LifecycleStatus).traffic, {
    split: [{ version: 1, weight: 3 }, { version: 2, weight: 1 }],
    sticky_key: 'x-user-id',
    routes: [{ key: 'x-group', value: 'beta', version: 3 }],
    shadow: { version: 4, share: 0.5 },
  });
  const bad = await cli('traffic', 'm', '--split', '1:90');
  assert.is(bad.code, 1);
  assert.match(bad.err, /--split takes VERSION=WEIGHT/);
  const cleared = await cli('traffic', 'm', '--clear');
  assert.is(cleared.code, 0, cleared.err);
  assert.match(cleared.out, /traffic: all to the default/);
});

Traffic.run();
