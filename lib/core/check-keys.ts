/** @internal Rejecting misspelled option names, with the list of the valid ones. */
import { OrtError } from './errors';

/** Throws INVALID_OPTION unless the keys of `value` are all in `known`. */
export function checkKeys(value: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new OrtError(`unknown ${what} ${JSON.stringify(key)}; valid ones are: ${known.join(', ')}`, 'INVALID_OPTION');
    }
  }
}
