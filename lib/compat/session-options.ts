/**
 * @internal onnxruntime-common's session and run options, mapped onto this package's. An
 * option this runtime cannot honour is an error that says so: onnxruntime-node would pass
 * it on or silently drop it, and a dropped option (an execution provider above all) is a
 * model running somewhere other than where its user thinks.
 */
import { env } from 'onnxruntime-common';
import type { InferenceSession as OrtInferenceSession } from 'onnxruntime-common';
import { checkKeys } from '../core/check-keys';
import { OrtError } from '../core/errors';
import type { RunOptions } from '../runtime/session';
import { LOG_LEVELS, type LogLevel, type SessionOptions } from '../runtime/options';
import type { ExecutionProvider } from '../runtime/providers';

type OrtSessionOptions = OrtInferenceSession.SessionOptions;
type OrtRunOptions = OrtInferenceSession.RunOptions;

const SESSION_OPTION_NAMES: readonly (keyof OrtSessionOptions)[] = [
  'executionProviders',
  'intraOpNumThreads',
  'interOpNumThreads',
  'freeDimensionOverrides',
  'graphOptimizationLevel',
  'enableCpuMemArena',
  'enableMemPattern',
  'executionMode',
  'optimizedModelFilePath',
  'enableProfiling',
  'profileFilePrefix',
  'logId',
  'logSeverityLevel',
  'logVerbosityLevel',
  'preferredOutputLocation',
  'enableGraphCapture',
  'extra',
  'externalData',
];

/** Execution providers this runtime has, and the options of each it takes from onnxruntime-common. */
const PROVIDER_OPTION_NAMES: Readonly<Record<string, readonly string[]>> = {
  cpu: ['name', 'useArena'],
  cuda: ['name', 'deviceId'],
  tensorrt: ['name', 'deviceId'],
};

function unsupported(option: string, why: string): OrtError {
  return new OrtError(`sessionOptions.${option} is not supported by onnx-native: ${why}`, 'INVALID_OPTION');
}

function providers(list: unknown): ExecutionProvider[] {
  if (!Array.isArray(list)) throw new TypeError('Invalid argument: sessionOptions.executionProviders must be an array.');
  return list.map((ep: unknown, i): ExecutionProvider => {
    const spec = typeof ep === 'string' ? { name: ep } : ep;
    if (typeof spec !== 'object' || spec === null || typeof (spec as { name?: unknown }).name !== 'string') {
      throw new TypeError(`Invalid argument: sessionOptions.executionProviders[${i}] must be either a string or an object with property 'name'.`);
    }
    const { name, ...rest } = spec as { name: string } & Record<string, unknown>;
    const known = PROVIDER_OPTION_NAMES[name];
    if (known === undefined) {
      throw new OrtError(
        `Invalid argument: sessionOptions.executionProviders[${i}] is unsupported: '${name}'. ` +
          `onnx-native runs ${Object.keys(PROVIDER_OPTION_NAMES).join(', ')}.`,
        'PROVIDER_UNAVAILABLE',
      );
    }
    const extra = Object.keys(rest).filter((k) => !known.includes(k));
    if (extra.length > 0) {
      throw new OrtError(
        `sessionOptions.executionProviders[${i}] ('${name}'): option ${extra.map((k) => `'${k}'`).join(', ')} is not supported ` +
          `(onnx-native takes ${known.filter((k) => k !== 'name').join(', ')}; its own createSession() takes every option of the provider)`,
        'INVALID_OPTION',
      );
    }
    if (name === 'cpu') return rest.useArena === undefined ? 'cpu' : { name, useArena: rest.useArena as boolean };
    if (rest.deviceId === undefined) return name as 'cuda' | 'tensorrt';
    return { name: name as 'cuda' | 'tensorrt', deviceId: rest.deviceId as number };
  });
}

/** Nested `extra` entries as ONNX Runtime's flat config keys: `{ session: { a: '1' } }` is `session.a`. */
function flatten(extra: unknown, what: string, into: Record<string, string> = {}, prefix = ''): Record<string, string> {
  if (typeof extra !== 'object' || extra === null) throw new TypeError(`Invalid argument: ${what} must be an object.`);
  for (const [key, value] of Object.entries(extra)) {
    if (typeof value === 'object' && value !== null) flatten(value, what, into, `${prefix}${key}.`);
    else if (typeof value === 'string') into[prefix + key] = value;
    else throw new TypeError(`Invalid argument: ${what} value must be a string in Node.js binding.`);
  }
  return into;
}

function logLevel(level: unknown, what: string): LogLevel {
  if (!Number.isInteger(level) || (level as number) < 0 || (level as number) > 4) {
    throw new RangeError(`Invalid argument: ${what} must be one of the following: 0, 1, 2, 3, 4.`);
  }
  return LOG_LEVELS[level as number];
}

