/**
 * Which ONNX Runtime library a process loads, and what happens with files that are not
 * one. Every load runs in a child process (one process loads one ONNX Runtime), under
 * a time limit so that a hang fails the test instead of the suite, and a child killed
 * by a signal (SIGBUS from a truncated library, say) fails it too.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileTooOldRuntime, root } from '../helpers/common';

const Loading = suite('which ONNX Runtime a process loads, and which files it refuses');

/** The CPU build that comes with the package (ONNX Runtime 1.28). */
const BUNDLED = join(root, 'node_modules', 'sherpa-onnx-linux-x64', 'libonnxruntime.so');
/** onnxruntime-node's official build (ONNX Runtime 1.30): a second, different library. */
const OFFICIAL = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
/** sherpa-onnx's own C API: a library that links ONNX Runtime (BUNDLED) without being it. */
const SHERPA_C_API = join(root, 'node_modules', 'sherpa-onnx-linux-x64', 'libsherpa-onnx-c-api.so');

const LIMIT_MS = 60_000;
const MARK = 'RESULT ';

interface ChildRun {
  /** What the script passed to `report()`. */
  result: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  output: string;
}

/**
 * Runs `body` (CommonJS, with `lib` = lib/index.ts, `model` = a Relu model's bytes and
 * `report(value)` to hand a value back) in a fresh Node process whose ORT_DYLIB_PATH is
 * `dylibPath` (unset if undefined). Fails the test if the child hangs past LIMIT_MS, is
 * killed by a signal, exits non-zero or reports nothing.
 */
function inFreshProcess(body: string, dylibPath?: string): ChildRun {
  const script = `
    const lib = require(${JSON.stringify(join(root, 'lib', 'index.ts'))});
    const model = require(${JSON.stringify(join(root, 'test', 'helpers', 'onnx-model.ts'))}).reluModel();
    const report = (value) => console.log(${JSON.stringify(MARK)} + JSON.stringify(value));
    const failure = (e) => ({ code: e.code, message: e.message });
    (async () => { ${body} })().catch((e) => { console.error(e); process.exitCode = 1; });
  `;
  const env = { ...process.env };
  delete env.ORT_DYLIB_PATH;
  if (dylibPath !== undefined) env.ORT_DYLIB_PATH = dylibPath;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    env,
    encoding: 'utf8',
    timeout: LIMIT_MS,
    killSignal: 'SIGKILL',
  });
  const output = `${child.stdout}\n${child.stderr}`;
  const timedOut = (child.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  assert.not.ok(timedOut, `the child hung: killed after ${LIMIT_MS} ms\n${output}`);
  assert.is(child.signal, null, `the child was killed by ${child.signal}\n${output}`);
  assert.is(child.status, 0, `the child exited with ${child.status}\n${output}`);
  const line = child.stdout.split('\n').find((l) => l.startsWith(MARK));
  assert.ok(line, `the child reported nothing\n${output}`);
  return { result: JSON.parse(line!.slice(MARK.length)), output };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'onnx-native-runtime-'));
}

/** The first 100 KB of a real ONNX Runtime library: its headers, and little else. */
function truncatedLibrary(): string {
  const file = join(tempDir(), 'libonnxruntime.so');
  writeFileSync(file, readFileSync(BUNDLED).subarray(0, 100 * 1024));
  return file;
}

Loading('a truncated library is RUNTIME_LOAD_FAILED saying so, from loadRuntime(path) and from ORT_DYLIB_PATH, never SIGBUS', () => {
  const truncated = truncatedLibrary();
  const fromPath = inFreshProcess(`
    const out = {};
    try { lib.loadRuntime(${JSON.stringify(truncated)}); } catch (e) { out.failed = failure(e); }
    // The process is sound afterwards: a real library loads and runs a model.
    const session = await lib.createSession(model, { runtimePath: ${JSON.stringify(BUNDLED)} });
    out.y = Array.from((await session.run({ x: lib.tensor('float32', [-1, 2]) })).y.data);
    report(out);
  `).result;
  assert.is(fromPath.failed?.code, 'RUNTIME_LOAD_FAILED', JSON.stringify(fromPath));
  assert.ok(fromPath.failed.message.includes(truncated), fromPath.failed.message);
  assert.match(fromPath.failed.message, /truncated: it has 102400 bytes, but its ELF headers place .* up to byte \d+/);
  assert.equal(fromPath.y, [0, 2]);

  const fromEnv = inFreshProcess(`lib.createSession(model).then(() => report('loaded'), (e) => report(failure(e)));`, truncated).result;
  assert.is(fromEnv.code, 'RUNTIME_LOAD_FAILED', JSON.stringify(fromEnv));
  assert.ok(fromEnv.message.includes(truncated), fromEnv.message);
  assert.match(fromEnv.message, /truncated/);
  assert.match(fromEnv.message, /\(from ORT_DYLIB_PATH\).*Point ORT_DYLIB_PATH at an ONNX Runtime shared library/);
});

