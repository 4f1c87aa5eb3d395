/**
 * The shipped monitoring (monitoring/prometheus-rules.yml, monitoring/grafana-dashboard.json)
 * judged by the real tools, Debian's `prometheus` package (CI installs it; without it these
 * tests fail, they never skip):
 *
 * - `promtool check rules` on the rules, and on broken copies (so the check is real);
 * - `promtool test rules` on series made here: each alert fires past its threshold once its
 *   `for:` has run, and not below the threshold or before;
 * - the dashboard's structure (variables, panels, layout) read here;
 * - a real server on loopback ports (0) with a test repository (a model with two versions,
 *   a traffic split and labels; a model whose file is broken), and a fixture target
 *   exporting the model-quality series that the monitoring being built will export (drift,
 *   accuracy, dropped payload events, named as agreed); `promtool check metrics` on both
 *   expositions; a real Prometheus started here on a free loopback port, scraping both
 *   every second and loading the rules: the request counter it holds matches the requests
 *   sent, every rule group is loaded with health ok, exactly the alerts the series call
 *   for are active (annotations rendered with their labels), and every expression of the
 *   dashboard (its variables substituted) runs on it and returns series.
 *
 * Everything started is stopped in the suite's `after` (uvu runs it in a `finally`), and a
 * Prometheus still running when the process exits is killed then. Every wait is bounded.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ModelServer, createServer } from '../../lib/server/create-server';
import { root } from '../helpers/common';
import { addConstantModel, memoryLog, writeRepository } from '../helpers/model-repository';

const Monitoring = suite('monitoring: Prometheus rules and the Grafana dashboard, judged by promtool and a real Prometheus');

const RULES = join(root, 'monitoring', 'prometheus-rules.yml');
const DASHBOARD = join(root, 'monitoring', 'grafana-dashboard.json');
/** The scrape job's name the rules' `job="onnx-native"` selectors assume (see the rules file's header). */
const JOB = 'onnx-native';
/** How long any one wait may take. */
const WAIT_MS = 30_000;

/** A tool on PATH, or an error that says how to get it (never a skip: CI installs the package). */
function tool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, name);
    if (dir !== '' && existsSync(path)) return path;
  }
  throw new Error(`${name} is not on PATH: these tests need Debian's prometheus package (apt-get install -y --no-install-recommends prometheus), which CI installs`);
}

