/**
 * The repository watcher (POLL model control) on a real repository: new versions and
 * model folders are loaded, removed folders unloaded, each only once its files have
 * stopped changing (a model.onnx written in two halves is never loaded half-written); a
 * corrupt model is tried once per change, not on every scan; file events make it prompt
 * without letting it skip the stability rule; close() stops it, and it never keeps the
 * process alive.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ModelRepository } from '../../lib/server/repository/model-repository';
import { EVENT_SETTLE_MS, RepositoryWatcher, type RepositoryWatcherOptions, type WatchedRepository } from '../../lib/server/repository/repository-watcher';
import { root } from '../helpers/common';
import { T } from '../helpers/onnx-model';
import { type ModelFolderSpec, addModel, identity2Model, writeRepository } from '../helpers/model-repository';

const MODEL = identity2Model(T.FLOAT);
/** Scan period of the tests that drive scans themselves; they wait longer than it between two. */
const INTERVAL_MS = 50;
const APART_MS = 80;

const log = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One call of load() that the watcher made. */
interface LoadCall {
  readonly name: string;
  /** performance.now() when it was called. */
  readonly at: number;
  /** Settled: whether it loaded. */
  ok?: boolean;
}

interface Fixture {
  readonly dir: string;
  readonly repository: ModelRepository;
  readonly watcher: RepositoryWatcher;
  readonly loads: LoadCall[];
  readonly unloads: string[];
  /** Closes the watcher and the repository, removes the folder. */
  done(): Promise<void>;
}

/**
 * A repository of `models` with every model loaded, watched through a wrapper that
 * records each load and unload (`onLoad` runs as a load is called, before it reads anything).
 */
