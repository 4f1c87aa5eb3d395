/**
 * Versions in the repository: a reload loads only what changed and keeps the rest serving
 * as it was; a new version that fails (corrupt file, a signature that does not fit the
 * configuration, a failing warm-up, a bad model card) never gets a request while the old
 * one serves throughout; routing (a pinned default, labels) over HTTP v2, TF Serving's
 * REST API and gRPC, and the versions it points at kept loaded; model cards in metadata.
 * Each version of the test model adds its own constant, so every answer shows which
 * version computed it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { inferenceProtocol } from '../../lib/server/grpc/proto';
import { T, buildModel } from '../helpers/onnx-model';
import { addConstantModel, addModel, memoryLog, writeRepository } from '../helpers/model-repository';

const Versions = suite('model versions: reloads, failures, routing, model cards');

const CONFIG = `max_batch_size: 8
input [{ name: "x", data_type: TYPE_FP32, dims: [2] }]
output [{ name: "y", data_type: TYPE_FP32, dims: [2] }]
`;

let repo: string;
let server: ModelServer;
let http: string;
let grpcAddress: string;
const { log } = memoryLog();

Versions.before.each(async () => {
  repo = writeRepository({
    m: { config: `version_policy: { latest: { num_versions: 2 } }\n${CONFIG}`, versions: { 1: addConstantModel(1), 2: addConstantModel(2) } },
    other: { versions: { 1: addConstantModel(100) } },
  });
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: 0, metricsPort: 0, modelControl: 'explicit', loadModels: ['*'], log });
  const addresses = await server.listen();
  http = addresses.http;
  grpcAddress = addresses.grpc as string;
});

Versions.after.each(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const r = await fetch(http + path, init);
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers };
}

const X = [0.25, 0.5];

/** Infers on `path` (…/infer) with X; the version that answered, and the constant it added. */
async function infer(path: string, parameters?: Record<string, unknown>): Promise<{ status: number; version?: string; added?: number; header?: string | null; error?: unknown }> {
  const r = await call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...(parameters && { parameters }), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: X }] }),
  });
  if (r.status !== 200) return { status: r.status, error: r.body.error };
  const y = (r.body.outputs as { data: number[] }[])[0].data;
  return { status: 200, version: r.body.model_version as string, added: Math.round((y[0] - X[0]) * 1000) / 1000, header: r.headers.get('model-version') };
}

async function rejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  assert.ok(err !== undefined, `expected a rejection matching ${message}`);
  assert.match(err.message, message);
}

const load = (model: string) => call(`/v2/repository/models/${model}/load`, { method: 'POST' });

Versions('a reload loads what changed: new versions and changed files; the unchanged keep serving as they were', async () => {
  const repository = server.core.repository;
  const [one, two] = [repository.resolve('m', '1'), repository.resolve('m', '2')];
  addModel(repo, 'm', { versions: { 3: addConstantModel(3) } });
  assert.is((await load('m')).status, 200);
  assert.is(repository.resolve('m', '2'), two, 'version 2 was not loaded again');
  assert.is((await infer('/v2/models/m/versions/1/infer')).status, 404, 'the policy (latest 2) no longer serves version 1');
  assert.is(one.pending, 0);
  const three = repository.resolve('m', '3');
  assert.equal(await infer('/v2/models/m/infer'), { status: 200, version: '3', added: 3, header: '3' });

  // The same file name, new contents: that version alone is loaded again.
  writeFileSync(join(repo, 'm', '3', 'model.onnx'), addConstantModel(33));
  assert.is((await load('m')).status, 200);
  assert.is.not(repository.resolve('m', '3'), three);
  assert.is(repository.resolve('m', '2'), two);
  assert.equal(await infer('/v2/models/m/infer'), { status: 200, version: '3', added: 33, header: '3' });

  // A changed configuration loads every version again.
  writeFileSync(join(repo, 'm', 'config.pbtxt'), `version_policy: { latest: { num_versions: 2 } }\n${CONFIG.replace('max_batch_size: 8', 'max_batch_size: 4')}`);
  assert.is((await load('m')).status, 200);
  assert.is.not(repository.resolve('m', '2'), two);
  assert.is(repository.resolve('m', '2').plan.maxBatchSize, 4);
});

/** Requests to `path` one after another until `stop()`: every answer is counted by version, failures kept. */
function keepAsking(path: string): { stop: () => Promise<{ answers: Map<string, number>; failures: unknown[] }> } {
  const answers = new Map<string, number>();
  const failures: unknown[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await infer(path).catch((err: unknown) => ({ status: 0, error: String(err), version: undefined, added: undefined }));
      if (r.status !== 200 || String(r.added) !== r.version) failures.push(r);
      else answers.set(r.version as string, (answers.get(r.version as string) ?? 0) + 1);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { answers, failures };
    },
  };
}

