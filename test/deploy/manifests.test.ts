/**
 * deploy/'s manifests, checked without a cluster:
 *
 * - every YAML document under deploy/kserve/ and deploy/kubernetes/ parses (strictly: a
 *   duplicate key fails) and validates against its kind's schema: Kubernetes' own, KEDA's,
 *   Argo Rollouts' and prometheus-operator's through the kubernetes-models packages'
 *   validators, KServe's through the openAPIV3Schema of its CRDs (copied into
 *   test/fixtures/kserve-crds/) with ajv; strictly, so that a field the schema does not
 *   declare (a misspelling) fails too (strict-validation.ts), which the schemas alone let
 *   through: shown here for each family;
 * - the kustomize layout: every resource listed exists, every manifest is listed, each
 *   overlay renders (kustomize-render.ts) and its patched result validates too;
 * - what refers to what: selectors and labels, port names, probes, the container's
 *   arguments against the flags `onnx-native serve` reads (lib/cli/cli.ts, read with
 *   TypeScript's parser), the grace period against the server's drain time, the
 *   autoscalers' and the rollout's targets, the analysis' arguments, the PrometheusRule
 *   against monitoring/prometheus-rules.yml, the KServe runtimes against each other and
 *   the InferenceService against them;
 * - the KEDA and Argo queries run by promtool (Debian's prometheus package, which CI
 *   installs; without it this fails, it never skips) on series labelled as the server and
 *   the ServiceMonitor label them: the figures expected, NaN without requests, nothing
 *   without series; and the analysis' success and failure conditions on those results,
 *   no data, NaN and +Inf;
 * - the real server, started by the real CLI with the manifests' own arguments (only the
 *   repository, state folder, host and ports swapped for a test repository and loopback
 *   ports): the probes' paths answer 200, the metrics path serves, every metric, label
 *   and label value the KEDA and Argo queries select is in its exposition, and SIGTERM
 *   ends it with exit 0 inside the grace period.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import type { ValidateFunction } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { AnalysisTemplate } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate';
import { Rollout } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout';
import { type ModelClass, type StrictResult, ajvValidator, crdAjv, modelValidator, validateStrict } from './strict-validation';
import { type Rendered, type Resource, kustomizationTree, parseDocuments, readKustomization, render, validateKustomization } from './kustomize-render';
import { addConstantModel, writeRepository } from '../helpers/model-repository';
import { DURATION_BUCKETS } from '../../lib/server/metrics/server-metrics';

const Manifests = suite('deploy/: Kubernetes and KServe manifests, strictly validated and cross-checked');

const root = resolve(__dirname, '..', '..');
const KSERVE = join(root, 'deploy', 'kserve');
const KUBERNETES = join(root, 'deploy', 'kubernetes');
const BASE = join(KUBERNETES, 'base');
const OVERLAYS = join(KUBERNETES, 'overlays');
const CRDS = join(root, 'test', 'fixtures', 'kserve-crds');
const CLI = join(root, 'lib', 'cli', 'cli.ts');
const RULES = join(root, 'monitoring', 'prometheus-rules.yml');
/** Seconds the grace period keeps beyond the preStop sleep and the server's drain (unloading models, closing listeners). */
const MARGIN_S = 5;

// --- validators -------------------------------------------------------------------------

type Family = 'kubernetes' | 'keda' | 'argo-rollouts' | 'prometheus-operator' | 'kserve';

/** Each kind the manifests may hold, by `apiVersion kind`, with its schema family. */
const MODELS: Readonly<Record<string, { family: Exclude<Family, 'kserve'>; model: ModelClass }>> = {
  'apps/v1 Deployment': { family: 'kubernetes', model: Deployment },
  'v1 Service': { family: 'kubernetes', model: Service },
  'v1 PersistentVolumeClaim': { family: 'kubernetes', model: PersistentVolumeClaim },
  'policy/v1 PodDisruptionBudget': { family: 'kubernetes', model: PodDisruptionBudget },
  'autoscaling/v2 HorizontalPodAutoscaler': { family: 'kubernetes', model: HorizontalPodAutoscaler },
  'keda.sh/v1alpha1 ScaledObject': { family: 'keda', model: ScaledObject },
  'monitoring.coreos.com/v1 ServiceMonitor': { family: 'prometheus-operator', model: ServiceMonitor },
  'monitoring.coreos.com/v1 PrometheusRule': { family: 'prometheus-operator', model: PrometheusRule },
  'argoproj.io/v1alpha1 AnalysisTemplate': { family: 'argo-rollouts', model: AnalysisTemplate },
  'argoproj.io/v1alpha1 Rollout': { family: 'argo-rollouts', model: Rollout },
};

/** KServe's kinds and the CRD file of each. */
const KSERVE_CRDS: Readonly<Record<string, string>> = {
  ServingRuntime: 'serving.kserve.io_servingruntimes.yaml',
  ClusterServingRuntime: 'serving.kserve.io_clusterservingruntimes.yaml',
  InferenceService: 'serving.kserve.io_inferenceservices.yaml',
};

/**
 * ObjectMeta's validator (kubernetes-models' apimachinery, as its own models use it): a
 * CRD's schema declares `metadata` as a bare object, so KServe's documents' metadata is
 * checked with it.
 */
const ObjectMeta = (createRequire(require.resolve('kubernetes-models/package.json'))('@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta') as { ObjectMeta: ModelClass })
  .ObjectMeta;

let ajv: ReturnType<typeof crdAjv> | undefined;
const crdValidators = new Map<string, ValidateFunction>();

/** The compiled schema of `kind` at `version` (the CRD's version of that name; compiled once). */
function crdValidator(kind: string, version: string): ValidateFunction {
  const key = `${kind} ${version}`;
  let validate = crdValidators.get(key);
  if (validate === undefined) {
    const crd = parseDocuments(join(CRDS, KSERVE_CRDS[kind]))[0] as { spec: { group: string; names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: object } }[] } };
    assert.is(crd.spec.names.kind, kind);
    const served = crd.spec.versions.find((v) => v.name === version);
    if (served === undefined) throw new Error(`${KSERVE_CRDS[kind]} has no version ${version} (it has ${crd.spec.versions.map((v) => v.name).join(', ')})`);
    ajv ??= crdAjv();
    validate = ajv.compile(served.schema.openAPIV3Schema);
    crdValidators.set(key, validate);
  }
  return validate;
}

/** The schema family of a document, or undefined for a kind no validator here knows. */
function familyOf(doc: Resource): Family | undefined {
  const [group, version] = doc.apiVersion.split('/');
  if (group === 'serving.kserve.io' && version !== undefined && doc.kind in KSERVE_CRDS) return 'kserve';
  return MODELS[`${doc.apiVersion} ${doc.kind}`]?.family;
}

