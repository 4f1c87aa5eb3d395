/**
 * The dashboard (`GET /dashboard`): its arithmetic (percentiles from histogram buckets as
 * Prometheus' histogram_quantile() interpolates them, rates across counter resets) against
 * hand-worked values, in TypeScript and as the page runs it; its data from a real metrics
 * registry; and the page itself in headless Chromium, on a server with the real PP-OCR
 * classifier, a reference profile and traffic (fair, then brighter images that drift):
 * every chart drawn with points, the drift histograms with both reference and live
 * series, a model without a profile or traffic, a model unloaded while the page is open,
 * and no console error or uncaught exception. Behind the admin's token; 404 without the
 * extension. A screenshot goes to test/.artifacts/dashboard.png.
 *
 * Chromium (Debian's `chromium`, or the binary $CHROMIUM names) is driven over the
 * DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no WebSocket library).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSession } from '../../lib/index';
import type { PlainTensor } from '../../lib/core/tensor';
import { type ModelServer, createServer } from '../../lib/server/create-server';
import { ServerMetrics } from '../../lib/server/metrics/server-metrics';
import { ModelProfileBuilder, PROFILE_FILE } from '../../lib/monitor/model-profile';
import { monitoring } from '../../lib/monitor/monitoring-extension';
import { dashboard } from '../../lib/monitor/dashboard-extension';
import { dashboardPage } from '../../lib/monitor/dashboard-page';
import {
  type DashboardSnapshot,
  type HistogramSnapshot,
  PAGE_MATH,
  type VersionSnapshot,
  counterDelta,
  dashboardSnapshot,
  deriveWindow,
  histogramDelta,
  histogramQuantile,
} from '../../lib/monitor/dashboard-data';
import { CLS_MODEL, clsImage, root, seededUniform } from '../helpers/common';
import { TEXT_DIRECTION, memoryLog, writeRepository } from '../helpers/model-repository';

const OUTPUT = 'softmax_0.tmp_0';
const USER_TOKEN = 'user-secret';
const ADMIN_TOKEN = 'admin-secret';
const SCREENSHOT = join(root, 'test', '.artifacts', 'dashboard.png');

// ---------------------------------------------------------------------------------------
// The arithmetic.

const Math_ = suite('dashboard arithmetic: percentiles from buckets, rates, windows');

const h = (le: number[], cumulative: number[], count: number, sum = 0): HistogramSnapshot => ({ le, cumulative, count, sum });
const close = (actual: number | null, expected: number, what: string) => assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

Math_('histogramQuantile interpolates within the bucket the rank falls in, as Prometheus does', () => {
  // 10 under 0.1, 10 in (0.1, 0.2], none in (0.2, 0.4], 5 above 0.4 (+Inf).
  const x = h([0.1, 0.2, 0.4], [10, 20, 20], 25);
  close(histogramQuantile(0.5, x), 0.125, 'p50: rank 12.5, 2.5 of the 10 in (0.1, 0.2]');
  close(histogramQuantile(0.2, x), 0.05, 'p20: rank 5 of the first bucket, from 0');
  close(histogramQuantile(0.8, x), 0.2, 'p80: rank 20, the top of (0.1, 0.2]');
  close(histogramQuantile(0.9, x), 0.4, 'p90: rank 22.5 in +Inf: the highest finite bound');
  close(histogramQuantile(0, x), 0, 'p0');
  assert.is(histogramQuantile(1.5, x), Infinity);
  assert.is(histogramQuantile(-0.1, x), -Infinity);
  assert.is(histogramQuantile(0.5, h([0.1, 0.2], [0, 0], 0)), null, 'no observations');
  assert.is(histogramQuantile(Number.NaN, x), null);
  assert.is(histogramQuantile(0.5, h([], [], 4)), null, 'only +Inf');
  // A first bucket whose bound is 0 or less: that bound.
  close(histogramQuantile(0.25, h([0, 1], [4, 8], 8)), 0, 'first bound 0');
  close(histogramQuantile(0.75, h([0, 1], [4, 8], 8)), 0.5, 'then (0, 1]');
  // The server's duration buckets: 60 in (5, 10] ms, 30 in (10, 25] ms, 10 in (25, 50] ms.
  const d = h([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], [0, 0, 0, 0, 60, 90, 100, 100], 100);
  close(histogramQuantile(0.5, d), 0.005 + 0.005 * (50 / 60), 'p50');
  close(histogramQuantile(0.95, d), 0.0375, 'p95');
  close(histogramQuantile(0.99, d), 0.0475, 'p99');
});

Math_('histogramDelta and counterDelta: what happened between two snapshots, a reset starting again from 0', () => {
  const before = h([1, 2, 4], [3, 5, 6], 7, 20);
  const now = h([1, 2, 4], [4, 9, 12], 15, 50);
  assert.equal(histogramDelta(now, before), h([1, 2, 4], [1, 4, 6], 8, 30));
  assert.equal(histogramDelta(now, undefined), now);
  // Unloaded and loaded again: the counts went down; what is there now is what happened since.
  const reset = h([1, 2, 4], [1, 1, 1], 2, 3);
  assert.equal(histogramDelta(reset, now), reset);
  assert.equal(histogramDelta(h([1, 2, 8], [4, 9, 12], 15, 50), before), h([1, 2, 8], [4, 9, 12], 15, 50), 'other bounds');
  assert.is(counterDelta(10, 4), 6);
  assert.is(counterDelta(3, 10), 3, 'a reset');
  assert.is(counterDelta(5, undefined), 5);
});

/** A version's snapshot with `n` successful requests of 5-10 ms in batches of `rows` rows, `failed` failures. */
function snapshotOf(n: number, failed: number, rows: number, pending: number): VersionSnapshot {
  const le = [0.005, 0.01, 0.025];
  const batches = n / rows;
  return {
    model: 'm',
    version: '1',
    state: 'READY',
    traffic: { labels: [], share: 1, split: false, pinned: false, routes: [] },
    requests: { success: n, failure: failed, failures: failed > 0 ? { internal: failed } : {} },
    requestDuration: h(le, [0, n, n], n, n * 0.0075),
    queueDuration: h(le, [n, n, n], n, n * 0.001),
    batchSize: h([1, 2, 4, 8, 16], [0, 0, 0, 0, batches], batches, batches * rows),
    pending,
  };
}

