/**
 * `onnx-native optimize MODEL -o OUT [...]`: the command over optimize/optimizeModel. It
 * reads calibration and evaluation data as `profile` does (.npy, JSON lines, folders),
 * shows progress on stderr, prints the report, and writes the model (and `--report` JSON)
 * only when every step and check passed.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { decodeModel, mainGraph } from '../optimize/onnx-graph';
import { type DataSource, type OptimizationReport, type OptimizeOptions, optimizeModel } from '../optimize/optimize-model';
import { dataBatches, dataFiles } from './data-files';

/** Thrown for what the user typed wrong (printed with the usage). */
export class OptimizeUsageError extends Error {}

function number(name: string, value: string | undefined, check: (n: number) => boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new OptimizeUsageError(`--${name}: '${value}' is not a valid value`);
  return n;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new OptimizeUsageError(`--${name} is one of ${allowed.join(', ')}, not '${value}'`);
  return value as T;
}

/** The model's inputs that are fed (graph inputs that are not initializers), in order. */
function feedNames(bytes: Uint8Array, path: string): string[] {
  const graph = mainGraph(decodeModel(bytes, path));
  const constants = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !constants.has(n));
}

/** A data source over files: read afresh each time a step asks (calibration, then the comparison). */
function fileData(paths: readonly string[], inputNames: readonly string[]): DataSource {
  const files = dataFiles(paths);
  return () => dataBatches(files, inputNames, () => {});
}

