/**
 * The model server end to end: a Triton-style repository on disk, the server listening on
 * loopback ports the test picks (0), real clients (fetch over HTTP, @grpc/grpc-js with the
 * .proto, curl where the machine has it), results compared with `session.run` on the same
 * inputs.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession, tensor } from '../../lib/index';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { inferenceProtocol } from '../../lib/server/grpc/proto';
import { CLS_MODEL, VAD_MODEL, randomFloats } from '../helpers/common';
import { ONNX_TYPE_OF_DATATYPE, SILERO_VAD, TEXT_DIRECTION, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const Server = suite('model server');

let repo: string;
let server: ModelServer;
let http: string;
let grpcAddress: string;
let client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
const { log, lines } = memoryLog();

const DATATYPES = Object.keys(ONNX_TYPE_OF_DATATYPE) as (keyof typeof ONNX_TYPE_OF_DATATYPE)[];

Server.before(async () => {
  repo = writeRepository({
    text_direction: TEXT_DIRECTION,
    silero_vad: SILERO_VAD,
    // No config: completed from the model (batching on: every first dimension is dynamic).
    ...Object.fromEntries(DATATYPES.map((d) => [`identity_${d.toLowerCase()}`, { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE[d]) } }])),
    versioned: {
      config: 'version_policy: { all: {} }\nmax_batch_size: 8\ninput [{ name: "x", data_type: TYPE_FP32, dims: [2] }]\noutput [{ name: "y", data_type: TYPE_FP32, dims: [2] }]',
      versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32), 2: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32), 3: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) },
    },
    latest_two: {
      config: 'version_policy: { latest: { num_versions: 2 } }',
      versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32), 2: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32), 3: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) },
    },
    broken: { config: 'max_batch_size: 8\ndynamic_batching {\n  max_queue_delay: 100\n}\n', versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } },
  });
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: 0, metricsPort: 0, strictReadiness: false, log });
  const addresses = await server.listen();
  http = addresses.http;
  grpcAddress = addresses.grpc as string;
  const { Client } = inferenceProtocol();
  client = new Client(grpcAddress, grpc.credentials.createInsecure()) as never;
});

Server.after(async () => {
  client?.close();
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

async function json(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${http}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

const post = (path: string, body: unknown) => json(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function rpc<T = Record<string, unknown>>(method: string, request: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => (client[method] as (r: unknown, cb: (e: Error | null, v: T) => void) => void).call(client, request, (err, value) => (err ? reject(err) : resolve(value))));
}

/** A binary-extension request body: the JSON header, then each input's bytes. */
function binaryBody(header: unknown, chunks: ArrayBufferView[]): { body: BodyInit; headerLength: number } {
  const head = Buffer.from(JSON.stringify(header));
  return { body: asBody(Buffer.concat([head, ...chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))])), headerLength: head.byteLength };
}

/** A Buffer as fetch's body (the DOM's BodyInit type does not know Node's Buffer). */
function asBody(b: Buffer): BodyInit {
  return b as unknown as BodyInit;
}

Server('health, server metadata, model metadata and the config in force', async () => {
  assert.equal((await json('/v2/health/live')).status, 200);
  assert.equal((await json('/v2/health/ready')).status, 200);
  const meta = await json('/v2');
  assert.equal(meta.body.name, 'onnx-native');
  assert.ok((meta.body.extensions as string[]).includes('binary_tensor_data'));
  const model = await json('/v2/models/text_direction');
  assert.equal(model.body, {
    name: 'text_direction',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, 192] }],
    outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }],
    model_version: '1',
  });
  assert.equal((await json('/v2/models/text_direction/ready')).status, 200);
  // Completed from the model: batching on with Triton's default max_batch_size 4.
  const config = (await json('/v2/models/identity_fp32/config')).body;
  assert.is(config.max_batch_size, 4);
  assert.equal((config.input as { dims: number[] }[])[0].dims, [2]);
  assert.ok(config.dynamic_batching !== undefined);
  // The instances as they are: one group, one per core by default.
  assert.is((config.instance_group as { kind: string }[])[0].kind, 'KIND_CPU');
});