/** Validates one document strictly against its kind's schema. */
function validateDocument(doc: Resource): StrictResult {
  const family = familyOf(doc);
  if (family === undefined) return { errors: [`${doc.apiVersion} ${doc.kind}: no schema for this kind here (add it to MODELS or KSERVE_CRDS)`], undeclared: [] };
  if (family !== 'kserve') return validateStrict(doc, modelValidator(MODELS[`${doc.apiVersion} ${doc.kind}`].model));
  const body = validateStrict(doc, ajvValidator(crdValidator(doc.kind, doc.apiVersion.split('/')[1])));
  const meta = validateStrict(doc.metadata, modelValidator(ObjectMeta));
  return { errors: [...body.errors, ...meta.errors.map((e) => `metadata: ${e}`)], undeclared: [...body.undeclared, ...meta.undeclared.map((p) => `/metadata${p}`)] };
}

/** Fails with every problem of every document. */
function assertValid(docs: readonly Rendered[], what: string): void {
  const problems: string[] = [];
  for (const { resource, file } of docs) {
    const { errors, undeclared } = validateDocument(resource);
    const where = `${relative(root, file)}: ${resource.kind} ${resource.metadata?.name}`;
    for (const e of errors) problems.push(`${where}: ${e}`);
    for (const p of undeclared) problems.push(`${where}: ${p}: not a field of the schema`);
  }
  assert.equal(problems, [], `${what}:\n${problems.join('\n')}`);
}

// --- the files --------------------------------------------------------------------------

/** Every .yaml or .yml file under `dir`. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []))
    .sort();
}

const isKustomization = (file: string) => /(^|\/)kustomization\.ya?ml$/.test(file);

/** Every document of the manifests (kustomization files apart), with its file. */
function manifestDocuments(): Rendered[] {
  return [...yamlFiles(KSERVE), ...yamlFiles(KUBERNETES)].filter((f) => !isKustomization(f)).flatMap((file) => parseDocuments(file).map((doc) => ({ resource: doc as Resource, file })));
}

const OVERLAY_NAMES = readdirSync(OVERLAYS).filter((name) => statSync(join(OVERLAYS, name)).isDirectory());
/** Each kustomization one applies (the base, each overlay) and its rendered resources. */
const renderings = (): [string, Rendered[]][] => [['base', render(BASE)], ...OVERLAY_NAMES.map((name): [string, Rendered[]] => [`overlays/${name}`, render(join(OVERLAYS, name))])];

function one(docs: readonly Rendered[], kind: string, name?: string): Resource {
  const found = docs.filter((d) => d.resource.kind === kind && (name === undefined || d.resource.metadata.name === name));
  assert.is(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}: found ${found.length}`);
  return found[0].resource;
}

function kserveDoc(kind: string): Resource {
  return one(
    yamlFiles(KSERVE).flatMap((file) => parseDocuments(file).map((doc) => ({ resource: doc as Resource, file }))),
    kind,
  );
}

// --- the shapes used below (as far as these checks read them) -----------------------------

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; valueFrom?: { resourceFieldRef?: { containerName?: string; resource: string } } }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
  securityContext?: Record<string, unknown>;
}
interface DeploymentShape {
  metadata: Resource['metadata'];
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } };
}
const spec = <T>(r: Resource) => r as unknown as T;

/** Whether every label of `selector` is on `labels` with the same value. */
const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

// --- the CLI's flags ----------------------------------------------------------------------

interface ServeFlags {
  /** Every flag serveFlags() reads. */
  readonly all: ReadonlySet<string>;
  /** Those read with integerFlag(): whole numbers. */
  readonly integer: ReadonlySet<string>;
  /** Flags parseArgs() takes without a value. */
  readonly boolean: ReadonlySet<string>;
}

/**
 * The flags `onnx-native serve` reads, from lib/cli/cli.ts's source: the names serveFlags()
 * passes to flag(), integerFlag() and args.flags.get(), and parseArgs()'s list of flags
 * without a value. (The CLI ignores a flag it does not read, so this is the check.)
 */
function serveFlags(): ServeFlags {
  const source = ts.createSourceFile(CLI, readFileSync(CLI, 'utf8'), ts.ScriptTarget.Latest, true);
  const all = new Set<string>();
  const integer = new Set<string>();
  let boolean = new Set<string>();
  const functionNamed = (name: string) => source.statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === name);
  const walk = (node: ts.Node, visit: (n: ts.Node) => void) => {
    visit(node);
    node.forEachChild((child) => walk(child, visit));
  };
  const serve = functionNamed('serveFlags');
  const parse = functionNamed('parseArgs');
  assert.ok(serve && parse, 'lib/cli/cli.ts has serveFlags() and parseArgs()');
  walk(serve, (n) => {
    if (!ts.isCallExpression(n)) return;
    const callee = n.expression.getText(source);
    const literal = (i: number) => (n.arguments[i] && ts.isStringLiteral(n.arguments[i]) ? (n.arguments[i] as ts.StringLiteral).text : undefined);
    if ((callee === 'flag' || callee === 'integerFlag') && literal(1) !== undefined) {
      all.add(literal(1) as string);
      if (callee === 'integerFlag') integer.add(literal(1) as string);
    } else if (callee === 'args.flags.get' && literal(0) !== undefined) all.add(literal(0) as string);
  });
  walk(parse, (n) => {
    if (ts.isArrayLiteralExpression(n) && n.elements.every(ts.isStringLiteral)) {
      const names = n.elements.map((e) => (e as ts.StringLiteral).text);
      if (names.includes('example')) boolean = new Set(names);
    }
  });
  assert.ok(all.has('http-port') && all.has('grace-ms') && boolean.has('example'), `read serve's flags from ${CLI}: ${[...all].join(', ')}`);
  return { all, integer, boolean };
}

interface ParsedArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

/** Parses arguments as the CLI's parseArgs() does (`--name value`, `--name=value`, flags without a value). */
function parseServeArgs(argv: readonly string[], flags: ServeFlags): ParsedArgs {
  const positional: string[] = [];
  const parsed = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const value = inline ?? (flags.boolean.has(name) ? 'true' : argv[++i]);
    if (value === undefined) throw new Error(`--${name} needs a value`);
    parsed.set(name, [...(parsed.get(name) ?? []), value]);
  }
  return { positional, flags: parsed };
}

/** What is wrong with a container's arguments as `onnx-native serve` arguments. */
function argumentProblems(argv: readonly string[], flags: ServeFlags): string[] {
  const problems: string[] = [];
  const { positional, flags: given } = parseServeArgs(argv, flags);
  if (positional[0] !== 'serve' || positional.length !== 2) problems.push(`expected serve REPOSITORY, got positional arguments ${JSON.stringify(positional)}`);
  for (const [name, values] of given) {
    if (!flags.all.has(name)) problems.push(`--${name}: not a flag of onnx-native serve (it reads ${[...flags.all].sort().join(', ')})`);
    if (flags.integer.has(name)) for (const v of values) if (!/^\d+$/.test(v) && !(v === 'off' && (name === 'grpc-port' || name === 'metrics-port'))) problems.push(`--${name} ${v}: not a whole number`);
    if (values.length > 1 && name !== 'load-model') problems.push(`--${name} given ${values.length} times`);
  }
  return problems;
}

const flagValue = (args: ParsedArgs, name: string) => args.flags.get(name)?.at(-1);

// --- PromQL, as far as the checks read it ----------------------------------------------------

