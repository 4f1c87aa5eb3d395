/**
 * Ground truth: the bounded store of predictions by id (a flood of ids keeps its bounds),
 * the feedback window's figures against hand-computed ones, and feedback in the model
 * server: predictions matched by id, accuracy per version (an identity classifier
 * against one that flips its columns), a batch, a regression and a reward, the metrics,
 * and every bad feedback answered with its reason.
 */
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ModelServer, createServer } from '../../lib/server/create-server';
import { monitoring } from '../../lib/monitor/monitoring-extension';
import { monitoringProtocol } from '../../lib/monitor/feedback-grpc';
import { PredictionStore } from '../../lib/monitor/prediction-store';
import { FeedbackWindow } from '../../lib/monitor/feedback-window';
import { GroundTruth } from '../../lib/monitor/ground-truth';
import type { InferRequest, InferResponse } from '../../lib/server/protocol/types';
import { T } from '../helpers/onnx-model';
import { flipModel, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const Feedback = suite('ground truth and accuracy');

Feedback('the store keeps its bounds under a flood of ids: the newest by count, none too old, each taken once', () => {
  let now = 0;
  const store = new PredictionStore<number>({ maxEntries: 1000, maxAgeMs: 60_000, now: () => now });
  for (let i = 0; i < 100_000; i++) store.put(`id-${i}`, i);
  assert.is(store.size, 1000);
  assert.equal(store.take('id-98999'), { found: false, reason: 'unknown' });
  assert.equal(store.take('id-99000'), { found: true, value: 99000 });
  assert.equal(store.take('id-99000'), { found: false, reason: 'taken' });
  now = 30_000;
  // A prediction kept again under its id is the newest.
  store.put('id-99001', -1);
  store.put('late', 7);
  now = 60_001;
  // 60 s after the flood: all of it is too old; the two kept at 30 s are not.
  assert.is(store.size, 2);
  assert.equal(store.take('id-99002'), { found: false, reason: 'unknown' });
  assert.equal(store.take('id-99001'), { found: true, value: -1 });
  assert.equal(store.take('late'), { found: true, value: 7 });
  assert.throws(() => new PredictionStore({ maxEntries: 0 }), /maxEntries must be a whole number of 1 or more, got 0/);
});

Feedback('the store is bounded by the outputs it keeps too: batches of large rows cannot grow it past maxElements', () => {
  const truth = new GroundTruth({ maxElements: 100 });
  const observer = truth.versionServing('m', 1);
  const batch = { model_name: 'm', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [10, 2], tensor: { type: 'float32', dims: [10, 2], data: new Float32Array(20).fill(1) } }] } as unknown as InferResponse;
  for (let i = 0; i < 50; i++) observer.onInference?.({ model: 'm', id: `w${i}`, inputs: [] } as unknown as InferRequest, batch, 'default');
  // 20 elements a prediction: 5 fit in 100.
  assert.is(truth.kept, 5);
  assert.throws(() => truth.feedback('m', { id: 'w44', truth: Array(10).fill(0) }), /no prediction of model "m" with id "w44"/);
  assert.is(truth.feedback('m', { id: 'w45', truth: Array(10).fill(0) }).rows, 10);
  // A taken prediction weighs nothing: room for one more, and nothing evicted (w45 is still known as taken).
  observer.onInference?.({ model: 'm', id: 'w50', inputs: [] } as unknown as InferRequest, batch, 'default');
  assert.throws(() => truth.feedback('m', { id: 'w45', truth: Array(10).fill(0) }), /was given already/);
  assert.is(truth.feedback('m', { id: 'w46', truth: Array(10).fill(0) }).rows, 10);
});

Feedback('the window: accuracy, MAE, RMSE and mean reward over the last `size` of each kind, none too old', () => {
  let now = 0;
  const w = new FeedbackWindow({ size: 4, maxAgeMs: 1000, now: () => now });
  assert.equal(w.figures(), { classified: 0, regressed: 0, rewarded: 0 });
  for (const c of [false, true, true, true, false]) w.addClassification(c); // the first leaves: 3 of the last 4
  w.addError(1, 1);
  w.addError(3, 9);
  w.addReward(1);
  w.addReward(0);
  const f = w.figures();
  assert.is(f.classified, 4);
  assert.is(f.accuracy, 0.75);
  assert.is(f.mae, 2);
  assert.is(f.rmse, Math.sqrt(5));
  assert.is(f.reward, 0.5);
  now = 1001;
  assert.equal(w.figures(), { classified: 0, regressed: 0, rewarded: 0 });
});