Math_('deriveWindow: rates over the seconds between snapshots, quantiles of what was observed between', () => {
  const p = deriveWindow(snapshotOf(60, 5, 10, 3), snapshotOf(10, 0, 10, 0), 5);
  close(p.rate, 10, 'rate: 50 more in 5 s');
  close(p.failureRate, 1, 'failures: 5 in 5 s');
  close(p.p50, 7.5, 'p50 ms: half way into (5, 10] ms');
  close(p.p95, 9.75, 'p95 ms');
  close(p.p99, 9.95, 'p99 ms');
  close(p.queueP50, 2.5, 'queue p50 ms: half way into (0, 5] ms');
  close(p.batchMean, 10, 'mean rows: 50 rows in 5 batches');
  close(p.batchP95, 8 + 8 * 0.95, 'batch p95: in (8, 16]');
  close(p.batchRate, 1, 'batches a second');
  assert.is(p.pending, 3);
  // Nothing in the window: rates 0, no quantiles; a window of no length: rates 0.
  const idle = deriveWindow(snapshotOf(10, 0, 10, 0), snapshotOf(10, 0, 10, 0), 5);
  assert.equal([idle.rate, idle.p50, idle.p99, idle.batchMean, idle.batchP95], [0, null, null, null, null]);
  assert.is(deriveWindow(snapshotOf(10, 0, 10, 0), undefined, 0).rate, 0);
  // A version without metrics.
  const bare: VersionSnapshot = { model: 'm', version: '1', traffic: { labels: [], share: 0, split: false, pinned: false, routes: [] } };
  assert.equal(deriveWindow(bare, bare, 1), { rate: 0, failureRate: 0, p50: null, p95: null, p99: null, queueP50: null, queueP95: null, batchMean: null, batchP95: null, batchRate: 0, pending: null });
});

