/**
 * CPU against CUDA against TensorRT (fp32 and fp16), batch sizes 1 to 64: median latency
 * and throughput per provider and batch, printed as a table and written as JSON. For
 * someone with a GPU to run unchanged: point ORT_DYLIB_PATH at a GPU build of ONNX
 * Runtime (with CUDA 12, cuDNN 9 and TensorRT 10 where the loader finds them). Providers
 * that will not start are reported as such, and the rest still run; on a machine with
 * no GPU only the CPU rows have numbers. Never run on a GPU by this project.
 *
 * Usage: npx tsx bench/gpu.ts [--model PATH] [--input NAME] [--shape 3x48x192]
 *                             [--batches 1,2,4,8,16,32,64] [--runs N] [--json FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, loadRuntime, tensor, type ExecutionProvider, type Session } from '../lib/index';
import { CLS_MODEL, randomFloats } from '../test/helpers/common';
import { BENCH_BUILD } from './tiny-model';
import { median, printTable } from './report';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const MODEL = arg('model') ?? CLS_MODEL;
const SHAPE = (arg('shape') ?? '3x48x192').split('x').map(Number);
const BATCHES = (arg('batches') ?? '1,2,4,8,16,32,64').split(',').map(Number);
const RUNS = Number(arg('runs') ?? 30);
const JSON_OUT = arg('json') ?? join(BENCH_BUILD, 'gpu-bench.json');
const MAX_BATCH = Math.max(...BATCHES);

interface Row {
  provider: string;
  batch: number;
  medianMs?: number;
  itemsPerSecond?: number;
  error?: string;
}

function providers(inputName: string): [string, ExecutionProvider[]][] {
  const shape = (batch: number) => [batch, ...SHAPE];
  const profiles = { min: { [inputName]: shape(1) }, opt: { [inputName]: shape(Math.min(16, MAX_BATCH)) }, max: { [inputName]: shape(MAX_BATCH) } };
  const cache = join(BENCH_BUILD, 'trt-cache');
  return [
    ['cpu', ['cpu']],
    ['cuda', [{ name: 'cuda', cudnnConvAlgoSearch: 'heuristic' }, 'cpu']],
    ['tensorrt fp32', [{ name: 'tensorrt', profiles, engineCachePath: join(cache, 'fp32') }, 'cuda', 'cpu']],
    ['tensorrt fp16', [{ name: 'tensorrt', fp16: true, profiles, engineCachePath: join(cache, 'fp16') }, 'cuda', 'cpu']],
  ];
}

async function measure(session: Session, inputName: string, batch: number): Promise<number> {
  const feeds = { [inputName]: tensor('float32', randomFloats(batch * SHAPE.reduce((a, b) => a * b, 1), batch), [batch, ...SHAPE]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await session.run(feeds);
    times.push(performance.now() - start);
  }
  return median(times);
}

(async () => {
  const runtime = loadRuntime();
  console.log(`ONNX Runtime ${runtime.version} from ${runtime.path}; model ${MODEL}; input [batch, ${SHAPE.join(', ')}]; ${RUNS} runs each\n`);
  const probe = await createSession(MODEL);
  const inputName = probe.inputNames[0];
  probe.release();

  const rows: Row[] = [];
  for (const [label, eps] of providers(inputName)) {
    let session: Session;
    try {
      session = await createSession(MODEL, { executionProviders: eps });
    } catch (err) {
      const error = (err as Error).message.split('\n')[0];
      console.log(`${label}: unavailable (${error.slice(0, 160)})`);
      for (const batch of BATCHES) rows.push({ provider: label, batch, error });
      continue;
    }
    for (const batch of BATCHES) {
      try {
        const medianMs = await measure(session, inputName, batch);
        rows.push({ provider: label, batch, medianMs, itemsPerSecond: (batch / medianMs) * 1000 });
      } catch (err) {
        rows.push({ provider: label, batch, error: (err as Error).message.split('\n')[0] });
      }
    }
    session.release();
  }

  const header = ['provider', ...BATCHES.map((b) => `batch ${b}`)];
  const lines = [...new Set(rows.map((r) => r.provider))].map((provider) => [
    provider,
    ...BATCHES.map((batch) => {
      const row = rows.find((r) => r.provider === provider && r.batch === batch)!;
      return row.medianMs === undefined ? '-' : `${row.medianMs.toFixed(2)} ms, ${row.itemsPerSecond!.toFixed(0)}/s`;
    }),
  ]);
  console.log('\nmedian latency per run, and items per second');
  printTable(header, lines);

  mkdirSync(BENCH_BUILD, { recursive: true });
  writeFileSync(JSON_OUT, JSON.stringify({ runtime, model: MODEL, shape: SHAPE, runs: RUNS, rows }, null, 2));
  console.log(`\nJSON: ${JSON_OUT}`);
})();
