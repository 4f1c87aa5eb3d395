/**
 * Payload logging in the model server: each inference's request and response reach a
 * real HTTP sink on loopback and a JSON-lines file as KServe's CloudEvents, with the
 * model, version and route; a sink that hangs and one that is down leave inference's
 * latency as it was (a loose bound: these machines are noisy; bench/ has no claim on
 * it) and their drops are counted on /metrics.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ModelServer, createServer } from '../../lib/server/create-server';
import { payloadLogging } from '../../lib/monitor/payload-logging';
import { HttpSink } from '../../lib/monitor/payload-sinks';
import { T } from '../helpers/onnx-model';
import { identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const Logging = suite('payload logging in the model server');

let repo = '';
let dir = '';
const received: { headers: IncomingMessage['headers']; body: string }[] = [];
const sinks: Server[] = [];

/** A sink on loopback: `answer` false holds each request open without answering. */
async function sink(answer: boolean): Promise<string> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (answer) res.end();
    });
  });
  sinks.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

Logging.before(() => {
  repo = writeRepository({ id: { versions: { 1: identity2Model(T.FLOAT) } } });
  dir = mkdtempSync(join(tmpdir(), 'payload-'));
});

Logging.after(async () => {
  for (const s of sinks) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  for (const d of [repo, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

async function serve(extensions: Parameters<typeof createServer>[0]['extensions']): Promise<{ server: ModelServer; http: string; metrics: string }> {
  const server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: 0, log: memoryLog().log, extensions, graceMs: 1000 });
  const { http, metrics = '' } = await server.listen();
  return { server, http, metrics };
}

async function infer(http: string, path: string, id: string, values: number[]): Promise<number> {
  const res = await fetch(`${http}${path}`, { method: 'POST', body: JSON.stringify({ id, inputs: [{ name: 'x', datatype: 'FP32', shape: [values.length / 2, 2], data: values }] }) });
  await res.arrayBuffer();
  return res.status;
}

Logging('requests and responses reach an HTTP sink and a file as CloudEvents, with model, version and route', async () => {
  const url = await sink(true);
  const file = join(dir, 'payloads.jsonl');
  const { server, http } = await serve([payloadLogging({ url, file })]);
  try {
    assert.is(await infer(http, '/v2/models/id/infer', 'a', [1, 2, 3, 4]), 200);
    assert.is(await infer(http, '/v2/models/id/versions/1/infer', 'b', [5, 6]), 200);
    for (let i = 0; i < 100 && received.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    await server.close();
  }
  assert.is(received.length, 4);
  const byKey = new Map(received.map((r) => [`${r.headers['ce-id']} ${r.headers['ce-type']}`, r]));
  const request = byKey.get('a org.kubeflow.serving.inference.request');
  const response = byKey.get('a org.kubeflow.serving.inference.response');
  assert.ok(request && response, [...byKey.keys()].join(', '));
  assert.is(request.headers['ce-modelname'], 'id');
  assert.is(request.headers['ce-modelversion'], '1');
  assert.is(request.headers['ce-route'], 'default');
  assert.is(byKey.get('b org.kubeflow.serving.inference.request')?.headers['ce-route'], 'version');
  assert.equal((JSON.parse(request.body) as { inputs: { data: number[] }[] }).inputs[0].data, [1, 2, 3, 4]);
  assert.equal((JSON.parse(response.body) as { outputs: { name: string; data: number[] }[] }).outputs[0], { name: 'y', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] });
  // The file got the same four, in structured mode, written out before close() returned.
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; type: string; modelname: string; route: string; data: { outputs?: { data: number[] }[] } });
  assert.equal(lines.map((l) => `${l.id} ${l.type.split('.').pop()} ${l.route}`).sort(), ['a request default', 'a response default', 'b request version', 'b response version']);
  assert.equal(lines.find((l) => l.id === 'b' && l.type.endsWith('response'))?.data.outputs?.[0].data, [5, 6]);
});

Logging('a sink that hangs and one that is down: latency as without logging, drops counted on /metrics', async () => {
  const hung = await sink(false);
  const down = await sink(true);
  const downServer = sinks[sinks.length - 1];
  downServer.closeAllConnections();
  await new Promise((resolve) => downServer.close(resolve));
  const hanging = payloadLogging({ sinks: [new HttpSink({ url: hung, name: 'hung' }), new HttpSink({ url: down, name: 'down' })], maxQueued: 50, closeTimeoutMs: 300 });
  const plain = await serve([]);
  const logged = await serve([hanging]);
  // Requests to the two servers alternate, so that the machine's noise falls on both alike.
  const times: [number[], number[]] = [[], []];
  let text: string;
  try {
    for (let i = 0; i < 350; i++) {
      for (const [k, http] of [plain.http, logged.http].entries()) {
        const start = performance.now();
        assert.is(await infer(http, '/v2/models/id/infer', `r${i}`, [i, i]), 200);
        if (i >= 50) times[k].push(performance.now() - start);
      }
    }
    text = await (await fetch(logged.metrics)).text();
  } finally {
    await plain.server.close();
    const start = performance.now();
    await logged.server.close();
    assert.ok(performance.now() - start < 5000, `closing took ${(performance.now() - start).toFixed(0)} ms`);
  }
  const [quiet, withSinks] = times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length * 0.99)]);
  assert.ok(withSinks < Math.max(2 * quiet, quiet + 10), `p99 ${withSinks.toFixed(2)} ms with the hung and the down sink, ${quiet.toFixed(2)} ms without logging`);
  const value = (labels: string) => Number(text.split('\n').find((l) => l.startsWith(`onnx_native_payload_events_dropped_total{${labels}}`))?.split(' ').pop());
  const shown = text.split('\n').filter((l) => l.includes('payload')).join('\n');
  // The hung sink holds 4 in flight and 50 queued of the 700 events: the rest were dropped, queue full.
  assert.ok(value('sink="hung",reason="queue_full"') >= 600, shown);
  assert.ok(value('sink="down",reason="error"') >= 1, `the down sink refuses: errors counted\n${shown}`);
  assert.is(value('sink="hung",reason="error"'), 0, shown);
  assert.is(hanging.logger?.stats().sinks.hung.sent, 0);
});

Logging.run();
