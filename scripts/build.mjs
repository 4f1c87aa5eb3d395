#!/usr/bin/env node
// Builds the native addon from source: fetches ONNX Runtime's headers if they are not
// there yet, then compiles with cmake-js (default) or node-gyp (--gyp). Both write
// build/Release/onnx_native.node, where node-gyp-build finds it.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const useGyp = process.argv.includes('--gyp');

function run(script, args) {
  execFileSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
}

run(join(root, 'scripts', 'fetch-headers.mjs'), []);
if (useGyp) {
  run(join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), ['rebuild']);
} else {
  run(join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), ['rebuild', '--log-level', 'warn']);
}
