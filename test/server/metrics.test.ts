/**
 * The server's Prometheus metrics as a scraper sees them: a server on loopback ports the
 * test picks (0), a known number of successful and failing requests over HTTP and gRPC,
 * then `GET /metrics` parsed here line by line (prom-client's own parser is not public)
 * and each counter compared with exactly what was sent, each histogram's count with its
 * counter, the pending gauge back at 0, the versions' states, and the series of a version
 * gone once it is unloaded. `promtool check metrics` judges the exposition where the
 * machine has promtool.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { inferenceProtocol } from '../../lib/server/grpc/proto';
import { ONNX_TYPE_OF_DATATYPE, TEXT_DIRECTION, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const Metrics = suite('server metrics');

const FP32 = identity2Model(ONNX_TYPE_OF_DATATYPE.FP32);
/** How long a lone request to `slow_queue` waits for others to join its batch. */
const SLOW_QUEUE_MS = 500;

let repo: string;
let server: ModelServer;
let http: string;
let metricsUrl: string;
let client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

Metrics.before(async () => {
  repo = writeRepository({
    // No config: completed from the model (max_batch_size 4, dynamic batching).
    m: { versions: { 1: FP32 } },
    // No batching: each request runs on its own, behind the instances' gate.
    plain: { config: 'max_batch_size: 0', versions: { 1: FP32 } },
    text_direction: TEXT_DIRECTION,
    slow_queue: { config: `max_batch_size: 4\ndynamic_batching { max_queue_delay_microseconds: ${SLOW_QUEUE_MS * 1000} }`, versions: { 1: FP32 } },
    // A long warm-up keeps it LOADING for a while.
    warm: {
      config: 'max_batch_size: 4\nmodel_warmup [{ name: "w" batch_size: 1 count: 1000 inputs { key: "x" value: { data_type: TYPE_FP32, dims: [2], zero_data: true } } }]',
      versions: { 1: FP32 },
    },
    broken: { versions: { 1: new TextEncoder().encode('not an onnx model') } },
  });
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: 0, metricsPort: 0, modelControl: 'explicit', loadModels: ['*'], strictReadiness: false, log: memoryLog().log });
  const addresses = await server.listen();
  http = addresses.http;
  metricsUrl = addresses.metrics as string;
  const { Client } = inferenceProtocol();
  client = new Client(addresses.grpc as string, grpc.credentials.createInsecure()) as never;
});