interface Matcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}
interface Selector {
  readonly metric: string;
  readonly matchers: readonly Matcher[];
}

/** The metric selectors `name{...}` of a query (label values may hold Argo's {{args.x}}). */
function selectors(query: string): Selector[] {
  const found: Selector[] = [];
  const name = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g;
  for (let m = name.exec(query); m !== null; m = name.exec(query)) {
    let i = m.index + m[0].length;
    const matchers: Matcher[] = [];
    for (;;) {
      const matcher = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|\})/.exec(query.slice(i));
      if (matcher === null) throw new Error(`cannot read the selector at ${JSON.stringify(query.slice(m.index, m.index + 80))}`);
      matchers.push({ label: matcher[1], op: matcher[2] as Matcher['op'], value: matcher[3] });
      i += matcher[0].length;
      if (matcher[4] === '}') break;
    }
    found.push({ metric: m[1], matchers });
    name.lastIndex = i;
  }
  return found;
}

/** Series of an exposition: metric name to label sets. */
function exposition(text: string): Map<string, Record<string, string>[]> {
  const series = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    series.set(m[1], [...(series.get(m[1]) ?? []), labels]);
  }
  return series;
}

// --- Argo's conditions, as far as the templates use them --------------------------------------

/**
 * A JavaScript reading of an Argo Rollouts condition of the form the templates use
 * (`len(result) == N && all(result, {...})`, `isNaN(#)`, comparisons with numbers, `!`,
 * `&&`, `||`): anything else fails here rather than being guessed. Argo evaluates them
 * with expr-lang; this checks the thresholds' direction and what no data does.
 */