Math_("the page's copy of the arithmetic is the same functions, self-contained", () => {
  const page = new Function(`${PAGE_MATH}; return { histogramQuantile, histogramDelta, counterDelta, deriveWindow };`)() as {
    histogramQuantile: typeof histogramQuantile;
    deriveWindow: typeof deriveWindow;
  };
  const x = h([0.1, 0.2, 0.4], [10, 20, 20], 25);
  for (const q of [0, 0.2, 0.5, 0.8, 0.9, 0.99]) assert.is(page.histogramQuantile(q, x), histogramQuantile(q, x));
  assert.equal(page.deriveWindow(snapshotOf(60, 5, 10, 3), snapshotOf(10, 0, 10, 0), 5), deriveWindow(snapshotOf(60, 5, 10, 3), snapshotOf(10, 0, 10, 0), 5));
  assert.ok(dashboardPage(1000).includes(PAGE_MATH));
});

Math_('dashboardSnapshot: counters and buckets from the registry, states, labels and shares from the repository', async () => {
  const metrics = new ServerMetrics({ processMetrics: false });
  const v1 = metrics.versionServing('m', 1, 0.1);
  metrics.versionServing('m', 2, 0.1);
  metrics.versionServing('gone', 4, 0.1);
  for (const seconds of [0.003, 0.007, 0.02]) {
    v1.onRequestStart();
    v1.onQueued(0.0004);
    v1.onRequestEnd(undefined, seconds);
  }
  v1.onRequestStart();
  v1.onRequestEnd('queue_full', 0);
  v1.onRequestStart(); // pending
  v1.onBatch(3, 0.01);
  v1.onBatch(1, 0.01);
  const source = {
    versionStates: () => [
      { name: 'm', version: 1, state: 'READY' as const },
      { name: 'm', version: 2, state: 'READY' as const },
      { name: 'm', version: 3, state: 'LOADING' as const },
      { name: 'n', version: 1, state: 'READY' as const },
      { name: 'n', version: 2, state: 'READY' as const },
    ],
    routings: () =>
      [
        ['m', { labels: { stable: 1, canary: 2, next: 2 }, split: [{ version: 1, weight: 90 }, { version: 2, weight: 10 }], shadow: { version: 3, share: 0.2 }, routes: [{ key: 'group', value: 'beta', version: 2 }] }],
        ['n', { labels: {} }],
      ] as const,
  };
  const snap = await dashboardSnapshot(source, { registry: metrics.registry, pollMs: 1000 });
  assert.ok(Math.abs(snap.time - Date.now()) < 5000);
  assert.equal([snap.pollMs, snap.metrics, snap.monitoring], [1000, true, false]);
  assert.equal(
    snap.versions.map((v) => `${v.model}/${v.version}:${v.state ?? '-'}`),
    ['gone/4:-', 'm/1:READY', 'm/2:READY', 'm/3:LOADING', 'n/1:READY', 'n/2:READY'],
  );
  const [gone, m1, m2, m3, n1, n2] = snap.versions;
  assert.equal(m1.requests, { success: 3, failure: 1, failures: { queue_full: 1 } });
  assert.is(m1.pending, 1);
  const rd = m1.requestDuration as HistogramSnapshot;
  assert.equal(rd.le.slice(0, 7), [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05]);
  assert.equal(rd.cumulative.slice(0, 7), [0, 0, 0, 1, 2, 3, 3]);
  assert.is(rd.count, 3);
  close(rd.sum, 0.03, 'sum');
  assert.equal(m1.queueDuration?.cumulative[0], 3);
  assert.equal([m1.batchSize?.count, m1.batchSize?.sum, m1.batchSize?.cumulative.slice(0, 3)], [2, 4, [1, 1, 2]]);
  assert.equal(m2.requests, { success: 0, failure: 0, failures: {} });
  assert.equal(m1.traffic, { labels: ['stable'], share: 0.9, split: true, pinned: false, routes: [] });
  assert.equal(m2.traffic, { labels: ['canary', 'next'], share: 0.1, split: true, pinned: false, routes: ['group=beta'] });
  assert.equal(m3.traffic, { labels: [], share: 0, split: false, pinned: false, shadow: 0.2, routes: [] });
  assert.is(m3.requests, undefined, 'loading: no series yet');
  // No split: the highest version ready takes the model's traffic.
  assert.equal([n1.traffic.share, n2.traffic.share], [0, 1]);
  assert.is(gone.traffic.share, 0);
  // Pinned.
  const pinned = await dashboardSnapshot({ versionStates: source.versionStates, routings: () => [['n', { default: 1, labels: {} }]] as const }, { pollMs: 500 });
  assert.equal(
    pinned.versions.filter((v) => v.model === 'n').map((v) => [v.traffic.share, v.traffic.pinned]),
    [
      [1, true],
      [0, false],
    ],
  );
  assert.is(pinned.metrics, false);
  assert.is(pinned.versions[0].requests, undefined);
});