function run(file: string, args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync(file, args, { input, encoding: 'utf8', timeout: WAIT_MS });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-native-monitoring-'));
  temps.push(dir);
  return dir;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined; fails after `ms` with what it last saw. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what} (last: ${typeof last === 'string' ? last : JSON.stringify(last)})`);
    await sleep(250);
  }
}

/**
 * The rules without their annotations: `promtool test rules` compares an alert's
 * annotations too, in full, which would copy every text of the rules file here. The
 * annotations are checked where they are rendered, on the live Prometheus below.
 */
function withoutAnnotations(text: string): string {
  const out: string[] = [];
  let skipAbove = -1;
  for (const line of text.split('\n')) {
    const indent = line.length - line.trimStart().length;
    if (skipAbove >= 0 && (line.trim() === '' || indent > skipAbove)) continue;
    skipAbove = -1;
    if (/^\s*annotations:/.test(line)) {
      skipAbove = indent;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

// --- promtool ---------------------------------------------------------------------------

/** The rule count `promtool check rules` reports for the shipped file (checked again on the live Prometheus). */
let ruleCount = 0;

Monitoring('promtool check rules passes on the shipped rules; copies with a broken expression or template fail', () => {
  const promtool = tool('promtool');
  const good = run(promtool, ['check', 'rules', RULES]);
  assert.is(good.status, 0, `promtool check rules ${RULES}:\n${good.output}`);
  const found = /SUCCESS: (\d+) rules found/.exec(good.output);
  assert.ok(found, good.output);
  ruleCount = Number(found[1]);
  assert.ok(ruleCount >= 15, `${ruleCount} rules`);

  const text = readFileSync(RULES, 'utf8');
  const dir = tempDir();
  const broken = (name: string, from: string, to: string): string => {
    assert.ok(text.includes(from), `the rules file has ${JSON.stringify(from)} to break`);
    const path = join(dir, name);
    writeFileSync(path, text.replace(from, to));
    return path;
  };
  const badExpr = run(promtool, ['check', 'rules', broken('bad-expr.yml', 'ratio_rate5m > 0.05', 'ratio_rate5m > > 0.05')]);
  assert.is(badExpr.status, 1, badExpr.output);
  assert.match(badExpr.output, /parse error/);
  const badTemplate = run(promtool, ['check', 'rules', broken('bad-template.yml', '{{ $labels.model }} version', '{{ $labels.model  version')]);
  assert.is(badTemplate.status, 1, badTemplate.output);
  assert.match(badTemplate.output, /template/);
  const badFor = run(promtool, ['check', 'rules', broken('bad-for.yml', 'for: 5m', 'for: 5 minutes')]);
  assert.is(badFor.status, 1, badFor.output);
});

/** One series for `promtool test rules`: its selector and its values in promtool's notation (`0+6x20`: 0, 6, ..., 120). */
interface InputSeries {
  readonly series: string;
  readonly values: string;
}
interface AlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: readonly { readonly exp_labels: Record<string, string> }[];
}

const AT = { job: JOB, instance: 'a:8002' };
const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
const series = (name: string, labels: Record<string, string>, values: string): InputSeries => ({ series: `${name}{${labelText({ ...AT, ...labels })}}`, values });
const requests = (version: string, outcome: 'success' | 'queue_full' | 'timeout' | 'invalid' | 'internal', values: string): InputSeries =>
  series('onnx_native_requests_total', { model: 'm', version, ...(outcome === 'success' ? { outcome } : { outcome: 'failure', reason: outcome }) }, values);
/** An alert test: at `time`, no alert `alertname` firing, or exactly these. */
const alertsAt = (time: string, alertname: string, ...alerts: Record<string, string>[]): AlertTest => ({ eval_time: time, alertname, exp_alerts: alerts.map((exp_labels) => ({ exp_labels })) });

/**
 * Series and the alerts they must (and must not) fire, at a 1m evaluation interval: an
 * alert becomes active at the first evaluation that sees its condition (for a rate, the
 * second sample) and fires `for:` later; promtool lists firing alerts only.
 */
const ALERT_CASES: { readonly input_series: InputSeries[]; readonly alert_rule_test: AlertTest[] }[] = [
  // Error rate: v1 6% server-side failures (fires after 5m), v2 4% (never).
  {
    input_series: [requests('1', 'success', '0+94x20'), requests('1', 'internal', '0+6x20'), requests('1', 'invalid', '0x20'), requests('2', 'success', '0+96x20'), requests('2', 'internal', '0+4x20')],
    alert_rule_test: [alertsAt('5m', 'OnnxNativeHighErrorRate'), alertsAt('10m', 'OnnxNativeHighErrorRate', { severity: 'critical', model: 'm', version: '1' }), alertsAt('15m', 'OnnxNativeHighInvalidRequestRate')],
  },
  // Invalid requests: 10% (fires after 10m), and they are no server error.
  {
    input_series: [requests('1', 'success', '0+90x30'), requests('1', 'invalid', '0+10x30'), requests('1', 'internal', '0x30')],
    alert_rule_test: [alertsAt('9m', 'OnnxNativeHighInvalidRequestRate'), alertsAt('15m', 'OnnxNativeHighInvalidRequestRate', { severity: 'warning', model: 'm', version: '1' }), alertsAt('15m', 'OnnxNativeHighErrorRate')],
  },
  // p99 latency: v1's is 0.75s (98 of 100 requests under 0.5s, 2 under 1s), v2's 1.75s (2 above 1s).
  {
    input_series: [
      ...(
        [
          ['1', '0.5', 98],
          ['1', '1', 100],
          ['1', '2.5', 100],
          ['1', '+Inf', 100],
          ['2', '0.5', 97],
          ['2', '1', 98],
          ['2', '2.5', 100],
          ['2', '+Inf', 100],
        ] as const
      ).map(([version, le, perMinute]) => series('onnx_native_request_duration_seconds_bucket', { model: 'm', version, le }, `0+${perMinute}x30`)),
    ],
    alert_rule_test: [alertsAt('9m', 'OnnxNativeHighLatencyP99'), alertsAt('15m', 'OnnxNativeHighLatencyP99', { severity: 'warning', model: 'm', version: '2' })],
  },
  // Queue: v1 refuses 2% (queue full), v2 drops 0.5% (timeouts); only v1 is past 1%.
  {
    input_series: [requests('1', 'success', '0+98x20'), requests('1', 'queue_full', '0+2x20'), requests('2', 'success', '0+199x20'), requests('2', 'timeout', '0+1x20')],
    alert_rule_test: [alertsAt('5m', 'OnnxNativeQueueRejecting'), alertsAt('10m', 'OnnxNativeQueueRejecting', { severity: 'warning', model: 'm', version: '1' })],
  },
  // Backlog: v1 5 pending at 1 answer/s (5s), v2 1 pending at 2/s (0.5s).
  {
    input_series: [
      series('onnx_native_pending_requests', { model: 'm', version: '1' }, '5x30'),
      requests('1', 'success', '0+60x30'),
      series('onnx_native_pending_requests', { model: 'm', version: '2' }, '1x30'),
      requests('2', 'success', '0+120x30'),
    ],
    alert_rule_test: [alertsAt('9m', 'OnnxNativeQueueBacklog'), alertsAt('15m', 'OnnxNativeQueueBacklog', { severity: 'warning', model: 'm', version: '1' })],
  },
  // Stalled: v1 holds 3 pending and answers none; v2 holds 3 and answers.
  {
    input_series: [
      series('onnx_native_pending_requests', { model: 'm', version: '1' }, '3x20'),
      requests('1', 'success', '7x20'),
      series('onnx_native_pending_requests', { model: 'm', version: '2' }, '3x20'),
      requests('2', 'success', '0+60x20'),
    ],
    alert_rule_test: [alertsAt('5m', 'OnnxNativeQueueStalled'), alertsAt('10m', 'OnnxNativeQueueStalled', { severity: 'critical', ...AT, model: 'm', version: '1' })],
  },
  // Load failures: `broken` fails at 20m (its counter appears at 1: no increase to see),
  // m v1 (failed once long ago) fails again at 26m; 15 minutes later both are quiet.
  {
    input_series: [series('onnx_native_model_load_failures_total', { model: 'broken', version: '1' }, '_x20 1x30'), series('onnx_native_model_load_failures_total', { model: 'm', version: '1' }, '1x25 2x25')],
    alert_rule_test: [
      alertsAt('18m', 'OnnxNativeModelLoadFailed'),
      alertsAt('22m', 'OnnxNativeModelLoadFailed', { severity: 'warning', ...AT, model: 'broken', version: '1' }),
      alertsAt('27m', 'OnnxNativeModelLoadFailed', { severity: 'warning', ...AT, model: 'broken', version: '1' }, { severity: 'warning', ...AT, model: 'm', version: '1' }),
      alertsAt('45m', 'OnnxNativeModelLoadFailed'),
    ],
  },
  // States: broken v1 UNAVAILABLE (no version of it ready); m v2 UNAVAILABLE while m v1 serves.
  {
    input_series: [
      ...(
        [
          ['broken', '1', 'UNAVAILABLE'],
          ['m', '1', 'READY'],
          ['m', '2', 'UNAVAILABLE'],
        ] as const
      ).flatMap(([model, version, current]) =>
        ['READY', 'LOADING', 'UNAVAILABLE', 'UNLOADING'].map((state) => series('onnx_native_model_state', { model, version, state }, `${state === current ? 1 : 0}x10`)),
      ),
    ],
    alert_rule_test: [
      alertsAt('4m', 'OnnxNativeModelVersionUnavailable'),
      alertsAt('4m', 'OnnxNativeModelNoVersionReady'),
      alertsAt(
        '10m',
        'OnnxNativeModelVersionUnavailable',
        { severity: 'warning', ...AT, model: 'broken', version: '1', state: 'UNAVAILABLE' },
        { severity: 'warning', ...AT, model: 'm', version: '2', state: 'UNAVAILABLE' },
      ),
      alertsAt('10m', 'OnnxNativeModelNoVersionReady', { severity: 'critical', ...AT, model: 'broken' }),
    ],
  },
  // Drift: v1's tensor x in drift (fires after 15m), its tensor y at warn (after 1h); v2's x ok.
  {
    input_series: [
      series('onnx_native_drift_state', { model: 'm', version: '1', tensor: 'x', state: 'drift' }, '1x80'),
      series('onnx_native_drift_state', { model: 'm', version: '1', tensor: 'x', state: 'ok' }, '0x80'),
      series('onnx_native_drift_state', { model: 'm', version: '1', tensor: 'y', state: 'warn' }, '1x80'),
      series('onnx_native_drift_state', { model: 'm', version: '1', tensor: 'y', state: 'drift' }, '0x80'),
      series('onnx_native_drift_state', { model: 'm', version: '2', tensor: 'x', state: 'ok' }, '1x80'),
      series('onnx_native_drift_state', { model: 'm', version: '2', tensor: 'x', state: 'drift' }, '0x80'),
    ],
    alert_rule_test: [
      alertsAt('10m', 'OnnxNativeDrift'),
      alertsAt('20m', 'OnnxNativeDrift', { severity: 'warning', ...AT, model: 'm', version: '1', tensor: 'x', state: 'drift' }),
      alertsAt('50m', 'OnnxNativeDriftWarning'),
      alertsAt('70m', 'OnnxNativeDriftWarning', { severity: 'info', ...AT, model: 'm', version: '1', tensor: 'y', state: 'warn' }),
    ],
  },
  // Accuracy against the version's past: v1 0.95 for two hours, then 0.88 (7 points down);
  // v2 0.93, then 0.91 (2 points down). Neither is 5 points behind the other.
  {
    input_series: [series('onnx_native_accuracy', { model: 'm', version: '1' }, '0.95x120 0.88x80'), series('onnx_native_accuracy', { model: 'm', version: '2' }, '0.93x120 0.91x80')],
    alert_rule_test: [
      alertsAt('140m', 'OnnxNativeAccuracyDrop'),
      alertsAt('160m', 'OnnxNativeAccuracyDrop', { severity: 'warning', ...AT, model: 'm', version: '1' }),
      alertsAt('160m', 'OnnxNativeAccuracyBelowOtherVersions'),
    ],
  },
  // Accuracy against the other versions: v2 10 points behind v1, v3 4 points.
  {
    input_series: [
      series('onnx_native_accuracy', { model: 'm', version: '1' }, '0.95x60'),
      series('onnx_native_accuracy', { model: 'm', version: '2' }, '0.85x60'),
      series('onnx_native_accuracy', { model: 'm', version: '3' }, '0.91x60'),
    ],
    alert_rule_test: [
      alertsAt('20m', 'OnnxNativeAccuracyBelowOtherVersions'),
      alertsAt('40m', 'OnnxNativeAccuracyBelowOtherVersions', { severity: 'warning', ...AT, model: 'm', version: '2' }),
      alertsAt('40m', 'OnnxNativeAccuracyDrop'),
    ],
  },
  // Payload events: the file sink drops 5 a minute; the http sink dropped 7 long ago.
  {
    input_series: [
      series('onnx_native_payload_events_dropped_total', { sink: 'file', reason: 'queue_full' }, '0+5x30'),
      series('onnx_native_payload_events_dropped_total', { sink: 'http', reason: 'error' }, '7x30'),
    ],
    alert_rule_test: [alertsAt('8m', 'OnnxNativePayloadEventsDropped'), alertsAt('15m', 'OnnxNativePayloadEventsDropped', { severity: 'warning', ...AT, sink: 'file', reason: 'queue_full' })],
  },
  // The target down from 6m (another job's down target is not ours); event loop lag 300ms on a, 100ms on b.
  {
    input_series: [
      { series: `up{${labelText(AT)}}`, values: '1x5 0x15' },
      { series: 'up{job="other", instance="b:9100"}', values: '0x20' },
      series('nodejs_eventloop_lag_p99_seconds', {}, '0.3x20'),
      series('nodejs_eventloop_lag_p99_seconds', { instance: 'b:8002' }, '0.1x20'),
    ],
    alert_rule_test: [
      alertsAt('7m', 'OnnxNativeTargetDown'),
      alertsAt('9m', 'OnnxNativeTargetDown', { severity: 'critical', ...AT }),
      alertsAt('9m', 'OnnxNativeEventLoopLag'),
      alertsAt('12m', 'OnnxNativeEventLoopLag', { severity: 'warning', ...AT }),
    ],
  },
];

Monitoring('promtool test rules: each alert fires past its threshold once its `for:` has run, not below it, not before', () => {
  const promtool = tool('promtool');
  const dir = tempDir();
  const rules = join(dir, 'rules.yml');
  const stripped = withoutAnnotations(readFileSync(RULES, 'utf8'));
  writeFileSync(rules, stripped);
  const check = run(promtool, ['check', 'rules', rules]);
  assert.is(check.status, 0, `the rules without annotations:\n${check.output}`);
  assert.ok(!/annotations:|summary:|description:/.test(stripped), 'annotations stripped');
  // Every alert of the file has a case here.
  const alerts = [...readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]).sort();
  const tested = [...new Set(ALERT_CASES.flatMap((c) => c.alert_rule_test.filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname)))].sort();
  assert.equal(tested, alerts, 'every alert has a case that makes it fire');
  // YAML is a superset of JSON: the test file is written as JSON.
  const tests = join(dir, 'tests.yml');
  writeFileSync(tests, JSON.stringify({ rule_files: [rules], evaluation_interval: '1m', tests: ALERT_CASES.map((c) => ({ interval: '1m', ...c })) }, null, 1));
  const result = run(promtool, ['test', 'rules', tests]);
  assert.is(result.status, 0, `promtool test rules:\n${result.output}`);
  assert.match(result.output, /SUCCESS/);
});

// --- the dashboard, as a file ------------------------------------------------------------

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  definition?: string;
  allValue?: string;
  includeAll?: boolean;
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  templating: { list: Variable[] };
  panels: Panel[];
}

const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
/** Every panel, rows' nested ones too. */
const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = (d: Dashboard): Panel[] => allPanels(d).filter((p) => p.type !== 'row');

Monitoring('the dashboard: a current schema, a Prometheus data source variable, model and version from label_values, every panel on it, a layout without overlaps', () => {
  const d = dashboard();
  // Grafana 12's classic JSON model; 39 is Grafana 11.0's.
  assert.ok(d.schemaVersion >= 39, `schemaVersion ${d.schemaVersion}`);
  assert.ok(d.uid && d.title);
  const vars = new Map(d.templating.list.map((v) => [v.name, v]));
  const ds = vars.get('datasource');
  assert.is(ds?.type, 'datasource');
  assert.is(ds?.query, 'prometheus');
  for (const [name, label] of [
    ['model', 'model'],
    ['version', 'version'],
  ]) {
    const v = vars.get(name);
    assert.is(v?.type, 'query', name);
    assert.is(v?.datasource?.uid, '${datasource}', name);
    assert.match(v?.definition ?? '', new RegExp(`^label_values\\(.*, ${label}\\)$`), name);
    assert.is((v?.query as { query?: string }).query, v?.definition, `${name}: query and definition agree`);
  }
  const ids = allPanels(d).map((p) => p.id);
  assert.is(new Set(ids).size, ids.length, 'panel ids are unique');
  const panels = queryPanels(d);
  for (const p of panels) {
    assert.is(p.datasource?.uid, '${datasource}', `${p.title}: the panel's data source is the variable`);
    assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`);
    for (const t of p.targets ?? []) {
      assert.is(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}: data source`);
      assert.ok(t.expr.trim() !== '', `${p.title} ${t.refId}: an expression`);
    }
  }
  // The layout: inside 24 columns, no two panels on the same cells.
  const cells = new Map<string, string>();
  for (const p of allPanels(d)) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `${p.title}: gridPos ${JSON.stringify(p.gridPos)}`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        const at = `${i},${j}`;
        assert.not.ok(cells.has(at), `${p.title} overlaps ${cells.get(at)} at ${at}`);
        cells.set(at, p.title);
      }
    }
  }
  // What the dashboard is for: a panel (or query) on each of these.
  const shown = (metric: RegExp) => panels.some((p) => (p.targets ?? []).some((t) => metric.test(t.expr)));
  const titled = (title: RegExp) => panels.some((p) => title.test(p.title));
  for (const [title, metric] of [
    [/request rate by outcome/i, /onnx_native_requests_total/],
    [/error rate/i, /outcome="failure"/],
    [/latency p50 \/ p95 \/ p99/i, /histogram_quantile\(0\.99, .*onnx_native_request_duration_seconds_bucket/],
    [/queue time/i, /onnx_native_queue_duration_seconds/],
    [/compute time/i, /onnx_native_compute_duration_seconds/],
    [/batch size distribution/i, /onnx_native_batch_size_bucket/],
    [/pending requests/i, /onnx_native_pending_requests/],
    [/model version state/i, /onnx_native_model_state/],
    [/traffic share/i, /onnx_native_traffic_share/],
    [/version labels/i, /onnx_native_version_label/],
    [/drift state/i, /onnx_native_drift_state/],
    [/drift score: psi/i, /statistic="psi"/],
    [/drift score: jensen/i, /statistic="jensen_shannon"/],
    [/drift score: wasserstein/i, /statistic="wasserstein"/],
    [/accuracy/i, /onnx_native_accuracy/],
    [/dropped payload events/i, /onnx_native_payload_events_dropped_total/],
    [/cpu/i, /process_cpu_(user|system)_seconds_total/],
    [/memory/i, /process_resident_memory_bytes/],
    [/event loop lag/i, /nodejs_eventloop_lag_p99_seconds/],
  ] as const) {
    assert.ok(titled(title), `a panel titled ${String(title)}`);
    assert.ok(shown(metric), `a query on ${String(metric)}`);
  }
});

