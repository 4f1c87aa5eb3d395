/**
 * Drift monitoring in the model server, on the real PP-OCR classifier: a version with a
 * reference profile in its folder is monitored from the tensors of the requests it
 * answers (binary requests of 10 images over HTTP); same-distribution traffic stays ok,
 * brighter images drift, seen on /metrics, on the monitoring route and in the log; a
 * version with no profile serves unmonitored, one with a broken profile serves too and
 * says why; the rate bound and the bound on tensors waiting hold.
 *
 * Windows of 300 images against a profile of 600: a fair window's PSI averages
 * (bins - 1)(1/n + 1/N) = 0.055 with a standard deviation of 0.025 (model-monitor.test.ts
 * has the arithmetic): the 0.1 warning is 1.8 deviations away for one feature, so the
 * fair phase asserts its largest PSI under the 0.25 drift bound and its state not drift.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../lib/index';
import type { PlainTensor } from '../../lib/core/tensor';
import { type ModelServer, createServer } from '../../lib/server/create-server';
import { ModelProfileBuilder, PROFILE_FILE, type ModelProfile, readModelProfile } from '../../lib/monitor/model-profile';
import { T } from '../helpers/onnx-model';
import { monitoring } from '../../lib/monitor/monitoring-extension';
import { DriftMonitoring } from '../../lib/monitor/drift-monitoring';
import type { ModelMonitoringReport } from '../../lib/monitor/monitoring-routes';
import type { ServingVersion } from '../../lib/server/model/serving-observer';
import type { InferRequest, InferResponse } from '../../lib/server/protocol/types';
import { CLS_MODEL, clsImage, seededUniform } from '../helpers/common';
import { TEXT_DIRECTION, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const Monitoring = suite('drift monitoring in the model server (PP-OCR classifier)');

const OUTPUT = 'softmax_0.tmp_0';
const u = seededUniform(7);
let profile: ModelProfile;
let repo = '';
let server: ModelServer;
let http = '';
let metricsUrl = '';
const { log, lines } = memoryLog();
const extension = monitoring({ window: { size: 300, minCount: 200 }, checkEveryMs: 0 });

Monitoring.before(async () => {
  const session = await createSession(CLS_MODEL);
  const builder = new ModelProfileBuilder([
    { name: 'x', row: [3, 48, 192], output: false },
    { name: OUTPUT, row: [2], output: true },
  ]);
  for (let i = 0; i < 600; i++) {
    const x = clsImage(u, 0);
    const out = (await session.run({ x })) as unknown as Record<string, PlainTensor>;
    builder.add({ x, [OUTPUT]: out[OUTPUT] }, true);
  }
  session.release();
  profile = builder.build();
  repo = writeRepository({ text_direction: TEXT_DIRECTION, unprofiled: TEXT_DIRECTION, broken: TEXT_DIRECTION, mismatched: TEXT_DIRECTION });
  for (const m of ['text_direction', 'unprofiled', 'broken', 'mismatched']) writeFileSync(join(repo, m, 'config.pbtxt'), `name: "${m}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 64\n`);
  writeFileSync(join(repo, 'text_direction', '1', PROFILE_FILE), JSON.stringify(profile));
  writeFileSync(join(repo, 'broken', '1', PROFILE_FILE), '{"format": 1, "rows": 3, "inputs": ');
  writeFileSync(join(repo, 'mismatched', '1', PROFILE_FILE), JSON.stringify({ ...profile, inputs: { image: profile.inputs.x } }));
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: 0, log, extensions: [extension] });
  ({ http, metrics: metricsUrl = '' } = await server.listen());
});

Monitoring.after(async () => {
  await server?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

/** Sends `batches` requests of 10 images (brightness `shift`) to `model`, binary; returns how many answered 200. */
async function send(model: string, batches: number, shift: number): Promise<number> {
  let ok = 0;
  for (let b = 0; b < batches; b++) {
    const data = new Float32Array(10 * 3 * 48 * 192);
    for (let i = 0; i < 10; i++) data.set(clsImage(u, shift).data, i * 3 * 48 * 192);
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [10, 3, 48, 192], parameters: { binary_data_size: data.byteLength } }] }));
    const body = Buffer.concat([head, Buffer.from(data.buffer)]);
    const res = await fetch(`${http}/v2/models/${model}/infer`, { method: 'POST', headers: { 'Inference-Header-Content-Length': String(head.length) }, body: body as unknown as BodyInit });
    await res.arrayBuffer();
    if (res.status === 200) ok++;
  }
  return ok;
}

async function report(model: string, query = ''): Promise<ModelMonitoringReport> {
  const res = await fetch(`${http}/v2/models/${model}/monitoring${query}`);
  assert.is(res.status, 200, `monitoring of ${model}: ${res.status}`);
  return (await res.json()) as ModelMonitoringReport;
}