Math_.run();

// ---------------------------------------------------------------------------------------
// A DevTools protocol client over Chromium's pipe.

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

/** Headless Chromium, driven over `--remote-debugging-pipe` (fd 3 in, fd 4 out, messages ended by NUL). */
class Chromium {
  #next = 1;
  readonly #waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }>();
  readonly #listeners: ((m: CdpMessage) => void)[] = [];
  #stderr = '';
  #exited = false;

  private constructor(
    readonly child: ChildProcess,
    readonly profile: string,
  ) {
    const input = child.stdio[4] as Readable;
    let pending = Buffer.alloc(0);
    input.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let end: number;
      while ((end = pending.indexOf(0)) >= 0) {
        const message = JSON.parse(pending.subarray(0, end).toString('utf8')) as CdpMessage;
        pending = pending.subarray(end + 1);
        this.#dispatch(message);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)));
    child.on('exit', () => {
      this.#exited = true;
      for (const w of this.#waiting.values()) w.reject(new Error(`chromium exited while waiting for ${w.method}; its stderr: ${this.#stderr}`));
      this.#waiting.clear();
    });
  }

  /** Starts Chromium: $CHROMIUM, else Debian's. */
  static async launch(): Promise<Chromium> {
    const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => p !== undefined && p !== '');
    const executable = candidates.find((p) => existsSync(p));
    if (executable === undefined) throw new Error(`no Chromium at ${candidates.join(', ')}: install Debian's (apt-get install -y chromium) or set CHROMIUM to a Chromium binary`);
    const profile = mkdtempSync(join(tmpdir(), 'onnx-native-chromium-'));
    const args = [
      '--headless',
      '--disable-gpu',
      '--remote-debugging-pipe',
      `--user-data-dir=${profile}`,
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-dev-shm-usage',
      '--mute-audio',
      '--hide-scrollbars',
      '--force-device-scale-factor=1',
      '--window-size=1400,1000',
      // Chromium's sandbox cannot start as root (a container's CI).
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      'about:blank',
    ];
    const child = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const browser = new Chromium(child, profile);
    try {
      await browser.send('Browser.getVersion', {}, undefined, 20_000);
    } catch (err) {
      await browser.close();
      throw err;
    }
    return browser;
  }

  #dispatch(m: CdpMessage): void {
    if (m.id !== undefined) {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`${w.method}: ${m.error.message}`));
      else w?.resolve(m.result ?? {});
      return;
    }
    for (const l of this.#listeners) l(m);
  }

  /** Sends a command (to a page's session with `sessionId`); rejects after `timeoutMs`. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    if (this.#exited) return Promise.reject(new Error(`chromium has exited; its stderr: ${this.#stderr}`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${method} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        method,
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      (this.child.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) })}\0`);
    });
  }

  on(listener: (m: CdpMessage) => void): void {
    this.#listeners.push(listener);
  }

  /** A new tab, its console errors and uncaught exceptions collected into `problems`. */
  async page(headers: Record<string, string> = {}): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const problems: string[] = [];
    this.on((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params ?? {};
      if (m.method === 'Runtime.exceptionThrown') {
        const d = p.exceptionDetails as { text: string; exception?: { description?: string } };
        problems.push(`uncaught: ${d.exception?.description ?? d.text}`);
      } else if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
        problems.push(`console.${String(p.type)}: ${(p.args as { value?: unknown; description?: string }[]).map((a) => a.description ?? String(a.value)).join(' ')}`);
      } else if (m.method === 'Log.entryAdded') {
        const e = p.entry as { level: string; text: string; url?: string };
        if (e.level === 'error') problems.push(`log: ${e.text} ${e.url ?? ''}`);
      }
    });
    for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await this.send(`${domain}.enable`, {}, sessionId);
    if (Object.keys(headers).length > 0) await this.send('Network.setExtraHTTPHeaders', { headers }, sessionId);
    await this.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false }, sessionId);
    return new Page(this, sessionId, problems);
  }

  async close(): Promise<void> {
    if (!this.#exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      // Browser.close, else a kill; bounded either way.
      this.send('Browser.close', {}, undefined, 3000).catch(() => this.child.kill('SIGKILL'));
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** A tab. */
class Page {
  constructor(
    readonly browser: Chromium,
    readonly sessionId: string,
    /** Console errors, uncaught exceptions, error log entries (failed loads, CSP violations). */
    readonly problems: string[],
  ) {}

  async goto(url: string): Promise<void> {
    const r = (await this.browser.send('Page.navigate', { url }, this.sessionId)) as { errorText?: string };
    if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
  }

  /** The value of `expression` in the page (awaited). */
  async eval<T>(expression: string): Promise<T> {
    const r = (await this.browser.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, this.sessionId)) as {
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the whole page. */
  async screenshot(): Promise<Buffer> {
    const metrics = (await this.browser.send('Page.getLayoutMetrics', {}, this.sessionId)) as { cssContentSize: { width: number; height: number } };
    const { width, height } = metrics.cssContentSize;
    const r = (await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height: Math.min(height, 8000), scale: 1 } }, this.sessionId, 30_000)) as {
      data: string;
    };
    return Buffer.from(r.data, 'base64');
  }
}

