/**
 * The lifecycle's version control through its HTTP API and the CLI, on a real listening
 * server: labels, rollback (no reload when the version is still loaded, a load when the
 * policy had dropped it, further back on a second one), promotion and following the
 * latest again, the admin token, the audit log, and the state surviving a restart.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifecycle } from '../../lib/lifecycle/lifecycle-extension';
import type { LifecycleStatus } from '../../lib/lifecycle/version-control';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { root } from '../helpers/common';
import { addConstantModel, addModel, memoryLog, writeRepository } from '../helpers/model-repository';

const Lifecycle = suite('lifecycle: labels, rollback, promotion, state and audit');

let repo: string;
let server: ModelServer;
let http: string;
const { log } = memoryLog();
const ADMIN = 'admin-secret';

async function start(): Promise<void> {
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, modelControl: 'explicit', loadModels: ['*'], adminToken: ADMIN, log, extensions: [lifecycle()] });
  http = (await server.listen()).http;
}

Lifecycle.before.each(async () => {
  // Latest 1: a rollback must load the version it goes back to.
  repo = writeRepository({ m: { versions: { 1: addConstantModel(1) } } });
  await start();
});

Lifecycle.after.each(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, token: string | null = ADMIN): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(http + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token !== null && { authorization: `Bearer ${token}` }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** The version that answers a default request (the constant it adds is the version). */
async function answering(path = '/v2/models/m/infer'): Promise<string> {
  const r = await call('POST', path, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0, 0] }] });
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.is(String((r.body.outputs as { data: number[] }[])[0].data[0]), r.body.model_version, 'the version named computed the answer');
  return r.body.model_version as string;
}

/** Adds version `v` and loads it (what a deploy does). */
async function deploy(v: number): Promise<void> {
  addModel(repo, 'm', { versions: { [v]: addConstantModel(v) } });
  const r = await call('POST', '/v2/repository/models/m/load');
  assert.is(r.status, 200, JSON.stringify(r.body));
}

const status = async () => (await call('GET', '/v2/models/m/lifecycle')).body as unknown as LifecycleStatus;

Lifecycle('rollback goes back along the versions that served, loading one the policy had dropped; promote and follow the latest', async () => {
  await deploy(2);
  await deploy(3);
  assert.is(await answering(), '3');
  assert.equal((await status()).history, [1, 2, 3]);
  assert.equal([...server.core.repository.model('m').versions.keys()], [3], 'latest 1 serves only version 3');

  const back = await call('POST', '/v2/models/m/rollback', {});
  assert.is(back.status, 200, JSON.stringify(back.body));
  assert.equal([back.body.from, back.body.to], [3, 2]);
  assert.is(await answering(), '2');
  const s = await status();
  assert.is(s.pinned_version, 2);
  assert.equal(s.history, [1, 2]);

  // Version 3 is still loaded (it is the policy's): rolling forward to it is no reload.
  const three = server.core.repository.resolve('m', '3');
  assert.is((await call('POST', '/v2/models/m/promote', { version: 3 })).status, 200);
  assert.is(server.core.repository.resolve('m', '3'), three);
  assert.is(await answering(), '3');
  assert.equal([...server.core.repository.model('m').versions.keys()], [3], 'unpinned, version 2 went');
  // Back to 2 (loaded again), then further back to 1, then no further.
  assert.equal((await call('POST', '/v2/models/m/rollback', {})).body.to, 2);
  assert.equal((await call('POST', '/v2/models/m/rollback', {})).body.to, 1);
  assert.is(await answering(), '1');
  assert.equal([...server.core.repository.model('m').versions.keys()], [1, 3]);
  const none = await call('POST', '/v2/models/m/rollback', {});
  assert.is(none.status, 400);
  assert.match(String(none.body.error), /no earlier version to roll back to/);

  // A pinned default holds while versions arrive; promote with no version follows the latest again.
  await deploy(4);
  assert.is(await answering(), '1');
  assert.is((await call('POST', '/v2/models/m/promote', {})).status, 200);
  assert.is(await answering(), '4');
  assert.is((await status()).pinned_version, undefined);
});

Lifecycle('a rollback to a version still loaded does not load it again', async () => {
  writeFileSync(join(repo, 'm', 'config.pbtxt'), 'version_policy: { latest: { num_versions: 2 } }\n');
  assert.is((await call('POST', '/v2/repository/models/m/load')).status, 200);
  await deploy(2);
  const one = server.core.repository.resolve('m', '1');
  assert.equal((await call('POST', '/v2/models/m/rollback', {})).body.to, 1);
  assert.is(server.core.repository.resolve('m', '1'), one);
  assert.is(await answering(), '1');
});

