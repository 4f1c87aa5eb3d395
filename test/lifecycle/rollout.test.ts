/**
 * Progressive rollouts on a real listening server under a real load of HTTP requests: a
 * good candidate promoted step by step, one that fails its requests and one that is slow
 * rolled back, an idle window that pauses the rollout and never fails it, shadow
 * agreement gating a candidate that gets no live traffic, a restart mid-rollout that picks
 * it up at the same step, and the API's refusals. Windows are short (0.3 s) so that each
 * rollout ends in seconds; every wait is bounded.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lifecycle } from '../../lib/lifecycle/lifecycle-extension';
import type { RolloutStatus } from '../../lib/lifecycle/progressive-rollout';
import type { AuditEntry } from '../../lib/lifecycle/audit-log';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { root } from '../helpers/common';
import { addConstantModel, flipModel, memoryLog, writeRepository } from '../helpers/model-repository';
import { failsOnRequests, slowModel } from './rollout-models';

const Rollout = suite('progressive rollouts');

let repo: string;
let server: ModelServer;
let http: string;

async function start(): Promise<void> {
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, log: memoryLog().log, extensions: [lifecycle()] });
  http = (await server.listen()).http;
}

Rollout.before.each(async () => {
  repo = writeRepository({
    m: {
      config: 'version_policy: { specific: { versions: [1, 2, 3, 4, 5] } }',
      versions: { 1: addConstantModel(1), 2: addConstantModel(2), 3: failsOnRequests(), 4: slowModel(16), 5: flipModel() },
    },
  });
  await start();
  // Version 1 serves by default before each rollout (the highest, 5, would otherwise).
  assert.is((await call('POST', '/v2/models/m/promote', { version: 1 })).status, 200);
});

Rollout.after.each(async () => {
  // A test that failed midway leaves its load running: stopped before the server closes.
  await Promise.all([...running].map((stop) => stop()));
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(http + path, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/**
 * Requests with 4 in flight until stopped: the answers counted by version, and the
 * failures by their error (an error names no version; only candidate 3 has a Gather).
 */
const running = new Set<() => Promise<unknown>>();

function load(): { stop: () => Promise<{ answers: Map<string, number>; failed: Map<string, number> }> } {
  const answers = new Map<string, number>();
  const failed = new Map<string, number>();
  let going = true;
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.5] }] });
  const loops = Array.from({ length: 4 }, async () => {
    while (going) {
      const r = await fetch(`${http}/v2/models/m/infer`, { method: 'POST', body });
      const answer = (await r.json()) as { model_version?: string; error?: string };
      const [count, key] = r.status === 200 ? [answers, answer.model_version as string] : [failed, /Gather/.test(answer.error ?? '') ? 'the Gather of version 3' : String(answer.error)];
      count.set(key, (count.get(key) ?? 0) + 1);
    }
  });
  const stop = async () => {
    going = false;
    running.delete(stop);
    await Promise.all(loops);
    return { answers, failed };
  };
  running.add(stop);
  return { stop };
}

