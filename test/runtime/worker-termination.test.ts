import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matmulChainModel, reluModel } from '../helpers/onnx-model';

const Termination = suite('terminated worker threads');

/**
 * Before node-addon-api was built to swallow exceptions an environment can no longer
 * throw, and before completions were dropped when a worker could no longer run
 * JavaScript, every one of 5 processes of 10 terminations each died (SIGABRT:
 * "terminate called after throwing an instance of 'Napi::Error'", or napi_fatal_error
 * "Error::Error napi_define_properties"). 3 processes of 12 terminations, and 12 aborted
 * pool tasks each, are far above that rate.
 */
const PROCESSES = 3;
const TERMINATIONS = 12;

Termination(`${PROCESSES} processes x ${TERMINATIONS} workers terminated mid-run, and as many aborted pool tasks: no signal, the process goes on`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-terminate-'));
  const fast = join(dir, 'relu.onnx');
  const slow = join(dir, 'matmul.onnx');
  writeFileSync(fast, reluModel());
  writeFileSync(slow, matmulChainModel(256, 40));
  const models = [
    { model: slow, dims: [4, 256] },
    { model: fast, dims: [4096] },
  ];
  for (let p = 0; p < PROCESSES; p++) {
    const child = spawnSync(process.execPath, [join(__dirname, '..', 'fixtures', 'terminate-workers.cjs'), JSON.stringify(models), String(TERMINATIONS)], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const what = `process ${p + 1}: ${child.signal ?? `exit ${child.status}`}; ${child.stdout.slice(-200)}${child.stderr.slice(0, 300)}`;
    assert.is(child.signal, null, what);
    assert.is(child.status, 0, what);
    const summary = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { terminated: number; aborted: number; finished: number; stillRuns: boolean };
    assert.is(summary.terminated, TERMINATIONS, what);
    // A task may finish before its abort comes; most are aborted mid-run.
    assert.is(summary.aborted + summary.finished, TERMINATIONS, what);
    assert.ok(summary.aborted >= TERMINATIONS / 2, what);
    assert.ok(summary.stillRuns, what);
  }
});

Termination.run();
