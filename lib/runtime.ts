/**
 * Finding and loading the ONNX Runtime shared library. The addon does not link
 * ONNX Runtime: it loads it at run time, so one build of the addon works with the CPU
 * build that arrives with this package (the default) or with any other build, a GPU
 * one for instance, that the caller points at.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { native } from './binding';
import { OrtError, isOrtError } from './errors';
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

let loaded: RuntimeInfo | undefined;

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
 * The library is, in order: `path`; the file named by the `ORT_DYLIB_PATH`
 * environment variable; the CPU build that arrives with this package (ONNX Runtime
 * 1.28, in the optional dependency `sherpa-onnx-<platform>-<arch>`).
 *
 * The file is checked before it is handed to the system's loader, which would hang on
 * a FIFO and crash the process (SIGBUS) on a truncated library: it must be a regular
 * file in this platform's format (on Linux, an ELF shared object for this machine,
 * whose headers and segments all lie inside the file; on macOS, Mach-O; on Windows,
 * PE). A library that only links ONNX Runtime (its `OrtGetApiBase` comes from a
 * dependency) is refused, naming the ONNX Runtime library it uses.
 *
 * @param path - An ONNX Runtime shared library (`libonnxruntime.so*`, `.dylib`, `.dll`), 1.21 or newer.
 * @returns What was loaded.
 * @throws {@link OrtError} `RUNTIME_LOAD_FAILED` naming the path tried, what is wrong
 *   with it and the fix;
 *   `RUNTIME_TOO_OLD`; `RUNTIME_CONFLICT` when a different library is already loaded.
 * @example
 * ```ts
 * loadRuntime('/opt/onnxruntime-gpu/lib/libonnxruntime.so');
 * ```
 */
export function loadRuntime(path?: string): RuntimeInfo {
  const explicit = path ?? process.env[RUNTIME_PATH_ENV];
  if (loaded && explicit === undefined) return loaded;
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
  if (loaded && loaded.path === candidate) return loaded;
  if (!existsSync(candidate)) {
    throw new OrtError(
      `ONNX Runtime was not found at ${candidate} (from ${source}). ` +
        `Point ${source === `the ${runtimePackage()} package` ? RUNTIME_PATH_ENV : source} at an existing ONNX Runtime shared library (1.21 or newer).`,
      'RUNTIME_LOAD_FAILED',
    );
  }
  const bundled = source === `the ${runtimePackage()} package`;
  // Read before the loader maps it: it would wait forever on a FIFO, and die of SIGBUS
  // on a truncated file. (With a library loaded, the addon answers RUNTIME_CONFLICT
  // without opening anything.)
  const problem = loaded ? undefined : libraryFileProblem(candidate);
  if (problem) {
    const fix = bundled
      ? `Reinstall onnx-native's dependency ${runtimePackage()} (rm -rf node_modules/${runtimePackage()} && npm install), or set ${RUNTIME_PATH_ENV} to an ONNX Runtime shared library.`
      : `Point ${source} at an ONNX Runtime shared library for ${process.platform}-${process.arch} (1.21 or newer).`;
    throw new OrtError(`Cannot load ONNX Runtime from ${candidate} (from ${source}): ${problem}. ${fix}`, 'RUNTIME_LOAD_FAILED');
  }
  const addon = native(); // outside the try: a missing addon has its own message
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
          ? 'Load one library per process: choose it before the first session.'
          : `Check that the file is an ONNX Runtime library for ${process.platform}-${process.arch}, and that its own dependencies are found.`;
    throw new OrtError(`Cannot load ONNX Runtime from ${candidate} (from ${source}): ${err.message}. ${fix}`, err.code);
  }
  if ('entryPointIn' in result) {
    throw new OrtError(
      `Cannot load ONNX Runtime from ${candidate} (from ${source}): it is not ONNX Runtime but a library that uses ONNX Runtime ` +
        `from ${result.entryPointIn} (OrtGetApiBase, ONNX Runtime's entry point, is defined there, not in this file). ` +
        `Point ${bundled ? RUNTIME_PATH_ENV : source} at ${result.entryPointIn} instead.`,
      'RUNTIME_LOAD_FAILED',
    );
  }
  loaded = result;
  return loaded;
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
