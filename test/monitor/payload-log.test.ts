/**
 * Payload logging: KServe's CloudEvents for each sampled inference, to a real HTTP
 * endpoint on 127.0.0.1 and to JSON-lines files, never waiting on a sink.
 *
 * - An HTTP sink gets both events of each request in binary content mode, with KServe's
 *   types, one id per inference, the extensions, and v2 JSON bodies equal to the tensors.
 * - The JSON of the tensors is written when a sink takes an event, not in log().
 * - A file sink writes one CloudEvent per line and rotates at its size bound, keeping
 *   the count of files it was told, newest lines last.
 * - With one sink that hangs and one that is down, 5000 log() calls stay cheap, queues
 *   stay at maxQueued, every event is accounted for by reason, and close() keeps to its
 *   bound.
 * - Sampling at 0.3 over 2000 requests logs a binomial share, both events or neither.
 *   The bound: sd = sqrt(2000 * 0.3 * 0.7) = 20.5, and five of them (±102) fail a fair
 *   sampler once in about 1.7 million runs.
 * - Bad options are refused with the option named.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyTensor } from '../../lib/core/tensor';
import { type PayloadEvent, REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE, headerValue } from '../../lib/monitor/cloud-events';
import { type DropReason, type PayloadDrop, PayloadLogger } from '../../lib/monitor/payload-log';
import { FileSink, HttpSink, type PayloadSink } from '../../lib/monitor/payload-sinks';
import type { InferRequest, InferResponse } from '../../lib/server/protocol/types';
import { rejectsWith } from '../helpers/common';

const Payloads = suite('payload logging as CloudEvents');

const META = { model: 'cls', version: '3', route: 'split' } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Request `i`: an FP32 input [1, 4] of i + 0.1 ... and a BYTES input; with an id unless told not to. */
function inference(i: number, withId = true): { request: InferRequest; response: InferResponse; x: Float32Array; y: Float32Array } {
  const x = new Float32Array([i + 0.1, i + 0.2, -i - 0.3, 1e-7 * i]);
  const y = new Float32Array([0.25 * i, i === 0 ? Number.NaN : 1 / (i + 1)]);
  const big: AnyTensor = { type: 'int64', dims: [1], data: new BigInt64Array([2n ** 53n + BigInt(i)]) };
  const request: InferRequest = {
    model: 'cls',
    ...(withId && { id: `req-${i}` }),
    headers: { 'x-tenant': 'acme', authorization: 'Bearer secret' },
    parameters: { priority: 1 },
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [1, 4], tensor: { type: 'float32', dims: [1, 4], data: x } },
      { name: 'text', datatype: 'BYTES', shape: [1], tensor: { type: 'string', dims: [1], data: [`héllo "${i}"\n`] } },
    ],
    outputs: [{ name: 'y', parameters: { binary_data: true } }, { name: 'big' }],
  };
  const response: InferResponse = {
    model_name: 'cls',
    model_version: '3',
    ...(withId && { id: `req-${i}` }),
    outputs: [
      { name: 'y', datatype: 'FP32', shape: [1, 2], tensor: { type: 'float32', dims: [1, 2], data: y } },
      { name: 'big', datatype: 'INT64', shape: [1], tensor: big },
    ],
  };
  return { request, response, x, y };
}