/** A model that loads with the right signature and fails every run (a Gather of column 5 of 2). */
function failsAtRunTime(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: T.FLOAT, dims: ['batch', 2] }],
    outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 2] }],
    initializers: [{ name: 'columns', dims: [2], ints: [0, 5] }],
    nodes: [{ op: 'Gather', inputs: ['x', 'columns'], outputs: ['y'], attributes: { axis: 1 } }],
  });
}

Versions('a new version that fails never gets a request; the old one serves throughout, and the failure is reported', async () => {
  const asking = keepAsking('/v2/models/m/infer');
  let asked: Awaited<ReturnType<ReturnType<typeof keepAsking>['stop']>>;
  try {
    const failing: [string, () => void, RegExp][] = [
      ['a corrupt file', () => writeFileSync(join(repo, 'm', '3', 'model.onnx'), Buffer.from('not a model at all')), /version 3: .*(protobuf|parsing|load)/i],
      [
        'a signature that does not fit the configuration',
        () =>
          writeFileSync(
            join(repo, 'm', '3', 'model.onnx'),
            buildModel({ inputs: [{ name: 'z', type: T.FLOAT, dims: ['batch', 2] }], outputs: [{ name: 'y', type: T.FLOAT, dims: ['batch', 2] }], nodes: [{ op: 'Identity', inputs: ['z'], outputs: ['y'] }] }),
          ),
        /version 3: .*has no input 'x'/,
      ],
      [
        'a warm-up that fails',
        () => {
          writeFileSync(join(repo, 'm', '3', 'model.onnx'), failsAtRunTime());
          writeFileSync(
            join(repo, 'm', 'config.pbtxt'),
            `version_policy: { latest: { num_versions: 2 } }\n${CONFIG}model_warmup [{ name: "zeros", batch_size: 1, inputs { key: "x" value { data_type: TYPE_FP32, dims: [2], zero_data: true } } }]\n`,
          );
        },
        /version 3: warm-up "zeros" failed: .*out of bounds|version 3: warm-up "zeros" failed: .*indices/i,
      ],
      ['a model card that is not what a card holds', () => {
        writeFileSync(join(repo, 'm', '3', 'model.onnx'), addConstantModel(3));
        writeFileSync(join(repo, 'm', '3', 'model-card.json'), JSON.stringify({ metrics: { accuracy: 'high' } }));
      }, /version 3: .*metric "accuracy" must be a finite number/],
    ];
    addModel(repo, 'm', { versions: { 3: addConstantModel(3) } });
    for (const [what, breakIt, message] of failing) {
      breakIt();
      const r = await load('m');
      assert.is(r.status, 400, what);
      assert.match(String(r.body.error), message, `${what}: ${String(r.body.error)}`);
      const index = (await call('/v2/repository/index', { method: 'POST' })).body as unknown as { name: string; version: string; state: string; reason: string }[];
      const three = index.find((e) => e.name === 'm' && e.version === '3');
      assert.is(three?.state, 'UNAVAILABLE', what);
      assert.ok((three?.reason ?? '').length > 0 && String(r.body.error).includes(three?.reason as string), `${what}: the index gives the reason`);
      assert.equal((await infer('/v2/models/m/infer')).version, '2', `${what}: the default stays on version 2`);
      assert.is((await infer('/v2/models/m/versions/3/infer')).status, 503, `${what}: version 3 takes no request`);
    }
  } finally {
    asked = await asking.stop();
  }
  const { answers, failures } = asked;
  assert.equal(failures, []);
  assert.equal([...answers.keys()].sort(), ['2'], 'every answer came from version 2');
  const exposition = await server.metrics?.metrics();
  assert.match(exposition ?? '', /onnx_native_model_load_failures_total\{model="m",version="3"\} 4/);
});

Versions('a version whose new files fail keeps its old copy serving, and the index says why', async () => {
  const two = server.core.repository.resolve('m', '2');
  writeFileSync(join(repo, 'm', '2', 'model.onnx'), Buffer.from('truncated'));
  const r = await load('m');
  assert.is(r.status, 400);
  assert.is(server.core.repository.resolve('m', '2'), two);
  assert.equal(await infer('/v2/models/m/versions/2/infer'), { status: 200, version: '2', added: 2, header: '2' });
  const index = (await call('/v2/repository/index', { method: 'POST' })).body as unknown as { name: string; version: string; state: string; reason: string }[];
  const entry = index.find((e) => e.name === 'm' && e.version === '2');
  assert.is(entry?.state, 'READY');
  assert.match(entry?.reason ?? '', /new files failed to load, so the copy loaded before serves/);
});