/** The report as the command prints it. */
export function formatReport(input: string, output: string, r: OptimizationReport): string {
  const lines: string[] = [`${input} -> ${output}`, `steps: ${r.steps.join(', ')}`];
  const ratio = r.bytes.optimized / r.bytes.original;
  lines.push(`size: ${r.bytes.original.toLocaleString('en')} B -> ${r.bytes.optimized.toLocaleString('en')} B (${ratio.toFixed(3)}x)`);
  if (r.opset && r.opset.from !== r.opset.to) {
    const rewritten = Object.entries(r.opset.rewritten).map(([op, n]) => `${op} ${n}`);
    lines.push(`opset: ${r.opset.from} -> ${r.opset.to}${rewritten.length ? ` (rewritten: ${rewritten.join(', ')})` : ''}`);
  }
  if (r.quantization) {
    const q = r.quantization;
    lines.push(`quantized: ${Object.entries(q.quantized).map(([op, n]) => `${op} ${n}`).join(', ') || 'nothing'}; ${q.weights} weights, ${q.biases} biases, ${q.activations} activations; ${q.foldedActivations} Relu/Clip folded${q.foldedDivisions > 0 ? `, ${q.foldedDivisions} Div folded into scales` : ''}`);
    const left = new Map<string, Map<string, number>>();
    for (const x of q.skipped) {
      const ops = left.get(x.reason) ?? new Map<string, number>();
      ops.set(x.opType, (ops.get(x.opType) ?? 0) + 1);
      left.set(x.reason, ops);
    }
    for (const [reason, ops] of left) lines.push(`left in float (${reason}): ${[...ops].map(([op, n]) => `${op} ${n}`).join(', ')}`);
    lines.push(`calibration: ${q.calibrationBatches} batches, ${q.method}`);
  }
  if (r.dynamic) {
    const d = r.dynamic;
    lines.push(`quantized: ${Object.entries(d.quantized).map(([op, n]) => `${op} ${n}`).join(', ') || 'nothing'} (as ${[...new Set(d.nodes.map((n) => n.as))].join(', ')}); weights ${d.weightBytes.before.toLocaleString('en')} B -> ${d.weightBytes.after.toLocaleString('en')} B`);
    if (d.skipped.length > 0) lines.push(`left in float: ${d.skipped.map((n) => `${n.name} (${n.opType}: ${n.reason})`).join('; ')}`);
  }
  if (r.float16) {
    const f = r.float16;
    lines.push(`float16: ${f.initializersConverted + f.constantsConverted} constants, ${f.valuesClamped} values clamped, ${f.castsInserted} Casts inserted, ${f.float32Nodes.length} nodes kept in float32${f.float32Nodes.length ? ` (${[...new Set(f.float32Nodes.map((n) => n.opType))].join(', ')})` : ''}`);
  }
  const c = r.comparison;
  if (c) {
    if (c.runs > 0) {
      const speed = c.msPerCall.optimized / c.msPerCall.original;
      lines.push(`per call (first batch, median of ${c.runs}, ${c.threads} thread${c.threads === 1 ? '' : 's'}): ${c.msPerCall.original.toFixed(2)} ms -> ${c.msPerCall.optimized.toFixed(2)} ms (${speed.toFixed(2)}x the time)`);
    }
    lines.push(`against the original over ${c.batches} batches:`);
    const rows = [['output', 'max abs err', 'mean abs err', 'cosine', 'top-1 agreement']];
    for (const o of c.outputs) {
      rows.push([o.name, o.maxAbsError.toPrecision(3), o.meanAbsError.toPrecision(3), o.cosine.toFixed(5), o.top1Agreement === undefined ? '-' : `${(o.top1Agreement * 100).toFixed(2)}%`]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) lines.push(`  ${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}`.trimEnd());
  }
  return lines.join('\n');
}

/** Runs the command on its arguments (after `optimize`); returns the exit code. */
export async function optimize(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        int8: { type: 'string' },
        calibrate: { type: 'string', multiple: true },
        method: { type: 'string' },
        percentile: { type: 'string' },
        'per-channel': { type: 'boolean' },
        'per-channel-depthwise': { type: 'boolean' },
        'reduce-range': { type: 'boolean' },
        'no-reduce-range': { type: 'boolean' },
        fp16: { type: 'boolean' },
        'keep-io-types': { type: 'boolean' },
        'activation-type': { type: 'string' },
        'exclude-nodes': { type: 'string', multiple: true },
        graph: { type: 'string' },
        eval: { type: 'string', multiple: true },
        runs: { type: 'string' },
        threads: { type: 'string' },
        'max-drop': { type: 'string' },
        report: { type: 'string' },
      },
    });
  } catch (err) {
    throw new OptimizeUsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [input, ...extra] = positionals;
  if (input === undefined) throw new OptimizeUsageError('optimize needs a model path');
  if (extra.length > 0) throw new OptimizeUsageError(`optimize takes one model, got also ${extra.join(' ')}`);
  if (v.output === undefined) throw new OptimizeUsageError('optimize needs -o OUT, the file to write');
  const bytes = await readFile(input);
  const names = feedNames(bytes, input);
  const options: OptimizeOptions = {
    ...(v.int8 !== undefined && { int8: oneOf('int8', v.int8, ['static', 'dynamic'] as const) }),
    ...(v.fp16 === true && { fp16: true }),
    ...(v['keep-io-types'] === true && { keepIoTypes: true }),
    ...(v.calibrate && { calibration: fileData(v.calibrate, names) }),
    ...(v.method !== undefined && { method: oneOf('method', v.method, ['minmax', 'percentile', 'entropy'] as const) }),
    ...(v.percentile !== undefined && { percentile: number('percentile', v.percentile, (n) => n > 0 && n <= 100) }),
    perChannel: v['per-channel'] === true ? true : v['per-channel-depthwise'] === true ? 'depthwise' : false,
    ...(v['reduce-range'] === true && { reduceRange: true }),
    ...(v['no-reduce-range'] === true && { reduceRange: false }),
    ...(v['activation-type'] !== undefined && { activationType: oneOf('activation-type', v['activation-type'], ['uint8', 'int8'] as const) }),
    ...(v['exclude-nodes'] && { excludeNodes: v['exclude-nodes'].flatMap((s) => s.split(',')).filter(Boolean) }),
    ...(v.graph !== undefined && { graph: oneOf('graph', v.graph, ['basic', 'extended', 'all'] as const) }),
    ...(v.eval && { evaluation: fileData(v.eval, names) }),
    ...(v.runs !== undefined && { runs: number('runs', v.runs, (n) => Number.isInteger(n) && n >= 1) }),
    ...(v.threads !== undefined && { threads: number('threads', v.threads, (n) => Number.isInteger(n) && n >= 1) }),
    ...(v['max-drop'] !== undefined && { maxDrop: number('max-drop', v['max-drop'], (n) => n >= 0 && n <= 1) }),
    onProgress: (step, done) => process.stderr.write(done === undefined ? `${step}\n` : `\r${step}: ${done} batches`),
  };
  if (options.int8 === 'static' && options.calibration === undefined) throw new OptimizeUsageError('--int8 static needs --calibrate DATA');
  if (v['reduce-range'] && v['no-reduce-range']) throw new OptimizeUsageError('--reduce-range and --no-reduce-range: choose one');
  if (v['keep-io-types'] && !v.fp16) throw new OptimizeUsageError('--keep-io-types goes with --fp16');
  const { model, report } = await optimizeModel(bytes, options);
  process.stderr.write('\n');
  writeFileSync(v.output, model);
  if (v.report !== undefined) writeFileSync(v.report, `${JSON.stringify(report, null, 2)}\n`);
  console.log(formatReport(input, v.output, report));
  return 0;
}