Loading('a FIFO at the runtime path is RUNTIME_LOAD_FAILED, not a hang, from loadRuntime(path) and from ORT_DYLIB_PATH', () => {
  const fifo = join(tempDir(), 'libonnxruntime.so');
  execFileSync('mkfifo', [fifo]);
  const fromPath = inFreshProcess(`try { lib.loadRuntime(${JSON.stringify(fifo)}); report('loaded'); } catch (e) { report(failure(e)); }`).result;
  assert.is(fromPath.code, 'RUNTIME_LOAD_FAILED', JSON.stringify(fromPath));
  assert.ok(fromPath.message.includes(fifo), fromPath.message);
  assert.match(fromPath.message, /it is a FIFO \(named pipe\), not a regular file/);

  const fromEnv = inFreshProcess(`lib.createSession(model).then(() => report('loaded'), (e) => report(failure(e)));`, fifo).result;
  assert.is(fromEnv.code, 'RUNTIME_LOAD_FAILED', JSON.stringify(fromEnv));
  assert.match(fromEnv.message, /FIFO.*Point ORT_DYLIB_PATH at/);
});

Loading('directories, devices, other formats and other machines are RUNTIME_LOAD_FAILED naming what the file is', () => {
  // An ELF shared object for AArch64: a real one built here, with its e_machine changed.
  const dir = tempDir();
  writeFileSync(join(dir, 'lib.c'), 'int answer(void) { return 42; }');
  const x64 = join(dir, 'libanswer.so');
  execFileSync('cc', ['-shared', '-fPIC', '-o', x64, join(dir, 'lib.c')]);
  const arm64 = join(dir, 'libanswer-arm64.so');
  const bytes = readFileSync(x64);
  bytes.writeUInt16LE(183, 18);
  writeFileSync(arm64, bytes);
  const text = join(dir, 'libonnxruntime.so');
  writeFileSync(text, 'not a shared library');
  const paths = [dir, '/dev/null', text, arm64];
  const results = inFreshProcess(`
    report(${JSON.stringify(paths)}.map((path) => { try { lib.loadRuntime(path); return 'loaded'; } catch (e) { return failure(e); } }));
  `).result as { code: string; message: string }[];
  const expected = [/it is a directory, not a regular file/, /it is a character device, not a regular file/, /not an ELF shared object: it starts with the bytes 6e 6f 74 20/, /for AArch64 \(arm64\).*this process \(x64\) needs x86-64/];
  results.forEach((result, i) => {
    assert.is(result.code, 'RUNTIME_LOAD_FAILED', `${paths[i]}: ${JSON.stringify(result)}`);
    assert.ok(result.message.includes(paths[i]), result.message);
    assert.match(result.message, expected[i]);
  });
});

Loading('a library that only links ONNX Runtime is refused, naming the ONNX Runtime it uses', () => {
  // A stand-in: libwrapper.so links libfake-ort.so, whose OrtGetApiBase is that of an
  // ONNX Runtime that serves no API version (taken for ONNX Runtime, it is RUNTIME_TOO_OLD).
  const dir = tempDir();
  writeFileSync(join(dir, 'wrapper.c'), 'const void* OrtGetApiBase(void); const void* wrapped(void) { return OrtGetApiBase(); }');
  const fakeOrt = join(dir, 'libfake-ort.so');
  const wrapper = join(dir, 'libwrapper.so');
  compileTooOldRuntime(fakeOrt);
  execFileSync('cc', ['-shared', '-fPIC', '-o', wrapper, join(dir, 'wrapper.c'), `-L${dir}`, '-lfake-ort', '-Wl,-rpath,$ORIGIN']);
  const stub = inFreshProcess(`try { lib.loadRuntime(${JSON.stringify(wrapper)}); report('loaded'); } catch (e) { report(failure(e)); }`).result;
  assert.is(stub.code, 'RUNTIME_LOAD_FAILED', JSON.stringify(stub));
  assert.ok(stub.message.includes(`uses ONNX Runtime from ${fakeOrt}`), stub.message);

  // The real case: sherpa-onnx's C API library, which depends on the bundled libonnxruntime.so.
  if (!existsSync(SHERPA_C_API)) return;
  const real = inFreshProcess(`
    const out = {};
    await lib.createSession(model).then(() => { out.loaded = lib.loadRuntime(); }, (e) => { out.failed = failure(e); });
    // The fix the message gives works, in the same process.
    const suggested = out.failed && /Point ORT_DYLIB_PATH at (.*) instead\\./.exec(out.failed.message);
    if (suggested) {
      process.env.ORT_DYLIB_PATH = suggested[1];
      await lib.createSession(model);
      out.retried = lib.loadRuntime();
    }
    report(out);
  `, SHERPA_C_API).result;
  assert.is(real.failed?.code, 'RUNTIME_LOAD_FAILED', JSON.stringify(real));
  assert.ok(real.failed.message.includes(SHERPA_C_API), real.failed.message);
  assert.ok(real.failed.message.includes(`uses ONNX Runtime from ${BUNDLED}`), real.failed.message);
  assert.ok(real.failed.message.includes(`Point ORT_DYLIB_PATH at ${BUNDLED} instead.`), real.failed.message);
  assert.is(real.retried?.path, BUNDLED);
  assert.match(real.retried.version, /^1\.28\./);
});

