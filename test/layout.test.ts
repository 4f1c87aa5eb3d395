import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { root } from './helpers/common';

const Layout = suite("lib/'s folders and their imports");

const LIB = join(root, 'lib');

/**
 * Which folders each folder may import from: only those below it. core/ (tensors, element
 * types, errors) is the bottom; batching/ (the batcher, over a runner it is given) sits on
 * it; runtime/ (ONNX Runtime, sessions, bindings, device memory) on both; gpu/ (engine
 * building), pool/, compat/ (onnxruntime-node's API) and cli/ on the runtime; server/ on
 * the runtime and the batcher, lifecycle/ (versions, rollbacks) and monitor/ (drift) on the server, optimize/ (quantization,
 * float16, graph rewrites) on the runtime alone, cli/ on those; lib/index.ts,
 * the package's entry, on all.
 */
const BELOW: Readonly<Record<string, readonly string[]>> = {
  core: [],
  batching: ['core'],
  runtime: ['core', 'batching'],
  gpu: ['core', 'runtime'],
  pool: ['core', 'runtime'],
  compat: ['core', 'runtime'],
  server: ['core', 'batching', 'runtime'],
  lifecycle: ['core', 'batching', 'runtime', 'server'],
  monitor: ['core', 'batching', 'runtime', 'server'],
  optimize: ['core', 'runtime'],
  cli: ['core', 'runtime', 'gpu', 'server', 'lifecycle', 'monitor', 'optimize'],
  '.': ['core', 'batching', 'runtime', 'gpu', 'pool', 'compat', 'cli'],
};

/** Every .ts file under lib/, relative to it. */
function sources(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [relative(LIB, join(dir, e.name))] : [],
  );
}

/** Each file's imports of other files of lib/ (type-only imports and `export ... from` included). */
function importGraph(): Map<string, string[]> {
  const files = sources();
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(LIB, file), 'utf8'), true, true);
    const local = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(LIB, resolve(LIB, dirname(file), name)) + '.ts')
      .filter((name) => files.includes(name));
    graph.set(file, local);
  }
  return graph;
}

const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

Layout('every file of lib/ is in one of the known folders (or is lib/index.ts)', () => {
  const strays = sources().filter((f) => !(folderOf(f) in BELOW));
  assert.equal(strays, []);
  assert.ok(sources().length > 30, `only ${sources().length} files found`);
});

Layout('a folder imports only from the folders below it', () => {
  const upward: string[] = [];
  for (const [file, imports] of importGraph()) {
    for (const imported of imports) {
      const [from, to] = [folderOf(file), folderOf(imported)];
      if (from !== to && !BELOW[from].includes(to)) upward.push(`${file} -> ${imported}`);
    }
  }
  assert.equal(upward, []);
});

Layout('no file imports another that imports it back, directly or through others', () => {
  const graph = importGraph();
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.equal(cycles, []);
  // The check sees imports: the graph has edges, and knows the entry's.
  assert.ok((graph.get('index.ts') ?? []).includes('runtime/session.ts'), 'index.ts -> runtime/session.ts not seen');
});

Layout.run();
