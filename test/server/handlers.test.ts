/**
 * Custom handlers: the example repository's classifier handler takes a PNG or JPEG of a
 * text line (drawn here, encoded with sharp) and answers its direction; handlers run off
 * the event loop; a handler's errors are the client's 400 (preprocess) or a 500
 * (postprocess); a model without one is 404 on /predict.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { drawText, rotate180 } from '../../lib/cli/text-image';
import { createServer, type ModelServer } from '../../lib/server/create-server';
import { CLS_MODEL, timerGaps } from '../helpers/common';
import { ONNX_TYPE_OF_DATATYPE, TEXT_DIRECTION, identity2Model, memoryLog, writeRepository } from '../helpers/model-repository';

const Handlers = suite('custom handlers');
let repo: string;
let server: ModelServer;
let http: string;

/** A handler whose preprocess keeps its thread busy for 300 ms, then answers the sum of the inputs. */
const BUSY_HANDLER = `
export function preprocess(body) {
  const until = Date.now() + 300;
  while (Date.now() < until);
  const values = JSON.parse(Buffer.from(body).toString());
  return { x: { type: 'float32', dims: [1, 2], data: Float32Array.from(values) } };
}
export function postprocess({ y }) {
  return { sum: y.data[0] + y.data[1] };
}`;

const FAILING_HANDLER = `
export function preprocess(body) {
  if (body.length === 0) throw new Error('send two numbers');
  return { x: { type: 'float32', dims: [1, 2], data: new Float32Array(2) } };
}
export function postprocess() {
  throw new Error('postprocess broke');
}`;

Handlers.before(async () => {
  repo = writeRepository(
    {
      text_direction: TEXT_DIRECTION,
      busy: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } },
      failing: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } },
      plain: { versions: { 1: CLS_MODEL } },
      unloadable: { versions: { 1: identity2Model(ONNX_TYPE_OF_DATATYPE.FP32) } },
    },
    true,
  );
  writeFileSync(join(repo, 'busy', 'handler.mjs'), BUSY_HANDLER);
  writeFileSync(join(repo, 'failing', 'handler.mjs'), FAILING_HANDLER);
  writeFileSync(join(repo, 'unloadable', 'handler.mjs'), "import 'no-such-package-anywhere';\nexport function preprocess() {}\n");
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, log: memoryLog().log });
  http = (await server.listen()).http;
});

Handlers.after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

async function encode(text: string, upsideDown: boolean, format: 'png' | 'jpeg'): Promise<Buffer> {
  const drawn = drawText(text, 3);
  const image = upsideDown ? rotate180(drawn) : drawn;
  return sharp(Buffer.from(image.pixels), { raw: { width: image.width, height: image.height, channels: 1 } })[format]().toBuffer();
}

const predict = (model: string, body: Uint8Array | string, type = 'application/octet-stream') =>
  fetch(`${http}/v2/models/${model}/predict`, { method: 'POST', headers: { 'content-type': type }, body: body as BodyInit });

Handlers('the classifier handler: PNG and JPEG text lines, upright and upside down', async () => {
  for (const format of ['png', 'jpeg'] as const) {
    for (const text of ['HELLO WORLD', 'INVOICE NO. 2026-11']) {
      for (const upsideDown of [false, true]) {
        const res = await predict('text_direction', await encode(text, upsideDown, format), `image/${format}`);
        assert.is(res.status, 200, await res.clone().text());
        const answer = (await res.json()) as { label: string; confidence: number };
        assert.is(answer.label, upsideDown ? '180' : '0', `${format} "${text}" ${upsideDown ? 'upside down' : 'upright'}: ${JSON.stringify(answer)}`);
        assert.ok(answer.confidence > 0.5 && answer.confidence <= 1);
      }
    }
  }
  const notAnImage = await predict('text_direction', 'hello', 'text/plain');
  assert.is(notAnImage.status, 400);
  assert.match(((await notAnImage.json()) as { error: string }).error, /preprocess failed/);
});

Handlers("a handler's work does not hold up the event loop", async () => {
  const gaps = timerGaps();
  let longest: number;
  try {
    const res = await predict('busy', JSON.stringify([2, 3]), 'application/json');
    assert.equal(await res.json(), { sum: 5 });
  } finally {
    longest = gaps.stop();
  }
  // The handler spins its thread for 300 ms; this one waits far less.
  assert.ok(longest < 100, `a 1 ms timer waited ${longest.toFixed(1)} ms`);
});

Handlers("errors: preprocess's are the client's (400), postprocess's and an unloadable handler's 500, no handler 404", async () => {
  const pre = await predict('failing', '');
  assert.is(pre.status, 400);
  assert.match(((await pre.json()) as { error: string }).error, /send two numbers/);
  const post = await predict('failing', 'x');
  assert.is(post.status, 500);
  assert.match(((await post.json()) as { error: string }).error, /postprocess broke/);
  const unloadable = await predict('unloadable', 'x');
  assert.is(unloadable.status, 500, 'a handler that cannot be imported is the server\'s fault');
  assert.match(((await unloadable.json()) as { error: string }).error, /could not be loaded.*no-such-package-anywhere/);
  const none = await predict('plain', 'x');
  assert.is(none.status, 404);
  assert.match(((await none.json()) as { error: string }).error, /no handler/);
});

Handlers.run();
