import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomically } from '../../lib/monitor/write-atomically';

const Atomic = suite('profiles are written atomically');

Atomic('a reader polling while a large file is written sees nothing or all of it, never a part', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-atomic-'));
  try {
    const path = join(dir, 'reference-profile.json');
    const big = JSON.stringify({ rows: Array.from({ length: 400_000 }, (_, i) => i) });
    let reading = true;
    const reads = { missing: 0, whole: 0, partial: 0 };
    const reader = (async () => {
      while (reading) {
        try {
          const text = await readFile(path, 'utf8');
          if (text.length === big.length) reads.whole++;
          else reads.partial++;
        } catch {
          reads.missing++;
        }
      }
    })();
    for (let i = 0; i < 5; i++) await writeAtomically(path, big);
    reading = false;
    await reader;
    assert.is(reads.partial, 0, JSON.stringify(reads));
    assert.ok(reads.missing + reads.whole > 0);
    assert.is(await readFile(path, 'utf8'), big);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Atomic.run();