Versions('routing: labels over HTTP v2, TF Serving and gRPC, a pinned default, and the versions they point at kept loaded', async () => {
  const repository = server.core.repository;
  await repository.route('m', { labels: { stable: 1, canary: 2 } });
  assert.equal(await infer('/v2/models/m/labels/stable/infer'), { status: 200, version: '1', added: 1, header: '1' });
  assert.equal(await infer('/v2/models/m/labels/canary/infer'), { status: 200, version: '2', added: 2, header: '2' });
  assert.equal(await infer('/v2/models/m/infer', { version_label: 'stable' }), { status: 200, version: '1', added: 1, header: '1' });
  assert.is((await call('/v2/models/m/labels/stable')).body.model_version, '1');
  assert.is((await call('/v2/models/m/labels/stable/ready')).status, 200);
  const tf = await call('/v1/models/m/labels/stable:predict', { method: 'POST', body: JSON.stringify({ instances: [X] }) });
  assert.equal(tf.body, { predictions: [[X[0] + 1, X[1] + 1]] });
  assert.is(((await call('/v1/models/m/labels/canary')).body.model_version_status as { version: string }[])[0].version, '2');

  // gRPC: the label as the request's version_label parameter.
  const { Client } = inferenceProtocol();
  const client = new Client(grpcAddress, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => void> & grpc.Client;
  try {
    const answer = await new Promise<{ model_version: string }>((resolve, reject) =>
      client.ModelInfer(
        {
          model_name: 'm',
          parameters: { version_label: { string_param: 'stable' } },
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: X } }],
        },
        (err: Error | null, value: { model_version: string }) => (err ? reject(err) : resolve(value)),
      ),
    );
    assert.is(answer.model_version, '1');
  } finally {
    client.close();
  }

  // Errors: no such label, a version and a label at once, a label pointed at a version not ready.
  assert.is((await infer('/v2/models/m/labels/nope/infer')).status, 404);
  assert.is((await infer('/v2/models/m/versions/1/infer', { version_label: 'stable' })).status, 400);
  await rejects(repository.route('m', { labels: { stable: 7 } }), /no version 7/);
  await rejects(repository.route('m', { labels: { '12': 1 } }), /not a version label/);

  // A new version: the policy (latest 2) would drop version 1, but labels point at it.
  addModel(repo, 'm', { versions: { 3: addConstantModel(3) } });
  assert.is((await load('m')).status, 200);
  assert.equal((await infer('/v2/models/m/labels/stable/infer')).version, '1');
  assert.equal((await infer('/v2/models/m/infer')).version, '3', 'the default is the latest ready');
  // Pinned: the default stays on version 2 whatever arrives.
  await repository.route('m', { default: 2, labels: { stable: 1 } });
  addModel(repo, 'm', { versions: { 4: addConstantModel(4) } });
  assert.is((await load('m')).status, 200);
  assert.equal((await infer('/v2/models/m/infer')).version, '2');
  assert.equal((await infer('/v2/models/m/versions/4/infer')).version, '4');
  assert.equal([...repository.model('m').versions.keys()], [1, 2, 3, 4], "kept: the policy's (3, 4) and the routed (1, 2)");
  // Unrouted, the versions kept only for the routing go.
  await repository.route('m', { labels: {} });
  assert.equal([...repository.model('m').versions.keys()], [3, 4]);
  // A version folder removed: the routing to it is dropped.
  await repository.route('m', { labels: { old: 3 } });
  rmSync(join(repo, 'm', '3'), { recursive: true });
  addModel(repo, 'm', { versions: { 5: addConstantModel(5) } });
  assert.is((await load('m')).status, 200);
  assert.equal(repository.model('m').routing, { labels: {} });
});

Versions('a version with a model card serves it in its metadata; one without has none', async () => {
  const card = { description: 'adds two', trained_on: 'nothing', algorithm: 'Add', metrics: { accuracy: 1 }, hyperparameters: { constant: 2 }, owner: 'tests', created: '2026-12-01T00:00:00Z' };
  writeFileSync(join(repo, 'm', '2', 'model-card.json'), JSON.stringify(card));
  assert.is((await load('m')).status, 200);
  assert.equal((await call('/v2/models/m/versions/2')).body.model_card, card);
  assert.equal((await call('/v2/models/m')).body.model_card, card, 'the default version (2) has it');
  assert.is((await call('/v2/models/m/versions/1')).body.model_card, undefined);
  assert.is((await call('/v2/models/m/versions/1')).body.model_version, '1');
});

Versions.run();
