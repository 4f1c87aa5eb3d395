/**
 * Session options: what callers pass, and its translation into the plain values the
 * native layer reads (native/session_options.cc). All checking happens here.
 */
import type { NativeSessionOptions } from './binding';
import { OrtError } from '../core/errors';
import { checkKeys } from '../core/check-keys';
import { CudaStream } from './cuda';
import { type ExecutionProvider, providerConfig, providerSpec } from './providers';

/** ONNX Runtime's log levels, most verbose first. */
export type LogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

/**
 * Options of {@link createSession}. Every field is optional. (`batching`, which makes
 * createSession return a batching session, is described by {@link BatchingOptions}.)
 */
export interface SessionOptions {
  /**
   * The ONNX Runtime shared library to use. Default: the one this process has already
   * loaded (by any thread), else the `ORT_DYLIB_PATH` environment variable, else the CPU
   * build that comes with this package. One library per process: a different path from
   * the loaded one is `RUNTIME_CONFLICT`.
   */
  runtimePath?: string;
  /** Threads for parallelism inside one operator. Default: 0, one per physical core. */
  intraOpNumThreads?: number;
  /** Threads for running independent operators at once (parallel mode only). Default: 0, ONNX Runtime's choice. */
  interOpNumThreads?: number;
  /** Run independent branches of the graph one after another, or at once. Default: `'sequential'`. */
  executionMode?: 'sequential' | 'parallel';
  /**
   * How far ONNX Runtime rewrites (fuses) the graph when it loads. Default: `'all'`.
   * `'layout'` (extended plus layout changes, ONNX Runtime 1.22 and later) sits between
   * `'extended'` and `'all'`.
   */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /**
   * Save the graph as optimized (with fused operators) to this .onnx file; load that
   * file later with `graphOptimizationLevel: 'disabled'` to skip optimizing again.
   */
  optimizedModelFilePath?: string;
  /** Pool CPU allocations in ONNX Runtime's arena. Default: true. */
  enableCpuMemArena?: boolean;
  /** Plan memory from the first run's allocation pattern. Default: true. */
  enableMemPattern?: boolean;
  /**
   * Fix symbolic dimensions to values, so the optimizer can specialize the graph:
   * `{ batch: 1 }`.
   */
  freeDimensionOverrides?: Record<string, number>;
  /** Minimum level of the session's log messages (printed to stderr). Default: `'warning'`. */
  logSeverityLevel?: LogLevel;
  /** A name that prefixes this session's log messages. */
  logId?: string;
  /**
   * Write a profile (Chrome trace JSON) of every run. A string is the file name prefix;
   * `true` uses `onnxruntime_profile_`. Get the file's path from `session.endProfiling()`.
   */
  profiling?: boolean | string;
  /** Raw session configuration entries (keys of onnxruntime_session_options_config_keys.h). */
  configEntries?: Record<string, string>;
  /**
   * Execution providers in order of preference, each a name or a name with options:
   * `['tensorrt', { name: 'cuda', deviceId: 1 }, 'cpu']`. The CPU provider is always
   * there as the last resort. Default: `['cpu']`.
   */
  executionProviders?: readonly ExecutionProvider[];
}

/** @internal ONNX Runtime's severity levels, by their number. */
export const LOG_LEVELS: readonly LogLevel[] = ['verbose', 'info', 'warning', 'error', 'fatal'];
// 'layout' is ORT_ENABLE_LAYOUT, newer than the headers built against (API 21).
const OPTIMIZATION_LEVELS = { disabled: 0, basic: 1, extended: 2, layout: 3, all: 99 } as const;
const EXECUTION_MODES = { sequential: 0, parallel: 1 } as const;
const OPTION_NAMES: readonly (keyof SessionOptions)[] = [
  'runtimePath',
  'intraOpNumThreads',
  'interOpNumThreads',
  'executionMode',
  'graphOptimizationLevel',
  'optimizedModelFilePath',
  'enableCpuMemArena',
  'enableMemPattern',
  'freeDimensionOverrides',
  'logSeverityLevel',
  'logId',
  'profiling',
  'configEntries',
  'executionProviders',
];
function bad(name: string, expected: string, got: unknown): OrtError {
  return new OrtError(`options.${name} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`, 'INVALID_OPTION');
}