/** Waits until `check` returns something other than undefined/false (polled every 100 ms), at most `timeoutMs`; the error says what and the last state. */
async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, state?: () => Promise<unknown>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; state: ${JSON.stringify(await state?.())}`.slice(0, 6000));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What the page reports (window.__dashboard). */
interface PageReport {
  polls: number;
  failedPolls: number;
  renderErrors: number;
  lastError: string | null;
  versions: number;
  charts: Record<string, { draws: number; series: string[]; points: number[]; sums: number[]; width: number; height: number }>;
}

/** Each chart container's canvas size, and the attributes it reports. */
interface ChartElement {
  id: string;
  series: string;
  points: string;
  canvas: { width: number; height: number } | null;
}

const CHART_ELEMENTS = `Array.from(document.querySelectorAll('[data-chart]')).map(function (e) {
  var c = e.querySelector('canvas'); var r = c && c.getBoundingClientRect();
  return { id: e.dataset.chart, series: e.dataset.series || '', points: e.dataset.points || '', canvas: r ? { width: r.width, height: r.height } : null };
})`;

// ---------------------------------------------------------------------------------------
// The page on a real server.

const Page_ = suite('the dashboard page on a server with the PP-OCR classifier (headless Chromium)');

const u = seededUniform(11);
const { log } = memoryLog();
let repo = '';
let server: ModelServer | undefined;
let http = '';
const mon = monitoring({ window: { size: 300, minCount: 200 }, checkEveryMs: 0 });
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

Page_.before(async () => {
  const session = await createSession(CLS_MODEL);
  const builder = new ModelProfileBuilder([
    { name: 'x', row: [3, 48, 192], output: false },
    { name: OUTPUT, row: [2], output: true },
  ]);
  // A profile of 300 images, in batches of 10.
  for (let b = 0; b < 30; b++) {
    const data = new Float32Array(10 * 3 * 48 * 192);
    for (let i = 0; i < 10; i++) data.set(clsImage(u, 0).data, i * 3 * 48 * 192);
    const x: PlainTensor = { type: 'float32', dims: [10, 3, 48, 192], data };
    const out = (await session.run({ x })) as unknown as Record<string, PlainTensor>;
    builder.add({ x, [OUTPUT]: out[OUTPUT] }, true);
  }
  session.release();
  repo = writeRepository({ text_direction: TEXT_DIRECTION, unprofiled: TEXT_DIRECTION, ephemeral: TEXT_DIRECTION });
  for (const m of ['unprofiled', 'ephemeral']) writeFileSync(join(repo, m, 'config.pbtxt'), `name: "${m}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 64\n`);
  writeFileSync(join(repo, 'text_direction', '1', PROFILE_FILE), JSON.stringify(builder.build()));
  server = await createServer({
    repository: repo,
    httpPort: 0,
    grpcPort: false,
    metricsPort: 0,
    modelControl: 'explicit',
    loadModels: ['*'],
    token: USER_TOKEN,
    adminToken: ADMIN_TOKEN,
    log,
    extensions: [mon, dashboard({ monitoring: mon, pollMs: 500 })],
  });
  ({ http } = await server.listen());
});