/**
 * A worker thread of a child process whose main thread loaded `choose`; the worker
 * reports what it sees. `choose` is run in the main thread (`runtime` = the library).
 */
function workerSees(choose: string, runtime: string, dylibPath?: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const worker = `
    require('tsx/cjs');
    const { parentPort } = require('node:worker_threads');
    const lib = require(${JSON.stringify(join(root, 'lib', 'index.ts'))});
    const model = require(${JSON.stringify(join(root, 'test', 'helpers', 'onnx-model.ts'))}).reluModel();
    const failure = (e) => ({ code: e.code, message: e.message });
    (async () => {
      const out = {};
      try { out.providers = lib.availableProviders(); } catch (e) { out.providersFailed = failure(e); }
      try {
        const session = await lib.createSession(model);
        out.y = Array.from((await session.run({ x: lib.tensor('float32', [-3, 4]) })).y.data);
      } catch (e) { out.sessionFailed = failure(e); }
      try { out.loaded = lib.loadRuntime(); } catch (e) { out.loadFailed = failure(e); }
      const other = out.loaded && out.loaded.path === ${JSON.stringify(BUNDLED)} ? ${JSON.stringify(OFFICIAL)} : ${JSON.stringify(BUNDLED)};
      try { lib.loadRuntime(other); out.otherLoaded = true; } catch (e) { out.other = failure(e); }
      parentPort.postMessage(out);
    })();
  `;
  return inFreshProcess(
    `
    const runtime = ${JSON.stringify(runtime)};
    ${choose}
    const main = lib.loadRuntime();
    const { Worker } = require('node:worker_threads');
    const seen = await new Promise((resolve, reject) => {
      const w = new Worker(${JSON.stringify(worker)}, { eval: true });
      w.once('message', (m) => { resolve(m); w.terminate(); });
      w.once('error', reject);
    });
    report({ main, worker: seen });
  `,
    dylibPath,
  ).result;
}

Loading("a worker thread uses the library the main thread chose with loadRuntime(path) or runtimePath", () => {
  for (const choose of ['lib.loadRuntime(runtime);', 'await lib.createSession(model, { runtimePath: runtime });']) {
    // The library the main thread chooses is not the one a worker would choose on its
    // own (ORT_DYLIB_PATH unset: the bundled build; ORT_DYLIB_PATH set: that file).
    for (const [runtime, dylibPath] of [[OFFICIAL, undefined], [BUNDLED, OFFICIAL]] as const) {
      const what = `${choose} with ${runtime}, ORT_DYLIB_PATH=${dylibPath ?? '(unset)'}`;
      const { main, worker } = workerSees(choose, runtime, dylibPath);
      assert.is(main.path, runtime, what);
      assert.is(worker.providersFailed, undefined, `${what}: ${JSON.stringify(worker.providersFailed)}`);
      assert.is(worker.sessionFailed, undefined, `${what}: ${JSON.stringify(worker.sessionFailed)}`);
      assert.ok(worker.providers.includes('CPUExecutionProvider'), what);
      assert.equal(worker.y, [0, 4], what);
      assert.equal(worker.loaded, main, what);
      // An explicit, different library is still a conflict, in a worker too.
      assert.is(worker.other?.code, 'RUNTIME_CONFLICT', `${what}: ${JSON.stringify(worker)}`);
    }
  }
});

Loading('an explicit runtime path wins over ORT_DYLIB_PATH, and a different one afterwards is RUNTIME_CONFLICT', () => {
  for (const [explicit, fromEnv] of [[BUNDLED, OFFICIAL], [OFFICIAL, BUNDLED]]) {
    for (const choose of ['await lib.createSession(model, { runtimePath: runtime });', 'lib.loadRuntime(runtime); await lib.createSession(model);']) {
      const what = `${choose} with ${explicit}, ORT_DYLIB_PATH=${fromEnv}`;
      const out = inFreshProcess(
        `
        const runtime = ${JSON.stringify(explicit)};
        const out = {};
        try {
          ${choose}
          out.loaded = lib.loadRuntime();
          out.providers = lib.availableProviders();
          out.again = lib.loadRuntime(runtime);
        } catch (e) { out.failed = failure(e); }
        try { lib.loadRuntime(${JSON.stringify(fromEnv)}); out.envLoaded = true; } catch (e) { out.env = failure(e); }
        report(out);
      `,
        fromEnv,
      ).result;
      assert.is(out.failed, undefined, `${what}: ${JSON.stringify(out.failed)}`);
      assert.is(out.loaded.path, explicit, what);
      assert.match(out.loaded.version, explicit === BUNDLED ? /^1\.28\./ : /^1\.30\./, what);
      assert.equal(out.again, out.loaded, what);
      assert.ok(out.providers.includes('CPUExecutionProvider'), what);
      assert.is(out.env?.code, 'RUNTIME_CONFLICT', `${what}: ${JSON.stringify(out)}`);
      assert.ok(out.env.message.includes(`already loaded from ${explicit}`), out.env.message);
    }
  }
});

Loading.run();
