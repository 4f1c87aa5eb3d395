#!/usr/bin/env node
// The package's install step: use a prebuilt addon (prebuilds/) or an existing build
// if one loads on this platform; otherwise build from source.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

try {
  require('node-gyp-build')(root);
  process.exit(0);
} catch {
  // nothing loadable yet: build below
}
if (!existsSync(join(root, 'node_modules', 'cmake-js'))) {
  console.error(
    `onnx-native: no prebuilt addon for ${process.platform}-${process.arch}, and the build tools ` +
      '(devDependencies) are not installed. From a clone of the repository: npm install.',
  );
  process.exit(1);
}
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
