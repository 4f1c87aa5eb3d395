/**
 * `onnx-native check MODEL [--json] [--run] [--level L]`: the report of
 * optimize/model-check.ts, printed as an aligned summary (as `inspect` prints a model) or
 * as JSON. What a person runs after converting a model from another framework.
 *
 * Exit codes: 0 when the model loads (and, with --run, runs) in this runtime, warnings or
 * not; 1 when it does not, the reasons on stderr; 2 for a usage error (no MODEL, no file
 * there, an unknown flag).
 */
import { isOrtError } from '../core/errors';
import { type CheckOptions, type ModelCheck, type ValueCheck, checkModel } from '../optimize/model-check';
import { OptimizeError } from '../optimize/onnx-graph';

/** The usage line of `check`, for the command's own help and for usage errors. */
export const CHECK_USAGE = `Usage: onnx-native check MODEL [--json] [--run] [--level disabled|basic|extended|layout|all]

Checks a model against the loaded ONNX Runtime (ORT_DYLIB_PATH chooses another): IR
version and opsets, the operators it uses and any this runtime cannot run, inputs and
outputs with their dynamic dimensions, whether dynamic batching can use it, external
data files. --json prints the report as JSON; --run also runs it once on zeros; --level
loads it with that graph optimization level (default: disabled). Exit code 0 when it
loads (and runs), 1 when it does not, 2 for a usage error.`;

const LEVELS = ['disabled', 'basic', 'extended', 'layout', 'all'] as const;

/** Usage errors: exit code 2, the message and the usage on stderr. */
class UsageError extends Error {}

interface CheckArgs {
  model: string;
  json: boolean;
  options: CheckOptions;
}

function parse(args: readonly string[]): CheckArgs | 'help' {
  const positional: string[] = [];
  let json = false;
  let run = false;
  let level: (typeof LEVELS)[number] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--json') json = true;
    else if (arg === '--run') run = true;
    else if (arg === '--level' || arg.startsWith('--level=')) {
      const value = arg === '--level' ? args[++i] : arg.slice('--level='.length);
      if (!LEVELS.includes(value as (typeof LEVELS)[number])) throw new UsageError(`--level is one of ${LEVELS.join(', ')}, got ${value === undefined ? 'nothing' : `'${value}'`}`);
      level = value as (typeof LEVELS)[number];
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else positional.push(arg);
  }
  // Called with the command's own name first (cli.ts passing argv from 'check' on) or without it.
  if (positional.length > 1 && positional[0] === 'check') positional.shift();
  if (positional.length === 0) throw new UsageError('check needs a model path');
  if (positional.length > 1) throw new UsageError(`check takes one model, got ${positional.length}: ${positional.join(' ')}`);
  return { model: positional[0], json, options: { run, ...(level ? { sessionOptions: { graphOptimizationLevel: level } } : {}) } };
}

