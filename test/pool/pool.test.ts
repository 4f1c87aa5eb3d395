import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { createPool, createSession, OrtError, tensor } from '../../lib/index';
import { CLS_MODEL, maxAbsDiff, randomFloats } from '../helpers/common';

const Pool = suite('worker pool');

const MODULE = join(__dirname, '..', 'fixtures', 'pool-module.cjs');

function pixels(seed: number): Uint8Array {
  return Uint8Array.from(randomFloats(48 * 192 * 3, seed), (v) => Math.floor(v * 256));
}

interface Result {
  probs: number[];
  threadId: number;
  sessionId: number;
  inputBytes: number;
}

Pool('workers preprocess, run one shared session at once, and postprocess; results equal the main thread', async () => {
  const pool = await createPool<{ pixels: Uint8Array; height: number; width: number }, Result>({ model: CLS_MODEL, module: MODULE, workers: 3 });
  try {
    const inputs = Array.from({ length: 24 }, (_, i) => pixels(i));
    const results = await Promise.all(inputs.map((p) => pool.run({ pixels: p, height: 48, width: 192 })));
    const threads = new Set(results.map((r) => r.threadId));
    assert.ok(threads.size >= 2, `tasks ran on ${threads.size} worker thread(s)`);
    // Every worker ran the one session the pool loaded: the model is in memory once.
    assert.equal([...new Set(results.map((r) => r.sessionId))], [pool.sessions[0].share()]);
    const session = await createSession(CLS_MODEL);
    inputs.forEach((p, i) => {
      const data = new Float32Array(3 * 48 * 192);
      for (let k = 0; k < 48 * 192; k++) for (let c = 0; c < 3; c++) data[c * 48 * 192 + k] = p[k * 3 + c] / 127.5 - 1;
      const expected = session.runSync({ x: tensor('float32', data, [1, 3, 48, 192]) })['softmax_0.tmp_0'].data as Float32Array;
      assert.ok(maxAbsDiff(results[i].probs, expected) < 1e-5, `input ${i}`);
    });
  } finally {
    await pool.close();
  }
});

Pool('inputs move to the workers by transfer, not copy', async () => {
  const pool = await createPool<{ pixels: Uint8Array; height: number; width: number }, Result>({ model: CLS_MODEL, module: MODULE, workers: 1 });
  try {
    const p = pixels(1);
    const result = await pool.run({ pixels: p, height: 48, width: 192 }, { transferList: [p.buffer as ArrayBuffer] });
    assert.is(result.inputBytes, 48 * 192 * 3);
    assert.is(p.byteLength, 0, 'the caller no longer holds the buffer');
  } finally {
    await pool.close();
  }
});

Pool('instances: independent sessions, shared out among the workers', async () => {
  const pool = await createPool<{ pixels: Uint8Array; height: number; width: number }, Result>({ model: CLS_MODEL, module: MODULE, workers: 4, instances: 2 });
  try {
    assert.is(pool.sessions.length, 2);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => pool.run({ pixels: pixels(i), height: 48, width: 192 })));
    const used = new Set(results.map((r) => r.sessionId));
    assert.equal([...used].sort(), pool.sessions.map((s) => s.share()).sort());
  } finally {
    await pool.close();
  }
});

Pool('a failing task rejects with the OrtError the worker saw, code and all, and the pool goes on', async () => {
  const pool = await createPool<Record<string, unknown>, Result>({ model: CLS_MODEL, module: MODULE, workers: 1 });
  try {
    let caught: Error | undefined;
    try {
      await pool.run({ wrongName: true });
    } catch (err) {
      caught = err as Error;
    }
    assert.match(caught?.message ?? '', /no input 'nope'/);
    assert.instance(caught, OrtError);
    assert.is((caught as OrtError).code, 'INVALID_INPUT_NAME');
    const ok = await pool.run({ pixels: pixels(3), height: 48, width: 192 });
    assert.is(ok.probs.length, 2);
  } finally {
    await pool.close();
  }
});

Pool.run();