Page_.after(async () => {
  await server?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

/** Sends `batches` binary requests of 10 images (brightness `shift`) to `model`, `pauseMs` apart; returns how many answered 200. */
async function send(model: string, batches: number, shift: number, pauseMs = 0): Promise<number> {
  let ok = 0;
  for (let b = 0; b < batches; b++) {
    const data = new Float32Array(10 * 3 * 48 * 192);
    for (let i = 0; i < 10; i++) data.set(clsImage(u, shift).data, i * 3 * 48 * 192);
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [10, 3, 48, 192], parameters: { binary_data_size: data.byteLength } }] }));
    const res = await fetch(`${http}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'Inference-Header-Content-Length': String(head.length), authorization: `Bearer ${USER_TOKEN}` },
      body: Buffer.concat([head, Buffer.from(data.buffer)]) as unknown as BodyInit,
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    if (res.status === 200) ok++;
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return ok;
}

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${http}${path}`, { headers, signal: AbortSignal.timeout(10_000) });

Page_('behind the admin token: 401 without it or with the user token, 200 with it, for the page, its data and uPlot', async () => {
  for (const path of ['/dashboard', '/dashboard/data', '/dashboard/uplot.js', '/dashboard/uplot.css']) {
    const none = await get(path);
    assert.is(none.status, 401, `${path} without a token`);
    assert.match(((await none.json()) as { error: string }).error, /Authorization: Bearer/);
    assert.is((await get(path, { authorization: `Bearer ${USER_TOKEN}` })).status, 401, `${path} with the user token`);
    const ok = await get(path, admin);
    assert.is(ok.status, 200, `${path} with the admin token`);
    await ok.arrayBuffer();
  }
  const page = await get('/dashboard', admin);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self' 'sha256-/);
  const html = await page.text();
  assert.match(html, /<script src="dashboard\/uplot\.js"><\/script>/);
  assert.not.match(html, /https?:\/\//, 'nothing from elsewhere');
  const js = await (await get('/dashboard/uplot.js', admin)).text();
  assert.match(js, /uPlot/);
  assert.ok(js.length > 30_000 && js.length < 100_000, `uPlot: ${js.length} bytes`);
});

Page_('without the extension: /dashboard is 404', async () => {
  const bare = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, log, loadModels: ['unprofiled'], modelControl: 'explicit' });
  try {
    const { http: url } = await bare.listen();
    for (const path of ['/dashboard', '/dashboard/data', '/dashboard/uplot.js']) assert.is((await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) })).status, 404, path);
  } finally {
    await bare.close();
  }
});