function formatDims(dims: ValueCheck['dims']): string {
  return dims === null ? '(shape unknown)' : `[${dims.map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

function formatValue(v: ValueCheck): string {
  return `${v.kind === 'tensor' ? v.type : `${v.kind} of ${v.type}`} ${formatDims(v.dims)}`;
}

/** Indented rows, each column but the last padded to its longest cell. */
function table(rows: readonly (readonly string[])[], separator = '  '): string[] {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => '  ' + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join(separator).trimEnd());
}

/** The report as `check` prints it: a line a topic, lists indented, like `inspect`. */
export function formatCheck(r: ModelCheck): string {
  const lines: string[] = [];
  const limit = (n: number | 'unknown') => (n === 'unknown' ? 'unknown' : `${n}`);
  const source = r.runtime.source === 'runtime' ? 'as the runtime reports' : r.runtime.source === 'table' ? "from ONNX Runtime's compatibility table" : 'not known for this version';
  lines.push(`model: ${r.path}`);
  if (r.producer) lines.push(`producer: ${r.producer}`);
  lines.push(`runtime: ONNX Runtime ${r.runtime.version} (${r.runtime.path})`);
  lines.push(`  reads: IR version <= ${limit(r.runtime.irVersion)}, ai.onnx opset <= ${limit(r.runtime.onnxOpset)}, ai.onnx.ml opset <= ${limit(r.runtime.mlOpset)} (${source})`);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not checked' : ok ? 'ok' : 'TOO NEW');
  lines.push(`ir version: ${r.irVersion.model} (${verdict(r.irVersion.ok)})`);
  lines.push('opsets:');
  lines.push(...table(r.opsets.map((o) => [`${o.domain}:`, `${o.version}`, o.supported === undefined ? '' : `${verdict(o.ok)}${o.supported === 'unknown' ? '' : ` (<= ${o.supported})`}`])));
  lines.push(`operators: ${r.operators.length} in ${r.nodes} node${r.nodes === 1 ? '' : 's'}`);
  lines.push(
    ...table(
      r.operators.map((op) => {
        const notes = [
          op.inSubgraphs > 0 ? `${op.inSubgraphs} in subgraphs` : '',
          op.inFunctions > 0 ? `${op.inFunctions} in functions` : '',
          op.modelFunction ? "the model's own function" : '',
          op.unsupported ? `CANNOT RUN: ${op.unsupported}` : '',
        ].filter(Boolean);
        return [`${op.domain}:${op.opType}`, `${op.count}`.padStart(4), notes.join('; ')];
      }),
    ),
  );
  for (const [title, list] of [['inputs', r.inputs], ['outputs', r.outputs]] as const) {
    lines.push(`${title}:`);
    // As inspect prints them ("x: float32 [...]"), the types aligned.
    lines.push(...table(list.map((v) => [`${v.name}:`, formatValue(v)]), ' '));
  }
  if (r.dynamicDimensions.length === 0) lines.push('dynamic dimensions: none');
  else {
    lines.push('dynamic dimensions:');
    lines.push(...table(r.dynamicDimensions.map((d) => [`${d.role} ${d.value}`, `axis ${d.axis}`, d.name === null ? '(unnamed)' : d.name])));
  }
  lines.push(`batching: ${r.batching.usable ? 'usable (every input and output has a dynamic first dimension)' : 'not usable'}`);
  if (r.batching.reason) lines.push(`  ${r.batching.usable ? 'note' : 'why'}: ${r.batching.reason}`);
  if (r.batching.hint) lines.push(`  hint: ${r.batching.hint}`);
  if (r.externalData.length === 0) lines.push('external data: none');
  else {
    lines.push('external data:');
    lines.push(
      ...table(
        r.externalData.map((f) => [
          f.location,
          `${f.tensors} tensor${f.tensors === 1 ? '' : 's'}, ${f.bytesNeeded} bytes needed`,
          !f.exists ? 'MISSING' : f.ok ? `ok (${f.bytes} bytes)` : `SHORT (${f.bytes} bytes)`,
        ]),
      ),
    );
  }
  const ms = (n: number | undefined) => (n === undefined ? '' : ` in ${n < 10 ? n.toFixed(1) : Math.round(n)} ms`);
  lines.push(
    r.load.ok
      ? `load: ok${ms(r.load.ms)} (graph optimization ${r.load.graphOptimizationLevel})`
      : r.load.attempted
        ? `load: FAILED: ${r.load.reason}`
        : `load: ${r.load.reason}`,
  );
  if (r.run) {
    const shapes = Object.entries(r.run.feeds).map(([k, d]) => `${k} [${d.join(', ')}]`).join(', ');
    lines.push(r.run.ok ? `run: ok${ms(r.run.ms)} on zeros (${shapes})` : `run: FAILED: ${r.run.error}`);
  }
  const errors = r.problems.filter((p) => p.severity === 'error');
  const warnings = r.problems.filter((p) => p.severity === 'warning');
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  lines.push(`result: ${r.ok ? 'ok' : 'FAILED'}${errors.length + warnings.length > 0 ? ` (${[errors.length ? count(errors.length, 'error') : '', warnings.length ? count(warnings.length, 'warning') : ''].filter(Boolean).join(', ')})` : ''}`);
  for (const [title, list] of [['errors', errors], ['warnings', warnings]] as const) {
    if (list.length === 0) continue;
    lines.push(`${title}:`);
    for (const p of list) {
      lines.push(`  - ${p.message}`);
      if (p.hint) lines.push(`    hint: ${p.hint}`);
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * The `check` command.
 *
 * @param args - The command line after `check` (a leading `check` is skipped too):
 *   `MODEL [--json] [--run] [--level L]`.
 * @returns The exit code: 0 when the model loads (and, with `--run`, runs), 1 when it
 *   does not (the reasons on stderr, the report on stdout all the same), 2 for a usage
 *   error.
 */
export async function check(args: string[]): Promise<number> {
  let parsed: CheckArgs | 'help';
  try {
    parsed = parse(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`onnx-native check: ${err.message}\n\n${CHECK_USAGE}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(`${CHECK_USAGE}\n`);
    return 0;
  }
  let report: ModelCheck;
  try {
    report = await checkModel(parsed.model, parsed.options);
  } catch (err) {
    if (isOrtError(err, 'MODEL_NOT_FOUND')) {
      process.stderr.write(`onnx-native check: ${err.message}\n`);
      return 2;
    }
    // Not a model (empty, truncated, another format), or no ONNX Runtime to check against.
    const message = err instanceof OptimizeError ? err.message : isOrtError(err) ? `${err.message} [${err.code}]` : String((err as Error)?.stack ?? err);
    if (parsed.json) process.stdout.write(`${JSON.stringify({ path: parsed.model, ok: false, error: message }, null, 2)}\n`);
    process.stderr.write(`onnx-native check: ${message}\n`);
    return 1;
  }
  process.stdout.write(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheck(report));
  if (report.ok) return 0;
  for (const p of report.problems) {
    if (p.severity === 'error') process.stderr.write(`onnx-native check: ${p.message}\n${p.hint ? `  hint: ${p.hint}\n` : ''}`);
  }
  return 1;
}