// --- the live stack: a server, a fixture target, Prometheus --------------------------------

/** Model m of the test repository: two versions (each adds its own constant to x), both loaded. */
const M_CONFIG = `version_policy: { latest: { num_versions: 2 } }
max_batch_size: 8
input [{ name: "x", data_type: TYPE_FP32, dims: [2] }]
output [{ name: "y", data_type: TYPE_FP32, dims: [2] }]
`;

/** What the test sends, once Prometheus has scraped the server at least once. */
const SENT = { v1Ok: 10, splitOk: 4, v1Invalid: 3 } as const;
const SENT_TOTAL = SENT.v1Ok + SENT.splitOk + SENT.v1Invalid;

/** The drift state of each (version, tensor) of model m in the fixture. */
const FIXTURE_DRIFT: Record<string, Record<string, string>> = { '1': { x: 'ok', y: 'warn' }, '2': { x: 'drift', y: 'not_enough_data' } };
const DRIFT_STATES = ['not_enough_data', 'ok', 'warn', 'drift'];

/**
 * A scrape target with the series the model-quality monitoring will export, named and
 * labelled as agreed (they do not exist in the server yet): drift states and scores per
 * tensor, windowed accuracy, dropped payload-log events (the file sink drops 3 per scrape).
 */
function fixtureExposition(scrapes: number): string {
  const lines: string[] = [];
  lines.push('# HELP onnx_native_drift_state A tensor drift state: 1 for its current state, 0 for the others', '# TYPE onnx_native_drift_state gauge');
  for (const [version, tensors] of Object.entries(FIXTURE_DRIFT)) {
    for (const [tensor, current] of Object.entries(tensors)) {
      for (const state of DRIFT_STATES) lines.push(`onnx_native_drift_state{model="m",version="${version}",tensor="${tensor}",state="${state}"} ${state === current ? 1 : 0}`);
    }
  }
  lines.push('# HELP onnx_native_drift_score A tensor drift statistic against its reference profile', '# TYPE onnx_native_drift_score gauge');
  for (const [version, tensors] of Object.entries(FIXTURE_DRIFT)) {
    for (const tensor of Object.keys(tensors)) {
      for (const [statistic, value] of [
        ['psi', 0.04],
        ['jensen_shannon', 0.1],
        ['wasserstein', 0.02],
      ] as const) {
        lines.push(`onnx_native_drift_score{model="m",version="${version}",tensor="${tensor}",statistic="${statistic}"} ${value * Number(version)}`);
      }
    }
  }
  lines.push('# HELP onnx_native_accuracy Windowed accuracy from ground-truth feedback', '# TYPE onnx_native_accuracy gauge');
  lines.push('onnx_native_accuracy{model="m",version="1"} 0.93', 'onnx_native_accuracy{model="m",version="2"} 0.8');
  lines.push('# HELP onnx_native_payload_events_dropped_total Payload-log events dropped', '# TYPE onnx_native_payload_events_dropped_total counter');
  lines.push(`onnx_native_payload_events_dropped_total{sink="file",reason="queue_full"} ${3 * scrapes}`, 'onnx_native_payload_events_dropped_total{sink="http",reason="error"} 0');
  return `${lines.join('\n')}\n`;
}