function condition(text: string): (result: number[]) => boolean {
  if (!/^[\w\s.()#{},!&|<>=]+$/.test(text)) throw new Error(`condition ${JSON.stringify(text)}: characters this reading does not know`);
  let js = text.replace(/len\(result\)/g, 'result.length').replace(/all\(result,\s*\{([^{}]*)\}\)/g, (_, body: string) => `result.every((v) => (${body.replace(/#/g, 'v')}))`);
  js = js.replace(/isNaN\(/g, 'Number.isNaN(').replace(/([^=!<>])==([^=])/g, '$1===$2');
  const leftover = js.replace(/result\.length|result\.every|Number\.isNaN|\bv\b|\d+(\.\d+)?|[\s()=!<>&|.]/g, '');
  if (leftover !== '') throw new Error(`condition ${JSON.stringify(text)}: ${JSON.stringify(leftover)} is not understood here`);
  return new Function('result', `return (${js});`) as (result: number[]) => boolean;
}

/** Argo's verdict on one measurement, given both conditions. */
function verdict(success: string, failure: string, result: number[]): 'Successful' | 'Failed' | 'Inconclusive' {
  if (condition(failure)(result)) return 'Failed';
  return condition(success)(result) ? 'Successful' : 'Inconclusive';
}


// --- the queries on Prometheus's own evaluator --------------------------------------------

/** A tool on PATH, or an error that says how to get it (never a skip: CI installs Debian's prometheus package). */
function tool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`${name} is not on PATH: this test needs Debian's prometheus package (apt-get install -y --no-install-recommends prometheus), which CI installs`);
}

/** One pod's series for promtool, a sample a minute: per-minute increases of the request counter by outcome, its pending gauge, and where its request durations fall. */
interface PodTraffic {
  readonly namespace: string;
  readonly hash: string;
  readonly success: number;
  readonly invalid: number;
  readonly internal: number;
  readonly pending: number;
  /** The duration bucket (upper bound, seconds) every successful request falls in. */
  readonly durationBucket: number;
}

/** The pods promtool's series stand for: two in the namespace the manifests select, one elsewhere. */
const PODS: Readonly<Record<string, PodTraffic>> = {
  good: { namespace: 'onnx-native', hash: 'good', success: 54, invalid: 6, internal: 0, pending: 3, durationBucket: 0.05 },
  bad: { namespace: 'onnx-native', hash: 'bad', success: 54, invalid: 0, internal: 6, pending: 5, durationBucket: 1 },
  idle: { namespace: 'onnx-native', hash: 'idle', success: 0, invalid: 0, internal: 0, pending: 0, durationBucket: 0.05 },
  elsewhere: { namespace: 'other', hash: 'good', success: 600, invalid: 0, internal: 600, pending: 100, durationBucket: 10 },
};

/** promtool input series for `pods`, labelled as the server labels them (checked against its exposition above) plus the scrape's target labels. */
function inputSeries(pods: readonly PodTraffic[]): { series: string; values: string }[] {
  const out: { series: string; values: string }[] = [];
  const grow = (perMinute: number) => `0+${perMinute}x10`;
  for (const p of pods) {
    const target = `job="onnx-native", namespace="${p.namespace}", pod="onnx-native-${p.hash}-${p.namespace}", rollouts_pod_template_hash="${p.hash}", model="m", version="1"`;
    out.push({ series: `onnx_native_requests_total{${target}, outcome="success"}`, values: grow(p.success) });
    for (const [reason, n] of [['invalid', p.invalid], ['internal', p.internal], ['queue_full', 0], ['timeout', 0], ['unavailable', 0]] as const) {
      out.push({ series: `onnx_native_requests_total{${target}, outcome="failure", reason="${reason}"}`, values: grow(n) });
    }
    out.push({ series: `onnx_native_pending_requests{${target}}`, values: `${p.pending}+0x10` });
    for (const le of [...DURATION_BUCKETS, Number.POSITIVE_INFINITY]) {
      out.push({ series: `onnx_native_request_duration_seconds_bucket{${target}, le="${le === Number.POSITIVE_INFINITY ? '+Inf' : le}"}`, values: grow(le >= p.durationBucket ? p.success : 0) });
    }
  }
  return out;
}

/** histogram_quantile(q) over one bucket holding every observation: Prometheus's linear interpolation inside it. */
function quantileInBucket(q: number, upper: number): number {
  const i = DURATION_BUCKETS.indexOf(upper);
  const lower = i > 0 ? DURATION_BUCKETS[i - 1] : 0;
  return lower + (upper - lower) * q;
}

// --- running the server -----------------------------------------------------------------------

const children: ChildProcess[] = [];
const temps: string[] = [];

interface Started {
  readonly child: ChildProcess;
  /** Port numbers of the manifest's arguments to the ports the test server listens on. */
  readonly ports: ReadonlyMap<number, number>;
  readonly exited: Promise<number | null>;
}

/**
 * Runs `onnx-native serve` (lib/cli/cli.ts, through tsx) with a container's arguments, but
 * the repository, --state-dir, --host and ports swapped for a test repository, a temporary
 * folder, 127.0.0.1 and free ports. Resolves once it prints its ready line.
 */
async function startWithArgs(argv: readonly string[], flags: ServeFlags): Promise<Started> {
  const parsed = parseServeArgs(argv, flags);
  const repository = writeRepository({ m: { config: 'max_batch_size: 8\ninput [{ name: "x", data_type: TYPE_FP32, dims: [2] }]\noutput [{ name: "y", data_type: TYPE_FP32, dims: [2] }]\n', versions: { 1: addConstantModel(1) } } });
  const state = mkdtempSync(join(tmpdir(), 'onnx-native-deploy-state-'));
  temps.push(repository, state);
  const swapped: string[] = ['serve', repository];
  const portFlags = ['http-port', 'grpc-port', 'metrics-port'];
  for (const [name, values] of parsed.flags) {
    for (const value of values) {
      if (flags.boolean.has(name)) {
        if (value === 'true') swapped.push(`--${name}`);
        continue;
      }
      const replaced = name === 'host' ? '127.0.0.1' : name === 'state-dir' ? state : portFlags.includes(name) && value !== 'off' ? '0' : value;
      swapped.push(`--${name}`, replaced);
    }
  }
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...swapped], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  let output = '';
  const ready = await new Promise<RegExpExecArray>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 60 s from ${swapped.join(' ')}:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^ready: HTTP http:\/\/127\.0\.0\.1:(\d+), gRPC 127\.0\.0\.1:(\d+), metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics$/m.exec(output);
      if (line) {
        clearTimeout(timer);
        resolveReady(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before it was ready (${swapped.join(' ')}):\n${output}`));
    });
  });
  const ports = new Map<number, number>();
  portFlags.forEach((name, i) => {
    const declared = Number(flagValue(parsed, name) ?? [8000, 8001, 8002][i]);
    ports.set(declared, Number(ready[i + 1]));
  });
  return { child, ports, exited };
}

Manifests.after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// --- the tests ----------------------------------------------------------------------------

Manifests('every YAML file under deploy/kserve and deploy/kubernetes parses, and holds only kinds validated here', () => {
  const files = [...yamlFiles(KSERVE), ...yamlFiles(KUBERNETES)];
  assert.ok(files.length >= 15, `${files.length} files`);
  const kinds = new Set<string>();
  for (const file of files) {
    const docs = parseDocuments(file);
    assert.ok(docs.length > 0, `${relative(root, file)} holds no document`);
    for (const doc of docs) {
      const r = doc as Resource;
      assert.type(r.apiVersion, 'string', `${relative(root, file)}: apiVersion`);
      assert.type(r.kind, 'string', `${relative(root, file)}: kind`);
      if (isKustomization(file)) continue;
      assert.ok(familyOf(r) !== undefined, `${relative(root, file)}: ${r.apiVersion} ${r.kind} has no validator here`);
      kinds.add(r.kind);
    }
  }
  for (const kind of ['ClusterServingRuntime', 'ServingRuntime', 'InferenceService', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'ScaledObject', 'ServiceMonitor', 'PrometheusRule', 'AnalysisTemplate', 'Rollout'])
    assert.ok(kinds.has(kind), `a ${kind} among the manifests`);
});

Manifests('every manifest validates against its schema, with no field the schema does not declare', () => {
  assertValid(manifestDocuments(), 'the manifests as written');
});

Manifests('a misspelled field fails (the schemas alone accept it), and a wrong type fails, in each schema family', () => {
  const docs = manifestDocuments().map((d) => d.resource);
  const byKind = (kind: string) => structuredClone(docs.find((d) => d.kind === kind) as Resource);
  /** `doc` with the key at `path` (a JSON pointer) renamed to `to`. */
  const renamed = (doc: Resource, path: string, to: string): Resource => {
    const parts = path.split('/').slice(1);
    let node = doc as unknown as Record<string, unknown>;
    for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
    const from = parts[parts.length - 1];
    assert.ok(from in node, `${doc.kind} has ${path}`);
    node[to] = node[from];
    delete node[from];
    return doc;
  };
  const firstFor = (byKind('PrometheusRule').spec as { groups: { rules: Record<string, unknown>[] }[] }).groups[0].rules.findIndex((r) => 'for' in r);
  assert.ok(firstFor >= 0, 'the first rule group has an alert with a for:');
  const cases: [Family, string, string, string][] = [
    ['kubernetes', 'Deployment', '/spec/replicas', 'replcas'],
    ['kubernetes', 'Deployment', '/spec/template/spec/terminationGracePeriodSeconds', 'terminationGracePeriodSecond'],
    ['kubernetes', 'Deployment', '/spec/template/spec/containers/0/readinessProbe/httpGet/path', 'pth'],
    ['kubernetes', 'Deployment', '/metadata/labels', 'label'],
    ['kubernetes', 'Service', '/spec/ports/0/targetPort', 'targetport'],
    ['kubernetes', 'PodDisruptionBudget', '/spec/maxUnavailable', 'maxUnavailible'],
    ['kubernetes', 'HorizontalPodAutoscaler', '/spec/minReplicas', 'minReplica'],
    ['keda', 'ScaledObject', '/spec/minReplicaCount', 'minReplicaCont'],
    ['keda', 'ScaledObject', '/spec/triggers/0/metricType', 'metrictype'],
    ['argo-rollouts', 'AnalysisTemplate', '/spec/metrics/0/successCondition', 'succesCondition'],
    ['argo-rollouts', 'AnalysisTemplate', '/spec/metrics/0/provider/prometheus/query', 'querry'],
    ['argo-rollouts', 'Rollout', '/spec/workloadRef', 'workloadref'],
    ['prometheus-operator', 'ServiceMonitor', '/spec/endpoints/0/port', 'prot'],
    ['prometheus-operator', 'PrometheusRule', `/spec/groups/0/rules/${firstFor}/for`, 'fro'],
    ['kserve', 'ServingRuntime', '/spec/supportedModelFormats/0/autoSelect', 'autoselect'],
    ['kserve', 'ClusterServingRuntime', '/spec/containers/0/securityContext/runAsNonRoot', 'runAsNonroot'],
    ['kserve', 'InferenceService', '/spec/predictor/canaryTrafficPercent', 'canaryTraficPercent'],
    ['kserve', 'InferenceService', '/spec/predictor/model/storageUri', 'storageURI'],
    ['kserve', 'InferenceService', '/metadata/annotations', 'annotation'],
  ];
  const families = new Set<Family>();
  for (const [family, kind, path, typo] of cases) {
    const doc = renamed(byKind(kind), path, typo);
    assert.is(familyOf(doc), family);
    const typoPath = `${path.slice(0, path.lastIndexOf('/'))}/${typo}`;
    const result = validateDocument(doc);
    assert.equal(result.errors, [], `${kind} with ${typoPath}: the misspelling is no schema error (schemas allow unknown fields), only undeclared`);
    assert.equal(result.undeclared, [typoPath], `${kind} with ${typoPath}`);
    families.add(family);
  }
  assert.is(families.size, 5);

  // A wrong type is a schema error in each family (the validators do validate).
  const retyped: [string, (d: Record<string, any>) => void][] = [
    ['Deployment', (d) => (d.spec.replicas = 'two')],
    ['ScaledObject', (d) => (d.spec.maxReplicaCount = 'ten')],
    ['AnalysisTemplate', (d) => (d.spec.metrics = 'success-rate')],
    ['ServiceMonitor', (d) => (d.spec.endpoints = { port: 'metrics' })],
    ['InferenceService', (d) => (d.spec.predictor.canaryTrafficPercent = 'ten')],
    ['ServingRuntime', (d) => (d.spec.supportedModelFormats[0].autoSelect = 'yes')],
  ];
  for (const [kind, change] of retyped) {
    const doc = byKind(kind);
    change(doc as Record<string, any>);
    assert.ok(validateDocument(doc).errors.length > 0, `${kind} with a value of the wrong type fails`);
  }
  // And a kustomization's own fields.
  assert.throws(() => validateKustomization({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resource: ['deployment.yaml'] }, 'kustomization.yaml'), /resource: not a field/);
});

Manifests('kustomize layout: every listed resource exists, every manifest is listed, each overlay renders and validates as patched', () => {
  const listed = new Set<string>();
  const kustomizations = yamlFiles(KUBERNETES).filter(isKustomization);
  for (const file of kustomizations) for (const f of kustomizationTree(resolve(file, '..')).files) listed.add(f);
  const unlisted = yamlFiles(KUBERNETES).filter((f) => !listed.has(f));
  assert.equal(unlisted.map((f) => relative(root, f)), [], 'manifests no kustomization lists');
  assert.equal(OVERLAY_NAMES.sort(), ['argo-rollouts', 'hpa', 'keda']);
  for (const name of OVERLAY_NAMES) assert.ok(readKustomization(join(OVERLAYS, name)).resources?.includes('../../base'), `overlays/${name} builds on the base`);
  const namespace = readKustomization(BASE).namespace;
  assert.is(namespace, 'onnx-native');
  for (const [name, docs] of renderings()) {
    assertValid(docs, `${name}, rendered`);
    const ids = docs.map((d) => `${d.resource.kind}/${d.resource.metadata.name}`);
    assert.is(new Set(ids).size, ids.length, `${name}: a kind and name twice: ${ids.join(', ')}`);
    for (const d of docs) assert.is(d.resource.metadata.namespace, namespace, `${name}: ${d.resource.kind} ${d.resource.metadata.name} in the base's namespace`);
  }
});

