/**
 * Finding and loading the ONNX Runtime shared library. The addon does not link
 * ONNX Runtime: it loads it at run time, so one build of the addon works with the CPU
 * build that arrives with this package (the default) or with any other build, a GPU
 * one for instance, that the caller points at.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { native } from './binding';
import { OrtError, isOrtError, type ErrorCode } from '../core/errors';
import { libraryFileProblem } from './library-file';

/** The environment variable naming the ONNX Runtime library to load (the Rust crate `ort` reads the same one). */
export const RUNTIME_PATH_ENV = 'ORT_DYLIB_PATH';

/** What is loaded. */
export interface RuntimeInfo {
  /** The library file. */
  path: string;
  /** ONNX Runtime's version, e.g. `1.30.0`. */
  version: string;
  /** The C API version the addon asks for; any ONNX Runtime of version `1.<apiVersion>` or newer serves it. */
  apiVersion: number;
}

/**
 * The package that carries ONNX Runtime's CPU library for this platform: one of the
 * per-platform sherpa-onnx packages, optional dependencies of this one, of which npm
 * installs only the one matching the machine. They have no install script, and their
 * library is ONNX Runtime 1.28.
 */
function runtimePackage(): string {
  return `sherpa-onnx-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
}

/** The library inside {@link runtimePackage}. */
function bundledRuntimePath(): string {
  const dir = dirname(require.resolve(`${runtimePackage()}/package.json`));
  if (process.platform === 'win32') return join(dir, 'onnxruntime.dll');
  if (process.platform === 'darwin') return join(dir, 'libonnxruntime.dylib');
  return join(dir, 'libonnxruntime.so');
}

/**
 * Loads ONNX Runtime, once per process. Called by {@link createSession}; call it
 * yourself to choose the library before the first session, or to see what is loaded.
 *
 * The library is, in order: `path`; else, when the process has loaded one already
 * (from any thread: worker threads share the main thread's), that one; else the file
 * named by the `ORT_DYLIB_PATH` environment variable; else the CPU build that arrives
 * with this package (ONNX Runtime 1.28, in the optional dependency
 * `sherpa-onnx-<platform>-<arch>`). So `ORT_DYLIB_PATH` and the bundled build only
 * choose the first library a process loads, and an explicit `path` is honoured over
 * `ORT_DYLIB_PATH`.
 *
 * The file is checked before it is handed to the system's loader, which would hang on
 * a FIFO and crash the process (SIGBUS) on a truncated library: it must be a regular
 * file in this platform's format (on Linux, an ELF shared object for this machine,
 * whose headers and segments all lie inside the file; on macOS, Mach-O; on Windows,
 * PE). A library that only links ONNX Runtime (its `OrtGetApiBase` comes from a
 * dependency) is refused, naming the ONNX Runtime library it uses.
 *
 * @param path - An ONNX Runtime shared library (`libonnxruntime.so*`, `.dylib`, `.dll`), 1.21 or newer.
 * @returns What is loaded.
 * @throws {@link OrtError} `RUNTIME_LOAD_FAILED` naming the path tried, what is wrong
 *   with it and the fix; `RUNTIME_TOO_OLD`; `RUNTIME_CONFLICT` when `path` is not the
 *   library already loaded.
 * @example
 * ```ts
 * loadRuntime('/opt/onnxruntime-gpu/lib/libonnxruntime.so');
 * ```
 */
export function loadRuntime(path?: string): RuntimeInfo {
  // What is loaded is per process, not per JavaScript environment: only the addon knows.
  const addon = native();
  const current = addon.loadedRuntime();
  // ORT_DYLIB_PATH and the bundled build only choose the first library.
  if (current && path === undefined) return current;
  let candidate: string;
  let source: string;
  if (path !== undefined) {
    candidate = resolve(path);
    source = 'the runtimePath option';
  } else if (process.env[RUNTIME_PATH_ENV]) {
    candidate = resolve(process.env[RUNTIME_PATH_ENV]);
    source = `${RUNTIME_PATH_ENV}`;
  } else {
    try {
      candidate = bundledRuntimePath();
    } catch {
      throw new OrtError(
        `No ONNX Runtime library for ${process.platform}-${process.arch}: the optional dependency ${runtimePackage()} ` +
          'is not installed (npm skips optional dependencies with --omit=optional, and has none for unlisted platforms). ' +
          `Install it, or set ${RUNTIME_PATH_ENV} to an ONNX Runtime shared library (1.21 or newer).`,
        'RUNTIME_LOAD_FAILED',
      );
    }
    source = `the ${runtimePackage()} package`;
  }
  if (current && current.path === candidate) return current;
  const bundled = source === `the ${runtimePackage()} package`;
  const setting = bundled ? RUNTIME_PATH_ENV : source;
  if (!existsSync(candidate)) {
    throw new OrtError(
      `ONNX Runtime was not found at ${candidate} (from ${source}). ` +
        `Point ${setting} at an existing ONNX Runtime shared library (1.21 or newer).`,
      'RUNTIME_LOAD_FAILED',
    );
  }
  const fail = (problem: string, fix: string, code: ErrorCode = 'RUNTIME_LOAD_FAILED') =>
    new OrtError(`Cannot load ONNX Runtime from ${candidate} (from ${source}): ${problem}. ${fix}`, code);
  const oneLibrary = 'Load one library per process: choose it before the first session.';
  // The addon would say the same, but the file need not be read for it.
  if (current) throw fail(`ONNX Runtime is already loaded from ${current.path}; one process can use one copy`, oneLibrary, 'RUNTIME_CONFLICT');
  // Read before the loader maps it: it would wait forever on a FIFO, and die of SIGBUS
  // on a truncated file (see library-file.ts).
  const problem = libraryFileProblem(candidate);
  if (problem) {
    throw fail(
      problem,
      bundled
        ? `Reinstall onnx-native's dependency ${runtimePackage()} (rm -rf node_modules/${runtimePackage()} && npm install), or set ${RUNTIME_PATH_ENV} to an ONNX Runtime shared library.`
        : `Point ${setting} at an ONNX Runtime shared library for ${process.platform}-${process.arch} (1.21 or newer).`,
    );
  }
  let result: ReturnType<typeof addon.loadRuntime>;
  try {
    result = addon.loadRuntime(candidate);
  } catch (err) {
    if (!isOrtError(err)) throw err;
    const fix =
      err.code === 'RUNTIME_TOO_OLD'
        ? bundled
          ? `Reinstall onnx-native so that ${runtimePackage()} is the version it names.`
          : `Point ${source} at ONNX Runtime 1.${addon.apiVersion} or newer, or unset it to use the CPU build that comes with onnx-native.`
        : err.code === 'RUNTIME_CONFLICT'
          ? oneLibrary
          : `Check that the file is an ONNX Runtime library for ${process.platform}-${process.arch}, and that its own dependencies are found.`;
    throw fail(err.message, fix, err.code);
  }
  if ('entryPointIn' in result) {
    throw fail(
      `it is not ONNX Runtime but a library that uses ONNX Runtime from ${result.entryPointIn} (OrtGetApiBase, ONNX Runtime's entry point, is defined there, not in this file)`,
      `Point ${setting} at ${result.entryPointIn} instead.`,
    );
  }
  return result;
}

/**
 * The execution providers the loaded ONNX Runtime library was built with, e.g.
 * `['CPUExecutionProvider']`, or `['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']`
 * for a GPU build. Loads the default runtime if none is loaded.
 */
export function availableProviders(): string[] {
  loadRuntime();
  return native().availableProviders();
}