interface Live {
  server: ModelServer;
  http: string;
  metricsUrl: string;
  /** `127.0.0.1:PORT` of the server's metrics and of the fixture, as Prometheus labels them. */
  serverInstance: string;
  fixtureInstance: string;
  fixtureUrl: string;
  /** `http://127.0.0.1:PORT` of Prometheus. */
  prometheus: string;
}

let repo: string | undefined;
let server: ModelServer | undefined;
let fixture: Server | undefined;
let prometheusChild: ChildProcess | undefined;
let prometheusLog = '';
let live: Promise<Live> | undefined;

/** Kills a Prometheus still running when the process exits (a crash, an exit mid-test). */
process.on('exit', () => {
  if (prometheusChild && prometheusChild.exitCode === null && prometheusChild.signalCode === null) prometheusChild.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const logTail = () => prometheusLog.split('\n').slice(-30).join('\n');

/** Starts Prometheus on a free loopback port with `config`; resolves once /-/ready answers 200. */
async function startPrometheus(config: unknown): Promise<string> {
  const binary = tool('prometheus');
  const dir = tempDir();
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 1));
  // A port taken between freePort() and Prometheus binding it makes it exit: try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    prometheusLog = '';
    const child = spawn(
      binary,
      [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info', '--storage.tsdb.retention.time=1h'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheusChild = child;
    child.stdout?.on('data', (b: Buffer) => (prometheusLog += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (prometheusLog += b.toString()));
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`prometheus exited (${code ?? signal}) before it was ready`)));
    const ready = waitFor(`Prometheus ready at ${url}/-/ready`, async () => {
      if (child.exitCode !== null) throw new Error('exited');
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200 ? url : undefined;
    });
    const outcome = await Promise.race([ready.then((u) => ({ url: u })), exited.then((why) => ({ why }))]);
    if ('url' in outcome) return outcome.url;
    if (attempt >= 3 || !/address already in use/.test(prometheusLog)) throw new Error(`${outcome.why}:\n${logTail()}`);
  }
}