Manifests('Deployment, Service, PodDisruptionBudget and ServiceMonitor select one another; ports, probes and annotations name real ports', () => {
  for (const [name, docs] of renderings()) {
    const deployment = spec<DeploymentShape>(one(docs, 'Deployment'));
    const pod = deployment.spec.template;
    const podLabels = pod.metadata.labels;
    assert.ok(selects(deployment.spec.selector.matchLabels, podLabels), `${name}: the Deployment's selector matches its pods`);
    const service = spec<{ metadata: Resource['metadata']; spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] } }>(one(docs, 'Service'));
    assert.ok(selects(service.spec.selector, podLabels), `${name}: the Service selects the pods`);
    const pdb = spec<{ spec: { selector: { matchLabels: Record<string, string> } } }>(one(docs, 'PodDisruptionBudget'));
    assert.ok(selects(pdb.spec.selector.matchLabels, podLabels), `${name}: the PodDisruptionBudget covers the pods`);
    const monitor = spec<{ spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[]; namespaceSelector?: unknown } }>(one(docs, 'ServiceMonitor'));
    assert.ok(selects(monitor.spec.selector.matchLabels, service.metadata.labels), `${name}: the ServiceMonitor selects the Service`);
    assert.is(monitor.spec.namespaceSelector, undefined, 'the ServiceMonitor looks in its own namespace, the Service\'s');

    assert.is(pod.spec.containers.length, 1);
    const container = pod.spec.containers[0];
    const portByName = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
    assert.equal([...portByName.keys()].sort(), ['grpc', 'http', 'metrics']);
    for (const p of service.spec.ports) assert.ok(typeof p.targetPort === 'string' && portByName.has(p.targetPort), `${name}: Service port ${p.name} targets a named container port`);
    assert.equal(service.spec.ports.map((p) => [p.name, p.port]), [['http', 8000], ['grpc', 8001], ['metrics', 8002]]);
    for (const e of monitor.spec.endpoints) {
      assert.ok(service.spec.ports.some((p) => p.name === e.port), `${name}: the ServiceMonitor scrapes Service port ${e.port}`);
      assert.is(e.port, 'metrics');
      assert.is(e.path, '/metrics');
    }
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
      const get = container[probe]?.httpGet;
      assert.ok(get, `${name}: ${probe} is an HTTP GET`);
      assert.ok(typeof get.port === 'string' && portByName.get(get.port) === 8000, `${name}: ${probe} on the named HTTP port`);
    }
    assert.is(container.readinessProbe?.httpGet?.path, '/v2/health/ready');
    assert.is(container.livenessProbe?.httpGet?.path, '/v2/health/live');
    const annotations = pod.metadata.annotations ?? {};
    assert.is(Number(annotations['prometheus.io/port']), portByName.get('metrics'), `${name}: prometheus.io/port is the metrics port`);
    assert.is(annotations['prometheus.io/path'], '/metrics');
    // The shipped rules' job="onnx-native" is the ServiceMonitor's job label: the Service's name.
    assert.is(service.metadata.name, 'onnx-native');
    assert.ok(readFileSync(RULES, 'utf8').includes(`job="${service.metadata.name}"`));
  }
});

