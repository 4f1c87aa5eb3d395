/**
 * The lifecycle's state on disk: one JSON file, replaced whole and atomically (written to
 * a temporary file in the same folder, flushed, then renamed over the old one), so that a
 * crash or a full disk mid-write leaves the previous state, never half of one. Writes are
 * made one at a time, in the order asked, and the last one wins.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** A JSON file replaced whole on each write. */
export class StateFile<T> {
  readonly path: string;
  #writing: Promise<void> = Promise.resolve();
  #next = 0;

  constructor(folder: string, name: string) {
    this.path = join(folder, name);
  }

  /** The file's content, or undefined when there is none yet. Throws for a file that is not JSON (a state that cannot be read is not silently dropped). */
  async read(): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`${this.path} is not JSON (${(err as Error).message}); fix or remove it`);
    }
  }

  /** Replaces the file with `value`, after the writes asked before. */
  write(value: T): Promise<void> {
    const text = JSON.stringify(value, null, 2) + '\n';
    const temporary = `${this.path}.${process.pid}.${this.#next++}.tmp`;
    const write = this.#writing.then(async () => {
      const file = await open(temporary, 'w', 0o600);
      try {
        await file.writeFile(text, 'utf8');
        // Flushed before the rename: otherwise a power cut can leave the new name on empty data.
        await file.sync();
      } finally {
        await file.close();
      }
      try {
        await rename(temporary, this.path);
      } catch (err) {
        await rm(temporary, { force: true });
        throw err;
      }
    });
    this.#writing = write.catch(() => undefined);
    return write;
  }

  /** Resolves when the writes asked so far are done. */
  flushed(): Promise<void> {
    return this.#writing;
  }
}