async function stopPrometheus(): Promise<void> {
  const child = prometheusChild;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface QueryAnswer {
  status: string;
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: Sample[] | [number, string] };
}

/** An instant query through Prometheus's HTTP API. */
async function query(base: string, expr: string): Promise<QueryAnswer> {
  const r = await fetch(`${base}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }), signal: AbortSignal.timeout(10_000) });
  return (await r.json()) as QueryAnswer;
}

/** The samples of a query that must succeed and return a vector. */
async function vector(base: string, expr: string): Promise<Sample[]> {
  const a = await query(base, expr);
  if (a.status !== 'success') throw new Error(`${expr}: ${a.errorType}: ${a.error}`);
  if (a.data?.resultType !== 'vector') throw new Error(`${expr}: a ${a.data?.resultType}, not a vector`);
  return a.data.result as Sample[];
}

/** The value of a query that returns one sample, or undefined. */
async function scalar(base: string, expr: string): Promise<number | undefined> {
  const samples = await vector(base, expr);
  return samples.length === 1 ? Number(samples[0].value[1]) : undefined;
}

async function post(http: string, path: string, body: unknown): Promise<number> {
  const r = await fetch(`${http}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  await r.arrayBuffer();
  return r.status;
}

async function startLive(): Promise<Live> {
  repo = writeRepository({
    m: { config: M_CONFIG, versions: { 1: addConstantModel(1), 2: addConstantModel(2) } },
    broken: { versions: { 1: new TextEncoder().encode('not an onnx model') } },
  });
  server = await createServer({ repository: repo, httpPort: 0, grpcPort: 0, metricsPort: 0, modelControl: 'explicit', loadModels: ['*'], strictReadiness: false, log: memoryLog().log });
  const addresses = await server.listen();
  // Labels and a split: the traffic share and version label series.
  await server.core.repository.route('m', { labels: { stable: 1, canary: 2 }, split: [{ version: 1, weight: 90 }, { version: 2, weight: 10 }] });
  const metricsUrl = addresses.metrics as string;
  let scrapes = 0;
  const f = createHttpServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(fixtureExposition(++scrapes));
  });
  fixture = f;
  await new Promise<void>((resolve, reject) => {
    f.once('error', reject);
    f.listen(0, '127.0.0.1', resolve);
  });
  const serverInstance = new URL(metricsUrl).host;
  const fixtureInstance = `127.0.0.1:${(f.address() as AddressInfo).port}`;
  const prometheus = await startPrometheus({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [RULES],
    scrape_configs: [{ job_name: JOB, metrics_path: '/metrics', static_configs: [{ targets: [serverInstance, fixtureInstance] }] }],
  });
  return { server, http: addresses.http, metricsUrl, serverInstance, fixtureInstance, fixtureUrl: `http://${fixtureInstance}/metrics`, prometheus };
}

