/**
 * @internal The per-run controls that Session and IoBinding runs share: cancellation,
 * log level, tag and raw config entries, checked and turned into a native RunOptions.
 */
import { native, type NativeRunOptions } from './binding';
import { OrtError, abortError } from '../core/errors';
import { LOG_LEVELS, type LogLevel } from './options';

/** @internal What a run's options say about its RunOptions. */
export interface RunControls {
  signal?: AbortSignal;
  logSeverityLevel?: LogLevel;
  tag?: string;
  configEntries?: Record<string, string>;
}

/**
 * @internal The native RunOptions for `options`, or undefined when the run sets none of
 * them: the common case, which then makes no native object at all.
 *
 * @throws {@link OrtError} `INVALID_OPTION` for a bad value; `ABORTED` when the signal
 *   has already fired.
 */
export function nativeRunOptions(options: RunControls): NativeRunOptions | undefined {
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new OrtError('options.signal must be an AbortSignal', 'INVALID_OPTION');
  if (signal?.aborted) throw abortError(signal);
  if (!signal && options.logSeverityLevel === undefined && options.tag === undefined && options.configEntries === undefined) return undefined;
  const level = options.logSeverityLevel === undefined ? undefined : LOG_LEVELS.indexOf(options.logSeverityLevel);
  if (level === -1) throw new OrtError(`options.logSeverityLevel must be one of ${LOG_LEVELS.join(', ')}`, 'INVALID_OPTION');
  if (options.tag !== undefined && typeof options.tag !== 'string') throw new OrtError('options.tag must be a string', 'INVALID_OPTION');
  const entries = Object.entries(options.configEntries ?? {}).map(([k, v]) => [k, String(v)] as [string, string]);
  return new (native().RunOptions)(level, options.tag, entries);
}
