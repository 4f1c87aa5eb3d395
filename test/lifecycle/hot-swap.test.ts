/**
 * Hot swaps under load: while requests stay in flight (8 clients, one request after
 * another each, on the default version and on a label), versions are added, changed in
 * place, broken on purpose, labelled, and removed, many times. No request fails, every
 * answer was computed by the version it names (each version adds its own constant), and
 * no version that failed to load answers anything.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from '../../lib/server/create-server';
import { addConstantModel, addModel, memoryLog, writeRepository } from '../helpers/model-repository';

const HotSwap = suite('hot swaps under load');

const DEPLOYS = 60;
const CLIENTS = 8;

HotSwap(`${DEPLOYS} deploys, in-place changes, broken versions and removals with ${CLIENTS} clients in flight: no failed request`, async () => {
  const repo = writeRepository({ m: { config: 'version_policy: { latest: { num_versions: 2 } }\nmax_batch_size: 8\ndynamic_batching { }', versions: { 1: addConstantModel(1) } } });
  const server = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, modelControl: 'explicit', loadModels: ['*'], log: memoryLog().log });
  const { http } = await server.listen();
  const answered = new Map<string, number>();
  const failures: string[] = [];
  let running = true;
  const ask = async (path: string) => {
    const r = await fetch(http + path, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0, 0] }] }) });
    const body = (await r.json()) as { model_version?: string; outputs?: { data: number[] }[]; error?: string };
    if (r.status !== 200) return failures.push(`${path}: ${r.status} ${body.error}`);
    const version = body.model_version as string;
    // In-place changes add 1000 to the constant: the version is the constant modulo 1000.
    const constant = (body.outputs as { data: number[] }[])[0].data[0];
    if (String(constant % 1000) !== version) failures.push(`${path}: version ${version} answered ${constant}`);
    answered.set(version, (answered.get(version) ?? 0) + 1);
  };
  const clients = Array.from({ length: CLIENTS }, async (_, i) => {
    while (running) await ask(i % 2 === 0 ? '/v2/models/m/infer' : '/v2/models/m/labels/live/infer');
  });
  const broken = new Set<number>();
  const repository = server.core.repository;
  try {
    await repository.route('m', { labels: { live: 1 } });
    for (let v = 2; v <= DEPLOYS + 1; v++) {
      const bad = v % 7 === 0;
      addModel(repo, 'm', { versions: { [v]: bad ? Buffer.from(`version ${v} is broken`) : addConstantModel(v) } });
      const load = await fetch(`${http}/v2/repository/models/m/load`, { method: 'POST' });
      assert.is(load.status, bad ? 400 : 200, `deploy of version ${v}`);
      if (bad) {
        broken.add(v);
        rmSync(join(repo, 'm', String(v)), { recursive: true });
        continue;
      }
      // The label follows every other good deploy; in between, the version's file changes in place.
      if (v % 2 === 0) await repository.route('m', { labels: { live: v } });
      else {
        writeFileSync(join(repo, 'm', String(v), 'model.onnx'), addConstantModel(v + 1000));
        assert.is((await fetch(`${http}/v2/repository/models/m/load`, { method: 'POST' })).status, 200);
      }
      // Old folders go (the policy keeps 2, the label keeps its own), but not the label's.
      if (repository.model('m').routing.labels.live !== v - 3) rmSync(join(repo, 'm', String(v - 3)), { recursive: true, force: true });
      // Let the clients get answers from this state too.
      const before = [...answered.values()].reduce((a, b) => a + b, 0);
      while ([...answered.values()].reduce((a, b) => a + b, 0) < before + CLIENTS && failures.length === 0) await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    running = false;
    await Promise.all(clients);
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  }
  assert.equal(failures, []);
  for (const v of broken) assert.not.ok(answered.has(String(v)), `broken version ${v} answered`);
  const total = [...answered.values()].reduce((a, b) => a + b, 0);
  assert.ok(answered.size > DEPLOYS / 2, `answers came from ${answered.size} versions`);
  console.log(`    ${total} requests answered by ${answered.size} versions, none failed; ${broken.size} broken versions never answered`);
});

HotSwap.run();
