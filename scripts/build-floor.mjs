#!/usr/bin/env node
// Compiles bench/c_floor.cc (the C API called directly: the floor for per-call cost)
// into bench/build/c_floor. Needs a C++17 compiler and the headers of fetch-headers.mjs.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'scripts', 'fetch-headers.mjs')], { stdio: 'inherit' });
const include = process.env.ORT_INCLUDE_DIR ?? join(root, 'deps', 'onnxruntime', 'include');
mkdirSync(join(root, 'bench', 'build'), { recursive: true });
const out = join(root, 'bench', 'build', 'c_floor');
execFileSync(process.env.CXX ?? 'c++', ['-O2', '-std=c++17', `-I${include}`, join(root, 'bench', 'c_floor.cc'), '-o', out, '-ldl'], {
  stdio: 'inherit',
});
console.log(out);