async function watched(models: Readonly<Record<string, ModelFolderSpec>>, options: Partial<RepositoryWatcherOptions> = {}, onLoad?: (name: string) => void | Promise<void>): Promise<Fixture> {
  const dir = writeRepository(models);
  const repository = await ModelRepository.open(dir, { log, modelControl: 'explicit', startupModels: ['*'] });
  const loads: LoadCall[] = [];
  const unloads: string[] = [];
  const spy: WatchedRepository = {
    root: repository.root,
    loadedNames: () => repository.loadedNames(),
    async load(name) {
      const call: LoadCall = { name, at: performance.now() };
      loads.push(call);
      await onLoad?.(name);
      try {
        await repository.load(name);
        call.ok = true;
      } catch (err) {
        call.ok = false;
        throw err;
      }
    },
    unload(name) {
      unloads.push(name);
      return repository.unload(name);
    },
  };
  const watcher = await RepositoryWatcher.start(spy, { intervalMs: INTERVAL_MS, log, fileEvents: false, ...options });
  return {
    dir,
    repository,
    watcher,
    loads,
    unloads,
    async done() {
      await watcher.close();
      await repository.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Two scans far enough apart for a change seen by both to count as stable. */
async function twoScans(watcher: RepositoryWatcher): Promise<void> {
  await watcher.scan();
  await sleep(APART_MS);
  await watcher.scan();
}

const Watcher = suite('repository watcher (poll model control)');

Watcher('a new version folder is served after two scans apart, not after one', async () => {
  const f = await watched({ m: { versions: { 1: MODEL } } });
  try {
    assert.is(f.repository.resolve('m').version, 1);
    mkdirSync(join(f.dir, 'm', '2'));
    writeFileSync(join(f.dir, 'm', '2', 'model.onnx'), MODEL);
    await f.watcher.scan();
    assert.is(f.repository.resolve('m').version, 1, 'loaded on the first scan that saw it');
    assert.is(f.loads.length, 0);
    await sleep(APART_MS);
    await f.watcher.scan();
    assert.is(f.repository.resolve('m').version, 2);
    assert.equal(
      f.loads.map((c) => [c.name, c.ok]),
      [['m', true]],
    );
  } finally {
    await f.done();
  }
});

Watcher('a model.onnx written in two halves is never loaded half-written', async () => {
  let file = '';
  const sizes: number[] = [];
  const f = await watched({ m: { versions: { 1: MODEL } } }, {}, () => void sizes.push(statSync(file).size));
  try {
    file = join(f.dir, 'm', '2', 'model.onnx');
    const half = MODEL.byteLength >> 1;
    mkdirSync(join(f.dir, 'm', '2'));
    writeFileSync(file, MODEL.subarray(0, half));
    await f.watcher.scan();
    appendFileSync(file, MODEL.subarray(half));
    await sleep(APART_MS);
    await f.watcher.scan();
    await sleep(APART_MS);
    await f.watcher.scan();
    assert.ok(sizes.length > 0, 'the complete model was never loaded');
    assert.equal(sizes, sizes.map(() => MODEL.byteLength), `loads saw model.onnx of ${sizes.join(', ')} bytes; it is ${MODEL.byteLength}`);
    assert.is(f.repository.resolve('m').version, 2);
  } finally {
    await f.done();
  }
});

Watcher('a removed model folder is unloaded and a new one loaded, each after two scans', async () => {
  const f = await watched({ a: { versions: { 1: MODEL } }, b: { versions: { 1: MODEL } } });
  try {
    rmSync(join(f.dir, 'a'), { recursive: true });
    addModel(f.dir, 'c', { versions: { 1: MODEL } });
    await f.watcher.scan();
    assert.equal(f.repository.loadedNames(), ['a', 'b']);
    await sleep(APART_MS);
    await f.watcher.scan();
    assert.equal(f.repository.loadedNames(), ['b', 'c']);
    assert.equal(f.unloads, ['a']);
    assert.is(f.repository.resolve('c').version, 1);
  } finally {
    await f.done();
  }
});

Watcher('a corrupt new version fails once, the old one keeps serving, and it is not retried until it changes', async () => {
  const f = await watched({ m: { versions: { 1: MODEL } } });
  try {
    const file = join(f.dir, 'm', '2', 'model.onnx');
    mkdirSync(join(f.dir, 'm', '2'));
    writeFileSync(file, 'not an ONNX model');
    await twoScans(f.watcher);
    assert.equal(
      f.loads.map((c) => c.ok),
      [false],
    );
    assert.is(f.repository.resolve('m').version, 1);
    // Scans of its own (the timer's) and ours: the same files are not tried again.
    for (let i = 0; i < 3; i++) {
      await sleep(APART_MS);
      await f.watcher.scan();
    }
    assert.is(f.loads.length, 1, 'the corrupt model was tried again on unchanged files');
    assert.is(f.repository.resolve('m').version, 1);
    writeFileSync(file, MODEL);
    await twoScans(f.watcher);
    assert.equal(
      f.loads.map((c) => c.ok),
      [false, true],
    );
    assert.is(f.repository.resolve('m').version, 2);
  } finally {
    await f.done();
  }
});

Watcher('close() waits for the load in progress, and nothing scans after it', async () => {
  let started = false;
  let finished = false;
  const f = await watched({ m: { versions: { 1: MODEL } } }, { fileEvents: true }, async () => {
    started = true;
    await sleep(200);
    finished = true;
  });
  try {
    addModel(f.dir, 'n', { versions: { 1: MODEL } });
    // The watcher's timers are unref'ed: ours keep the test alive while it loads.
    for (let i = 0; i < 100 && !started; i++) await sleep(20);
    assert.ok(started, 'the new model was not loaded');
    await f.watcher.close();
    assert.ok(finished, 'close() resolved before the load it was waiting on');
    assert.equal(f.repository.loadedNames(), ['m', 'n']);
    const loadsAtClose = f.loads.length;
    // A new model folder and a change: neither the timer, nor file events, nor scan() act on them.
    addModel(f.dir, 'o', { versions: { 1: MODEL } });
    rmSync(join(f.dir, 'm'), { recursive: true });
    await sleep(EVENT_SETTLE_MS / 2 + 10 * INTERVAL_MS);
    await f.watcher.scan();
    await sleep(10 * INTERVAL_MS);
    assert.is(f.loads.length, loadsAtClose);
    assert.equal(f.unloads, []);
    assert.equal(f.repository.loadedNames(), ['m', 'n']);
  } finally {
    await f.done();
  }
});

Watcher('a watcher left open does not keep the process alive', () => {
  // In the project, where the child's imports (pino) resolve.
  const dir = writeRepository({ m: { versions: { 1: MODEL } } }, true);
  try {
    // A child of its own, with a repository that only records: the watcher's timers and
    // fs watchers, running, must let it exit once its script is done.
    const script = `
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import pino from 'pino';
      import { RepositoryWatcher } from ${JSON.stringify(join(root, 'lib', 'server', 'repository', 'repository-watcher.ts'))};
      const dir = process.argv[2];
      let loaded;
      const done = new Promise((resolve) => (loaded = resolve));
      const repository = { root: dir, loadedNames: () => ['m'], unload: async () => {}, load: async (name) => loaded(name) };
      // Alive until the watcher has loaded the new model (its own timers would not keep it so).
      const alive = setInterval(() => {}, 1000);
      await RepositoryWatcher.start(repository, { intervalMs: 50, log: pino({ level: 'silent' }) });
      mkdirSync(join(dir, 'n'));
      writeFileSync(join(dir, 'n', 'model.onnx'), 'x');
      console.log('loaded ' + (await done));
      clearInterval(alive);
    `;
    const file = join(dir, 'watch-and-exit.mts');
    writeFileSync(file, script);
    const out = execFileSync(process.execPath, ['--import', 'tsx', file, dir], { cwd: root, timeout: 30_000 }).toString();
    assert.match(out, /loaded n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Watcher('with file events, a new version is served within seconds of a 60 s period, still only once stable', async () => {
  const f = await watched({ m: { versions: { 1: MODEL } } }, { intervalMs: 60_000, fileEvents: true });
  try {
    const changed = performance.now();
    mkdirSync(join(f.dir, 'm', '2'));
    writeFileSync(join(f.dir, 'm', '2', 'model.onnx'), MODEL);
    // Events all along (a hidden file in the root, not a model): each brings a scan on,
    // none of which may load before the change has been seen unchanged for the settle time.
    let served = false;
    for (let i = 0; i < 50 && !served; i++) {
      writeFileSync(join(f.dir, '.touched'), String(i));
      await sleep(100);
      served = f.repository.resolve('m').version === 2;
    }
    assert.ok(served, 'version 2 not served within 5 s');
    assert.is(f.loads.length, 1);
    const after = f.loads[0].at - changed;
    assert.ok(after >= EVENT_SETTLE_MS - 10, `loaded ${after.toFixed(0)} ms after the change: file events bypassed the stability rule`);
  } finally {
    await f.done();
  }
});

Watcher.run();
