/**
 * The folder gpu/ holds what is built on sessions for GPUs: ahead-of-time engine
 * building, here. (Provider options and device memory are the runtime's: see
 * runtime/session.ts.) It imports core/ and runtime/.
 *
 * Building TensorRT engines ahead of time, through ONNX Runtime's TensorRT execution
 * provider: into its engine cache, or into an EP-context model (an .onnx file whose
 * nodes hold the built engines). Builds take minutes; the next load reuses the result.
 * Never run on GPU hardware: see the README.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OrtError } from '../core/errors';
import type { SessionOptions } from '../runtime/options';
import type { TensorRtProviderOptions } from '../runtime/providers';
import { createSession, type Session } from '../runtime/session';
import { elementCount, tensor, type PlainTensor } from '../core/tensor';
import { dtypeByName } from '../core/dtypes';

/** Options of {@link buildEngine}: TensorRT's, plus where the engine goes and progress reports. */
export interface BuildEngineOptions extends Omit<TensorRtProviderOptions, 'name' | 'optional' | 'engineCachePath' | 'epContext'> {
  /** The folder for the engine cache, which the next session with the same folder loads from. */
  cachePath: string;
  /** Also write an EP-context model here (engine embedded when `embedEngine`). */
  epContextPath?: string;
  embedEngine?: boolean;
  /** Other session options (runtimePath for a GPU build of ONNX Runtime, say). */
  sessionOptions?: Omit<SessionOptions, 'executionProviders'>;
  /** Called about once a second while the build runs, and at its end. */
  onProgress?(progress: { phase: 'building' | 'done'; elapsedMs: number }): void;
}

/** What {@link buildEngine} did. */
export interface BuiltEngine {
  /** The engine cache folder. */
  cachePath: string;
  /** The engine files in it that this build wrote (empty when it reused earlier ones). */
  newFiles: string[];
  /** Whether an earlier build's engine was reused. */
  reused: boolean;
  /** The EP-context model, when one was asked for. */
  epContextPath?: string;
  /** How long loading and building took. */
  elapsedMs: number;
  /** The providers the session ended up with: `['tensorrt', 'cpu']` when TensorRT took the graph. */
  providers: readonly string[];
}

function cacheFiles(folder: string): Map<string, number> {
  const files = new Map<string, number>();
  if (!existsSync(folder)) return files;
  for (const name of readdirSync(folder)) files.set(name, statSync(join(folder, name)).mtimeMs);
  return files;
}

/** Feeds of the opt shapes (or the model's fixed shapes), zero-filled: enough to make TensorRT build. */
function buildFeeds(session: Session, options: BuildEngineOptions): Record<string, PlainTensor> {
  const feeds: Record<string, PlainTensor> = {};
  for (const input of session.inputs) {
    const opt = options.profiles?.opt[input.name];
    const dims = opt ?? input.dims;
    if (!dims.every((d): d is number => typeof d === 'number')) {
      throw new OrtError(
        `input '${input.name}' has dynamic dimensions [${input.dims.map((d) => d ?? '?').join(', ')}]: ` +
          'give profiles { min, opt, max } with its shapes, so that TensorRT knows what to build for',
        'INVALID_OPTION',
      );
    }
    const dtype = dtypeByName.get(input.type);
    if (!dtype?.array) throw new OrtError(`input '${input.name}' is ${input.type}, which TensorRT engines do not take here`, 'NOT_IMPLEMENTED');
    feeds[input.name] = tensor(dtype.name, new dtype.array(elementCount(dims)) as never, dims);
  }
  return feeds;
}

/**
 * Builds TensorRT engines for a model, ahead of the first real request: loads it with
 * the TensorRT provider (engine cache on), and runs it once on zeros of the `opt`
 * profile shapes (or the model's fixed ones), which is when TensorRT builds. A later
 * session with the same `engineCachePath` (or the EP-context model) loads the engine
 * instead of building it again.
 *
 * @example
 * ```ts
 * await buildEngine('detector.onnx', {
 *   cachePath: './trt-cache', fp16: true,
 *   profiles: { min: { x: [1, 3, 640, 640] }, opt: { x: [8, 3, 640, 640] }, max: { x: [16, 3, 640, 640] } },
 *   sessionOptions: { runtimePath: '/opt/onnxruntime-gpu/lib/libonnxruntime.so' },
 *   onProgress: ({ elapsedMs }) => console.log(`building... ${Math.round(elapsedMs / 1000)} s`),
 * });
 * ```
 * @throws {@link OrtError} `PROVIDER_UNAVAILABLE` when the loaded ONNX Runtime has no
 *   TensorRT provider, `EP_FAIL` when it will not start, `INVALID_OPTION`.
 */
export async function buildEngine(model: string | Uint8Array, options: BuildEngineOptions): Promise<BuiltEngine> {
  if (typeof options !== 'object' || options === null || typeof options.cachePath !== 'string' || options.cachePath === '') {
    throw new OrtError('buildEngine needs options.cachePath, the engine cache folder', 'INVALID_OPTION');
  }
  const { cachePath, epContextPath, embedEngine, sessionOptions, onProgress, ...tensorrt } = options;
  mkdirSync(cachePath, { recursive: true });
  if (epContextPath) mkdirSync(dirname(epContextPath), { recursive: true });
  const before = cacheFiles(cachePath);
  const started = performance.now();
  const timer = onProgress && setInterval(() => onProgress({ phase: 'building', elapsedMs: performance.now() - started }), 1000);
  let session: Session | undefined;
  try {
    session = await createSession(model, {
      ...sessionOptions,
      executionProviders: [
        {
          name: 'tensorrt',
          ...tensorrt,
          engineCachePath: cachePath,
          ...(epContextPath ? { epContext: { path: epContextPath, embedEngine: embedEngine ?? false } } : {}),
        },
        'cpu',
      ],
    });
    if (!session.providers.includes('tensorrt')) {
      throw new OrtError('the TensorRT provider did not register', 'EP_FAIL');
    }
    await session.run(buildFeeds(session, options));
    const after = cacheFiles(cachePath);
    const newFiles = [...after].filter(([name, mtime]) => before.get(name) !== mtime).map(([name]) => name);
    const elapsedMs = performance.now() - started;
    onProgress?.({ phase: 'done', elapsedMs });
    return {
      cachePath,
      newFiles,
      reused: newFiles.length === 0 && after.size > 0,
      ...(epContextPath ? { epContextPath } : {}),
      elapsedMs,
      providers: session.providers,
    };
  } finally {
    if (timer) clearInterval(timer);
    session?.release();
  }
}