Page_('the data: every version, its counters, buckets and pending requests, and the monitoring with histograms', async () => {
  assert.is(await send('text_direction', 30, 0), 30);
  const snap = (await (await get('/dashboard/data', admin)).json()) as DashboardSnapshot;
  assert.equal(
    snap.versions.map((v) => `${v.model}/${v.version}:${v.state}`),
    ['ephemeral/1:READY', 'text_direction/1:READY', 'unprofiled/1:READY'],
  );
  assert.equal([snap.metrics, snap.monitoring, snap.pollMs], [true, true, 500]);
  const v = snap.versions[1];
  assert.is(v.requests?.success, 30);
  assert.is(v.requestDuration?.count, 30);
  assert.is(v.batchSize?.sum, 300, 'rows');
  assert.is(v.queueDuration?.count, 30);
  assert.is(v.pending, 0);
  assert.is(v.traffic.share, 1);
  assert.is(v.monitoring?.status, 'monitoring');
  const f = v.monitoring?.tensors.x.features['x.channel[0]'];
  assert.is(f?.live?.reduce((a, b) => a + b, 0), 300);
  assert.is(f?.live?.length, f?.reference?.counts.length);
  assert.is(snap.versions[2].monitoring?.status, 'no_profile');
  assert.is(snap.versions[2].requests?.success, 0);
});

Page_('the page in Chromium: every chart drawn, drift histograms with reference and live, a model unloaded, no errors', async () => {
  const browser = await Chromium.launch();
  try {
    const page = await browser.page(admin);
    const report = () => page.eval<PageReport | null>('window.__dashboard || null');
    await page.goto(`${http}/dashboard`);
    await waitFor('two polls', 15_000, async () => ((await report())?.polls ?? 0) >= 2, report);
    // Brighter images while the page polls (every 500 ms): rates and percentiles over the window, and drift.
    assert.is(await send('text_direction', 30, 0.4, 60), 30);
    const kinds = ['rate', 'latency', 'queue', 'batch'];
    const drift = ['x.channel[0]', 'x.channel[1]', 'x.channel[2]', `${OUTPUT}.class`, `${OUTPUT}.confidence`];
    const ready = await waitFor(
      "text_direction's charts with points in every series, and its drift",
      20_000,
      async () => {
        const r = await report();
        if (r === null) return undefined;
        const series = kinds.map((k) => r.charts[`text_direction/1/${k}`]);
        const hists = drift.map((f) => r.charts[`text_direction/1/drift/${f}`]);
        if (series.some((c) => c === undefined || c.points.some((n) => n === 0))) return undefined;
        if (hists.some((c) => c === undefined || c.points.some((n) => n === 0))) return undefined;
        const badge = await page.eval<string>(`Array.from(document.querySelectorAll('article[data-model="text_direction"] .badge')).map(function (b) { return b.textContent; }).join('|')`);
        return badge.includes('drift: drift') ? r : undefined;
      },
      report,
    );
    // The four time series of each version, the five histograms of the monitored one.
    for (const k of kinds) {
      const c = ready.charts[`text_direction/1/${k}`];
      assert.ok(c.draws > 0 && c.width > 0 && c.height > 0, `${k}: ${JSON.stringify(c)}`);
    }
    assert.equal(ready.charts['text_direction/1/latency'].series, ['p50', 'p95', 'p99']);
    assert.equal(ready.charts['text_direction/1/rate'].series, ['ok / s', 'failed / s']);
    for (const f of drift) {
      const c = ready.charts[`text_direction/1/drift/${f}`];
      assert.equal(c.series, ['reference', 'live'], f);
      // Both histograms as shares of their counts.
      assert.ok(Math.abs(c.sums[0] - 1) < 1e-6 && Math.abs(c.sums[1] - 1) < 1e-6, `${f}: ${JSON.stringify(c)}`);
    }
    // The rate drawn is of the requests sent: about 30 over a few seconds, never above what could be.
    const rates = await page.eval<number[]>(`(function () { var c = window.__dashboard.charts['text_direction/1/rate']; return c.sums; })()`);
    assert.ok(rates[0] > 0 && rates[1] === 0, `rates ${rates}`);
    // A model without profile or traffic: its charts are there, drawing nothing yet, and no drift charts.
    for (const k of kinds) assert.ok(ready.charts[`unprofiled/1/${k}`]?.draws > 0, `unprofiled ${k}`);
    assert.ok(!Object.keys(ready.charts).some((id) => id.startsWith('unprofiled/1/drift/')));
    assert.match(await page.eval<string>(`document.querySelector('article[data-model="unprofiled"] .note').textContent`), /no reference profile/);
    assert.is(ready.charts['unprofiled/1/latency'].points.join(','), '0,0,0');
    // Every chart element: a canvas of non-zero size, and its attributes say what it drew.
    const elements = await page.eval<ChartElement[]>(CHART_ELEMENTS);
    assert.is(elements.length, Object.keys(ready.charts).length);
    assert.is(elements.length, 3 * kinds.length + drift.length);
    for (const e of elements) {
      assert.ok(e.canvas !== null && e.canvas.width > 100 && e.canvas.height > 50, `${e.id}: canvas ${JSON.stringify(e.canvas)}`);
      assert.ok(e.series.length > 0 && e.points.length > 0, `${e.id}: ${JSON.stringify(e)}`);
    }
    const text = await page.eval<string>('document.body.innerText');
    assert.match(text, /text_direction · version 1/);
    assert.match(text, /default 100%/);
    mkdirSync(join(root, 'test', '.artifacts'), { recursive: true });
    writeFileSync(SCREENSHOT, await page.screenshot());

    // A model that goes away: its card and charts go, the page goes on polling.
    await (server as ModelServer).core.unloadModel('ephemeral');
    const polls = (await report())?.polls ?? 0;
    await waitFor(
      "ephemeral's card to go",
      15_000,
      async () => {
        const r = await report();
        const left = await page.eval<number>(`document.querySelectorAll('[data-model="ephemeral"]').length`);
        return r !== null && r.polls > polls + 1 && left === 0 && !Object.keys(r.charts).some((id) => id.startsWith('ephemeral/'));
      },
      report,
    );
    const after = await report();
    assert.is(after?.versions, 2);
    assert.is(after?.renderErrors, 0, after?.lastError ?? '');
    assert.is(after?.failedPolls, 0, after?.lastError ?? '');
    assert.equal(page.problems, [], 'console errors and uncaught exceptions');
  } finally {
    await browser.close();
  }
});