interface Post {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A node:http server on 127.0.0.1 that records each POST and answers `status`, or never answers with `hang`. */
async function endpoint(hang = false, status = 200): Promise<{ url: string; posts: Post[]; server: Server }> {
  const posts: Post[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (!hang) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, posts, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Waits until `done()` holds, polling, for at most `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.unreachable(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A sink that keeps what it is sent, reading each event's data as a real sink would. */
class MemorySink implements PayloadSink {
  readonly events: { event: PayloadEvent; data: string }[] = [];
  constructor(
    readonly name = 'memory',
    readonly maxInFlight = 8,
  ) {}
  send(event: PayloadEvent): Promise<void> {
    this.events.push({ event, data: event.data });
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const sum = (dropped: Readonly<Record<DropReason, number>>) => Object.values(dropped).reduce((a, b) => a + b, 0);

Payloads('an HTTP sink gets both events of each request: binary mode, KServe types, one id, the extensions, v2 bodies equal to the tensors', async () => {
  const { url, posts, server } = await endpoint();
  try {
    const logger = new PayloadLogger({
      sinks: [new HttpSink({ url, headers: { 'x-sink-token': 't0ken' } })],
      source: 'http://localhost:8000/',
      namespace: 'équipe ml',
      component: 'predictor',
      endpoint: 'default',
      metadataHeaders: ['X-Tenant', 'x-absent'],
    });
    const sent = [inference(0), inference(1, false), inference(2)];
    const before = Date.now();
    for (const s of sent) logger.log(s.request, s.response, META);
    await until(() => posts.length === 6, 5000, 'six posts');
    const stats = await logger.close(2000);
    assert.equal(stats.sinks.http, { sent: 6, queued: 0, inFlight: 0, dropped: { queue_full: 0, error: 0, timeout: 0, closed: 0 } });
    assert.is(stats.requests, 3);
    assert.is(stats.sampled, 3);

    for (const p of posts) {
      assert.is(p.method, 'POST');
      const h = p.headers;
      assert.is(h['content-type'], 'application/json');
      assert.is(h['ce-specversion'], '1.0');
      assert.is(h['ce-source'], 'http://localhost:8000/');
      assert.ok(h['ce-type'] === REQUEST_EVENT_TYPE || h['ce-type'] === RESPONSE_EVENT_TYPE, String(h['ce-type']));
      const time = Date.parse(String(h['ce-time']));
      assert.ok(time >= before - 1000 && time <= Date.now(), `ce-time ${h['ce-time']}`);
      // KServe's extensions, then this server's.
      assert.is(h['ce-inferenceservicename'], 'cls');
      assert.is(h['ce-namespace'], '%C3%A9quipe%20ml');
      assert.is(decodeURIComponent(String(h['ce-namespace'])), 'équipe ml');
      assert.is(h['ce-component'], 'predictor');
      assert.is(h['ce-endpoint'], 'default');
      assert.is(decodeURIComponent(String(h['ce-metadata'])), '{"X-Tenant":["acme"]}');
      assert.is(h['ce-modelname'], 'cls');
      assert.is(h['ce-modelversion'], '3');
      assert.is(h['ce-route'], 'split');
      assert.is(h['x-sink-token'], 't0ken');
      assert.is(h['content-length'], String(Buffer.byteLength(p.body)));
      // The request's own headers (a bearer token) are not logged.
      assert.not.ok(JSON.stringify(h).includes('secret') || p.body.includes('secret'));
    }

    // One id per inference, shared by its request and its response: the request's own, else a UUID.
    const byId = new Map<string, Post[]>();
    for (const p of posts) byId.set(String(p.headers['ce-id']), [...(byId.get(String(p.headers['ce-id'])) ?? []), p]);
    assert.is(byId.size, 3);
    const ids = [...byId.keys()];
    assert.ok(ids.includes('req-0') && ids.includes('req-2'), ids.join());
    const generated = ids.filter((id) => !id.startsWith('req-'));
    assert.is(generated.length, 1);
    assert.match(generated[0], UUID);
    for (const [id, pair] of byId) {
      assert.equal(pair.map((p) => p.headers['ce-type']).sort(), [REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE], id);
    }

    // The bodies: KServe v2 JSON, strict (JSON.parse reads every one), equal to the tensors.
    sent.forEach((s, i) => {
      const id = i === 1 ? generated[0] : `req-${i}`;
      const pair = byId.get(id)!;
      const requestPost = pair.find((p) => p.headers['ce-type'] === REQUEST_EVENT_TYPE)!;
      const responsePost = pair.find((p) => p.headers['ce-type'] === RESPONSE_EVENT_TYPE)!;
      const req = JSON.parse(requestPost.body);
      assert.equal(Object.keys(req), i === 1 ? ['parameters', 'inputs', 'outputs'] : ['id', 'parameters', 'inputs', 'outputs']);
      if (i !== 1) assert.is(req.id, id);
      assert.equal(req.parameters, { priority: 1 });
      assert.equal(req.outputs, [{ name: 'y', parameters: { binary_data: true } }, { name: 'big' }]);
      assert.is(req.inputs.length, 2);
      assert.equal({ ...req.inputs[0], data: undefined }, { name: 'x', datatype: 'FP32', shape: [1, 4], data: undefined });
      // Each float read back rounds to the very float32 sent.
      assert.equal(Array.from(Float32Array.from(req.inputs[0].data as number[])), Array.from(s.x));
      assert.equal(req.inputs[1], { name: 'text', datatype: 'BYTES', shape: [1], data: [`héllo "${i}"\n`] });

      const res = JSON.parse(responsePost.body);
      assert.is(res.model_name, 'cls');
      assert.is(res.model_version, '3');
      if (i !== 1) assert.is(res.id, id);
      // Outputs as JSON data even where the request asked for binary ones; NaN as a string.
      assert.equal({ ...res.outputs[0], data: undefined }, { name: 'y', datatype: 'FP32', shape: [1, 2], data: undefined });
      const y = res.outputs[0].data as (number | string)[];
      assert.equal(y.map((v) => (v === 'NaN' ? Number.NaN : Math.fround(v as number))), Array.from(s.y));
      if (i === 0) assert.is(y[1], 'NaN');
      // 64-bit integers with their exact digits.
      assert.ok(responsePost.body.includes(`"data":[${2n ** 53n + BigInt(i)}]`), responsePost.body);
    });
  } finally {
    await stop(server);
  }
});

Payloads("the tensors' JSON is written when a sink takes the event, never in log(); a tensor that cannot be written fails its own event only", async () => {
  let reads = 0;
  const values = new Float32Array(1 << 20).map((_, i) => i / 7);
  const watched = {
    type: 'float32' as const,
    dims: [1, 1 << 20],
    get data(): Float32Array {
      reads++;
      return values;
    },
  };
  const { request, response } = inference(5);
  const big: InferRequest = { ...request, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1 << 20], tensor: watched }] };
  const sink = new MemorySink();
  const logger = new PayloadLogger({ sinks: [sink] });
  const start = performance.now();
  logger.log(big, response, META);
  const took = performance.now() - start;
  assert.is(reads, 0, 'log() read the tensor');
  assert.ok(took < 50, `log() of a 4 MiB tensor took ${took} ms`);
  assert.is(sink.events.length, 0);

  // An input whose shape says 4 elements over 3: its event fails, the response still goes.
  const bad: InferRequest = { ...request, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], tensor: { type: 'float32', dims: [1, 4], data: new Float32Array(3) } }] };
  const drops: PayloadDrop[] = [];
  const failing = new PayloadLogger({ sinks: [new MemorySink('m2')], onDrop: (d) => drops.push(d) });
  failing.log(bad, response, META);

  const stats = await logger.close(5000);
  assert.ok(reads > 0, 'the sink never read the tensor');
  assert.is(stats.sinks.memory.sent, 2);
  const data = JSON.parse(sink.events[0].data);
  assert.is(data.inputs[0].data.length, 1 << 20);
  assert.is(Math.fround(data.inputs[0].data[12345]), values[12345]);

  const failed = await failing.close(1000);
  assert.equal(failed.sinks.m2.dropped, { queue_full: 0, error: 1, timeout: 0, closed: 0 });
  assert.is(failed.sinks.m2.sent, 1);
  assert.is(drops.length, 1);
  assert.is(drops[0].type, REQUEST_EVENT_TYPE);
  assert.is(drops[0].id, 'req-5');
  assert.match(String(drops[0].error?.message), /datatype FP32 and shape \[1,4\] do not describe its float32 tensor of 3 elements/);

  // Nothing the caller passes makes log() throw.
  assert.not.throws(() => logger.log(null as unknown as InferRequest, response, META));
  assert.not.throws(() => failing.log(request, response, null as unknown as typeof META));
});

Payloads('a file sink writes one CloudEvent per line and rotates at its size bound, keeping the count it was told', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'payload-log-'));
  try {
    const path = join(dir, 'logs', 'payloads.jsonl'); // its folder is made
    const maxBytes = 4096;
    const logger = new PayloadLogger({ sinks: [new FileSink({ path, maxBytes, keep: 2 })], source: '/onnx-native/test' });
    const n = 40;
    for (let i = 0; i < n; i++) logger.log(inference(i).request, inference(i).response, META);
    const stats = await logger.close(5000);
    assert.equal(stats.sinks.file, { sent: 2 * n, queued: 0, inFlight: 0, dropped: { queue_full: 0, error: 0, timeout: 0, closed: 0 } });

    const files = [`${path}.2`, `${path}.1`, path]; // oldest first
    for (const f of files) assert.ok(existsSync(f), `${f} missing`);
    assert.not.ok(existsSync(`${path}.3`), 'kept more rotated files than told');
    const lines = files.map((f) => readFileSync(f, 'utf8').split('\n'));
    for (const [k, l] of lines.entries()) {
      assert.is(l.pop(), '', `${files[k]} does not end with a newline`);
      assert.ok(l.length > 0);
      assert.ok(statSync(files[k]).size <= maxBytes, `${files[k]} is ${statSync(files[k]).size} bytes`);
    }
    // Rotated at the bound: the next line would not have fitted.
    for (const k of [0, 1]) {
      const next = Buffer.byteLength(lines[k + 1][0]) + 1;
      assert.ok(statSync(files[k]).size + next > maxBytes, `${files[k]} rotated at ${statSync(files[k]).size} bytes with room for a ${next}-byte line`);
    }

    const events = lines.flat().map((l) => JSON.parse(l));
    for (const e of events) {
      assert.equal(Object.keys(e), ['specversion', 'id', 'type', 'source', 'time', 'datacontenttype', 'inferenceservicename', 'modelname', 'modelversion', 'route', 'data']);
      assert.is(e.specversion, '1.0');
      assert.is(e.source, '/onnx-native/test');
      assert.is(e.datacontenttype, 'application/json');
      assert.ok(!Number.isNaN(Date.parse(e.time)));
      assert.equal([e.inferenceservicename, e.modelname, e.modelversion, e.route], ['cls', 'cls', '3', 'split']);
      assert.is(typeof e.data, 'object');
    }
    // The newest lines, in the order logged (each request, then its response): the tail of all that was logged.
    const logged: string[] = [];
    for (let i = 0; i < n; i++) logged.push(`req-${i} ${REQUEST_EVENT_TYPE}`, `req-${i} ${RESPONSE_EVENT_TYPE}`);
    assert.equal(
      events.map((e) => `${e.id} ${e.type}`),
      logged.slice(logged.length - events.length),
    );
    const last = events[events.length - 1];
    assert.equal(Array.from(Float32Array.from(last.data.outputs[0].data as number[])), Array.from(inference(n - 1).y));
    assert.ok(events.length < 2 * n, 'nothing was rotated out');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Payloads("a file sink counts a file's existing size: a full file is rotated before the first line", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'payload-log-'));
  try {
    const path = join(dir, 'payloads.jsonl');
    const old = `${JSON.stringify({ old: 'x'.repeat(3980) })}\n`;
    writeFileSync(path, old);
    const logger = new PayloadLogger({ sinks: [new FileSink({ path, maxBytes: 4096, keep: 1 })] });
    logger.log(inference(1).request, inference(1).response, META);
    await logger.close(5000);
    assert.is(readFileSync(`${path}.1`, 'utf8'), old);
    assert.equal(
      readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).type),
      [REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Payloads('a hung sink and a down sink: log() stays cheap, queues stay at maxQueued, drops are counted by reason, close() keeps its bound', async () => {
  const hung = await endpoint(true);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  try {
    const maxQueued = 100;
    const tally: Record<string, Record<DropReason, number>> = {
      hung: { queue_full: 0, error: 0, timeout: 0, closed: 0 },
      down: { queue_full: 0, error: 0, timeout: 0, closed: 0 },
    };
    const logger = new PayloadLogger({
      sinks: [new HttpSink({ url: hung.url, name: 'hung', timeoutMs: 300, maxInFlight: 4 }), new HttpSink({ url: downUrl, name: 'down', timeoutMs: 300 })],
      maxQueued,
      onDrop: (d) => tally[d.sink][d.reason]++,
    });
    const { request, response } = inference(3, false);
    const n = 5000;
    const times = new Float64Array(n);
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      logger.log(request, response, META);
      times[i] = performance.now() - t;
    }
    const total = performance.now() - start;
    times.sort();
    assert.ok(times[n >> 1] < 1, `median log() ${times[n >> 1]} ms`);
    assert.ok(total < 2000, `${n} log() calls took ${total} ms`);
    // Nothing has been sent yet (sends start after this turn of the event loop): each queue holds exactly maxQueued.
    let stats = logger.stats();
    for (const name of ['hung', 'down']) {
      assert.is(stats.sinks[name].queued, maxQueued, name);
      assert.is(stats.sinks[name].dropped.queue_full, 2 * n - maxQueued, name);
    }

    // More requests while the sinks fail: the queues never pass maxQueued, nor the requests in flight their bound.
    let more = 0;
    const deadline = Date.now() + 800;
    while (Date.now() < deadline) {
      for (let i = 0; i < 20; i++, more++) logger.log(request, response, META);
      stats = logger.stats();
      for (const name of ['hung', 'down']) assert.ok(stats.sinks[name].queued <= maxQueued, `${name} queued ${stats.sinks[name].queued}`);
      assert.ok(stats.sinks.hung.inFlight <= 4, `hung: ${stats.sinks.hung.inFlight} in flight`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stats = logger.stats();
    assert.ok(stats.sinks.hung.dropped.timeout >= 4, `hung: ${JSON.stringify(stats.sinks.hung.dropped)}`);
    assert.is(stats.sinks.hung.dropped.error, 0);
    assert.ok(stats.sinks.down.dropped.error >= 1, `down: ${JSON.stringify(stats.sinks.down.dropped)}`);
    assert.is(stats.sinks.down.dropped.timeout, 0);
    assert.ok(hung.posts.length >= 4, `the hung endpoint saw ${hung.posts.length} events`);

    const closeStart = performance.now();
    const final = await logger.close(500);
    const closeTook = performance.now() - closeStart;
    // Loose for a loaded machine; waiting for the hung sink's queue would take 100 / 4 * 300 ms.
    assert.ok(closeTook < 1500, `close(500) took ${closeTook} ms`);
    const events = 2 * (n + more);
    for (const name of ['hung', 'down']) {
      const s = final.sinks[name];
      assert.is(s.sent, 0, name);
      assert.is(s.queued + s.inFlight, 0, name);
      // Every event accounted for, once.
      assert.is(s.sent + sum(s.dropped), events, `${name}: ${JSON.stringify(s)} for ${events} events`);
      assert.equal(tally[name], s.dropped, name);
    }
    // What the hung sink still held when close() gave up on it: its queue (full, less what
    // timeouts let through in the meantime) and its requests in flight.
    assert.ok(final.sinks.hung.dropped.closed >= maxQueued - 2 * 4 && final.sinks.hung.dropped.closed <= maxQueued + 4, JSON.stringify(final.sinks.hung.dropped));
    // The requests close() aborted settle later, and are not counted twice.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(logger.stats().sinks.hung, final.sinks.hung);
    // After close, nothing is queued; the drop is counted.
    logger.log(request, response, META);
    assert.is(logger.stats().sinks.down.dropped.closed, final.sinks.down.dropped.closed + 2);
    assert.is(logger.stats().sinks.down.queued, 0);
  } finally {
    await stop(hung.server);
  }
});

Payloads('an HTTP sink that is down writes no JSON: the body is written once a connection is open', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  let reads = 0;
  const values = new Float32Array(4);
  const watched = {
    type: 'float32' as const,
    dims: [1, 4],
    get data(): Float32Array {
      reads++;
      return values;
    },
  };
  const { request, response } = inference(1);
  const logger = new PayloadLogger({ sinks: [new HttpSink({ url })] });
  logger.log({ ...request, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], tensor: watched }] }, response, META);
  await until(() => logger.stats().sinks.http.dropped.error === 2, 5000, 'two refused connections');
  assert.is(reads, 0);
  await logger.close(1000);
});

Payloads('an HTTP answer other than 2xx is an error, told with the status', async () => {
  const { url, posts, server } = await endpoint(false, 503);
  try {
    const drops: PayloadDrop[] = [];
    const logger = new PayloadLogger({ sinks: [new HttpSink({ url })], onDrop: (d) => drops.push(d) });
    logger.log(inference(1).request, inference(1).response, META);
    await until(() => drops.length === 2, 5000, 'two drops');
    const stats = await logger.close(1000);
    assert.is(posts.length, 2);
    assert.equal(stats.sinks.http.dropped, { queue_full: 0, error: 2, timeout: 0, closed: 0 });
    assert.is(stats.sinks.http.sent, 0);
    for (const d of drops) assert.match(String(d.error?.message), /answered HTTP 503$/);
  } finally {
    await stop(server);
  }
});

Payloads('sampling at 0.3 over 2000 requests: a binomial share, always both events of a request or neither', async () => {
  const sink = new MemorySink();
  const logger = new PayloadLogger({ sinks: [sink], sampleRate: 0.3, maxQueued: 5000 });
  const n = 2000;
  for (let i = 0; i < n; i++) logger.log(inference(i).request, inference(i).response, META);
  const stats = await logger.close(5000);
  assert.is(stats.requests, n);
  const sd = Math.sqrt(n * 0.3 * 0.7);
  assert.ok(Math.abs(stats.sampled - 0.3 * n) <= 5 * sd, `sampled ${stats.sampled} of ${n}`);
  assert.is(stats.sinks.memory.sent, 2 * stats.sampled);
  const types = new Map<string, string[]>();
  for (const { event } of sink.events) types.set(event.id, [...(types.get(event.id) ?? []), event.type]);
  assert.is(types.size, stats.sampled);
  for (const [id, t] of types) assert.equal(t, [REQUEST_EVENT_TYPE, RESPONSE_EVENT_TYPE], id);

  // The ends are exact; a mode logs its side only.
  for (const [sampleRate, mode, expected] of [
    [0, 'all', 0],
    [1, 'all', 2 * 50],
    [1, 'request', 50],
    [1, 'response', 50],
  ] as const) {
    const s = new MemorySink();
    const l = new PayloadLogger({ sinks: [s], sampleRate, mode });
    for (let i = 0; i < 50; i++) l.log(inference(i).request, inference(i).response, META);
    await l.close(1000);
    assert.is(s.events.length, expected, `sampleRate ${sampleRate}, mode ${mode}`);
    if (mode !== 'all') assert.ok(s.events.every((e) => e.event.type === (mode === 'request' ? REQUEST_EVENT_TYPE : RESPONSE_EVENT_TYPE)));
  }
});

Payloads('a queue with room for one event of a pair drops both', async () => {
  const sink = new MemorySink('m', 1);
  const logger = new PayloadLogger({ sinks: [sink], maxQueued: 3 });
  for (let i = 0; i < 3; i++) logger.log(inference(i).request, inference(i).response, META);
  let stats = logger.stats();
  assert.is(stats.sinks.m.queued, 2);
  assert.is(stats.sinks.m.dropped.queue_full, 4);
  stats = await logger.close(1000);
  assert.equal(sink.events.map((e) => e.event.id), ['req-0', 'req-0']);
});

Payloads("a sink of one's own that throws, or returns no promise, costs its events only", async () => {
  let calls = 0;
  const throwing: PayloadSink = {
    name: 'throws',
    maxInFlight: 1,
    send: () => {
      if (calls++ % 2 === 0) throw new Error('boom');
      return undefined as unknown as Promise<void>;
    },
    close: () => Promise.resolve(),
  };
  const memory = new MemorySink();
  const logger = new PayloadLogger({ sinks: [throwing, memory] });
  for (let i = 0; i < 3; i++) logger.log(inference(i).request, inference(i).response, META);
  const stats = await logger.close(1000);
  assert.is(calls, 6);
  assert.equal([stats.sinks.throws.sent, stats.sinks.throws.dropped.error], [3, 3]);
  assert.is(stats.sinks.memory.sent, 6);
});

Payloads('bad options are refused, naming the option', async () => {
  const sinks = [new MemorySink()];
  const bad = (options: unknown) => () => new PayloadLogger(options as ConstructorParameters<typeof PayloadLogger>[0]);
  await rejectsWith(bad({ sinks, sampleRate: 2 }), 'INVALID_OPTION', /payload logger: sampleRate must be a number from 0 to 1 .*, got 2$/);
  await rejectsWith(bad({ sinks, sampleRate: -0.1 }), 'INVALID_OPTION', /sampleRate .* got -0.1$/);
  await rejectsWith(bad({ sinks, sampleRate: Number.NaN }), 'INVALID_OPTION', /sampleRate .* got NaN$/);
  await rejectsWith(bad({ sinks, sampleRate: '0.5' }), 'INVALID_OPTION', /sampleRate .* got "0.5"$/);
  await rejectsWith(bad({ sinks, maxQueued: 0 }), 'INVALID_OPTION', /maxQueued must be an integer of at least 2 .*, got 0$/);
  await rejectsWith(bad({ sinks, maxQueued: 1 }), 'INVALID_OPTION', /maxQueued must be an integer of at least 2/);
  await rejectsWith(bad({ sinks, maxQueued: 1.5, mode: 'request' }), 'INVALID_OPTION', /maxQueued must be an integer of at least 1 .*, got 1.5$/);
  await rejectsWith(bad({ sinks: [] }), 'INVALID_OPTION', /payload logger: sinks must list at least one sink .*, got an array of 0$/);
  await rejectsWith(bad({}), 'INVALID_OPTION', /sinks must list at least one sink .*, got undefined$/);
  await rejectsWith(bad(undefined), 'INVALID_OPTION', /the options must be an object/);
  await rejectsWith(bad({ sinks: [{ name: 'x' }] }), 'INVALID_OPTION', /sinks\[0\] must be a PayloadSink/);
  await rejectsWith(bad({ sinks: [new MemorySink('a'), new MemorySink('a')] }), 'INVALID_OPTION', /two sinks are named "a"/);
  await rejectsWith(bad({ sinks, sampleRatio: 0.5 }), 'INVALID_OPTION', /unknown payload logger option "sampleRatio"; valid ones are: sinks, sampleRate/);
  await rejectsWith(bad({ sinks, mode: 'both' }), 'INVALID_OPTION', /mode must be "all", "request" or "response", got "both"/);
  await rejectsWith(bad({ sinks, source: '' }), 'INVALID_OPTION', /source must be a non-empty URI-reference/);
  await rejectsWith(bad({ sinks, metadataHeaders: 'x-tenant' }), 'INVALID_OPTION', /metadataHeaders must be an array of header names/);
  await rejectsWith(bad({ sinks, onDrop: 1 }), 'INVALID_OPTION', /onDrop must be a function, got 1/);
  await rejectsWith(() => new HttpSink({ url: 'ftp://127.0.0.1/' }), 'INVALID_OPTION', /HTTP payload sink: url must be an http: or https: URL, got "ftp:\/\/127.0.0.1\/"/);
  await rejectsWith(() => new HttpSink({ url: 'not a url' }), 'INVALID_OPTION', /url must be an http: or https: URL/);
  await rejectsWith(() => new HttpSink({ url: 'http://x/', timeoutMs: 0 }), 'INVALID_OPTION', /timeoutMs must be a positive integer, got 0/);
  await rejectsWith(() => new FileSink({ path: '' }), 'INVALID_OPTION', /file payload sink: path must be a file path/);
  await rejectsWith(() => new FileSink({ path: 'x.jsonl', keep: -1 }), 'INVALID_OPTION', /keep must be a whole number/);
  await rejectsWith(() => new FileSink({ path: 'x.jsonl', maxBytes: 0 }), 'INVALID_OPTION', /maxBytes must be a positive integer, got 0/);
  await rejectsWith(() => new FileSink({ path: 'x.jsonl', maxByte: 10 } as never), 'INVALID_OPTION', /unknown file payload sink option "maxByte"/);
  const logger = new PayloadLogger({ sinks });
  await rejectsWith(() => logger.close(-1), 'INVALID_OPTION', /timeoutMs must be a non-negative number/);
  await logger.close(0);
});

Payloads('header values are percent-encoded as the HTTP binding says: space, ", % and all but printable ASCII', () => {
  assert.is(headerValue('plain-ASCII_value.1/2:3'), 'plain-ASCII_value.1/2:3');
  assert.is(headerValue('a b"c%d'), 'a%20b%22c%25d');
  assert.is(headerValue('é\n€'), '%C3%A9%0A%E2%82%AC');
  assert.is(decodeURIComponent(headerValue('{"X-Tenant":["a b"]}')), '{"X-Tenant":["a b"]}');
});

Payloads.run();