/** The live stack, started by the first test that needs it (a failure to start fails each of them, never the suite's hooks). */
const stack = (): Promise<Live> => (live ??= startLive());

let requestsSent = false;

Monitoring.after(async () => {
  try {
    await stopPrometheus();
  } finally {
    await new Promise<void>((resolve) => (fixture ? fixture.close(() => resolve()) : resolve()));
    await server?.close();
    for (const dir of [...temps, ...(repo ? [repo] : [])]) rmSync(dir, { recursive: true, force: true });
  }
});

Monitoring('Prometheus scrapes the server every second: its request counter matches the requests sent', async () => {
  const { http, prometheus, serverInstance, fixtureInstance } = await stack();
  // Both targets scraped, the server's counters seen at 0 before any request (so that
  // rate() sees the requests as an increase).
  for (const instance of [serverInstance, fixtureInstance]) {
    await waitFor(`${instance} up`, async () => ((await scalar(prometheus, `up{job="${JOB}", instance="${instance}"}`)) === 1 ? true : undefined));
  }
  await waitFor('the server\'s request counter at 0', async () => ((await scalar(prometheus, `sum(onnx_native_requests_total{model="m"})`)) === 0 ? true : undefined));

  const x = (name = 'x') => ({ inputs: [{ name, datatype: 'FP32', shape: [1, 2], data: [0.25, 0.5] }] });
  for (let i = 0; i < SENT.v1Ok; i++) assert.is(await post(http, '/v2/models/m/versions/1/infer', x()), 200);
  for (let i = 0; i < SENT.splitOk; i++) assert.is(await post(http, '/v2/models/m/infer', x()), 200);
  for (let i = 0; i < SENT.v1Invalid; i++) assert.is(await post(http, '/v2/models/m/versions/1/infer', x('z')), 400);
  requestsSent = true;

  const total = await waitFor(`Prometheus to hold ${SENT_TOTAL} requests`, async () => {
    const n = await scalar(prometheus, `sum(onnx_native_requests_total{job="${JOB}", model="m"})`);
    return n === SENT_TOTAL ? n : undefined;
  });
  assert.is(total, SENT_TOTAL);
  assert.is(await scalar(prometheus, 'sum(onnx_native_requests_total{model="m", outcome="success"})'), SENT.v1Ok + SENT.splitOk);
  assert.is(await scalar(prometheus, 'onnx_native_requests_total{model="m", version="1", outcome="failure", reason="invalid"}'), SENT.v1Invalid);
  assert.ok(((await scalar(prometheus, 'sum(onnx_native_requests_total{model="m", version="1", outcome="success"})')) ?? 0) >= SENT.v1Ok);
  assert.is(await scalar(prometheus, 'sum(onnx_native_inferences_total{model="m"})'), SENT.v1Ok + SENT.splitOk);
  assert.is(await scalar(prometheus, 'sum(onnx_native_request_duration_seconds_count{model="m"})'), SENT.v1Ok + SENT.splitOk);
  assert.is(await scalar(prometheus, 'onnx_native_model_state{model="broken", version="1", state="UNAVAILABLE"}'), 1);
  assert.is(await scalar(prometheus, 'onnx_native_model_load_failures_total{model="broken", version="1"}'), 1);
});