/** The rollout's status once `done` holds (polled every 50 ms, for at most `ms`). */
async function until(done: (s: RolloutStatus) => boolean, ms = 30_000): Promise<RolloutStatus> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = (await call('GET', '/v2/models/m/rollout')).body as unknown as RolloutStatus;
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`the rollout did not get there in ${ms} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ended = (s: RolloutStatus) => ['promoted', 'rolled_back', 'aborted'].includes(s.phase);

async function lifecycleOf(): Promise<Record<string, unknown>> {
  return (await call('GET', '/v2/models/m/lifecycle')).body;
}

/** The rollout's changes in the audit log; `waits` false leaves out the waits (a busy machine can leave any window short). */
async function audit(waits = false): Promise<string[]> {
  const entries = (await call('GET', '/v2/lifecycle/audit?model=m')).body.entries as AuditEntry[];
  return entries.map((e) => e.action).filter((a) => a.startsWith('rollout-') && (waits || a !== 'rollout-waiting'));
}

const WINDOW = { interval_s: 0.3, min_requests: 10 };

Rollout('a good candidate goes through every step and is promoted; no request fails on the way', async () => {
  const traffic = load();
  const started = await call('POST', '/v2/models/m/rollout', { candidate: 2, steps: [20, 50, 100], ...WINDOW });
  assert.is(started.status, 200, JSON.stringify(started.body));
  assert.is(started.body.phase, 'progressing');
  assert.equal((await lifecycleOf()).traffic, { split: [{ version: 2, weight: 20 }, { version: 1, weight: 80 }] });
  const done = await until(ended);
  const { answers, failed } = await traffic.stop();
  assert.is(done.phase, 'promoted', done.reason);
  assert.is(done.windows_passed, 3);
  assert.is(done.windows_failed, 0);
  assert.is(failed.size, 0, JSON.stringify([...failed]));
  assert.ok((answers.get('1') ?? 0) > 0 && (answers.get('2') ?? 0) > 0, JSON.stringify([...answers]));
  const status = await lifecycleOf();
  assert.is(status.default_version, 2);
  assert.is(status.pinned_version, 2);
  assert.is(status.traffic, undefined);
  assert.equal(await audit(), ['rollout-start', 'rollout-step', 'rollout-step', 'rollout-promoted']);
});

Rollout('a candidate that fails its requests is rolled back at its first step, and the baseline takes all the traffic again', async () => {
  const traffic = load();
  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 3, steps: [20, 100], ...WINDOW })).status, 200);
  const done = await until(ended);
  assert.is(done.phase, 'rolled_back');
  assert.is(done.step, 0, 'it never left its first step');
  assert.match(done.reason as string, /success rate 0 \(at least 0\.99\)/);
  const status = await lifecycleOf();
  assert.is(status.default_version, 1);
  assert.is(status.traffic, undefined);
  // Only the candidate failed; after the rollback, version 1 answers everything.
  assert.equal([...(await traffic.stop()).failed.keys()], ['the Gather of version 3']);
  const after = load();
  await new Promise((r) => setTimeout(r, 300));
  const { answers, failed } = await after.stop();
  assert.is(failed.size, 0);
  assert.equal([...answers.keys()], ['1']);
  assert.equal(await audit(), ['rollout-start', 'rollout-rolled-back']);
});

Rollout('a slow candidate is rolled back on its p99; with rollback_after 2, only at its second failed window', async () => {
  const traffic = load();
  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 4, steps: [50, 100], max_p99_ms: 40, rollback_after: 2, ...WINDOW, min_requests: 5 })).status, 200);
  const done = await until(ended);
  await traffic.stop();
  assert.is(done.phase, 'rolled_back', done.reason);
  assert.is(done.windows_failed, 2);
  assert.match(done.reason as string, /p99 [0-9.]+ ms \(at most 40\)/);
  assert.ok((done.last_window?.candidate.p99Ms as number) > 40);
  assert.is((await lifecycleOf()).default_version, 1);
  assert.equal(await audit(), ['rollout-start', 'rollout-window-failed', 'rollout-rolled-back']);
});

Rollout('an idle window is inconclusive: the rollout waits at its step, fails nothing, and goes on once traffic comes', async () => {
  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 2, steps: [20, 100], ...WINDOW })).status, 200);
  // Four windows' time with no request at all.
  await new Promise((r) => setTimeout(r, 1300));
  const waiting = (await call('GET', '/v2/models/m/rollout')).body as unknown as RolloutStatus;
  assert.is(waiting.phase, 'waiting');
  assert.is(waiting.step, 0);
  assert.is(waiting.windows_failed, 0);
  assert.is(waiting.windows_passed, 0);
  assert.match(waiting.reason as string, /not enough data: 0 requests \(at least 10\)/);
  assert.is((await lifecycleOf()).default_version, 1);
  const traffic = load();
  const done = await until(ended);
  await traffic.stop();
  assert.is(done.phase, 'promoted', done.reason);
  // Logged once as waiting, however many empty windows passed.
  assert.equal((await audit(true)).slice(0, 3), ['rollout-start', 'rollout-waiting', 'rollout-step']);
  assert.equal(await audit(), ['rollout-start', 'rollout-step', 'rollout-promoted']);
});

Rollout('shadow agreement gates a candidate that gets no live request at its 0% step', async () => {
  const traffic = load();
  const body = { candidate: 5, steps: [0, 50], shadow_share: 1, min_shadow_agreement: 0.9, ...WINDOW };
  assert.is((await call('POST', '/v2/models/m/rollout', body)).status, 200);
  assert.equal((await lifecycleOf()).traffic, { split: [{ version: 5, weight: 0 }, { version: 1, weight: 100 }], shadow: { version: 5, share: 1 } });
  const done = await until(ended);
  const { answers } = await traffic.stop();
  assert.is(done.phase, 'rolled_back');
  assert.match(done.reason as string, /shadow agreement 0 \(at least 0\.9\)/);
  assert.ok((done.last_window?.candidate.shadowCompared as number) >= 10);
  assert.equal([...answers.keys()], ['1'], 'no live request went to the candidate');
});

Rollout('a restart mid-rollout picks it up at the same step and finishes it', async () => {
  let traffic = load();
  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 2, steps: [10, 40, 70, 100], ...WINDOW, interval_s: 0.5 })).status, 200);
  const moved = await until((s) => s.step >= 1 || ended(s));
  await traffic.stop();
  assert.ok(!ended(moved), `it ended before the restart: ${moved.phase}`);
  await server.close();
  await start();
  const resumed = (await call('GET', '/v2/models/m/rollout')).body as unknown as RolloutStatus;
  assert.ok(['progressing', 'waiting'].includes(resumed.phase), resumed.phase);
  assert.ok(resumed.step >= moved.step, `step ${resumed.step} after ${moved.step}`);
  const split = (await lifecycleOf()).traffic as { split: { version: number; weight: number }[] };
  assert.equal(split.split, [
    { version: 2, weight: resumed.weight },
    { version: 1, weight: 100 - resumed.weight },
  ]);
  traffic = load();
  const done = await until(ended);
  const { failed } = await traffic.stop();
  assert.is(done.phase, 'promoted', done.reason);
  assert.is(failed.size, 0);
  assert.is((await lifecycleOf()).default_version, 2);
});

Rollout('abort, promote now, and what the API refuses', async () => {
  const refused: [unknown, number, RegExp][] = [
    [{}, 400, /needs a "candidate"/],
    [{ candidate: 1 }, 400, /is the baseline already/],
    [{ candidate: 'two' }, 400, /"candidate" must be a version number/],
    [{ candidate: 2, steps: [50, 20] }, 400, /must increase/],
    [{ candidate: 2, speed: 1 }, 400, /unknown field "speed"/],
    [{ candidate: 9 }, 404, /version 9/],
  ];
  for (const [body, status, message] of refused) {
    const r = await call('POST', '/v2/models/m/rollout', body);
    assert.is(r.status, status, JSON.stringify(body));
    assert.match(String(r.body.error), message);
  }
  assert.is((await call('DELETE', '/v2/models/m/rollout')).status, 404);
  assert.is((await call('GET', '/v2/models/nope/rollout')).status, 404);
  // Two at once: one starts, the other is refused.
  const both = await Promise.all([2, 5].map((candidate) => call('POST', '/v2/models/m/rollout', { candidate, ...WINDOW })));
  assert.equal(both.map((r) => r.status).sort(), [200, 400]);
  assert.is((await call('DELETE', '/v2/models/m/rollout')).status, 200);

  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 2, ...WINDOW })).status, 200);
  const again = await call('POST', '/v2/models/m/rollout', { candidate: 3 });
  assert.is(again.status, 400);
  assert.match(String(again.body.error), /rollout of version 2 in progress/);
  assert.is((await call('PUT', '/v2/models/m/traffic', { split: [{ version: 1, weight: 1 }] })).status, 400);
  assert.is((await call('POST', '/v2/models/m/promote', { version: 3 })).status, 400);
  const aborted = await call('DELETE', '/v2/models/m/rollout');
  assert.is(aborted.status, 200);
  assert.is(aborted.body.phase, 'aborted');
  assert.is((await lifecycleOf()).default_version, 1);
  assert.is((await lifecycleOf()).traffic, undefined);

  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 2, ...WINDOW })).status, 200);
  const promoted = await call('POST', '/v2/models/m/promote', {});
  assert.is(promoted.status, 200);
  assert.is((promoted.body.rollout as RolloutStatus).phase, 'promoted');
  assert.is(promoted.body.default_version, 2);

  // A rollback during a rollout aborts it, back to its baseline.
  assert.is((await call('POST', '/v2/models/m/rollout', { candidate: 1, ...WINDOW })).status, 200);
  const back = await call('POST', '/v2/models/m/rollback');
  assert.is(back.status, 200);
  assert.equal([back.body.from, back.body.to], [1, 2]);
  assert.is((await lifecycleOf()).default_version, 2);
});

Rollout('the CLI: rollout start with every flag, status, abort; bad flags refused before the server is asked', async () => {
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), 'rollout', ...args, '--url', http], { cwd: root }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  const flags = ['--steps', '5,25%,100', '--interval', '30', '--min-requests', '50', '--success-rate', '0.995', '--p99-ms', '250', '--p99-ratio', '1.5'];
  const started = await cli('start', 'm', '2', ...flags, '--shadow-share', '0.2', '--shadow-agreement', '0.97', '--rollback-after', '3', '--sticky', 'X-User-Id');
  assert.is(started.code, 0, started.err);
  assert.match(started.out, /rollout of version 2 from 1: progressing/);
  assert.match(started.out, /step 1 of 3 \(5%, 25%, 100%\): 5% of the traffic/);
  const spec = ((await call('GET', '/v2/models/m/rollout')).body as unknown as RolloutStatus).spec;
  assert.equal(spec, {
    candidate: 2,
    baseline: 1,
    steps: [5, 25, 100],
    interval_s: 30,
    min_requests: 50,
    min_success_rate: 0.995,
    max_p99_ms: 250,
    max_p99_ratio: 1.5,
    shadow_share: 0.2,
    min_shadow_agreement: 0.97,
    rollback_after: 3,
    sticky_key: 'x-user-id',
  });
  const status = await cli('status', 'm');
  assert.match(status.out, /traffic: split 2: 5\.0%, 1: 95\.0% \(sticky on x-user-id\); shadow 2 \(20\.0% copied\)/);
  assert.match(status.out, /this window so far: 0 requests/);
  const refused = await cli('start', 'm', '3');
  assert.is(refused.code, 1);
  assert.match(refused.err, /refused \(400\): .*rollout of version 2 in progress/);
  const aborted = await cli('abort', 'm');
  assert.is(aborted.code, 0, aborted.err);
  assert.match(aborted.out, /aborted \(aborted by no-auth@127\.0\.0\.1\)/);
  const bad = await cli('start', 'm', '2', '--interval', 'soon');
  assert.is(bad.code, 1);
  assert.match(bad.err, /--interval takes a number/);
});

Rollout('a rollout.json in the model folder holds the default and rolls each new version out; one rolled back is not tried again', async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
  repo = writeRepository({ m: { versions: { 1: addConstantModel(1) } } });
  writeFileSync(join(repo, 'm', 'rollout.json'), JSON.stringify({ steps: [50, 100], ...WINDOW }));
  const { log, lines } = memoryLog();
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, modelControl: 'explicit', loadModels: ['*'], log, extensions: [lifecycle()] });
  http = (await server.listen()).http;
  assert.is((await lifecycleOf()).pinned_version, 1, 'held at the version serving');

  const traffic = load();
  const publish = async (version: number, model: Uint8Array) => {
    mkdirSync(join(repo, 'm', String(version)));
    writeFileSync(join(repo, 'm', String(version), 'model.onnx'), model);
    assert.is((await call('POST', '/v2/repository/models/m/load')).status, 200);
  };
  await publish(2, addConstantModel(2));
  const first = await until((s) => s.spec?.candidate === 2 && ended(s));
  assert.is(first.phase, 'promoted', first.reason);
  assert.is(first.actor, 'repository');
  assert.is((await lifecycleOf()).default_version, 2);

  await publish(3, failsOnRequests());
  const second = await until((s) => s.spec?.candidate === 3 && ended(s));
  assert.is(second.phase, 'rolled_back');
  // A reload (the same files) starts nothing: version 3 stays loaded, out of the traffic.
  assert.is((await call('POST', '/v2/repository/models/m/load')).status, 200);
  await new Promise((r) => setTimeout(r, 400));
  const { failed } = await traffic.stop();
  assert.is(((await call('GET', '/v2/models/m/rollout')).body as unknown as RolloutStatus).phase, 'rolled_back');
  assert.is((await lifecycleOf()).default_version, 2);
  assert.equal([...failed.keys()], ['the Gather of version 3'], 'only the candidate failed requests');

  // A bad file is reported, and leaves the model as it is.
  writeFileSync(join(repo, 'm', 'rollout.json'), JSON.stringify({ steps: [50, 10] }));
  await publish(4, addConstantModel(4));
  for (let i = 0; i < 100 && !lines.some((l) => l.msg === 'rollout.json cannot be applied'); i++) await new Promise((r) => setTimeout(r, 20));
  const logged = lines.find((l) => l.msg === 'rollout.json cannot be applied');
  assert.match(String(logged?.err), /m\/rollout\.json: the rollout's steps must increase: 50 then 10/);
  assert.is(((await call('GET', '/v2/models/m/rollout')).body as unknown as RolloutStatus).spec.candidate, 3);
  assert.is((await lifecycleOf()).default_version, 2);
});

Rollout.run();
