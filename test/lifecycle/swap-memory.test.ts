/**
 * A thousand swaps leave RSS flat: a model version with 1 MiB of weights is changed in
 * place and reloaded (a new copy loaded and warmed up, the old one retired and released)
 * 1000 times, with a request to each copy, in a child process of its own (so that the
 * rest of the suite's heap does not blur RSS). A leaked session would keep its weights:
 * 1 MiB a swap, 1000 MiB in all. The bound, 24 MiB over the 1000 measured swaps (24 KiB a
 * swap), leaves room for the allocator's high-water marks and V8's heap settling, and is
 * 40 times smaller than one leaked session a swap.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { root } from '../helpers/common';
import { addConstantModel, writeRepository } from '../helpers/model-repository';

const SwapMemory = suite('no growth over a thousand swaps');

const WARMUP = 100;
const SWAPS = 1000;
const BOUND_MIB = 24;

const CHILD = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createServer } from ${JSON.stringify(join(root, 'lib', 'server', 'create-server.ts'))};
import { addConstantModel } from ${JSON.stringify(join(root, 'test', 'helpers', 'model-repository.ts'))};
const [repository, warmup, swaps] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const server = await createServer({ repository, httpPort: 0, grpcPort: false, metricsPort: false, modelControl: 'explicit', loadModels: ['*'], log: pino({ level: 'error' }) });
const { http } = await server.listen();
const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0, 0] }] });
const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
const models = [addConstantModel(1, 1 << 20), addConstantModel(2, 1 << 20)];
let before = 0;
for (let i = 0; i < warmup + swaps; i++) {
  if (i === warmup) { await settle(); before = process.memoryUsage().rss; }
  writeFileSync(join(repository, 'm', '1', 'model.onnx'), models[i % 2]);
  const load = await fetch(http + '/v2/repository/models/m/load', { method: 'POST' });
  if (load.status !== 200) throw new Error('load: ' + load.status + ' ' + await load.text());
  const r = await fetch(http + '/v2/models/m/infer', { method: 'POST', body });
  const answer = await r.json();
  if (r.status !== 200 || answer.outputs[0].data[0] !== (i % 2) + 1) throw new Error('infer after swap ' + i + ': ' + JSON.stringify(answer));
}
await settle();
const after = process.memoryUsage().rss;
await server.close();
console.log(JSON.stringify({ growthMiB: (after - before) / 1024 / 1024 }));
`;

SwapMemory(`${SWAPS} swaps of a version with 1 MiB of weights, after ${WARMUP} to warm up: RSS grows less than ${BOUND_MIB} MiB`, () => {
  const repo = writeRepository({ m: { versions: { 1: addConstantModel(1, 1 << 20) } } }, true);
  const script = join(repo, 'swaps.mts');
  writeFileSync(script, CHILD);
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, repo, String(WARMUP), String(SWAPS)], { cwd: root, timeout: 300_000 }).toString();
    const { growthMiB } = JSON.parse(out.trim().split('\n').at(-1) as string) as { growthMiB: number };
    console.log(`    RSS grew ${growthMiB.toFixed(1)} MiB over ${SWAPS} swaps`);
    assert.ok(growthMiB < BOUND_MIB, `RSS grew ${growthMiB.toFixed(1)} MiB over ${SWAPS} swaps`);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

SwapMemory.run();