Page_('the page without metrics and without monitoring: versions and their states, no time series, no errors', async () => {
  const plain = await createServer({ repository: repo, httpPort: 0, grpcPort: false, metricsPort: false, log, loadModels: ['unprofiled'], modelControl: 'explicit', extensions: [dashboard({ pollMs: 300 })] });
  const browser = await Chromium.launch();
  try {
    const { http: url } = await plain.listen();
    const snap = (await (await fetch(`${url}/dashboard/data`, { signal: AbortSignal.timeout(10_000) })).json()) as DashboardSnapshot;
    assert.equal([snap.metrics, snap.monitoring], [false, false]);
    assert.equal(
      snap.versions.map((v) => [v.model, v.state, v.requests]),
      [['unprofiled', 'READY', undefined]],
    );
    const page = await browser.page();
    await page.goto(`${url}/dashboard`);
    const report = () => page.eval<PageReport | null>('window.__dashboard || null');
    await waitFor('three polls', 15_000, async () => ((await report())?.polls ?? 0) >= 3, report);
    const r = await report();
    assert.equal(Object.keys(r?.charts ?? {}), []);
    assert.is(r?.versions, 1);
    const text = await page.eval<string>('document.body.innerText');
    assert.match(text, /metrics off · drift monitoring off/);
    assert.match(text, /metrics are off on this server/);
    assert.match(text, /READY/);
    assert.equal(page.problems, []);
  } finally {
    await browser.close();
    await plain.close();
  }
});

Page_.run();