/** The value of a series on /metrics (its labels written as the exposition writes them), or undefined. */
async function series(name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

Monitoring('same-distribution traffic stays ok, brighter images drift: on /metrics, the monitoring route and the log', async () => {
  // The server started once the profiles of the versions serving were read.
  let r = await report('text_direction');
  assert.is(r.versions[0].status, 'monitoring');
  assert.is(r.versions[0].state, 'not_enough_data');
  assert.is(r.versions[0].profile_rows, 600);
  assert.is(await series('onnx_native_drift_state', 'model="text_direction",version="1",tensor="x",state="not_enough_data"'), 1);

  assert.is(await send('text_direction', 30, 0), 30);
  extension.drift?.checkStates();
  r = await report('text_direction');
  const v = r.versions[0];
  assert.is(v.observed, 30);
  assert.is(v.skipped, 0);
  assert.is(v.tensors.x.side, 'input');
  assert.is(v.tensors[OUTPUT].side, 'output');
  for (const c of [0, 1, 2]) {
    const f = v.tensors.x.features[`x.channel[${c}]`];
    assert.is(f.count, 300);
    assert.ok((f.psi as number) < 0.25 && f.state !== 'drift', `fair channel ${c}: ${JSON.stringify(f)}`);
  }
  assert.ok(v.state !== 'drift', `fair traffic: ${v.state}`);
  const fairPsi = (await series('onnx_native_drift_score', 'model="text_direction",version="1",tensor="x",statistic="psi"')) as number;
  assert.ok(fairPsi >= 0 && fairPsi < 0.25, `fair PSI on /metrics ${fairPsi}`);
  assert.is(await series('onnx_native_drift_state', 'model="text_direction",version="1",tensor="x",state="drift"'), 0);
  assert.is(await series('onnx_native_monitored_requests_total', 'model="text_direction",version="1",outcome="observed"'), 30);

  // Brighter by 0.4 (images spread by 0.4 / sqrt(12) = 0.115 around their brightness).
  assert.is(await send('text_direction', 30, 0.4), 30);
  extension.drift?.checkStates();
  r = await report('text_direction', '?histograms=1');
  const shifted = r.versions[0];
  assert.is(shifted.state, 'drift');
  assert.is(shifted.tensors.x.state, 'drift');
  for (const c of [0, 1, 2]) {
    const f = shifted.tensors.x.features[`x.channel[${c}]`];
    assert.is(f.state, 'drift');
    assert.ok((f.wasserstein as number) > 2, `channel ${c}: Wasserstein ${f.wasserstein}`);
    // The charts' data: the reference's bins and the window's counts over them.
    assert.is(f.live?.length, f.reference?.counts.length);
    assert.is(f.live?.reduce((a, b) => a + b, 0), 300);
  }
  assert.is(await series('onnx_native_drift_state', 'model="text_direction",version="1",tensor="x",state="drift"'), 1);
  const psi = (await series('onnx_native_drift_score', 'model="text_direction",version="1",tensor="x",statistic="psi"')) as number;
  assert.ok(psi > 0.25, `drifted PSI on /metrics ${psi}`);
  const changed = lines.filter((l) => l.msg === 'drift state changed' && l.model === 'text_direction' && l.tensor === 'x');
  assert.is(changed[changed.length - 1]?.to, 'drift', JSON.stringify(changed));
  assert.is(changed[changed.length - 1]?.level, 40);
});

Monitoring('a version without a profile serves unmonitored; broken and mismatched profiles say why and the version still serves', async () => {
  assert.is((await report('unprofiled')).versions[0].status, 'no_profile');
  const broken = (await report('broken')).versions[0];
  assert.is(broken.status, 'invalid_profile');
  assert.match(broken.reason as string, /reference-profile\.json: /);
  const mismatched = (await report('mismatched')).versions[0];
  assert.is(mismatched.status, 'invalid_profile');
  assert.match(mismatched.reason as string, /the profile has input "image", which the version has not; its inputs are "x"/);
  assert.ok(lines.some((l) => l.model === 'broken' && l.level === 50 && /reference profile cannot be used/.test(String(l.msg))));
  for (const m of ['unprofiled', 'broken', 'mismatched']) assert.is(await send(m, 1, 0), 1, m);
  assert.is((await report('broken')).versions[0].observed, 0);
  const missing = await fetch(`${http}/v2/models/nothing/monitoring`);
  assert.is(missing.status, 404);
  assert.match(((await missing.json()) as { error: string }).error, /model "nothing" is not serving/);
  assert.is((await fetch(`${http}/v2/models/text_direction/versions/9/monitoring`)).status, 404);
});

Monitoring('the rate bound and the bound on tensors waiting: what is over them is skipped and counted', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'monitoring-'));
  try {
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, PROFILE_FILE), JSON.stringify(profile));
    const drift = new DriftMonitoring({ maxPerSecond: 20, maxPending: 8, window: { size: 300, minCount: 200 }, checkEveryMs: 0 });
    const served: ServingVersion = {
      folder,
      plan: { maxBatchSize: 64, inputs: [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }], outputs: [{ name: OUTPUT, datatype: 'FP32', dims: [2] }] } as unknown as ServingVersion['plan'],
      parameters: {},
    };
    const observer = drift.versionServing('m', 1, 0, served);
    assert.is(drift.versions()[0].status, 'loading');
    await drift.settled();
    assert.is(drift.versions()[0].status, 'monitoring');
    const x = clsImage(u, 0);
    const request = { model: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: x.dims, tensor: x }] } as unknown as InferRequest;
    const response = { model_name: 'm', model_version: '1', outputs: [{ name: OUTPUT, datatype: 'FP32', shape: [1, 2], tensor: { type: 'float32', dims: [1, 2], data: new Float32Array([0.9, 0.1]) } }] } as unknown as InferResponse;
    // In one turn: 8 wait at most (of the 20 the rate allows at once); the others are skipped without using the rate.
    for (let i = 0; i < 100; i++) observer.onInference?.(request, response, undefined);
    assert.is(drift.pending, 8);
    await new Promise((resolve) => setImmediate(resolve));
    let v = drift.versions()[0];
    assert.is(v.observed, 8);
    assert.is(v.skipped, 92);
    // Over 600 ms, one a turn: the 12 tokens left, then about 20 a second.
    const start = performance.now();
    while (performance.now() - start < 600) {
      observer.onInference?.(request, response, undefined);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const seconds = (performance.now() - start) / 1000;
    v = drift.versions()[0];
    const allowed = 12 + 20 * seconds;
    assert.ok(v.observed - 8 <= allowed + 1 && v.observed - 8 >= allowed - 4, `observed ${v.observed - 8} over ${seconds.toFixed(2)} s, the bound allows ${allowed.toFixed(1)}`);
    // Rows that do not fit the profile (4 channels where it has 3) are left out, counted.
    const wide = { type: 'float32', dims: [1, 4, 48, 192], data: new Float32Array(4 * 48 * 192) };
    const before = v.observed;
    await new Promise((resolve) => setTimeout(resolve, 100));
    observer.onInference?.({ ...request, inputs: [{ name: "x", datatype: "FP32", shape: wide.dims, tensor: wide }] } as unknown as InferRequest, response, undefined);
    await new Promise((resolve) => setImmediate(resolve));
    v = drift.versions()[0];
    assert.is(v.observed, before + 1);
    assert.is(v.monitor?.misfits, 1);
    assert.is(v.monitor?.drift().features['x.channel[0]'].count, before);
    drift.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

Monitoring('a version without a profile captures one from its first requests (--profile-from-traffic), writes it, and is monitored against it', async () => {
  const dir = writeRepository({ tab: { versions: { 1: identity2Model(T.FLOAT) }, config: 'name: "tab"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 16\n' } });
  const captured = monitoring({ captureRows: 400, window: { size: 300, minCount: 300 }, checkEveryMs: 0 });
  const { log: quiet, lines: logged } = memoryLog();
  const tab = await createServer({ repository: dir, httpPort: 0, grpcPort: false, metricsPort: false, log: quiet, extensions: [captured] });
  const { http: url } = await tab.listen();
  const rows = async (n: number, shift: number) => {
    for (let r = 0; r < n / 10; r++) {
      const data = Array.from({ length: 20 }, () => u() + shift);
      const res = await fetch(`${url}/v2/models/tab/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [10, 2], data }] }) });
      assert.is(res.status, 200);
    }
  };
  const status = async () => ((await (await fetch(`${url}/v2/models/tab/monitoring`)).json()) as ModelMonitoringReport).versions[0];
  try {
    assert.is((await status()).status, 'capturing');
    await rows(200, 0);
    assert.equal((await status()).captured, { rows: 200, of: 400 });
    await rows(200, 0);
    const path = join(dir, 'tab', '1', PROFILE_FILE);
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.is((await readModelProfile(path)).rows, 400);
    assert.is((await status()).status, 'monitoring');
    assert.ok(logged.some((l) => l.msg === 'reference profile captured from traffic; drift monitoring started'));
    await rows(300, 0);
    assert.ok((await status()).state !== 'drift', JSON.stringify((await status()).tensors.x));
    await rows(300, 0.5);
    assert.is((await status()).tensors.x.state, 'drift');
  } finally {
    await tab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

Monitoring.run();
