#!/usr/bin/env node
// The package's install step. Installs from npm carry prebuilt addons (prebuilds/),
// which need nothing from this script: npm may skip it (--ignore-scripts, or npm 11
// not approving dependencies' scripts) and the package still works. It builds from
// source only when no prebuilt or earlier build loads on this machine:
//   - in a clone of the repository (npm install), with cmake-js from devDependencies;
//   - elsewhere (npm rebuild onnx-native), with the node-gyp that npm ships.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function loads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (loads() && !process.env.ONNX_NATIVE_BUILD_FROM_SOURCE) process.exit(0);

const run = (file, args) => execFileSync(process.execPath, [file, ...args], { cwd: root, stdio: 'inherit' });
const nodeGyp = process.env.npm_config_node_gyp ?? join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
try {
  if (existsSync(join(root, 'node_modules', 'cmake-js'))) {
    run(join(root, 'scripts', 'build.mjs'), []);
  } else if (existsSync(nodeGyp)) {
    run(join(root, 'scripts', 'fetch-headers.mjs'), []);
    run(nodeGyp, ['rebuild']);
  } else {
    throw new Error('neither cmake-js nor node-gyp was found');
  }
} catch (err) {
  console.error(
    `onnx-native: building from source for ${process.platform}-${process.arch} failed (${err.message.split('\n')[0]}).\n` +
      'It needs Python 3, make and a C++17 compiler (what node-gyp needs), and ONNX Runtime 1.21+ headers:\n' +
      "fetched from Debian's libonnxruntime-dev, or found in ORT_INCLUDE_DIR. See the README, \"Build from source\".",
  );
  process.exit(1);
}