Server('JSON and binary inference on PP-OCR cls equal session.run', async () => {
  const x = randomFloats(2 * 3 * 48 * 192, 7);
  const session = await createSession(CLS_MODEL);
  const expected = (await session.run({ x: tensor('float32', x, [2, 3, 48, 192]) }))['softmax_0.tmp_0'].data as Float32Array;
  session.release();

  const viaJson = await post('/v2/models/text_direction/infer', { id: 'req-1', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3, 48, 192], data: Array.from(x) }] });
  assert.is(viaJson.status, 200, JSON.stringify(viaJson.body));
  assert.is(viaJson.body.id, 'req-1');
  const out = (viaJson.body.outputs as { name: string; shape: number[]; data: number[] }[])[0];
  assert.equal(out.shape, [2, 2]);
  // JSON carries each float32 as its shortest decimal: it reads back as the same float32.
  assert.equal(Array.from(Float32Array.from(out.data)), Array.from(expected));

  const { body, headerLength } = binaryBody(
    { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3, 48, 192], parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } },
    [x],
  );
  const res = await fetch(`${http}/v2/models/text_direction/infer`, { method: 'POST', headers: { 'Inference-Header-Content-Length': String(headerLength), 'content-type': 'application/octet-stream' }, body });
  assert.is(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  const length = Number(res.headers.get('inference-header-content-length'));
  const header = JSON.parse(bytes.subarray(0, length).toString()) as { outputs: { parameters: { binary_data_size: number } }[] };
  assert.is(header.outputs[0].parameters.binary_data_size, 16);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + length, bytes.byteOffset + length + 16));
  assert.equal(Array.from(data), Array.from(expected));
});

/** Two rows of values of each datatype, as JSON sends them and as the bytes are. */
const SAMPLES: Record<string, { json: unknown[]; binary: ArrayBufferView }> = {
  BOOL: { json: [true, false, false, true], binary: new Uint8Array([1, 0, 0, 1]) },
  UINT8: { json: [0, 1, 200, 255], binary: new Uint8Array([0, 1, 200, 255]) },
  UINT16: { json: [0, 1, 60000, 65535], binary: new Uint8Array(new Uint16Array([0, 1, 60000, 65535]).buffer) },
  UINT32: { json: [0, 1, 4e9, 4294967295], binary: new Uint8Array(new Uint32Array([0, 1, 4e9, 4294967295]).buffer) },
  UINT64: { json: [0, 1, 2 ** 40, '18446744073709551615'], binary: new Uint8Array(new BigUint64Array([0n, 1n, 2n ** 40n, 18446744073709551615n]).buffer) },
  INT8: { json: [-128, -1, 0, 127], binary: new Uint8Array(new Int8Array([-128, -1, 0, 127]).buffer) },
  INT16: { json: [-32768, -1, 0, 32767], binary: new Uint8Array(new Int16Array([-32768, -1, 0, 32767]).buffer) },
  INT32: { json: [-2147483648, -1, 0, 2147483647], binary: new Uint8Array(new Int32Array([-2147483648, -1, 0, 2147483647]).buffer) },
  INT64: { json: ['-9223372036854775808', -1, 0, '9223372036854775807'], binary: new Uint8Array(new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]).buffer) },
  FP16: { json: [0, 1, -2, 0.5], binary: new Uint8Array(new Uint16Array([0x0000, 0x3c00, 0xc000, 0x3800]).buffer) },
  FP32: { json: [0, 1.5, -2.25, 1e-3], binary: new Uint8Array(new Float32Array([0, 1.5, -2.25, 1e-3]).buffer) },
  FP64: { json: [0, 1.5, -2.25, 1e-300], binary: new Uint8Array(new Float64Array([0, 1.5, -2.25, 1e-300]).buffer) },
  BF16: { json: [0, 1, -2, 0.5], binary: new Uint8Array(new Uint16Array([0x0000, 0x3f80, 0xc000, 0x3f00]).buffer) },
  BYTES: { json: ['a', '', 'héllo', 'x y'], binary: Buffer.concat(['a', '', 'héllo', 'x y'].map((s) => { const b = Buffer.from(s); const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return Buffer.concat([n, b]); })) },
};

