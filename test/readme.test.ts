/**
 * The README's code blocks, run as a reader runs them. A fence's info string says what a
 * block is (the README's Tests section documents it):
 *
 *   ```js                       an ES module, run with node
 *   ```ts                       TypeScript (an .mts module), run with node --import tsx and type-checked with tsc
 *   ```js file=classify.mjs     a file another block imports: written under that name, not run itself
 *   ```js fails=CUDA_UNAVAILABLE  runs, and must end in an uncaught OrtError of that code
 *   ```sh, ```text              not run
 *
 * A ```text block that is the next block after a run block, in the same section, is what
 * that block prints (stdout and stderr as a terminal shows them); `...` in it stands for
 * any text. Each block runs in its own process, from the repository root, as a file in
 * test/.readme/ (gitignored), so that `import ... from 'onnx-native'` resolves to this
 * package through Node's package self-reference (package.json "name" and "exports",
 * over dist/, which `npm test` builds first).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cudaStatus } from '../lib/index';
import { errorCodes } from '../lib/core/errors';
import { root } from './helpers/common';

const README = join(root, 'README.md');
const SCRATCH = join(root, 'test', '.readme');
const TIMEOUT_MS = 60_000;
const RUN = new Set(['js', 'ts']);
const NOT_RUN = new Set(['sh', 'text']);

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  section: string;
  lang: string;
  attrs: Record<string, string>;
  code: string;
  /** For run blocks: the file it is written to, relative to SCRATCH. */
  file?: string;
  /** For run blocks: the ```text block that states what it prints. */
  prints?: Block;
}

function parseBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#+\s+(.*)$/.exec(lines[i]);
    if (heading) {
      section = heading[1];
      continue;
    }
    const fence = /^```(.*)$/.exec(lines[i]);
    if (!fence) continue;
    const [lang = '', ...rest] = fence[1].trim().split(/\s+/);
    const attrs: Record<string, string> = {};
    for (const word of rest) {
      const [key, value] = word.split('=');
      attrs[key] = value ?? '';
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]);
    if (i === lines.length) throw new Error(`README.md:${start + 1}: a code block that never closes`);
    blocks.push({ line: start + 1, section, lang, attrs, code: body.join('\n') + '\n' });
  }
  return blocks;
}

const blocks = parseBlocks(readFileSync(README, 'utf8'));
const runBlocks = blocks.filter((b) => RUN.has(b.lang));

// File names, and the output blocks that belong to run blocks.
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
blocks.forEach((b, n) => {
  if (!RUN.has(b.lang)) return;
  b.file = b.attrs.file ?? `${String(n).padStart(2, '0')}-${slug(b.section) || 'top'}.${b.lang === 'ts' ? 'mts' : 'mjs'}`;
  const next = blocks[n + 1];
  if (next?.lang === 'text' && next.section === b.section) b.prints = next;
});

/** `...` stands for any text; everything else must match, trailing spaces aside. */
function matchesPrinted(expected: string, actual: string): boolean {
  const norm = (s: string) => s.split('\n').map((l) => l.trimEnd()).join('\n').trim();
  const pattern = norm(expected)
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  return new RegExp(`^${pattern}$`).test(norm(actual));
}

/** A reader's environment: no colors forced on (uvu forces them for itself). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs one file in a child process; stdout and stderr go to one file, in the order written. */
function runFile(file: string, withTsx: boolean): Promise<{ status: number | null; signal: NodeJS.Signals | null; output: string }> {
  const path = join(SCRATCH, file);
  const outPath = `${path}.out`;
  const out = openSync(outPath, 'w');
  const args = withTsx ? ['--import', 'tsx', path] : [path];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: childEnv(), stdio: ['ignore', out, out], timeout: TIMEOUT_MS });
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      closeSync(out);
      resolve({ status, signal, output: readFileSync(outPath, 'utf8') });
    });
  });
}

const where = (b: Block) => `README.md:${b.line} (${b.section})`;

const Blocks = suite('README code blocks');

Blocks.before(() => {
  rmSync(SCRATCH, { recursive: true, force: true });
  mkdirSync(SCRATCH, { recursive: true });
  const names = new Set<string>();
  for (const b of runBlocks) {
    assert.ok(!names.has(b.file!), `${where(b)}: a second block named ${b.file}`);
    names.add(b.file!);
    writeFileSync(join(SCRATCH, b.file!), b.code);
  }
});

Blocks('every block says what it is: js or ts (run), sh or text (not run)', () => {
  for (const b of blocks) {
    assert.ok(RUN.has(b.lang) || NOT_RUN.has(b.lang), `${where(b)}: info string "${b.lang}"; use js, ts, sh or text`);
    const known = RUN.has(b.lang) ? ['file', 'fails'] : [];
    for (const key of Object.keys(b.attrs)) assert.ok(known.includes(key), `${where(b)}: unknown attribute ${key}`);
    if (b.attrs.fails !== undefined) {
      assert.ok((errorCodes.binding as readonly string[]).concat(errorCodes.ort).includes(b.attrs.fails), `${where(b)}: fails=${b.attrs.fails} is no error code`);
    }
  }
  assert.ok(runBlocks.length >= 8, `only ${runBlocks.length} blocks run`);
});

for (const b of runBlocks) {
  if (b.attrs.file !== undefined) continue; // imported by another block, which runs it
  const expected = b.attrs.fails;
  Blocks(`${where(b)} runs${expected ? `, failing with ${expected}` : ''} (test/.readme/${b.file})`, async () => {
    // On a machine with a usable GPU, the GPU examples would get further than this suite can check.
    if (expected === 'CUDA_UNAVAILABLE' && cudaStatus().available) return;
    const { status, signal, output } = await runFile(b.file!, b.lang === 'ts');
    const shown = `\n--- what it printed ---\n${output}`;
    assert.is(signal, null, `${where(b)}: killed by ${signal} (timeout ${TIMEOUT_MS} ms)${shown}`);
    if (expected) {
      assert.is(status, 1, `${where(b)}: exit code ${status}, expected an uncaught OrtError ${expected}${shown}`);
      assert.match(output, new RegExp(`^OrtError \\[${expected}\\]: `, 'm'), `${where(b)}: no uncaught OrtError [${expected}]${shown}`);
    } else {
      assert.is(status, 0, `${where(b)}: exit code ${status}${shown}`);
    }
    if (b.prints) {
      assert.ok(
        matchesPrinted(b.prints.code, output),
        `${where(b)}: does not print what README.md:${b.prints.line} says\n--- README says ---\n${b.prints.code}${shown}`,
      );
    }
  });
}

Blocks('the ts blocks type-check against the published types (tsc, as a user compiles them)', async () => {
  const files = runBlocks.filter((b) => b.lang === 'ts').map((b) => b.file!);
  assert.ok(files.length > 0, 'no ts blocks');
  // A user's configuration: node16 modules, strict; 'onnx-native' resolves to the package
  // itself through its exports, to esm/index.d.mts and dist/*.d.ts.
  writeFileSync(
    join(SCRATCH, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, types: ['node'], skipLibCheck: true },
      files,
    }),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await new Promise<{ status: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', join(SCRATCH, 'tsconfig.json')], { cwd: root, env: childEnv(), timeout: TIMEOUT_MS });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (status) => resolve({ status, output }));
  });
  assert.is(result.status, 0, `tsc:\n${result.output}`);
});

Blocks('the text blocks that follow run blocks include the first example and the Errors example', () => {
  const checked = runBlocks.filter((b) => b.prints).map((b) => b.section);
  assert.ok(checked.includes('Using it'), `checked: ${checked.join(', ')}`);
  assert.ok(checked.includes('Errors'), `checked: ${checked.join(', ')}`);
});

Blocks.run();

const Errors = suite('README: errors');

Errors("the Errors section's list of codes is exactly the codes lib/core/errors.ts defines", () => {
  const markdown = readFileSync(README, 'utf8');
  const section = markdown.slice(markdown.indexOf('### Errors'), markdown.indexOf('\n## ', markdown.indexOf('### Errors')));
  const paragraph = section.slice(section.indexOf('Codes:'));
  const codes = (text: string) => [...text.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);
  const split = paragraph.indexOf("the binding's:");
  assert.ok(paragraph.startsWith('Codes:') && split > 0, 'no "Codes: ... the binding\'s: ..." paragraph in the Errors section');
  const end = paragraph.indexOf('\n\n');
  const ort = codes(paragraph.slice(0, split));
  const binding = codes(paragraph.slice(split, end < 0 ? undefined : end));
  const sorted = (list: readonly string[]) => [...list].sort();
  assert.equal(sorted(ort), sorted(errorCodes.ort), "ONNX Runtime's codes");
  assert.equal(sorted(binding), sorted(errorCodes.binding), "the binding's codes");
  assert.is(new Set(ort.concat(binding)).size, ort.length + binding.length, 'a code listed twice');
});

Errors('an uncaught OrtError, console.error(err) and String(err) all print OrtError [CODE]: message', async () => {
  const file = join(SCRATCH, 'error-forms.cjs');
  mkdirSync(SCRATCH, { recursive: true });
  writeFileSync(
    file,
    [
      "const { OrtError } = require('onnx-native');",
      "const err = new OrtError('input x is wrong', 'INVALID_SHAPE');",
      'console.log(String(err));',
      'console.log(`${err.name} ${err.code} ${JSON.stringify(Object.keys(err))}`);',
      'console.error(err);',
      "throw new OrtError('the session was released', 'SESSION_RELEASED');",
      '',
    ].join('\n'),
  );
  const { status, output } = await runFile('error-forms.cjs', false);
  assert.is(status, 1);
  const expected = [
    'OrtError [INVALID_SHAPE]: input x is wrong',
    'OrtError INVALID_SHAPE ["code"]',
    'OrtError [INVALID_SHAPE]: input x is wrong',
    '    at ... {',
    "  code: 'INVALID_SHAPE'",
    '}',
    '...',
    'OrtError [SESSION_RELEASED]: the session was released',
    '    at ... {',
    "  code: 'SESSION_RELEASED'",
    '}',
    '...',
  ].join('\n');
  assert.ok(matchesPrinted(expected, output), output);
});

Errors.run();
