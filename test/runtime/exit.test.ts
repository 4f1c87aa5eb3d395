import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DET_MODEL } from '../helpers/common';

const Exit = suite('process.exit() with runs in flight');

/** Exits at these delays after the runs start: before they reach the pool, while they run. */
const DELAYS_MS = [0, 0, 5, 5, 20, 40, 80, 120, 160, 200];

Exit(`process.exit() during runs, loads and releases, ${DELAYS_MS.length} times: exit status kept, no signal, nothing from ONNX Runtime`, () => {
  const outcomes = DELAYS_MS.map((delay) => {
    const child = spawnSync(process.execPath, [join(__dirname, '..', 'fixtures', 'exit-mid-run.cjs'), DET_MODEL, String(delay)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return `${delay} ms: ${child.signal ?? `exit ${child.status}`}${child.stderr.trim() ? `, stderr: ${child.stderr.trim().slice(0, 200)}` : ''}`;
  });
  assert.equal(outcomes, DELAYS_MS.map((delay) => `${delay} ms: exit 7`));
});

Exit.run();
