/**
 * TensorFlow Serving's REST API over the same server: status, metadata, and :predict in
 * the row and columnar formats, answers equal to the v2 protocol's for the same inputs.
 */
import { rmSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { randomFloats } from '../helpers/common';
import { ONNX_TYPE_OF_DATATYPE, SILERO_VAD, TEXT_DIRECTION, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const TfServing = suite("TF Serving's REST API");
let repo: string;
let server: ModelServer;
let http: string;

TfServing.before(async () => {
  repo = writeRepository({ text_direction: TEXT_DIRECTION, silero_vad: SILERO_VAD, words: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.BYTES) } } });
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, log: memoryLog().log });
  http = (await server.listen()).http;
});

TfServing.after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${http}${path}`, { method, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

TfServing('model status and metadata', async () => {
  assert.equal((await call('GET', '/v1/models/text_direction')).body, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
  const meta = (await call('GET', '/v1/models/text_direction/metadata')).body as { metadata: { signature_def: { signature_def: { serving_default: { inputs: Record<string, { dtype: string; tensor_shape: { dim: { size: string }[] } }> } } } } };
  const x = meta.metadata.signature_def.signature_def.serving_default.inputs.x;
  assert.is(x.dtype, 'DT_FLOAT');
  assert.equal(x.tensor_shape.dim.map((d) => d.size), ['-1', '3', '48', '192']);
  assert.is((await call('GET', '/v1/models/nope')).status, 404);
});

TfServing(':predict, row and columnar formats, equal to the v2 protocol', async () => {
  const images = [randomFloats(27648, 1), randomFloats(27648, 2)];
  const nested = images.map((img) => Array.from({ length: 3 }, (_, c) => Array.from({ length: 48 }, (_, h) => Array.from(img.subarray(c * 9216 + h * 192, c * 9216 + h * 192 + 192)))));
  const v2 = await call('POST', '/v2/models/text_direction/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3, 48, 192], data: images.flatMap((i) => Array.from(i)) }] });
  const probs = (v2.body.outputs as { data: number[] }[])[0].data;
  const rows = await call('POST', '/v1/models/text_direction:predict', { instances: nested });
  assert.is(rows.status, 200, JSON.stringify(rows.body));
  // The same float32 values (written with 9 significant digits, which read back exactly).
  const asFloat32 = (rows: unknown) => (rows as number[][]).map((r) => Array.from(Float32Array.from(r)));
  assert.equal(asFloat32(rows.body.predictions), [probs.slice(0, 2), probs.slice(2, 4)].map((p) => Array.from(Float32Array.from(p))));
  const columns = await call('POST', '/v1/models/text_direction/versions/1:predict', { inputs: nested });
  assert.equal(columns.body.outputs, rows.body.predictions);
  // Several inputs, by name; the answer is an object of outputs.
  const vad = await call('POST', '/v1/models/silero_vad:predict', { inputs: { input: [Array(512).fill(0)], state: [[Array(128).fill(0)], [Array(128).fill(0)]], sr: [16000] } });
  assert.is(vad.status, 200, JSON.stringify(vad.body));
  assert.equal(Object.keys(vad.body.outputs as object).sort(), ['output', 'stateN']);
  // Strings, plain and as {"b64": ...}.
  const words = await call('POST', '/v1/models/words:predict', { instances: [['a', { b64: Buffer.from('héllo').toString('base64') }]] });
  assert.equal(words.body.predictions, [['a', 'héllo']]);
});

TfServing('errors: 400 with {"error"}, 404 for unknown models', async () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['/v1/models/text_direction:predict', { instances: [[1, 2]] }, 400, /shape/],
    ['/v1/models/text_direction:predict', { instances: [[1, [2]]] }, 400, /rectangular/],
    ['/v1/models/text_direction:predict', { instances: [], inputs: [] }, 400, /exactly one/],
    ['/v1/models/text_direction:classify', { examples: [] }, 400, /Examples/],
    ['/v1/models/nope:predict', { instances: [[1]] }, 404, /nope/],
  ];
  for (const [path, body, status, message] of cases) {
    const res = await call('POST', path, body);
    assert.is(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
    assert.match(String(res.body.error), message);
  }
});

TfServing.run();
