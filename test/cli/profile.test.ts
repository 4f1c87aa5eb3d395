/**
 * `onnx-native profile`: a version's reference profile from data files (.npy batches in
 * folders, JSON lines of request bodies and of payload-log CloudEvents), written where the
 * server reads it, with its progress on stderr; the configuration's reductions; bad data
 * refused with the file (and line) at fault, and nothing written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatNpy } from '../../lib/cli/npy';
import { PROFILE_FILE, readModelProfile } from '../../lib/monitor/model-profile';
import { profileVersion } from '../../lib/monitor/profile-version';
import { clsImage, root, seededUniform } from '../helpers/common';
import { TEXT_DIRECTION, writeRepository } from '../helpers/model-repository';

const Profile = suite('onnx-native profile');

const OUTPUT = 'softmax_0.tmp_0';
const ROW = 3 * 48 * 192;
const u = seededUniform(3);
let repo = '';
let data = '';

function images(n: number): Float32Array {
  const out = new Float32Array(n * ROW);
  for (let i = 0; i < n; i++) out.set(clsImage(u, 0).data, i * ROW);
  return out;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'lib', 'cli', 'cli.ts'), ...args], { encoding: 'utf8' });
}

Profile.before(() => {
  repo = writeRepository({ text_direction: TEXT_DIRECTION });
  data = join(repo, '..', `${repo.split('/').pop()}-data`);
  mkdirSync(join(data, 'more'), { recursive: true });
  writeFileSync(join(data, 'a.npy'), formatNpy({ type: 'float32', dims: [100, 3, 48, 192], data: images(100) }));
  writeFileSync(join(data, 'more', 'b.npy'), formatNpy({ type: 'float32', dims: [70, 3, 48, 192], data: images(70) }));
  const body = (id: number) => ({ id: String(id), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(images(1)) }] });
  const event = (type: string, id: number) => ({ specversion: '1.0', id: String(id), type: `org.kubeflow.serving.inference.${type}`, source: 'test', data: type === 'request' ? body(id) : { outputs: [] } });
  // Two request bodies, then a request's and a response's events (the response is skipped).
  writeFileSync(join(data, 'requests.jsonl'), [JSON.stringify(body(1)), '', JSON.stringify(body(2)), JSON.stringify(event('request', 3)), JSON.stringify(event('response', 3))].join('\n') + '\n');
});

Profile.after(() => {
  for (const dir of [repo, data]) if (dir) rmSync(dir, { recursive: true, force: true });
});

Profile('from a folder of .npy batches and JSON lines: written into the version folder, with its progress', async () => {
  const result = cli('profile', join(repo, 'text_direction'), '--data', data);
  assert.is(result.status, 0, result.stderr);
  const path = join(repo, 'text_direction', '1', PROFILE_FILE);
  // 173 rows: too few to learn thresholds for windows of 1000.
  assert.match(result.stdout, `version 1: a profile of 173 rows, x (channels, 3 features), ${OUTPUT} (classes, 2 features), fixed thresholds -> ${path}`);
  assert.match(result.stderr, /profiling: 100%, 173 rows/);
  const profile = await readModelProfile(path);
  assert.is(profile.rows, 173);
  assert.equal(profile.inputs.x.row, [3, 48, 192]);
  const channel = profile.inputs.x.features['x.channel[0]'] as { count: number; mean: number };
  assert.is(channel.count, 173);
  assert.ok(Math.abs(channel.mean) < 0.05, `channel mean ${channel.mean}`);
  // The classifier's answers on noise: its classes seen, and the confidence's quantiles.
  assert.is(profile.outputs[OUTPUT].features[`${OUTPUT}.class`].kind, 'categorical');
  assert.is(profile.learned, undefined);
  rmSync(path);
  // Windows of 80: two windows' worth, thresholds learned for each feature.
  const learning = cli('profile', join(repo, 'text_direction'), '--data', data, '--learn-window', '80');
  assert.is(learning.status, 0, learning.stderr);
  assert.match(learning.stdout, 'thresholds learned for windows of 80');
  const learned = (await readModelProfile(path)).learned;
  assert.is(learned?.window, 80);
  assert.equal(Object.keys(learned?.features ?? {}).sort(), ['softmax_0.tmp_0.class', 'softmax_0.tmp_0.confidence', 'x.channel[0]', 'x.channel[1]', 'x.channel[2]']);
  rmSync(path);
});

Profile('the configuration names reductions: values for the image, none for the scores', async () => {
  const config = join(repo, 'text_direction', 'config.pbtxt');
  const original = (await import('node:fs')).readFileSync(config, 'utf8');
  try {
    writeFileSync(config, `${original}\nparameters [ { key: "monitor.x" value: { string_value: "values" } }, { key: "monitor.${OUTPUT}" value: { string_value: "off" } } ]\n`);
    const made = await profileVersion({ repository: repo, model: 'text_direction', data: [{ images: { type: 'float32', dims: [20, 3, 48, 192], data: images(20) } }], output: false });
    assert.equal(made.profile.inputs.x.reduction, { kind: 'values' });
    assert.equal(Object.keys(made.profile.outputs), []);
    assert.is(made.profile.rows, 20);
    writeFileSync(config, `${original}\nparameters [ { key: "monitor.x" value: { string_value: "pixels" } } ]\n`);
    await profileVersion({ repository: repo, model: 'text_direction', data: [], output: false }).then(
      () => assert.unreachable('an unknown reduction'),
      (err: Error) => assert.match(err.message, /parameter "monitor\.x" must be features, channels, channels:<axis>, classes, values, centroid or off, got "pixels"/),
    );
  } finally {
    writeFileSync(config, original);
  }
});

Profile('bad data and targets: clear errors naming the file (and line), nothing written', () => {
  const path = join(repo, 'text_direction', '1', PROFILE_FILE);
  const bad = join(data, 'bad');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'notes.txt'), 'hello');
  writeFileSync(join(bad, 'broken.jsonl'), `${JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1] }] })}\n`);
  const cases: [string[], RegExp][] = [
    [['profile', join(repo, 'text_direction')], /profile needs --data/],
    [['profile', join(repo, 'text_direction'), '--data', join(bad, 'notes.txt')], /notes\.txt: data files are \.npy or \.jsonl/],
    [['profile', join(repo, 'text_direction'), '--data', join(bad, 'broken.jsonl')], /^onnx-native: \S+broken\.jsonl:1: input "x": shape \[1,2\] holds 2 elements, data has 1\n$/],
    [['profile', join(repo, 'nothing'), '--data', data], /^onnx-native: model "nothing" failed to load: model "nothing" is not in the repository\n$/],
    [['profile', join(repo, 'text_direction', '7'), '--data', data], /^onnx-native: model "text_direction" has no version 7 \(served: 1\)\n$/],
  ];
  for (const [args, message] of cases) {
    const result = cli(...args);
    assert.is.not(result.status, 0, args.join(' '));
    assert.match(result.stderr, message, `${args.join(' ')}: ${result.stderr}`);
    assert.not.ok(existsSync(path), `${args.join(' ')} wrote a profile`);
  }
  rmSync(bad, { recursive: true, force: true });
});

Profile.run();
