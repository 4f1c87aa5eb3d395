/**
 * Writes a file so that readers see the old content or the new, never a part: the data
 * go to a temporary file beside it, which is then renamed over it (a rename within a
 * folder is atomic on POSIX file systems). Profiles are read by servers polling the
 * repository and by people watching for them while they are written.
 */
import { rename, unlink, writeFile } from 'node:fs/promises';

let counter = 0;

/** Writes `data` to `path` atomically. */
export async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.${counter++}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => {});
    throw err;
  }
}