function threads(name: string, value: unknown): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1024) {
    throw bad(name, 'an integer from 0 to 1024', value);
  }
  return value as number;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw bad(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw bad(name, 'a boolean', value);
  return value;
}

function text(name: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string' || value === '') throw bad(name, 'a non-empty string', value);
  return value;
}

function record<V>(name: string, value: unknown, check: (v: unknown) => v is V, expected: string): [string, V][] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(name, 'an object', value);
  return Object.entries(value).map(([k, v]) => {
    if (!check(v)) throw bad(`${name}.${k}`, expected, v);
    return [k, v];
  });
}

/**
 * @internal Checks `options` and translates them for the native layer. `available` is
 * ONNX Runtime's list of compiled-in providers; optional providers it lacks are left
 * out, and listed in `skipped`.
 */
export function toNativeOptions(
  options: SessionOptions,
  available: readonly string[],
  skipped: { provider: string; reason: string }[] = [],
): NativeSessionOptions {
  if (typeof options !== 'object' || options === null) throw bad('', 'an object', options);
  checkKeys(options, OPTION_NAMES, 'session option');
  const providers = options.executionProviders ?? ['cpu'];
  if (!Array.isArray(providers) || providers.length === 0) throw bad('executionProviders', 'a non-empty array', providers);
  let arena = bool('enableCpuMemArena', options.enableCpuMemArena, true);
  const native: NativeSessionOptions['executionProviders'] = [];
  for (const spec of providers.map(providerSpec)) {
    if (spec.name === 'cpu') {
      arena = bool('executionProviders[cpu].useArena', spec.useArena, arena);
      continue; // always registered, last
    }
    const config = providerConfig(spec);
    if (!available.includes(config.ortName)) {
      if (config.optional) {
        skipped.push({ provider: spec.name, reason: `not in the loaded ONNX Runtime, which has: ${available.join(', ')}` });
        continue;
      }
      throw new OrtError(
        `execution provider '${spec.name}' (${config.ortName}) is not in the loaded ONNX Runtime, which has: ` +
          `${available.join(', ')}. Load a build that has it with the runtimePath option or ORT_DYLIB_PATH, ` +
          `or mark it { name: '${spec.name}', optional: true } to go on without it.`,
        'PROVIDER_UNAVAILABLE',
      );
    }
    native.push([config.ortName, config.options, config.optional]);
  }
  const profiling = options.profiling;
  if (profiling !== undefined && typeof profiling !== 'boolean' && (typeof profiling !== 'string' || profiling === '')) {
    throw bad('profiling', 'a boolean or a file name prefix', profiling);
  }
  const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  const isString = (v: unknown): v is string => typeof v === 'string';
  return {
    intraOpNumThreads: threads('intraOpNumThreads', options.intraOpNumThreads),
    interOpNumThreads: threads('interOpNumThreads', options.interOpNumThreads),
    executionMode: EXECUTION_MODES[oneOf('executionMode', options.executionMode, ['sequential', 'parallel'], 'sequential')],
    graphOptimizationLevel:
      OPTIMIZATION_LEVELS[oneOf('graphOptimizationLevel', options.graphOptimizationLevel, ['disabled', 'basic', 'extended', 'layout', 'all'], 'all')],
    enableCpuMemArena: arena,
    enableMemPattern: bool('enableMemPattern', options.enableMemPattern, true),
    logSeverityLevel: LOG_LEVELS.indexOf(oneOf('logSeverityLevel', options.logSeverityLevel, LOG_LEVELS, 'warning')),
    logId: text('logId', options.logId),
    optimizedModelFilePath: text('optimizedModelFilePath', options.optimizedModelFilePath),
    profileFilePrefix: profiling === true ? 'onnxruntime_profile_' : typeof profiling === 'string' ? profiling : '',
    freeDimensionOverrides: record('freeDimensionOverrides', options.freeDimensionOverrides, isInt, 'a non-negative integer'),
    configEntries: record('configEntries', options.configEntries, isString, 'a string'),
    executionProviders: native,
    // Held by the session, so that neither the collector nor release() destroys a stream
    // under it.
    streams: providers.flatMap((p) => (typeof p === 'object' && 'stream' in p && p.stream instanceof CudaStream ? [p.stream.native] : [])),
  };
}