Server('every datatype, JSON and binary in, JSON and binary out, over HTTP', async () => {
  for (const d of DATATYPES) {
    const path = `/v2/models/identity_${d.toLowerCase()}/infer`;
    const sample = SAMPLES[d];
    const viaJson = await post(path, { inputs: [{ name: 'x', datatype: d, shape: [2, 2], data: sample.json }] });
    assert.is(viaJson.status, 200, `${d}: ${JSON.stringify(viaJson.body)}`);
    const out = (viaJson.body.outputs as { datatype: string; shape: number[]; data: unknown[] }[])[0];
    assert.is(out.datatype, d);
    assert.equal(out.shape, [2, 2]);
    // 64-bit values come back as exact digits (read here as text, not through JSON.parse's doubles).
    const expected = sample.json.map((v) => (typeof v === 'string' && (d === 'INT64' || d === 'UINT64') ? Number(v) : v));
    assert.equal(out.data, expected, d);

    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: d, shape: [2, 2], parameters: { binary_data_size: sample.binary.byteLength } }], outputs: [{ name: 'y', parameters: { binary_data: true } }] }, [sample.binary]);
    const res = await fetch(`http${http.slice(4)}${path}`, { method: 'POST', headers: { 'Inference-Header-Content-Length': String(headerLength) }, body });
    assert.is(res.status, 200, `${d} binary: ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const length = Number(res.headers.get('inference-header-content-length'));
    assert.equal(bytes.subarray(length), Buffer.from(sample.binary.buffer, sample.binary.byteOffset, sample.binary.byteLength), `${d} binary bytes`);
  }
});

Server('every datatype over gRPC: raw contents in and out equal the bytes sent', async () => {
  for (const d of DATATYPES) {
    const sample = SAMPLES[d];
    const response = await rpc<{ raw_output_contents: Buffer[]; outputs: { datatype: string; shape: string[] }[] }>('ModelInfer', {
      model_name: `identity_${d.toLowerCase()}`,
      inputs: [{ name: 'x', datatype: d, shape: [2, 2] }],
      raw_input_contents: [Buffer.from(sample.binary.buffer, sample.binary.byteOffset, sample.binary.byteLength)],
    });
    assert.is(response.outputs[0].datatype, d);
    assert.equal(response.outputs[0].shape.map(Number), [2, 2]);
    assert.equal(response.raw_output_contents[0], Buffer.from(sample.binary.buffer, sample.binary.byteOffset, sample.binary.byteLength), d);
  }
});

Server('gRPC: health, metadata, typed contents, config, statistics, and errors with their codes', async () => {
  assert.equal(await rpc('ServerLive', {}), { live: true });
  assert.equal(await rpc('ServerReady', {}), { ready: true });
  assert.equal(await rpc('ModelReady', { name: 'text_direction' }), { ready: true });
  const meta = await rpc<{ inputs: { shape: string[] }[] }>('ModelMetadata', { name: 'text_direction' });
  assert.equal(meta.inputs[0].shape.map(Number), [-1, 3, 48, 192]);
  const x = randomFloats(3 * 48 * 192, 3);
  const typed = await rpc<{ raw_output_contents: Buffer[]; id: string }>('ModelInfer', {
    model_name: 'text_direction',
    id: 'g1',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], contents: { fp32_contents: Array.from(x) } }],
  });
  assert.is(typed.id, 'g1');
  const session = await createSession(CLS_MODEL);
  const expected = (await session.run({ x: tensor('float32', x, [1, 3, 48, 192]) }))['softmax_0.tmp_0'].data as Float32Array;
  session.release();
  const got = new Float32Array(new Uint8Array(typed.raw_output_contents[0]).buffer);
  assert.equal(Array.from(got), Array.from(expected));
  const config = await rpc<{ config: { max_batch_size: number; name: string } }>('ModelConfig', { name: 'text_direction' });
  assert.is(config.config.name, 'text_direction');
  assert.is(config.config.max_batch_size, 64);
  const stats = await rpc<{ model_stats: { name: string; inference_count: string }[] }>('ModelStatistics', { name: 'text_direction' });
  assert.ok(Number(stats.model_stats[0].inference_count) >= 1);

  const codeOf = async (method: string, request: Record<string, unknown>) => {
    try {
      await rpc(method, request);
      return -1;
    } catch (err) {
      return (err as grpc.ServiceError).code;
    }
  };
  assert.is(await codeOf('ModelInfer', { model_name: 'nope', inputs: [] }), grpc.status.NOT_FOUND);
  assert.is(await codeOf('ModelInfer', { model_name: 'text_direction', inputs: [{ name: 'x', datatype: 'FP32', shape: [1000000000], contents: { fp32_contents: [1, 2] } }] }), grpc.status.INVALID_ARGUMENT);
  assert.is(await codeOf('RepositoryModelLoad', { model_name: 'text_direction' }), grpc.status.PERMISSION_DENIED);
  assert.is(await codeOf('SystemSharedMemoryStatus', {}), grpc.status.UNIMPLEMENTED);
});

Server('gRPC ModelStreamInfer answers each request on the stream, errors included', async () => {
  const stream = (client.ModelStreamInfer as () => grpc.ClientDuplexStream<unknown, { error_message: string; infer_response: { id: string } | null }>).call(client);
  const answers: { error_message: string; infer_response: { id: string } | null }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (m) => answers.push(m));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (let i = 0; i < 5; i++) {
    stream.write({ model_name: 'identity_fp32', id: `s${i}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [Buffer.from(new Float32Array([i, i]).buffer)] });
  }
  stream.write({ model_name: 'identity_fp32', id: 'bad', inputs: [{ name: 'nope', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [Buffer.alloc(8)] });
  stream.end();
  await done;
  assert.is(answers.length, 6);
  assert.equal(answers.filter((a) => a.error_message === '').map((a) => a.infer_response?.id).sort(), ['s0', 's1', 's2', 's3', 's4']);
  assert.match(answers.find((a) => a.error_message !== '')?.error_message ?? '', /nope/);
});

