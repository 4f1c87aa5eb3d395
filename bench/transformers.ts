/**
 * transformers.js on this runtime (through the npm alias) and on onnxruntime-node, in one
 * run: a feature-extraction pipeline on the tests' built encoder (about 200 ms a call) and
 * background removal on IS-Net (a real model, seconds a call). Per call (median of
 * --calls), then throughput with 8 and 64 calls in flight, all timed with no timer
 * running (its wake-ups would take CPU from this runtime's runs and cannot interrupt
 * onnxruntime-node's); then the same loads again under a 1 ms timer, for its longest
 * wait: over the whole call, and while the model runs (apart from the
 * pipeline's own JavaScript around it: tokenizing, resizing and normalizing an image take
 * the thread whatever the runtime); with calls in flight, from the first tick after they
 * are launched (launching 64 calls tokenizes 64 texts in one turn); and of the waits in
 * the model, what was not V8's garbage collection (its pauses, from the performance
 * timeline, stop the thread on either runtime). Each pipeline runs in a process of its own (transformers.js picks its
 * runtime when it is imported); both runtimes run onnxruntime-node's own ONNX Runtime
 * library (1.30), so the comparison is of the bindings, not of two builds.
 *
 * Usage: npm run bench:transformers [-- --calls N] [-- --only feature-extraction|background-removal]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { root } from '../test/helpers/common';
import { ENCODER, type PipelineResult, runPipelineProcess, writeAliasedApp, writeEncoderFolder, writeIsNetFolder } from '../test/helpers/transformers-models';
import { median, printTable } from './report';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const CALLS = Number(option('--calls') ?? 5);
const ONLY = option('--only');
const CONCURRENCY = [8, 64];

const peerLibrary = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime.so.1');
const work = mkdtempSync(join(tmpdir(), 'bench-transformers-'));
const models = join(work, 'models');
const aliased = writeAliasedApp(join(work, 'app'), root);

const pipelines = [
  { task: 'feature-extraction', model: ENCODER.id, input: ENCODER.text, write: () => writeEncoderFolder(models, ENCODER.id, ENCODER.hidden, ENCODER.layers) },
  { task: 'background-removal', model: 'isnet', input: join(root, 'test', 'fixtures', 'images', 'shapes.png'), write: () => writeIsNetFolder(models, 'isnet') },
].filter((p) => ONLY === undefined || p.task === ONLY);

function run(runtime: 'peer' | 'alias', p: (typeof pipelines)[number]): PipelineResult {
  const job = { mode: runtime, root: models, task: p.task, model: p.model, input: p.input, calls: CALLS, warmup: 2, concurrency: CONCURRENCY, rounds: 1 };
  return runPipelineProcess(job, aliased, { env: { ...process.env, ORT_DYLIB_PATH: peerLibrary } });
}

console.log(`transformers.js pipelines; Node ${process.version}; ${CALLS} timed calls each after warm-up; ONNX Runtime ${peerLibrary}\n`);
const rows: string[][] = [];
const notes: string[] = [];
try {
  for (const p of pipelines) {
    p.write();
    const theirs = run('peer', p);
    const mine = run('alias', p);
    for (const [name, r] of [
      ['onnxruntime-node', theirs],
      ['onnx-native (npm alias)', mine],
    ] as const) {
      const at = (n: number) => r.concurrent.find((c) => c.concurrency === n) as PipelineResult['concurrent'][number];
      const peerAt = (n: number) => theirs.concurrent.find((c) => c.concurrency === n) as PipelineResult['concurrent'][number];
      rows.push([
        p.task,
        `${name} [${r.runtimePackage}]`,
        median(r.times).toFixed(1),
        (median(r.times) / median(theirs.times)).toFixed(2),
        r.longestGapMs.toFixed(1),
        Math.max(...r.gapsInRun).toFixed(1),
        Math.max(...r.gapsInRunApartFromGc).toFixed(1),
        Math.max(...r.gcPausesLongest).toFixed(1),
        ...CONCURRENCY.flatMap((n) => [at(n).perSecond.toFixed(2), (at(n).perSecond / peerAt(n).perSecond).toFixed(2), at(n).longestGapMs.toFixed(1)]),
      ]);
    }
    const list = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(', ');
    for (const [name, r] of [['onnxruntime-node', theirs], ['onnx-native', mine]] as const) {
      notes.push(`${p.task}, ${name}: calls of ${list(r.times, 0)} ms; under the timer, longest waits ${list(r.gaps, 1)} ms, in the model ${list(r.gapsInRun, 1)} ms, ` +
        `apart from GC ${list(r.gapsInRunApartFromGc, 1)} ms; longest GC pauses ${list(r.gcPausesLongest, 1)} ms; ` +
        r.concurrent
          .map((c) => `${c.concurrency} in flight: in the model ${c.longestInRunMs.toFixed(1)} ms, apart from GC ${c.longestInRunApartFromGcMs.toFixed(1)} ms, longest GC pause ${c.longestGcPauseMs.toFixed(1)} ms`)
          .join('; '));
    }
  }
  printTable(
    ['pipeline', 'runtime', 'median ms/call', 'x peer', 'longest gap ms', 'in the model ms', 'apart from GC ms', 'longest GC pause ms', ...CONCURRENCY.flatMap((n) => [`${n} in flight calls/s`, 'x peer', 'longest gap ms'])],
    rows,
    2,
  );
  console.log('');
  notes.forEach((n) => console.log(n));
} finally {
  rmSync(work, { recursive: true, force: true });
}