/**
 * What passes: exit 0 with nothing reported. promtool exits 1 for an exposition it cannot
 * parse and 3 for lint findings alone (a counter without `_total`, a gauge with it, a
 * unit-less duration); a finding fails here too. prom-client's defaults had three gauges
 * named `_total` (nodejs_active_handles_total, _requests_total, _resources_total), which
 * the server removes from its registry (server-metrics.ts; the same counts stay by type
 * in nodejs_active_handles, _requests and _resources), so the exposition is lint-clean,
 * and a finding here is a regression worth failing on, the server's or prom-client's.
 */
Monitoring("promtool check metrics passes, without lint findings, on the server's /metrics after requests, and on the fixture's", async () => {
  const { metricsUrl, fixtureUrl } = await stack();
  assert.ok(requestsSent, 'the requests were sent (the test before)');
  const promtool = tool('promtool');
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  assert.match(text, /onnx_native_requests_total\{model="m",version="1",outcome="success"\} \d+/);
  assert.match(text, /onnx_native_request_duration_seconds_bucket\{le="0\.0005",model="m",version="1"\}/);
  const check = run(promtool, ['check', 'metrics'], text);
  assert.is(check.status, 0, `promtool check metrics on the server's exposition exited ${check.status}:\n${check.output}`);
  assert.is(check.output.trim(), '', 'no findings');
  const fixtureCheck = run(promtool, ['check', 'metrics'], await (await fetch(fixtureUrl, { signal: AbortSignal.timeout(10_000) })).text());
  assert.is(fixtureCheck.status, 0, `the fixture's exposition:\n${fixtureCheck.output}`);
});