Lifecycle('labels: set, served, refused for a version not ready, removed; changes need the admin token', async () => {
  await deploy(2);
  assert.is((await call('PUT', '/v2/models/m/labels/stable', { version: 2 })).status, 200);
  assert.is(await answering('/v2/models/m/labels/stable/infer'), '2');
  const notReady = await call('PUT', '/v2/models/m/labels/canary', { version: 9 });
  assert.is(notReady.status, 404);
  assert.match(String(notReady.body.error), /no version 9/);
  assert.is((await call('PUT', '/v2/models/m/labels/canary', { version: 'two' })).status, 400);
  assert.is((await call('PUT', '/v2/models/m/labels/canary', { version: 2 }, null)).status, 401, 'no token');
  assert.is((await call('PUT', '/v2/models/m/labels/canary', { version: 2 }, 'wrong')).status, 401, 'a wrong token');
  assert.is((await call('GET', '/v2/models/m/lifecycle', undefined, null)).status, 200, 'reading needs no admin token');
  assert.is((await call('DELETE', '/v2/models/m/labels/stable')).status, 200);
  assert.is((await call('POST', '/v2/models/m/labels/stable/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0, 0] }] })).status, 404);
  assert.is((await call('DELETE', '/v2/models/m/labels/stable')).status, 404);
  const audit = (await call('GET', '/v2/lifecycle/audit?model=m')).body.entries as { action: string; actor: string; label?: string; version?: number }[];
  assert.equal(
    audit.map((e) => [e.action, e.label, e.version]),
    [
      ['label', 'stable', 2],
      ['unlabel', 'stable', undefined],
    ],
  );
  assert.match(audit[0].actor, /^admin-token@127\.0\.0\.1$/);
});

Lifecycle('the state survives a restart: the pinned default, labels and history come back', async () => {
  await deploy(2);
  await deploy(3);
  assert.is((await call('PUT', '/v2/models/m/labels/canary', { version: 3 })).status, 200);
  assert.is((await call('POST', '/v2/models/m/rollback', {})).status, 200);
  const before = await status();
  const stateFile = join(repo, '.onnx-native', 'lifecycle.json');
  assert.ok(existsSync(stateFile));
  assert.equal(JSON.parse(readFileSync(stateFile, 'utf8')).models.m, { labels: { canary: 3 }, history: [1, 2], pinned: 2 });

  await server.close();
  await start();
  const after = await status();
  assert.equal(after, before);
  assert.is(await answering(), '2');
  assert.is(await answering('/v2/models/m/labels/canary/infer'), '3');
  // A saved label whose version folder is gone is dropped at start, and the audit log says so.
  await server.close();
  rmSync(join(repo, 'm', '3'), { recursive: true });
  await start();
  assert.equal((await status()).labels, {});
  assert.is(await answering(), '2');
  const audit = (await call('GET', '/v2/lifecycle/audit')).body.entries as { action: string; error?: string }[];
  assert.ok(audit.some((e) => e.action === 'restore' && /version 3/.test(e.error ?? '')), JSON.stringify(audit));
});

Lifecycle('the CLI: rollout status, label, rollback and promote against the running server', async () => {
  await deploy(2);
  writeFileSync(join(repo, 'm', '2', 'model-card.json'), JSON.stringify({ owner: 'the tests', metrics: { accuracy: 0.5 } }));
  assert.is((await call('POST', '/v2/repository/models/m/load')).status, 200);
  const tokenFile = join(repo, 'admin-token');
  writeFileSync(tokenFile, ADMIN);
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), 'rollout', ...args, '--url', http, '--token-file', tokenFile], { cwd: root }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  const shown = await cli('status', 'm');
  assert.is(shown.code, 0, shown.err);
  assert.match(shown.out, /model m: default version 2 \(the latest ready\)/);
  assert.match(shown.out, /version 2: READY/);
  assert.match(shown.out, /owner: the tests/);
  assert.match(shown.out, /metrics: \{"accuracy":0\.5\}/);
  assert.is((await cli('label', 'm', 'stable', '2')).code, 0);
  assert.is(await answering('/v2/models/m/labels/stable/infer'), '2');
  const back = await cli('rollback', 'm');
  assert.is(back.code, 0, back.err);
  assert.match(back.out, /rolled back from version 2 to 1/);
  assert.is(await answering(), '1');
  const refused = await cli('rollback', 'm');
  assert.is(refused.code, 1);
  assert.match(refused.err, /refused \(400\): .*no earlier version/);
  assert.is((await cli('promote', 'm')).code, 0);
  assert.is(await answering(), '2');
});

Lifecycle.run();
