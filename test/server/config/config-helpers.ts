/** What the config tests share. */
import * as assert from 'uvu/assert';
import { ConfigError } from '../../../lib/server/config/text-format';

/** Asserts that `fn` throws a ConfigError whose message is exactly `message`; returns it. */
export function throwsConfig(fn: () => unknown, message: string): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError "${message}", got ${String(caught)}`);
  assert.is((caught as ConfigError).message, message);
  return caught as ConfigError;
}