Metrics.after(async () => {
  client?.close();
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

/** One sample of the text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scrape, parsed: the samples, and each family's TYPE and HELP. */
interface Scrape {
  text: string;
  samples: Sample[];
  types: Map<string, string>;
  helps: Map<string, string>;
}

/** Parses Prometheus's text format (version 0.0.4), strictly enough to fail on what a scraper would reject. */
function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? helps : types).set(meta[2], meta[3]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not a sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let at = 0;
    for (let p = pair.exec(body); p !== null; p = pair.exec(body)) {
      labels[p[1]] = p[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      at = pair.lastIndex;
    }
    if (at !== body.length) throw new Error(`line ${i + 1}: bad labels: ${line}`);
    // As Prometheus reads them (Go's ParseFloat): NaN and Inf in any case (prom-client writes `Nan`).
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(m[3]);
    const value = special ? (special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(m[3]);
    if (Number.isNaN(value) && !special) throw new Error(`line ${i + 1}: bad value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { text, samples, types, helps };
}

async function scrape(): Promise<Scrape> {
  const res = await fetch(metricsUrl);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** Samples named `name` whose labels include `labels`. */
const find = (s: Scrape, name: string, labels: Record<string, string>): Sample[] =>
  s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));

/** The one sample named `name` with exactly `labels` (no others). */
function value(s: Scrape, name: string, labels: Record<string, string>): number {
  const found = find(s, name, labels).filter((x) => Object.keys(x.labels).length === Object.keys(labels).length);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return found[0].value;
}

const REASONS = ['invalid', 'queue_full', 'timeout', 'unavailable', 'internal'];

/** What a version's series must say after `success` and `invalid` requests of `rows` rows in all (one batch each, unless `batched`). */
function checkVersion(s: Scrape, model: string, expected: { success: number; invalid: number; rows: number; oneBatchEach: boolean }): void {
  const v = { model, version: '1' };
  const what = (name: string) => `${model}: ${name}`;
  assert.is(value(s, 'onnx_native_requests_total', { ...v, outcome: 'success' }), expected.success, what('successes'));
  for (const reason of REASONS) {
    assert.is(value(s, 'onnx_native_requests_total', { ...v, outcome: 'failure', reason }), reason === 'invalid' ? expected.invalid : 0, what(`failures (${reason})`));
  }
  const executions = value(s, 'onnx_native_executions_total', v);
  assert.is(value(s, 'onnx_native_inferences_total', v), expected.rows, what('inferences'));
  if (expected.oneBatchEach) assert.is(executions, expected.success, what('executions'));
  else assert.ok(executions >= Math.ceil(expected.rows / 4) && executions <= expected.success, what(`executions ${executions}`));
  // Durations: successful requests; queue: requests whose batch started (no invalid one did).
  assert.is(value(s, 'onnx_native_request_duration_seconds_count', v), expected.success, what('request duration count'));
  assert.is(value(s, 'onnx_native_queue_duration_seconds_count', v), expected.success, what('queue duration count'));
  assert.is(value(s, 'onnx_native_compute_duration_seconds_count', v), executions, what('compute duration count'));
  assert.is(value(s, 'onnx_native_batch_size_count', v), executions, what('batch size count'));
  assert.is(value(s, 'onnx_native_batch_size_sum', v), expected.rows, what('batch size sum'));
  assert.ok(value(s, 'onnx_native_request_duration_seconds_sum', v) > 0, what('request duration sum'));
  assert.ok(value(s, 'onnx_native_compute_duration_seconds_sum', v) > 0, what('compute duration sum'));
  // Buckets are cumulative, and +Inf holds every observation.
  for (const h of ['request_duration_seconds', 'queue_duration_seconds', 'compute_duration_seconds', 'batch_size']) {
    const buckets = find(s, `onnx_native_${h}_bucket`, v);
    const counts = buckets.map((b) => b.value);
    assert.equal(counts, [...counts].sort((a, b) => a - b), what(`${h} buckets cumulative`));
    assert.is(buckets.find((b) => b.labels.le === '+Inf')?.value, value(s, `onnx_native_${h}_count`, v), what(`${h} +Inf`));
  }
  assert.is(value(s, 'onnx_native_pending_requests', v), 0, what('pending'));
  assert.ok(value(s, 'onnx_native_model_load_duration_seconds', v) > 0, what('load duration'));
  assertState(s, model, 'READY');
}

function assertState(s: Scrape, model: string, state: string): void {
  for (const st of ['READY', 'LOADING', 'UNAVAILABLE', 'UNLOADING']) {
    assert.is(value(s, 'onnx_native_model_state', { model, version: '1', state: st }), st === state ? 1 : 0, `${model} ${st}`);
  }
}

async function post(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${http}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

const x = (rows: number, datatype = 'FP32') => ({ inputs: [{ name: 'x', datatype, shape: [rows, 2], data: Array(rows * 2).fill(1) }] });

function rpc(request: Record<string, unknown>): Promise<grpc.status> {
  return new Promise((resolve) => (client.ModelInfer as (r: unknown, cb: (e: grpc.ServiceError | null) => void) => void).call(client, request, (err) => resolve(err ? err.code : grpc.status.OK)));
}

const rpcRows = (model: string, rows: number) => rpc({ model_name: model, inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 2] }], raw_input_contents: [Buffer.from(new Float32Array(rows * 2).buffer)] });

Metrics('counters equal what was sent over HTTP and gRPC; histograms, pending and state agree', async () => {
  // Before any request: every series of a served version is there, at 0.
  const before = await scrape();
  assert.is(value(before, 'onnx_native_requests_total', { model: 'm', version: '1', outcome: 'success' }), 0);
  assert.is(value(before, 'onnx_native_requests_total', { model: 'm', version: '1', outcome: 'failure', reason: 'timeout' }), 0);
  assert.is(value(before, 'onnx_native_request_duration_seconds_count', { model: 'm', version: '1' }), 0);

  // m (dynamic batching), one at a time: each request a batch of its own.
  for (let i = 0; i < 5; i++) assert.is(await post('/v2/models/m/infer', x(1)), 200);
  for (let i = 0; i < 2; i++) assert.is(await post('/v2/models/m/infer', x(3)), 200);
  for (let i = 0; i < 3; i++) assert.is(await rpcRows('m', 2), grpc.status.OK);
  assert.is(await post('/v2/models/m/infer', { inputs: [{ name: 'z', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }), 400);
  assert.is(await post('/v2/models/m/infer', x(1, 'INT32')), 400);
  assert.is(await post('/v2/models/m/infer', x(5)), 400);
  assert.is(await rpc({ model_name: 'm', inputs: [{ name: 'nope', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [Buffer.alloc(8)] }), grpc.status.INVALID_ARGUMENT);
  // Not counted: no model version took them.
  assert.is(await post('/v2/models/nope/infer', x(1)), 404);
  assert.is(await post('/v2/models/m/versions/9/infer', x(1)), 404);

  // plain (no batching): one run per request, one inference each.
  for (let i = 0; i < 2; i++) assert.is(await post('/v2/models/plain/infer', x(1)), 200);
  assert.is(await rpcRows('plain', 1), grpc.status.OK);
  assert.is(await post('/v2/models/plain/infer', x(1, 'FP64')), 400);

  // PP-OCR's classifier, once over each protocol.
  const image = new Float32Array(3 * 48 * 192).fill(0.5);
  assert.is(await post('/v2/models/text_direction/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(image) }] }), 200);
  assert.is(await rpc({ model_name: 'text_direction', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192] }], raw_input_contents: [Buffer.from(image.buffer)] }), grpc.status.OK);

  let s = await scrape();
  checkVersion(s, 'm', { success: 10, invalid: 4, rows: 5 + 6 + 6, oneBatchEach: true });
  checkVersion(s, 'plain', { success: 3, invalid: 1, rows: 3, oneBatchEach: true });
  checkVersion(s, 'text_direction', { success: 2, invalid: 0, rows: 2, oneBatchEach: true });
  assert.is(find(s, 'onnx_native_requests_total', { model: 'nope' }).length, 0, 'no series for an unknown model');
  assert.is(find(s, 'onnx_native_requests_total', { version: '9' }).length, 0, 'no series for an unknown version');

  // Eight at once: batched as the batcher likes, every row counted once.
  const answers = await Promise.all(Array.from({ length: 8 }, () => post('/v2/models/m/infer', x(1))));
  assert.equal(answers, Array(8).fill(200));
  s = await scrape();
  checkVersion(s, 'm', { success: 18, invalid: 4, rows: 17 + 8, oneBatchEach: false });
  // The same numbers as Triton's statistics of the version.
  const stats = (await (await fetch(`${http}/v2/models/m/stats`)).json()) as { model_stats: { inference_count: number; execution_count: number; inference_stats: { success: { count: number } } }[] };
  assert.is(stats.model_stats[0].inference_count, value(s, 'onnx_native_inferences_total', { model: 'm', version: '1' }));
  assert.is(stats.model_stats[0].execution_count, value(s, 'onnx_native_executions_total', { model: 'm', version: '1' }));
  assert.is(stats.model_stats[0].inference_stats.success.count, 18);
});

Metrics('versions: UNAVAILABLE after a failed load, pending while queued, UNLOADING, then their series gone', async () => {
  let s = await scrape();
  assertState(s, 'broken', 'UNAVAILABLE');
  assert.is(find(s, 'onnx_native_requests_total', { model: 'broken' }).length, 0, 'a version that never served has no request series');

  // A lone request waits SLOW_QUEUE_MS in the queue for others to join it.
  const answer = post('/v2/models/slow_queue/infer', x(1));
  for (let i = 0; i < 50 && value((s = await scrape()), 'onnx_native_pending_requests', { model: 'slow_queue', version: '1' }) === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.is(value(s, 'onnx_native_pending_requests', { model: 'slow_queue', version: '1' }), 1, 'pending while queued');
  assert.is(value(s, 'onnx_native_queue_duration_seconds_count', { model: 'slow_queue', version: '1' }), 0, 'its batch has not started');
  // Unloading: it answers what it has taken first.
  const unloaded = post('/v2/repository/models/slow_queue/unload', {});
  await new Promise((resolve) => setTimeout(resolve, 20));
  s = await scrape();
  assertState(s, 'slow_queue', 'UNLOADING');
  assert.is(await answer, 200);
  assert.is(await unloaded, 200);
  s = await scrape();
  const left = s.samples.filter((sample) => sample.labels.model === 'slow_queue');
  assert.equal(left, [], 'every series of the unloaded version is gone');
});

Metrics('reload keeps a version\'s series; a first load shows LOADING, then READY with fresh series', async () => {
  const v = { model: 'm', version: '1' };
  const before = await scrape();
  assert.is(await post('/v2/repository/models/m/load', {}), 200);
  const after = await scrape();
  assertState(after, 'm', 'READY');
  for (const name of ['onnx_native_inferences_total', 'onnx_native_executions_total', 'onnx_native_request_duration_seconds_count']) {
    assert.is(value(after, name, v), value(before, name, v), `${name} kept across a reload`);
  }
  assert.is(value(after, 'onnx_native_requests_total', { ...v, outcome: 'success' }), value(before, 'onnx_native_requests_total', { ...v, outcome: 'success' }));
  assert.is(await post('/v2/models/m/infer', x(1)), 200, 'the new copy serves');
  assert.is(value(await scrape(), 'onnx_native_requests_total', { ...v, outcome: 'success' }), value(before, 'onnx_native_requests_total', { ...v, outcome: 'success' }) + 1);

  assert.is(await post('/v2/models/warm/infer', x(1)), 200);
  assert.is(await post('/v2/repository/models/warm/unload', {}), 200);
  assert.is((await scrape()).samples.filter((sample) => sample.labels.model === 'warm').length, 0);
  let done = false;
  const loaded = post('/v2/repository/models/warm/load', {}).finally(() => (done = true));
  const seen = new Set<string>();
  while (!done) {
    const s = await scrape();
    for (const sample of find(s, 'onnx_native_model_state', { model: 'warm' })) if (sample.value === 1) seen.add(sample.labels.state);
  }
  assert.is(await loaded, 200);
  assert.ok(seen.has('LOADING'), `states seen while loading: ${[...seen].join(', ')}`);
  const s = await scrape();
  assertState(s, 'warm', 'READY');
  // Warm-up runs are not requests: the new version starts at 0.
  assert.is(value(s, 'onnx_native_requests_total', { model: 'warm', version: '1', outcome: 'success' }), 0);
  assert.is(value(s, 'onnx_native_executions_total', { model: 'warm', version: '1' }), 0);
});

Metrics('the exposition: HELP and TYPE for every family, conventional names, process metrics, promtool', async () => {
  const s = await scrape();
  const ours = [...s.types.keys()].filter((n) => n.startsWith('onnx_native_'));
  assert.equal(ours.sort(), [
    'onnx_native_batch_size',
    'onnx_native_compute_duration_seconds',
    'onnx_native_executions_total',
    'onnx_native_inferences_total',
    'onnx_native_model_load_duration_seconds',
    'onnx_native_model_load_failures_total',
    'onnx_native_model_state',
    'onnx_native_pending_requests',
    'onnx_native_queue_duration_seconds',
    'onnx_native_request_duration_seconds',
    'onnx_native_requests_total',
    'onnx_native_routed_requests_total',
    'onnx_native_shadow_duration_seconds',
    'onnx_native_shadow_requests_total',
    'onnx_native_traffic_share',
    'onnx_native_version_label',
  ]);
  for (const name of ours) {
    assert.ok(s.helps.get(name), `${name} has HELP`);
    if (s.types.get(name) === 'counter') assert.ok(name.endsWith('_total'), `${name}: a counter ends in _total`);
  }
  for (const sample of s.samples) {
    const family = sample.name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(s.types.has(sample.name) || s.types.get(family) === 'histogram' || s.types.get(family) === 'summary', `${sample.name} has a TYPE`);
  }
  // Node's process metrics, on the server's own registry.
  assert.ok(s.types.has('process_cpu_user_seconds_total'));
  assert.ok(s.types.has('nodejs_eventloop_lag_seconds'));
  assert.is(s.types.get('onnx_native_request_duration_seconds'), 'histogram');
  const les = find(s, 'onnx_native_request_duration_seconds_bucket', { model: 'm', version: '1' }).map((b) => b.labels.le);
  assert.equal(les, ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
  assert.equal(
    find(s, 'onnx_native_batch_size_bucket', { model: 'm', version: '1' }).map((b) => b.labels.le),
    ['1', '2', '4', '8', '16', '32', '64', '128', '256', '+Inf'],
  );

  const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (promtool === '') {
    console.log('  (promtool is not on this machine: `promtool check metrics` skipped)');
  } else {
    const check = spawnSync(promtool, ['check', 'metrics'], { input: s.text, encoding: 'utf8' });
    assert.is(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  }
});

Metrics('the metrics port serves GET /metrics only; metricsPort: false turns it off', async () => {
  const base = metricsUrl.slice(0, -'/metrics'.length);
  assert.is((await fetch(`${base}/other`)).status, 404);
  assert.is((await fetch(metricsUrl, { method: 'POST' })).status, 405);
  assert.is((await fetch(metricsUrl, { method: 'HEAD' })).status, 200);
  // Not on the HTTP port.
  assert.is((await fetch(`${http}/metrics`)).status, 404);
  const small = writeRepository({ m: { versions: { 1: FP32 } } });
  const off = await createServer({ repository: small, httpPort: 0, grpcPort: false, metricsPort: false, log: memoryLog().log });
  try {
    const addresses = await off.listen();
    assert.is(addresses.metrics, undefined);
    assert.is(off.metrics, undefined);
  } finally {
    await off.close();
    rmSync(small, { recursive: true, force: true });
  }
});

Metrics.run();
