/**
 * `onnx-native profile REPO/MODEL[/VERSION] --data FILE|FOLDER ...`: a version's reference
 * profile from data files, over monitor/profile-version.ts, with a progress bar on
 * stderr (by bytes read). The data files are read as data-files.ts says.
 */
import { join, resolve, sep } from 'node:path';
import { profileVersion, type ProfiledVersion } from '../monitor/profile-version';
import { dataBatches, dataFiles } from './data-files';

/** A progress bar on stderr: redrawn in place on a terminal, a line each tenth otherwise. */
function progressBar(total: number): { read(bytes: number, rows: number): void; done(): void } {
  let bytes = 0;
  let rows = 0;
  let tenth = -1;
  const tty = process.stderr.isTTY === true;
  const draw = () => {
    const share = total === 0 ? 1 : Math.min(1, bytes / total);
    if (tty) {
      const width = 30;
      const filled = Math.round(share * width);
      process.stderr.write(`\rprofiling [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${rows} rows`);
    } else if (Math.floor(share * 10) > tenth) {
      tenth = Math.floor(share * 10);
      process.stderr.write(`profiling: ${(share * 100).toFixed(0)}%, ${rows} rows\n`);
    }
  };
  return {
    read(b, r) {
      bytes += b;
      rows = r;
      draw();
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/**
 * Runs the command: `target` is REPO/MODEL or REPO/MODEL/VERSION; `learnWindow` the
 * window size to learn thresholds for (`false`: none; default the server's).
 */
export async function profile(target: string, data: readonly string[], output?: string, learnWindow?: number | false): Promise<ProfiledVersion> {
  if (data.length === 0) throw new Error('profile needs --data FILE|FOLDER (.npy or .jsonl files)');
  const parts = resolve(target).split(sep);
  const version = /^\d+$/.test(parts[parts.length - 1]) ? Number(parts.pop()) : undefined;
  const model = parts.pop() as string;
  const repository = parts.join(sep) || sep;
  const files = dataFiles(data);
  const bar = progressBar(files.reduce((n, f) => n + f.bytes, 0));
  let rows = 0;
  try {
    return await profileVersion({
      repository,
      model,
      ...(version !== undefined && { version }),
      data: (inputNames) => dataBatches(files, inputNames, (bytes) => bar.read(bytes, rows)),
      onProgress: (n) => (rows = n),
      ...(output !== undefined && { output }),
      ...(learnWindow !== undefined && { learnWindow }),
    });
  } finally {
    bar.done();
  }
}