/** This package's session options for onnxruntime-common's `options`. */
export function toSessionOptions(options: OrtSessionOptions): SessionOptions {
  checkKeys(options, SESSION_OPTION_NAMES, 'session option');
  const out: SessionOptions = {};
  if (options.executionProviders !== undefined) {
    // An empty list is onnxruntime-common's "the default backend": the CPU.
    const list = providers(options.executionProviders);
    if (list.length > 0) out.executionProviders = list;
  }
  if (options.intraOpNumThreads !== undefined) out.intraOpNumThreads = options.intraOpNumThreads;
  if (options.interOpNumThreads !== undefined) out.interOpNumThreads = options.interOpNumThreads;
  if (options.freeDimensionOverrides !== undefined) out.freeDimensionOverrides = { ...options.freeDimensionOverrides };
  if (options.graphOptimizationLevel !== undefined) out.graphOptimizationLevel = options.graphOptimizationLevel;
  if (options.enableCpuMemArena !== undefined) out.enableCpuMemArena = options.enableCpuMemArena;
  if (options.enableMemPattern !== undefined) out.enableMemPattern = options.enableMemPattern;
  if (options.executionMode !== undefined) out.executionMode = options.executionMode;
  if (options.optimizedModelFilePath !== undefined) out.optimizedModelFilePath = options.optimizedModelFilePath;
  if (options.logId !== undefined) out.logId = options.logId;
  if (options.enableProfiling !== undefined) {
    if (typeof options.enableProfiling !== 'boolean') {
      throw new TypeError('Invalid argument: sessionOptions.enableProfiling must be a boolean value.');
    }
    if (options.enableProfiling) out.profiling = options.profileFilePrefix ?? true;
  }
  // The process-wide level (env.logLevel) is the default of every session, as in onnxruntime-node.
  out.logSeverityLevel =
    options.logSeverityLevel !== undefined
      ? logLevel(options.logSeverityLevel, 'sessionOptions.logSeverityLevel')
      : LOG_LEVELS.includes(env.logLevel as LogLevel)
        ? (env.logLevel as LogLevel)
        : 'warning';
  if (options.logVerbosityLevel !== undefined && options.logVerbosityLevel !== 0) {
    throw unsupported('logVerbosityLevel', 'verbosity levels print only in debug builds of ONNX Runtime, and this one is a release build');
  }
  const location = options.preferredOutputLocation;
  if (location !== undefined && location !== 'cpu') {
    const places = typeof location === 'string' ? [location] : Object.values(location);
    const elsewhere = places.filter((p) => p !== 'cpu');
    if (elsewhere.length > 0) {
      throw unsupported(
        'preferredOutputLocation',
        `outputs are returned in CPU memory ('${elsewhere[0]}' was asked); onnx-native's IoBinding keeps outputs on a CUDA device`,
      );
    }
  }
  if (options.enableGraphCapture) {
    throw unsupported('enableGraphCapture', "use createSession() with { name: 'cuda', cudaGraph: true } and an IoBinding");
  }
  const entries = options.extra !== undefined ? flatten(options.extra, 'sessionOptions.extra') : {};
  // Here the JavaScript thread is not one of ONNX Runtime's (in onnxruntime-node it is,
  // and blocks): pool threads that spin between operators would hold its core, and a 1 ms
  // timer would wait 5 to 20 ms on two cores. Not spinning costs nothing measurable on
  // runs of milliseconds and more; `extra: { session: { intra_op: { allow_spinning: '1' } } }`
  // turns it back on.
  entries['session.intra_op.allow_spinning'] ??= '0';
  entries['session.inter_op.allow_spinning'] ??= '0';
  out.configEntries = entries;
  if (options.externalData !== undefined && options.externalData !== null && options.externalData.length > 0) {
    throw unsupported(
      'externalData',
      'create the session from the model file path, with its external data files beside it, and ONNX Runtime reads them from there',
    );
  }
  return out;
}

const RUN_OPTION_NAMES: readonly (keyof OrtRunOptions)[] = ['logSeverityLevel', 'logVerbosityLevel', 'terminate', 'tag', 'extra'];

/** This package's run options for onnxruntime-common's `options`, onto `into`. */
export function toRunOptions(options: OrtRunOptions, into: RunOptions): RunOptions {
  checkKeys(options, RUN_OPTION_NAMES, 'run option');
  if (options.logSeverityLevel !== undefined) into.logSeverityLevel = logLevel(options.logSeverityLevel, 'runOptions.logSeverityLevel');
  if (options.logVerbosityLevel !== undefined && options.logVerbosityLevel !== 0) {
    throw new OrtError('runOptions.logVerbosityLevel is not supported by onnx-native: it prints only in debug builds of ONNX Runtime', 'INVALID_OPTION');
  }
  if (options.tag !== undefined) into.tag = options.tag;
  // ONNX Runtime's terminate flag, set before the run: the run stops before it starts.
  if (options.terminate === true) into.signal = AbortSignal.abort();
  if (options.extra !== undefined) into.configEntries = flatten(options.extra, 'runOptions.extra');
  return into;
}