Server('Silero VAD: no batching, a scalar input sent as [1] through reshape, equal session.run', async () => {
  const audio = randomFloats(512, 5);
  const state = new Float32Array(2 * 1 * 128);
  const session = await createSession(VAD_MODEL);
  const expected = await session.run({ input: tensor('float32', audio, [1, 512]), state: tensor('float32', state, [2, 1, 128]), sr: tensor('int64', new BigInt64Array([16000n]), []) });
  session.release();
  const res = await post('/v2/models/silero_vad/infer', {
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, 512], data: Array.from(audio) },
      { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: Array.from(state) },
      { name: 'sr', datatype: 'INT64', shape: [1], data: [16000] },
    ],
  });
  assert.is(res.status, 200, JSON.stringify(res.body));
  const outputs = res.body.outputs as { name: string; shape: number[]; data: number[] }[];
  const prob = outputs.find((o) => o.name === 'output');
  assert.equal(prob?.shape, [1, 1]);
  assert.equal(Array.from(Float32Array.from(prob?.data ?? [])), Array.from(expected.output.data as Float32Array));
});

Server('versions: version policy, a version by number, the latest by default, the index', async () => {
  assert.equal((await json('/v2/models/versioned')).body.versions, ['1', '2', '3']);
  assert.equal((await json('/v2/models/latest_two')).body.versions, ['2', '3']);
  const res = await post('/v2/models/versioned/versions/2/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
  assert.is(res.body.model_version, '2');
  assert.is((await post('/v2/models/latest_two/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] })).body.model_version, '3');
  const missing = await post('/v2/models/latest_two/versions/1/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
  assert.is(missing.status, 404);
  assert.match(String(missing.body.error), /no version 1/);
  const index = (await post('/v2/repository/index', {})).body as unknown as { name: string; version?: string; state?: string; reason?: string }[];
  assert.ok(index.some((e) => e.name === 'versioned' && e.version === '3' && e.state === 'READY'));
  // The model whose config has an error is reported with its place, and the others serve.
  const broken = index.find((e) => e.name === 'broken');
  assert.is(broken?.state, 'UNAVAILABLE');
  assert.match(broken?.reason ?? '', /broken\/config\.pbtxt:3:3: .*max_queue_delay/);
  assert.ok(lines.some((l) => l.model === 'broken' && l.level === 50), 'the failure is logged');
});

Server('bad requests: status, message, and the server serving afterwards', async () => {
  const x = (shape: number[], data: unknown, extra: Record<string, unknown> = {}) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape, data, ...extra }] });
  const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, number, RegExp][] = [
    ['unknown model', post('/v2/models/nope/infer', x([1, 2], [1, 2])), 404, /nope/],
    ['unknown version', post('/v2/models/identity_fp32/versions/7/infer', x([1, 2], [1, 2])), 404, /version 7/],
    ['bad version', json('/v2/models/identity_fp32/versions/..%2F..'), 400, /version/],
    ['path traversal in the name', json('/v2/models/..%2F..%2Fetc/config'), 400, /model name/],
    ['unknown input', post('/v2/models/identity_fp32/infer', { inputs: [{ name: 'z', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }), 400, /"z"/],
    ['unknown output', post('/v2/models/identity_fp32/infer', { ...x([1, 2], [1, 2]), outputs: [{ name: 'w' }] }), 400, /"w"/],
    ['wrong datatype', post('/v2/models/identity_fp32/infer', { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 2], data: [1, 2] }] }), 400, /FP32/],
    ['wrong shape', post('/v2/models/identity_fp32/infer', x([1, 3], [1, 2, 3])), 400, /\[-1,2\]/],
    ['batch too large', post('/v2/models/identity_fp32/infer', x([5, 2], Array(10).fill(1))), 400, /max_batch_size 4/],
    ['data length', post('/v2/models/identity_fp32/infer', x([1, 2], [1, 2, 3])), 400, /"x"/],
    ['huge declared shape', post('/v2/models/identity_fp32/infer', x([1000000000, 2], [1, 2])), 400, /"x"/],
    ['not JSON', json('/v2/models/identity_fp32/infer', { method: 'POST', body: '{"inputs": [' }), 400, /JSON/],
    ['deep JSON', json('/v2/models/identity_fp32/infer', { method: 'POST', body: '['.repeat(200000) }), 400, /./],
    ['load while disabled', post('/v2/repository/models/identity_fp32/load', {}), 403, /explicit/],
  ];
  for (const [what, pending, status, message] of cases) {
    const res = await pending;
    assert.is(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.match(String(res.body.error), message, what);
  }
  // Binary: a body shorter than its header says, and sizes that do not match the shape.
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }] }));
  for (const [what, body, headerLength] of [
    ['truncated', Buffer.concat([head, Buffer.alloc(4)]), head.length],
    ['header past the end', head, head.length + 10],
  ] as const) {
    const res = await fetch(`${http}/v2/models/identity_fp32/infer`, { method: 'POST', headers: { 'Inference-Header-Content-Length': String(headerLength) }, body: asBody(body) });
    assert.is(res.status, 400, what);
  }
  const big = await fetch(`${http}/v2/models/identity_fp32/infer`, { method: 'POST', body: asBody(Buffer.alloc(65 * 1024 * 1024)) });
  assert.is(big.status, 413);
  // Still serving.
  assert.is((await post('/v2/models/identity_fp32/infer', x([1, 2], [1, 2]))).status, 200);
});

Server('curl, where the machine has it, gets the same answer', async () => {
  let curl = true;
  try {
    execFileSync('curl', ['--version']);
  } catch {
    curl = false;
  }
  if (!curl) return;
  // (Not execFileSync: the server answers on this process's event loop.)
  const { stdout: out } = await promisify(execFile)('curl', ['-s', '-X', 'POST', `${http}/v2/models/identity_int32/infer`, '-d', '{"inputs":[{"name":"x","datatype":"INT32","shape":[1,2],"data":[7,-8]}]}']);
  assert.equal((JSON.parse(out) as { outputs: { data: number[] }[] }).outputs[0].data, [7, -8]);
});

Server.run();