Manifests('the container: flags serve reads, ports as its flags set them, a read-only root with writable state, the grace period covers preStop and the drain', () => {
  const flags = serveFlags();
  for (const [name, docs] of renderings()) {
    const pod = spec<DeploymentShape>(one(docs, 'Deployment')).spec.template.spec;
    const container = pod.containers[0];
    const argv = container.args ?? [];
    assert.equal(argumentProblems(argv, flags), [], `${name}: the container's arguments`);
    const args = parseServeArgs(argv, flags);
    assert.is(flagValue(args, 'host'), '0.0.0.0', 'listens on the pod\'s addresses (the default is 127.0.0.1)');
    const port = (n: string) => container.ports?.find((p) => p.name === n)?.containerPort;
    assert.is(Number(flagValue(args, 'http-port')), port('http'));
    assert.is(Number(flagValue(args, 'grpc-port')), port('grpc'));
    assert.is(Number(flagValue(args, 'metrics-port')), port('metrics'));

    const mounts = new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    const models = mounts.get(args.positional[1]);
    assert.ok(models?.readOnly === true, `${name}: the repository ${args.positional[1]} is a read-only mount`);
    assert.ok(volumes.get(models.name)?.persistentVolumeClaim?.readOnly === true, 'from a claim mounted read-only');
    assert.is(container.securityContext?.readOnlyRootFilesystem, true);
    const state = mounts.get(flagValue(args, 'state-dir') as string);
    assert.ok(state !== undefined && state.readOnly !== true && volumes.get(state.name)?.emptyDir !== undefined, `${name}: --state-dir is a writable emptyDir`);
    for (const m of container.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${name}: volume ${m.name} exists`);
    assert.is(pod.securityContext?.runAsNonRoot, true);
    assert.is(container.securityContext?.allowPrivilegeEscalation, false);
    assert.equal((container.securityContext?.capabilities as { drop?: string[] } | undefined)?.drop, ['ALL']);
    const threads = container.env?.find((e) => e.name === 'ONNX_NATIVE_RUN_THREADS')?.valueFrom?.resourceFieldRef;
    assert.equal([threads?.containerName, threads?.resource], [container.name, 'limits.cpu']);

    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    assert.is(command[0], 'sleep', `${name}: preStop sleeps`);
    const preStop = Number(command[1]);
    assert.ok(preStop >= 3, 'long enough for endpoints to be removed');
    const graceMs = Number(flagValue(args, 'grace-ms') ?? 30_000);
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    assert.ok(grace >= preStop + graceMs / 1000 + MARGIN_S, `${name}: terminationGracePeriodSeconds ${grace} >= preStop ${preStop} + --grace-ms ${graceMs / 1000} + ${MARGIN_S}`);
  }
});

Manifests('overlays: the autoscalers and the rollout target the Deployment, which keeps no replica count of its own where they own it', () => {
  const rendered = new Map(renderings());
  const targetsDeployment = (ref: { apiVersion?: string; kind: string; name: string }) => ref.apiVersion === 'apps/v1' && ref.kind === 'Deployment' && ref.name === 'onnx-native';
  assert.is(spec<DeploymentShape>(one(rendered.get('base') ?? [], 'Deployment')).spec.replicas, 2);

  const hpaDocs = rendered.get('overlays/hpa') ?? [];
  const hpa = spec<{ spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: { resource?: { name: string } }[] } }>(one(hpaDocs, 'HorizontalPodAutoscaler'));
  assert.ok(targetsDeployment(hpa.spec.scaleTargetRef));
  assert.is(hpa.spec.metrics[0].resource?.name, 'cpu');
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
  assert.is(spec<DeploymentShape>(one(hpaDocs, 'Deployment')).spec.replicas, undefined);
  assert.ok((spec<DeploymentShape>(one(hpaDocs, 'Deployment')).spec.template.spec.containers[0] as { resources?: { requests?: { cpu?: string } } }).resources?.requests?.cpu, 'CPU requests to scale against');

  const kedaDocs = rendered.get('overlays/keda') ?? [];
  const scaled = spec<{ spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: { type: string; metricType: string; metadata: Record<string, string> }[] } }>(one(kedaDocs, 'ScaledObject'));
  assert.ok(targetsDeployment(scaled.spec.scaleTargetRef));
  assert.is(spec<DeploymentShape>(one(kedaDocs, 'Deployment')).spec.replicas, undefined);
  assert.ok(!kedaDocs.some((d) => d.resource.kind === 'HorizontalPodAutoscaler'), 'KEDA makes its own HorizontalPodAutoscaler');
  const namespace = readKustomization(BASE).namespace;
  for (const t of scaled.spec.triggers) {
    assert.is(t.type, 'prometheus');
    assert.is(t.metricType, 'AverageValue');
    assert.ok(Number(t.metadata.threshold) > 0, 'a positive threshold');
    for (const s of selectors(t.metadata.query)) {
      assert.ok(s.matchers.some((m) => m.label === 'namespace' && m.op === '=' && m.value === namespace), `${t.metadata.query}: selects the base's namespace ${namespace}`);
      assert.ok(s.matchers.some((m) => m.label === 'job' && m.op === '=' && m.value === 'onnx-native'), `${t.metadata.query}: selects job onnx-native`);
    }
  }
  assert.equal(scaled.spec.triggers.flatMap((t) => selectors(t.metadata.query).map((s) => s.metric)), ['onnx_native_pending_requests', 'onnx_native_requests_total']);

  const argoDocs = rendered.get('overlays/argo-rollouts') ?? [];
  const deployment = spec<DeploymentShape>(one(argoDocs, 'Deployment'));
  assert.is(deployment.spec.replicas, 0, 'the Rollout runs the pods; the Deployment is its template');
  const rollout = spec<{ spec: { selector: { matchLabels: Record<string, string> }; workloadRef: { apiVersion: string; kind: string; name: string }; strategy: { canary: { steps: { analysis?: { templates: { templateName: string }[]; args: { name: string; valueFrom?: { podTemplateHashValue?: string; fieldRef?: { fieldPath: string } } }[] } }[] } } } }>(
    one(argoDocs, 'Rollout'),
  );
  assert.ok(targetsDeployment(rollout.spec.workloadRef));
  assert.ok(selects(rollout.spec.selector.matchLabels, deployment.spec.template.metadata.labels), 'the Rollout selects the template\'s pods');
  const analyses = rollout.spec.strategy.canary.steps.flatMap((s) => (s.analysis ? [s.analysis] : []));
  assert.ok(analyses.length >= 1, 'steps gated by an analysis');
  for (const a of analyses) {
    for (const t of a.templates) {
      const template = spec<{ spec: { args: { name: string; value?: string }[] } }>(one(argoDocs, 'AnalysisTemplate', t.templateName));
      const needed = template.spec.args.filter((x) => x.value === undefined).map((x) => x.name).sort();
      assert.equal(a.args.map((x) => x.name).sort(), needed, `the Rollout gives ${t.templateName} the arguments it declares`);
    }
    assert.is(a.args.find((x) => x.name === 'canary-hash')?.valueFrom?.podTemplateHashValue, 'Latest');
    assert.is(a.args.find((x) => x.name === 'namespace')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
  }
  // The analysis tells the canary's series by the pod label the ServiceMonitor copies onto them.
  const monitor = spec<{ spec: { podTargetLabels?: string[] } }>(one(argoDocs, 'ServiceMonitor'));
  assert.ok(monitor.spec.podTargetLabels?.includes('rollouts-pod-template-hash'));
  const template = spec<{ spec: { metrics: { provider: { prometheus: { query: string; address: string } } }[] } }>(one(argoDocs, 'AnalysisTemplate'));
  for (const m of template.spec.metrics) {
    for (const s of selectors(m.provider.prometheus.query)) {
      assert.ok(s.matchers.some((x) => x.label === 'rollouts_pod_template_hash' && x.op === '=' && x.value === '{{args.canary-hash}}'), `${s.metric}: the canary's series only`);
      assert.ok(s.matchers.some((x) => x.label === 'namespace' && x.value === '{{args.namespace}}'));
    }
    assert.is(m.provider.prometheus.address, scaled.spec.triggers[0].metadata.serverAddress, 'the same Prometheus as KEDA\'s');
  }
});

Manifests('the PrometheusRule carries exactly the rules of monitoring/prometheus-rules.yml, as scripts/prometheus-rule.mjs writes it', () => {
  const rule = spec<{ spec: { groups: unknown[] } }>(one(render(BASE), 'PrometheusRule'));
  const shipped = YAML.parse(readFileSync(RULES, 'utf8')) as { groups: unknown[] };
  assert.ok(shipped.groups.length > 0);
  assert.equal(rule.spec.groups, shipped.groups);
  const check = spawnSync(process.execPath, [join(root, 'scripts', 'prometheus-rule.mjs'), '--check'], { encoding: 'utf8' });
  assert.is(check.status, 0, `${check.stdout}${check.stderr}`);
});

Manifests('the analysis: a value passes or fails by its threshold; no data, NaN or more than one series is inconclusive', () => {
  const template = spec<{ spec: { metrics: { name: string; successCondition: string; failureCondition: string; inconclusiveLimit?: number; failureLimit?: number }[] } }>(
    one(render(join(OVERLAYS, 'argo-rollouts')), 'AnalysisTemplate'),
  );
  const metric = (name: string) => template.spec.metrics.find((m) => m.name === name) as (typeof template.spec.metrics)[number];
  const cases: [string, number[], string][] = [
    ['success-rate', [1], 'Successful'],
    ['success-rate', [0.995], 'Successful'],
    ['success-rate', [0.99], 'Successful'],
    ['success-rate', [0.98], 'Failed'],
    ['success-rate', [0], 'Failed'],
    ['success-rate', [], 'Inconclusive'],
    ['success-rate', [Number.NaN], 'Inconclusive'],
    ['success-rate', [1, 0.5], 'Inconclusive'],
    ['p99-latency', [0.01], 'Successful'],
    ['p99-latency', [0.5], 'Successful'],
    ['p99-latency', [0.6], 'Failed'],
    ['p99-latency', [Number.POSITIVE_INFINITY], 'Failed'],
    ['p99-latency', [], 'Inconclusive'],
    ['p99-latency', [Number.NaN], 'Inconclusive'],
  ];
  for (const [name, result, expected] of cases) {
    const m = metric(name);
    assert.is(verdict(m.successCondition, m.failureCondition, result), expected, `${name} on ${JSON.stringify(result.map(String))}`);
  }
  for (const m of template.spec.metrics) {
    // Recent Argo Rollouts errors on `result[` with an empty result, guarded or not: an Error, not Inconclusive.
    assert.not.match(`${m.successCondition} ${m.failureCondition}`, /\bresult\s*\[/, `${m.name}: no indexing into result`);
    assert.is(m.failureLimit, 0);
  }
});

Manifests('the KEDA and Argo queries, run by promtool on series shaped as the server exports them: the figures expected, NaN without requests, nothing without series', () => {
  const promtool = tool('promtool');
  const rendered = new Map(renderings());
  const keda = spec<{ spec: { triggers: { name: string; metadata: { query: string } }[] } }>(one(rendered.get('overlays/keda') ?? [], 'ScaledObject')).spec.triggers;
  const template = spec<{ spec: { metrics: { name: string; successCondition: string; failureCondition: string; provider: { prometheus: { query: string } } }[] } }>(
    one(rendered.get('overlays/argo-rollouts') ?? [], 'AnalysisTemplate'),
  ).spec.metrics;
  const namespace = readKustomization(BASE).namespace as string;
  const argo = (name: string, hash: string) => {
    const m = template.find((x) => x.name === name) as (typeof template)[number];
    return { ...m, query: m.provider.prometheus.query.replaceAll('{{args.namespace}}', namespace).replaceAll('{{args.canary-hash}}', hash) };
  };
  const inside = Object.values(PODS).filter((p) => p.namespace === namespace);
  type Expected = number | 'NaN' | 'none';
  const cases: [string, string, Expected][] = [
    // KEDA: summed over the namespace's pods, the other namespace's left out.
    ['keda queue-depth', (keda.find((t) => t.name === 'queue-depth') as (typeof keda)[number]).metadata.query, inside.reduce((n, p) => n + p.pending, 0)],
    ['keda request-rate', (keda.find((t) => t.name === 'request-rate') as (typeof keda)[number]).metadata.query, inside.reduce((n, p) => n + (p.success + p.invalid + p.internal) / 60, 0)],
    // Argo: invalid requests are not the canary's failures; internal ones are.
    ['success-rate good', argo('success-rate', 'good').query, 1],
    ['success-rate bad', argo('success-rate', 'bad').query, 1 - PODS.bad.internal / (PODS.bad.success + PODS.bad.internal)],
    ['success-rate idle', argo('success-rate', 'idle').query, 'NaN'],
    ['success-rate unscraped', argo('success-rate', 'unscraped').query, 'none'],
    ['p99-latency good', argo('p99-latency', 'good').query, quantileInBucket(0.99, PODS.good.durationBucket)],
    ['p99-latency bad', argo('p99-latency', 'bad').query, quantileInBucket(0.99, PODS.bad.durationBucket)],
    ['p99-latency idle', argo('p99-latency', 'idle').query, 'NaN'],
    ['p99-latency unscraped', argo('p99-latency', 'unscraped').query, 'none'],
  ];
  // promtool compares samples exactly (NaN unequal to itself): NaN is tested as `x != bool x`, figures rounded to 1e-9.
  const tests = cases.map(([, query, expected]) => ({
    expr: expected === 'NaN' ? `(${query}) != bool (${query})` : expected === 'none' ? query : `round((${query}) * 1e9)`,
    eval_time: '6m',
    exp_samples: expected === 'none' ? [] : [{ labels: '{}', value: expected === 'NaN' ? 1 : Math.round(expected * 1e9) }],
  }));
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-deploy-promql-'));
  temps.push(dir);
  const file = join(dir, 'queries.test.yml');
  writeFileSync(file, YAML.stringify({ rule_files: [], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: inputSeries(Object.values(PODS)), promql_expr_test: tests }] }, { lineWidth: 0 }));
  const result = spawnSync(promtool, ['test', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  assert.is(result.status, 0, `promtool test rules (${cases.map(([name]) => name).join(', ')}):\n${result.stdout}${result.stderr}`);

  // And what Argo makes of those results.
  const results: Record<string, number[]> = { good: [1], bad: [0.9], idle: [Number.NaN], unscraped: [] };
  const p99: Record<string, number[]> = { good: [quantileInBucket(0.99, 0.05)], bad: [quantileInBucket(0.99, 1)], idle: [Number.NaN], unscraped: [] };
  const verdicts = Object.keys(results).map((hash) => [hash, verdict(argo('success-rate', hash).successCondition, argo('success-rate', hash).failureCondition, results[hash]), verdict(argo('p99-latency', hash).successCondition, argo('p99-latency', hash).failureCondition, p99[hash])]);
  assert.equal(verdicts, [
    ['good', 'Successful', 'Successful'],
    ['bad', 'Failed', 'Failed'],
    ['idle', 'Inconclusive', 'Inconclusive'],
    ['unscraped', 'Inconclusive', 'Inconclusive'],
  ]);
});

Manifests('KServe: the two runtimes are one spec; KServe\'s ports, /mnt/models, flags serve reads, metrics annotations, KServe\'s security context; the InferenceService fits them', () => {
  const flags = serveFlags();
  const cluster = kserveDoc('ClusterServingRuntime');
  const namespaced = kserveDoc('ServingRuntime');
  assert.equal(cluster.spec, namespaced.spec, 'cluster-serving-runtime.yaml and serving-runtime.yaml: the same spec');
  assert.is(cluster.metadata.name, namespaced.metadata.name);
  const runtime = cluster.spec as {
    annotations: Record<string, string>;
    supportedModelFormats: { name: string; version?: string; autoSelect?: boolean }[];
    protocolVersions: string[];
    containers: Container[];
  };
  assert.equal(runtime.supportedModelFormats.map((f) => [f.name, f.autoSelect]), [['onnx', true]]);
  assert.equal(runtime.protocolVersions, ['v2', 'grpc-v2']);
  assert.is(runtime.containers.length, 1);
  const container = runtime.containers[0];
  assert.is(container.name, 'kserve-container', 'KServe finds its container by this name');
  assert.equal(argumentProblems(container.args ?? [], flags), []);
  const args = parseServeArgs(container.args ?? [], flags);
  assert.is(args.positional[1], '/mnt/models', 'where the storage initializer puts the model');
  assert.is(flagValue(args, 'host'), '0.0.0.0');
  assert.is(flagValue(args, 'http-port'), '8080', 'KServe\'s HTTP port');
  assert.is(flagValue(args, 'grpc-port'), '9000', 'KServe\'s gRPC port');
  assert.is(runtime.annotations['prometheus.kserve.io/port'], flagValue(args, 'metrics-port'));
  assert.is(runtime.annotations['prometheus.kserve.io/path'], '/metrics');
  assert.is(runtime.annotations['serving.kserve.io/enable-prometheus-scraping'], 'true');
  assert.equal(
    { ...container.securityContext, runAsUser: undefined },
    { runAsUser: undefined, runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } },
    'the security context of KServe\'s own runtimes',
  );
  assert.ok(container.ports === undefined, 'no ports declared: Knative takes at most one');

  const isvc = kserveDoc('InferenceService') as Resource & {
    spec: { predictor: { canaryTrafficPercent?: number; terminationGracePeriodSeconds?: number; model: { runtime: string; modelFormat: { name: string; version?: string }; protocolVersion: string; storageUri: string } } };
  };
  const model = isvc.spec.predictor.model;
  assert.is(model.runtime, cluster.metadata.name);
  assert.ok(
    runtime.supportedModelFormats.some((f) => f.name === model.modelFormat.name && (model.modelFormat.version === undefined || f.version === model.modelFormat.version)),
    `the runtime supports ${model.modelFormat.name} ${model.modelFormat.version}`,
  );
  assert.ok(runtime.protocolVersions.includes(model.protocolVersion));
  assert.match(model.storageUri, /^(s3|gs|https?|pvc|oci|hdfs|webhdfs|hf):\/\/\S+$/);
  const canary = isvc.spec.predictor.canaryTrafficPercent;
  assert.ok(canary !== undefined && canary > 0 && canary < 100, 'a canary share');
  assert.ok((isvc.spec.predictor.terminationGracePeriodSeconds ?? 30) >= Number(flagValue(args, 'grace-ms') ?? 30_000) / 1000 + MARGIN_S, 'the grace period covers the drain');
  assert.is(isvc.metadata.annotations?.['serving.kserve.io/enable-prometheus-scraping'], 'true');
});

Manifests('the real server with the manifests\' arguments: probes answer 200, metrics are served, the queries\' series are in them, SIGTERM exits 0 in the grace period', async () => {
  const flags = serveFlags();
  const rendered = new Map(renderings());
  const deployment = spec<DeploymentShape>(one(rendered.get('base') ?? [], 'Deployment')).spec.template;
  const container = deployment.spec.containers[0];
  const runtime = kserveDoc('ClusterServingRuntime').spec as { annotations: Record<string, string>; containers: Container[] };
  const [plain, kserve] = await Promise.all([startWithArgs(container.args ?? [], flags), startWithArgs(runtime.containers[0].args ?? [], flags)]);

  const containerPort = (name: string | number) => (typeof name === 'number' ? name : (container.ports?.find((p) => p.name === name)?.containerPort as number));
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
    const get = container[probe]?.httpGet as { path: string; port: string | number };
    const response = await fetch(`http://127.0.0.1:${plain.ports.get(containerPort(get.port))}${get.path}`);
    assert.is(response.status, 200, `${probe} ${get.path}`);
  }
  const annotations = deployment.metadata.annotations ?? {};
  const metricsText = await (await fetch(`http://127.0.0.1:${plain.ports.get(Number(annotations['prometheus.io/port']))}${annotations['prometheus.io/path']}`)).text();
  const kserveMetrics = await fetch(`http://127.0.0.1:${kserve.ports.get(Number(runtime.annotations['prometheus.kserve.io/port']))}${runtime.annotations['prometheus.kserve.io/path']}`);
  assert.is(kserveMetrics.status, 200, 'the KServe runtime\'s metrics annotations');
  for (const path of ['/v2/health/live', '/v2/health/ready']) assert.is((await fetch(`http://127.0.0.1:${kserve.ports.get(8080)}${path}`)).status, 200, `KServe runtime ${path} on its HTTP port`);

  // Every metric, label and label value the autoscaler's and the analysis' queries select.
  const series = exposition(metricsText);
  const queries = [
    ...spec<{ spec: { triggers: { metadata: { query: string } }[] } }>(one(rendered.get('overlays/keda') ?? [], 'ScaledObject')).spec.triggers.map((t) => t.metadata.query),
    ...spec<{ spec: { metrics: { provider: { prometheus: { query: string } } }[] } }>(one(rendered.get('overlays/argo-rollouts') ?? [], 'AnalysisTemplate')).spec.metrics.map((m) => m.provider.prometheus.query),
  ];
  // Labels Prometheus adds to every series it scrapes through the ServiceMonitor (the target's, and the copied pod label).
  const targetLabels = new Set(['job', 'namespace', 'instance', 'pod', 'service', 'endpoint', 'container', 'rollouts_pod_template_hash']);
  const problems: string[] = [];
  for (const query of queries) {
    const found = selectors(query);
    const mentioned = [...query.matchAll(/\bonnx_native_[a-z0-9_]+/g)].map((m) => m[0]);
    assert.equal([...new Set(mentioned)].sort(), [...new Set(found.map((s) => s.metric))].sort(), `${query}: every metric it names has a selector`);
    for (const s of found) {
      const sets = series.get(s.metric);
      if (sets === undefined) {
        problems.push(`${s.metric}: not in the server's metrics`);
        continue;
      }
      for (const m of s.matchers) {
        if (targetLabels.has(m.label)) continue;
        const values = new Set(sets.map((l) => l[m.label]).filter((v) => v !== undefined));
        if (values.size === 0) problems.push(`${s.metric}{${m.label}}: the server's series have no label ${m.label}`);
        else if ((m.op === '=' || m.op === '!=') && !values.has(m.value)) problems.push(`${s.metric}{${m.label}${m.op}"${m.value}"}: ${m.label} takes ${[...values].join(', ')}`);
      }
    }
  }
  assert.equal(problems, [], problems.join('\n'));

  // SIGTERM: exit 0, inside the grace period less the preStop sleep.
  const grace = (deployment.spec.terminationGracePeriodSeconds ?? 30) - Number(container.lifecycle?.preStop?.exec?.command[1] ?? 0);
  for (const started of [plain, kserve]) {
    const t0 = Date.now();
    started.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([started.exited, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), grace * 1000)))]);
    clearTimeout(timer);
    assert.is(code, 0, `exit code after SIGTERM (in ${Date.now() - t0} ms)`);
  }
});

Manifests.run();