let repo = '';
let server: ModelServer;
let http = '';
let grpcAddress = '';
let metricsUrl = '';

Feedback.before(async () => {
  repo = writeRepository({ m: { versions: { 1: identity2Model(T.FLOAT), 2: flipModel() }, config: 'name: "m"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\nversion_policy: { all: {} }\n' } });
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: 0, metricsPort: 0, log: memoryLog().log, extensions: [monitoring({ feedback: { store: { maxEntries: 100 } } })] });
  ({ http, grpc: grpcAddress = '', metrics: metricsUrl = '' } = await server.listen());
});

Feedback.after(async () => {
  await server?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

async function infer(version: number, id: string | undefined, rows: number[][]): Promise<number[][]> {
  const res = await fetch(`${http}/v2/models/m/versions/${version}/infer`, { method: 'POST', body: JSON.stringify({ ...(id !== undefined && { id }), inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 2], data: rows.flat() }] }) });
  assert.is(res.status, 200);
  const out = ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0].data;
  return rows.map((_, r) => out.slice(r * 2, r * 2 + 2));
}

async function feedback(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${http}/v2/models/m/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function series(name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

Feedback('predictions matched by id: accuracy per version, a batch, a regression, a reward, on /metrics', async () => {
  // Row i is [1, 0] or [0, 1]: its true class is the column of the 1. Version 1 (identity)
  // gets them right, version 2 (1 - x) wrong.
  const row = (i: number) => (i % 2 === 0 ? [1, 0] : [0, 1]);
  for (let i = 0; i < 10; i++) {
    await infer(1, `v1-${i}`, [row(i)]);
    await infer(2, `v2-${i}`, [row(i)]);
  }
  for (let i = 0; i < 10; i++) {
    const one = await feedback({ id: `v1-${i}`, truth: i % 2 });
    assert.is(one.status, 200, JSON.stringify(one.json));
    assert.equal(one.json, { id: `v1-${i}`, model: 'm', version: '1', route: 'version', output: 'y', rows: 1, correct: 1 });
    assert.is((await feedback({ id: `v2-${i}`, truth: i % 2 })).json.correct, 0);
  }
  await infer(1, 'batch', [row(0), row(1), row(0)]);
  assert.equal((await feedback({ id: 'batch', truth: [0, 1, 1] })).json, { id: 'batch', model: 'm', version: '1', route: 'version', output: 'y', rows: 3, correct: 2 });
  // A tensor truth: the row's values against it (|0.5| and 0 over two elements).
  await infer(1, 'reg', [[1, 2]]);
  assert.equal((await feedback({ id: 'reg', truth: [1.5, 2], reward: 0.25 })).json, { id: 'reg', model: 'm', version: '1', route: 'version', output: 'y', rows: 1, absolute_error: 0.25, reward: 0.25 });

  const res = await fetch(`${http}/v2/models/m/feedback`);
  const figures = ((await res.json()) as { versions: { version: string; classified: number; accuracy: number; regressed: number; mae: number; rmse: number; reward: number }[] }).versions;
  assert.is(figures[0].classified, 13);
  assert.is(figures[0].accuracy, 12 / 13);
  assert.is(figures[0].mae, 0.25);
  assert.is(figures[0].rmse, Math.sqrt(0.125));
  assert.is(figures[0].reward, 0.25);
  assert.equal([figures[1].classified, figures[1].accuracy], [10, 0]);
  // By route: all of version 1's were named by version; a request naming none goes to the default, version 2.
  assert.equal(Object.keys((figures[0] as unknown as { routes: object }).routes), ['version']);
  const res2 = await fetch(`${http}/v2/models/m/infer`, { method: 'POST', body: JSON.stringify({ id: 'd1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0, 1] }] }) });
  assert.is(res2.status, 200);
  assert.equal((await feedback({ id: 'd1', truth: 0 })).json, { id: 'd1', model: 'm', version: '2', route: 'default', output: 'y', rows: 1, correct: 1 });
  assert.is(await series('onnx_native_route_accuracy', 'model="m",version="2",route="default"'), 1);
  assert.is(await series('onnx_native_route_accuracy', 'model="m",version="2",route="version"'), 0);
  assert.is(await series('onnx_native_route_accuracy', 'model="m",version="1",route="version"'), 12 / 13);
  assert.is(await series('onnx_native_accuracy', 'model="m",version="1"'), 12 / 13);
  assert.is(await series('onnx_native_accuracy', 'model="m",version="2"'), 1 / 11);
  assert.is(await series('onnx_native_prediction_error', 'model="m",version="1",statistic="mae"'), 0.25);
  assert.is(await series('onnx_native_reward', 'model="m",version="1"'), 0.25);
  assert.is(await series('onnx_native_feedback_samples', 'model="m",version="2",kind="classified"'), 11);
  assert.is(await series('onnx_native_feedback_requests_total', 'outcome="matched"'), 23);
});

Feedback('bad feedback: each answered with its reason, nothing recorded; the store holds the newest 100', async () => {
  await infer(1, 'x1', [[1, 0]]);
  await infer(1, undefined, [[1, 0]]);
  await infer(1, 'x3', [[1, 0], [0, 1]]);
  const cases: [unknown, number, RegExp][] = [
    [{ id: 'nope', truth: 0 }, 404, /no prediction of model "m" with id "nope": predictions are kept for requests with an id, the last 100 for 3600 s/],
    [{ id: 'x1' }, 400, /feedback needs a "truth" \(a class, a number, a list\) or a "reward"/],
    [{ truth: 1 }, 400, /feedback needs the "id" of the inference request/],
    [{ id: 'x1', truth: 2 }, 400, /row 0's truth 2 is no class of "y" \(0 to 1\)/],
    [{ id: 'x1', reward: 'good' }, 400, /"reward" must be a number, got "good"/],
    [{ id: 'x3', truth: [0] }, 400, /the prediction has 2 rows: "truth" must be a list of 2, one per row/],
    [{ id: 'x3', truth: 0, output: 'z' }, 400, /the prediction "x3" kept no output "z"; it kept "y"/],
    ['{"id": ', 400, /the body is not JSON/],
  ];
  for (const [body, status, message] of cases) {
    const r = await feedback(body);
    assert.is(r.status, status, JSON.stringify(body));
    assert.match(String(r.json.error), message);
  }
  // A refused truth leaves the prediction for a corrected one; given once, it is taken.
  assert.is((await feedback({ id: 'x1', truth: 0 })).json.correct, 1);
  const invalidBefore = (await series('onnx_native_feedback_requests_total', 'outcome="invalid"')) as number;
  assert.is((await feedback({ id: 'x1', truth: 0 })).json.error, 'feedback for request "x1" of model "m" was given already');
  assert.is(invalidBefore, 6); // the six refused by the ground truth (the body that is not JSON never reaches it)
  // Given already: counted as taken, not also as invalid.
  assert.is(await series('onnx_native_feedback_requests_total', 'outcome="invalid"'), invalidBefore);
  // A flood of ids: the first ones leave.
  for (let i = 0; i < 110; i++) await infer(2, `f-${i}`, [[1, 0]]);
  assert.is((await feedback({ id: 'f-9', truth: 0 })).status, 404);
  assert.is((await feedback({ id: 'f-10', truth: 0 })).status, 200);
});

Feedback('over gRPC: onnx_native.Monitoring/ModelFeedback beside the inference service, its errors as statuses', async () => {
  const { Client } = monitoringProtocol();
  const client = new Client(grpcAddress, grpc.credentials.createInsecure());
  const call = (request: Record<string, unknown>) =>
    new Promise<{ err: grpc.ServiceError | null; response: Record<string, unknown> | undefined }>((resolve) =>
      (client as unknown as Record<string, (r: unknown, cb: (err: grpc.ServiceError | null, response?: Record<string, unknown>) => void) => void>).ModelFeedback(request, (err, response) => resolve({ err, response })),
    );
  try {
    await infer(1, 'g1', [[0, 1], [1, 0]]);
    // google.protobuf.Value as protobufjs spells it (camelCase, whatever keepCase says).
    const truth = { listValue: { values: [{ numberValue: 1 }, { numberValue: 1 }] } };
    const ok = await call({ model_name: 'm', id: 'g1', truth, reward: 0.5 });
    assert.is(ok.err, null);
    const { _correct, _reward, ...fields } = ok.response ?? {}; // proto3 optional's synthetic oneofs
    assert.equal(fields, { id: 'g1', model_name: 'm', model_version: '1', route: 'version', output: 'y', rows: 2, correct: 1, reward: 0.5 });
    const again = await call({ model_name: 'm', id: 'g1', truth });
    assert.is(again.err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(again.err?.details ?? '', /was given already/);
    const unknown = await call({ model_name: 'm', id: 'nope', truth: { numberValue: 0 } });
    assert.is(unknown.err?.code, grpc.status.NOT_FOUND);
  } finally {
    client.close();
  }
});

Feedback.run();