interface RuleState {
  name: string;
  type: 'alerting' | 'recording';
  query: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
  duration?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Alerts whose series carry no `version` (a model's, a sink's, a process's) or no `model`. */
const WITHOUT_VERSION = new Set(['OnnxNativeModelNoVersionReady', 'OnnxNativePayloadEventsDropped', 'OnnxNativeTargetDown', 'OnnxNativeEventLoopLag']);
const WITHOUT_MODEL = new Set(['OnnxNativePayloadEventsDropped', 'OnnxNativeTargetDown', 'OnnxNativeEventLoopLag']);

Monitoring("Prometheus loads every rule group with health ok; each alert has a severity, a `for:`, and a summary and description naming its model and version", async () => {
  const { prometheus } = await stack();
  const groups = await waitFor('every rule evaluated once', async () => {
    const r = (await (await fetch(`${prometheus}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) })).json()) as { status: string; data: { groups: { name: string; file: string; rules: RuleState[] }[] } };
    if (r.status !== 'success') throw new Error(JSON.stringify(r));
    const rules = r.data.groups.flatMap((g) => g.rules);
    return rules.length > 0 && rules.every((rule) => rule.health !== 'unknown') ? r.data.groups : undefined;
  });
  assert.equal(groups.map((g) => g.name).sort(), ['onnx-native.model-quality', 'onnx-native.process', 'onnx-native.queue', 'onnx-native.requests', 'onnx-native.versions']);
  const rules = groups.flatMap((g) => g.rules);
  assert.is(rules.length, ruleCount || rules.length, "as many rules as promtool found");
  for (const rule of rules) {
    assert.is(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
    if (rule.type === 'recording') {
      assert.match(rule.name, /^[a-z_]+:onnx_native_[a-z0-9_]+:[a-z0-9_]+$/, `${rule.name}: level:metric:operations`);
      continue;
    }
    assert.match(rule.name, /^OnnxNative[A-Z][A-Za-z0-9]+$/);
    assert.ok(['critical', 'warning', 'info'].includes(rule.labels?.severity ?? ''), `${rule.name}: severity ${rule.labels?.severity}`);
    assert.ok(rule.duration !== undefined, `${rule.name}: for`);
    const { summary = '', description = '' } = rule.annotations ?? {};
    assert.ok(summary.length > 10 && description.length > 40, `${rule.name}: a summary and a description`);
    if (!WITHOUT_MODEL.has(rule.name)) assert.ok(summary.includes('{{ $labels.model }}') && description.includes('{{ $labels.model }}'), `${rule.name}: the model in its annotations`);
    if (!WITHOUT_VERSION.has(rule.name)) assert.ok(summary.includes('{{ $labels.version }}') && description.includes('{{ $labels.version }}'), `${rule.name}: the version in its annotations`);
  }
});

interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

/** An alert by its name and the labels that say what it is about. */
const alertKey = (labels: Record<string, string>) =>
  `${labels.alertname}{${['model', 'version', 'tensor', 'sink', 'reason']
    .filter((k) => labels[k] !== undefined)
    .map((k) => `${k}=${labels[k]}`)
    .join(',')}}`;

/**
 * What the live series call for: 3 invalid requests of 13 or more to m v1; broken's
 * failed load; the fixture's drift (v2's x), drift warning (v1's y), v2's accuracy 13
 * points behind v1's, and the file sink dropping events. Nothing else: no server-side
 * errors, latency, queue trouble, or target down; no accuracy history for a drop.
 * Two more are allowed, not required, where a scrape saw what they look at: the event
 * loop lag (a loaded 2-core machine can lag 200ms for a moment), and the backlog of a
 * version whose pending gauge was scraped during a request (a series a few seconds old
 * averages its pending over its few samples but its rate over the whole 5m window, so one
 * pending request makes seconds of backlog; its `for: 10m` waits until the window is full).
 */
const EXPECTED_ALERTS = Object.freeze([
  'OnnxNativeAccuracyBelowOtherVersions{model=m,version=2}',
  'OnnxNativeDrift{model=m,version=2,tensor=x}',
  'OnnxNativeDriftWarning{model=m,version=1,tensor=y}',
  'OnnxNativeHighInvalidRequestRate{model=m,version=1}',
  'OnnxNativeModelLoadFailed{model=broken,version=1}',
  'OnnxNativeModelNoVersionReady{model=broken}',
  'OnnxNativeModelVersionUnavailable{model=broken,version=1}',
  'OnnxNativePayloadEventsDropped{sink=file,reason=queue_full}',
].sort());

Monitoring('on the live series, exactly the alerts they call for go active, their annotations rendered with their labels', async () => {
  const { prometheus } = await stack();
  assert.ok(requestsSent, 'the requests were sent (the test before)');
  let seen: string[] = [];
  const alerts = await waitFor(
    `the alerts ${EXPECTED_ALERTS.join(' ')}`,
    async () => {
      const r = (await (await fetch(`${prometheus}/api/v1/alerts`, { signal: AbortSignal.timeout(10_000) })).json()) as { data: { alerts: ActiveAlert[] } };
      const allowed = new Set<string>();
      if ((await vector(prometheus, 'max_over_time(nodejs_eventloop_lag_p99_seconds[5m]) > 0.2')).length > 0) allowed.add(alertKey({ alertname: 'OnnxNativeEventLoopLag' }));
      for (const busy of await vector(prometheus, 'max_over_time(onnx_native_pending_requests[5m]) > 0')) {
        allowed.add(alertKey({ alertname: 'OnnxNativeQueueBacklog', model: busy.metric.model, version: busy.metric.version }));
      }
      const active = r.data.alerts.filter((a) => !allowed.has(alertKey(a.labels)));
      seen = active.map((a) => alertKey(a.labels)).sort();
      if (JSON.stringify(seen) !== JSON.stringify(EXPECTED_ALERTS)) throw new Error(`active: ${seen.join(' ')}`);
      return active;
    },
    WAIT_MS,
  );
  assert.equal(seen, EXPECTED_ALERTS);
  for (const a of alerts) {
    const { summary = '', description = '' } = a.annotations;
    for (const k of ['model', 'version', 'tensor', 'sink']) {
      if (a.labels[k] !== undefined && !(k === 'version' && WITHOUT_VERSION.has(a.labels.alertname))) {
        assert.ok(summary.includes(a.labels[k]), `${alertKey(a.labels)}: summary ${JSON.stringify(summary)} names ${k}`);
        assert.ok(description.includes(a.labels[k]), `${alertKey(a.labels)}: description names ${k}`);
      }
    }
    assert.not.match(summary + description, /<no value>|\{\{/, `${alertKey(a.labels)}: rendered`);
  }
  // `for: 0m`: firing at once; the others wait out their `for:`.
  const states = Object.fromEntries(alerts.map((a) => [alertKey(a.labels), a.state]));
  assert.is(states['OnnxNativeModelLoadFailed{model=broken,version=1}'], 'firing');
  assert.is(states['OnnxNativeDrift{model=m,version=2,tensor=x}'], 'pending');
});

/** Grafana's variables as a test substitutes them: concrete values, or each variable's "All". */
function substitute(expr: string, values: Record<string, string>): string {
  const out = expr
    .replace(/\$\{__rate_interval\}|\$__rate_interval/g, '1m')
    .replace(/\$\{__interval\}|\$__interval/g, '15s')
    .replace(/\$\{__range\}|\$__range/g, '5m')
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a?: string, b?: string) => values[(a ?? b) as string] ?? all);
  if (out.includes('$')) throw new Error(`a variable the test does not know of in ${out}`);
  return out;
}

Monitoring("every dashboard expression runs on the real Prometheus: with concrete values it succeeds; with each variable's All it returns series", async () => {
  const { prometheus, serverInstance } = await stack();
  assert.ok(requestsSent, 'the requests were sent (the test before)');
  const d = dashboard();
  const vars = d.templating.list.filter((v) => v.type === 'query');
  const all = Object.fromEntries(vars.map((v) => [v.name, v.allValue ?? '.*']));
  const concrete = { job: JOB, instance: serverInstance, model: 'm', version: '1' };
  assert.equal(Object.keys(all).sort(), Object.keys(concrete).sort(), 'the variables the test fills in');
  // Each variable's label_values(selector, label), as PromQL, returns the values expected.
  const expectedValues: Record<string, string[]> = { job: [JOB], instance: [serverInstance], model: ['broken', 'm'], version: ['1', '2'] };
  for (const v of vars) {
    const m = /^label_values\((.*), (\w+)\)$/.exec(v.definition ?? '');
    assert.ok(m, `${v.name}: ${v.definition}`);
    const samples = await vector(prometheus, `group by (${m[2]}) (${substitute(m[1], all)})`);
    assert.equal(samples.map((s) => s.metric[m[2]]).sort(), expectedValues[v.name], `${v.name}'s values`);
  }
  // Once every rate window holds two samples after the requests.
  await sleep(2000);
  let checked = 0;
  for (const p of queryPanels(d)) {
    for (const t of p.targets ?? []) {
      const what = `${p.title} (${t.refId})`;
      const one = await query(prometheus, substitute(t.expr, concrete));
      assert.is(one.status, 'success', `${what} with ${JSON.stringify(concrete)}: ${one.errorType}: ${one.error}`);
      const expr = substitute(t.expr, all);
      // Series that appear a scrape late (an increase() over a fresh window) get a few tries.
      const samples = await waitFor(`${what} to return series: ${expr}`, async () => {
        const s = await vector(prometheus, expr);
        return s.length > 0 ? s : undefined;
      }, 10_000);
      assert.ok(samples.length > 0, what);
      checked++;
    }
  }
  assert.ok(checked >= 30, `${checked} expressions`);
});

Monitoring.run();
