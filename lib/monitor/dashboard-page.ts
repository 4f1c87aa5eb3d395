/**
 * The dashboard's page (`GET /dashboard`): one HTML document, its CSS and script inline,
 * plain DOM and uPlot (served by the server itself at `dashboard/uplot.js`: the page
 * needs no network beyond the server). No build step: the script is written here as it
 * runs, and the arithmetic it shares with the server's tests ({@link PAGE_MATH}) is the
 * compiled source of dashboard-data.ts's functions.
 *
 * The script polls `dashboard/data` and, for each model version, draws:
 * - requests a second (successful, failed);
 * - latency percentiles p50, p95, p99 (ms) over time;
 * - the queue: requests pending, and the queue wait's p95 (ms);
 * - batch sizes: mean rows per batch and the p95;
 * - with a reference profile, per monitored feature, the reference's and the live
 *   window's histograms over the profile's bins, as shares, side by side.
 * Rates and percentiles are over the last {@link WINDOW_POLLS} polls (Prometheus'
 * `rate()` and `histogram_quantile()` over a window), one point a poll.
 *
 * What it drew is reported for tests and scripts: every chart's container carries
 * `data-chart` (its id, `model/version/kind` or `model/version/drift/feature`),
 * `data-series` and `data-points` (non-null values per series, comma-separated);
 * `window.__dashboard` holds the same per chart id, with the polls made and failed.
 * A poll that fails is shown in the header; a version or model that goes away loses its
 * card; a failure to render is logged on the console (and counted) and the next poll
 * tries again.
 */
import { PAGE_MATH } from './dashboard-data';

/** Polls that rates and percentiles are taken over (a point at each poll, over the deltas since 5 polls before). */
export const WINDOW_POLLS = 5;

/** Points kept per chart: 10 minutes at one poll a second. */
export const KEEP_POINTS = 600;

const STYLE = `
:root { color-scheme: light; --fg: #1f2933; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.top { position: sticky; top: 0; z-index: 2; display: flex; gap: 16px; align-items: baseline; padding: 10px 20px; background: #111827; color: #f9fafb; }
header.top h1 { font-size: 16px; margin: 0; }
#status { color: #d1d5db; }
#status[data-state="error"] { color: #fca5a5; }
#notes { color: #fde68a; }
main { padding: 12px 20px 40px; }
section.model > h2 { font-size: 18px; margin: 18px 0 8px; }
article.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin-bottom: 14px; }
.card-head { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.card-head h3 { margin: 0 8px 0 0; font-size: 15px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e5e7eb; color: #374151; }
.badge.READY, .badge.ok { background: #dcfce7; color: #166534; }
.badge.LOADING, .badge.UNLOADING, .badge.not_enough_data, .badge.loading { background: #e0e7ff; color: #3730a3; }
.badge.UNAVAILABLE, .badge.drift, .badge.invalid_profile { background: #fee2e2; color: #991b1b; }
.badge.warn { background: #fef3c7; color: #92400e; }
.badge.label { background: #f3e8ff; color: #6b21a8; }
.badge.traffic { background: #e0f2fe; color: #075985; }
.summary { color: var(--muted); margin: 6px 0 8px; }
.charts, .features { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 10px; }
.chart { min-width: 0; }
.drift h4 { margin: 12px 0 6px; font-size: 14px; }
.note { color: var(--muted); font-style: italic; margin: 8px 0 0; }
.u-title { font-size: 13px !important; font-weight: 600 !important; }
.u-legend { font-size: 12px; }
`;

/**
 * The page script's own part (it follows {@link PAGE_MATH} in the page). No template
 * literals inside: it is one.
 */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var report = { polls: 0, failedPolls: 0, renderErrors: 0, lastError: null, versions: 0, charts: {} };
  window.__dashboard = report;
  var root = document.getElementById('models');
  var statusEl = document.getElementById('status');
  var notesEl = document.getElementById('notes');
  var sections = new Map();
  var cards = new Map();
  var COLORS = { ok: '#2563eb', failed: '#dc2626', p50: '#16a34a', p95: '#f59e0b', p99: '#dc2626', pending: '#7c3aed', wait: '#0891b2', reference: '#9ca3af', live: '#2563eb' };
  var SERIES_CHARTS = [
    { kind: 'rate', title: 'Requests / s', series: [['ok / s', 'rate', COLORS.ok], ['failed / s', 'failureRate', COLORS.failed]] },
    { kind: 'latency', title: 'Latency (ms)', series: [['p50', 'p50', COLORS.p50], ['p95', 'p95', COLORS.p95], ['p99', 'p99', COLORS.p99]] },
    { kind: 'queue', title: 'Queue: pending, wait p95 (ms)', series: [['pending', 'pending', COLORS.pending, 'n'], ['wait p95 ms', 'queueP95', COLORS.wait, 'ms']] },
    { kind: 'batch', title: 'Batch size (rows)', series: [['mean', 'batchMean', COLORS.ok], ['p95', 'batchP95', COLORS.p95]] }
  ];
  var HEIGHT = 180;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function badge(text, cls) { return el('span', 'badge ' + (cls || ''), text); }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var a = Math.abs(v);
    return a !== 0 && (a < 0.01 || a >= 1e5) ? v.toExponential(2) : (Math.round(v * Math.pow(10, digits)) / Math.pow(10, digits)).toString();
  }
  function pct(share) { return fmt(share * 100, 1) + '%'; }
  function zeroUp(u, min, max) { return [0, max === null || !(max > 0) ? 1 : max * 1.15]; }
  function widthOf(container) { return Math.max(240, Math.floor(container.clientWidth || 320)); }

  /** Records what a chart drew (non-null values per series, and their sums) on its container and in window.__dashboard. */
  function drawn(id, container, u) {
    var points = [], sums = [], labels = [];
    for (var i = 1; i < u.series.length; i++) {
      var n = 0, s = 0, ys = u.data[i] || [];
      for (var j = 0; j < ys.length; j++) if (ys[j] !== null && ys[j] !== undefined && isFinite(ys[j])) { n++; s += ys[j]; }
      points.push(n); sums.push(s); labels.push(u.series[i].label);
    }
    var rec = report.charts[id] || (report.charts[id] = { draws: 0 });
    rec.series = labels; rec.points = points; rec.sums = sums; rec.draws++;
    rec.width = u.width; rec.height = u.height;
    container.dataset.series = labels.join(',');
    container.dataset.points = points.join(',');
  }

  function makeChart(id, container, opts, data) {
    container.dataset.chart = id;
    opts.hooks = { draw: [function (u) { drawn(id, container, u); }] };
    opts.width = widthOf(container);
    return new uPlot(opts, data, container);
  }

  function removeChart(id, u, container) {
    try { u.destroy(); } finally { delete report.charts[id]; if (container) container.remove(); }
  }

  function seriesChart(card, def) {
    var container = el('div', 'chart');
    card.chartsEl.appendChild(container);
    var twoScales = def.series.some(function (s) { return s[3]; });
    var series = [{}];
    def.series.forEach(function (s) {
      series.push({ label: s[0], stroke: s[2], width: 1.5, scale: s[3] || 'y', value: function (u, v) { return fmt(v, 2); } });
    });
    var axes = [{}];
    var scales = { x: { time: true } };
    if (twoScales) {
      scales.n = { range: zeroUp }; scales.ms = { range: zeroUp };
      axes.push({ scale: 'n', size: 44 }, { scale: 'ms', side: 1, size: 44, grid: { show: false } });
    } else {
      scales.y = { range: zeroUp };
      axes.push({ scale: 'y', size: 50 });
    }
    var data = [card.points.t].concat(def.series.map(function (s) { return card.points[s[1]]; }));
    var id = card.key + '/' + def.kind;
    return { id: id, def: def, container: container, u: makeChart(id, container, { title: def.title, height: HEIGHT, scales: scales, series: series, axes: axes }, data) };
  }

  function binLabels(ref) {
    if (ref.kind === 'categorical') return ref.categories.concat(['(new)']);
    var e = ref.edges, out = ['< ' + fmt(e[0], 3)];
    for (var i = 1; i < e.length; i++) out.push(fmt(e[i - 1], 3) + '–' + fmt(e[i], 3));
    out.push('> ' + fmt(e[e.length - 1], 3));
    return out;
  }

  /** Short tick labels: a numeric bin's lower edge (the out-of-range ones marked), a category's name. */
  function binTicks(ref) {
    if (ref.kind === 'categorical') return ref.categories.concat(['(new)']);
    var e = ref.edges, out = ['<' + fmt(e[0], 2)];
    for (var i = 1; i < e.length; i++) out.push(fmt(e[i - 1], 2));
    out.push('>' + fmt(e[e.length - 1], 2));
    return out;
  }

  function shares(counts) {
    var total = 0;
    for (var i = 0; i < counts.length; i++) total += counts[i];
    return counts.map(function (c) { return total > 0 ? c / total : null; });
  }

  function driftChart(card, parent, name, f) {
    var container = el('div', 'chart');
    parent.appendChild(container);
    var labels = binLabels(f.reference);
    var ticks = binTicks(f.reference);
    var n = f.reference.counts.length;
    // At most about 6 tick labels; the legend names the bin under the cursor.
    var step = Math.max(1, Math.ceil(n / 6));
    var xs = [];
    for (var i = 0; i < n; i++) xs.push(i);
    var bars = uPlot.paths && uPlot.paths.bars;
    var id = card.key + '/drift/' + name;
    var opts = {
      title: name, height: HEIGHT,
      scales: { x: { time: false, range: [-0.5, n - 0.5] }, y: { range: zeroUp } },
      series: [
        { label: 'bin', value: function (u, v) { return v === null ? '–' : labels[v] || String(v); } },
        { label: 'reference', stroke: COLORS.reference, fill: COLORS.reference + '99', width: 1, paths: bars({ size: [0.42, 60], align: -1 }), points: { show: false }, value: function (u, v) { return v === null ? '–' : pct(v); } },
        { label: 'live', stroke: COLORS.live, fill: COLORS.live + '99', width: 1, paths: bars({ size: [0.42, 60], align: 1 }), points: { show: false }, value: function (u, v) { return v === null ? '–' : pct(v); } }
      ],
      axes: [
        { splits: function () { return xs; }, values: function (u, splits) { return splits.map(function (s) { return s % step === 0 ? ticks[s] || '' : ''; }); }, size: 36 },
        { size: 50, values: function (u, splits) { return splits.map(function (s) { return pct(s); }); } }
      ]
    };
    var chart = { id: id, n: n, container: container, u: makeChart(id, container, opts, [xs, shares(f.reference.counts), f.live ? shares(f.live) : xs.map(function () { return null; })]) };
    chart.xs = xs;
    return chart;
  }

  function makeCard(v, key) {
    var card = { key: key, model: v.model, version: v.version, history: [], charts: [], drift: new Map(), tensors: new Map() };
    card.points = { t: [] };
    SERIES_CHARTS.forEach(function (d) { d.series.forEach(function (s) { card.points[s[1]] = []; }); });
    card.el = el('article', 'card');
    card.el.dataset.model = v.model;
    card.el.dataset.version = v.version;
    var head = el('header', 'card-head');
    head.appendChild(el('h3', null, v.model + ' · version ' + v.version));
    card.badges = el('span', 'badges');
    head.appendChild(card.badges);
    card.summary = el('p', 'summary');
    card.chartsEl = el('div', 'charts');
    card.driftEl = el('div', 'drift');
    card.driftNote = el('p', 'note');
    card.driftEl.appendChild(card.driftNote);
    card.el.append(head, card.summary, card.chartsEl, card.driftEl);
    return card;
  }

  function sectionOf(model) {
    var s = sections.get(model);
    if (!s) {
      s = { el: el('section', 'model'), cards: el('div', 'cards') };
      s.el.dataset.model = model;
      s.el.append(el('h2', null, model), s.cards);
      sections.set(model, s);
    }
    return s;
  }

  function renderBadges(card, v) {
    var b = card.badges;
    b.replaceChildren();
    b.appendChild(badge(v.state || 'RETIRING', v.state || ''));
    var t = v.traffic;
    t.labels.forEach(function (l) { b.appendChild(badge(l, 'label')); });
    if (t.split) b.appendChild(badge('split ' + pct(t.share), 'traffic'));
    else if (t.share > 0) b.appendChild(badge((t.pinned ? 'pinned default ' : 'default ') + pct(t.share), 'traffic'));
    if (t.shadow !== undefined) b.appendChild(badge('shadow ' + pct(t.shadow), 'traffic'));
    t.routes.forEach(function (r) { b.appendChild(badge('route ' + r, 'traffic')); });
    var m = v.monitoring;
    if (m) b.appendChild(badge(m.status === 'monitoring' ? 'drift: ' + (m.state || 'not_enough_data') : m.status, m.status === 'monitoring' ? (m.state || 'not_enough_data') : m.status));
  }

  function renderSummary(card, v, metrics) {
    if (!metrics) { card.summary.textContent = 'metrics are off on this server (metricsPort: false): no request counts or histograms'; return; }
    var r = v.requests;
    if (!r) { card.summary.textContent = 'no metrics for this version yet'; return; }
    var reasons = Object.keys(r.failures).map(function (k) { return k + ' ' + r.failures[k]; }).join(', ');
    var parts = [r.success + ' answered', r.failure + ' failed' + (reasons ? ' (' + reasons + ')' : ''), 'pending ' + (v.pending === undefined ? '–' : v.pending)];
    if (v.requestDuration && v.requestDuration.count > 0) {
      parts.push('since start: p50 ' + fmt(1000 * histogramQuantile(0.5, v.requestDuration), 2) + ' ms, p99 ' + fmt(1000 * histogramQuantile(0.99, v.requestDuration), 2) + ' ms');
    }
    if (v.batchSize && v.batchSize.count > 0) parts.push('mean batch ' + fmt(v.batchSize.sum / v.batchSize.count, 1) + ' rows');
    card.summary.textContent = parts.join(' · ');
  }

  function renderSeries(card, v, time, metrics) {
    if (!metrics) return;
    if (card.charts.length === 0) card.charts = SERIES_CHARTS.map(function (d) { return seriesChart(card, d); });
    card.history.push({ time: time, v: v });
    if (card.history.length > WINDOW_POLLS + 1) card.history.shift();
    if (card.history.length >= 2) {
      var before = card.history[0];
      var p = deriveWindow(v, before.v, (time - before.time) / 1000);
      var pts = card.points;
      pts.t.push(time / 1000);
      Object.keys(pts).forEach(function (k) { if (k !== 't') pts[k].push(p[k] === undefined ? null : p[k]); });
      if (pts.t.length > KEEP_POINTS) Object.keys(pts).forEach(function (k) { pts[k].splice(0, pts[k].length - KEEP_POINTS); });
    }
    card.charts.forEach(function (c) {
      c.u.setData([card.points.t].concat(c.def.series.map(function (s) { return card.points[s[1]]; })));
    });
  }

  function renderDrift(card, v, monitoringOn) {
    var m = v.monitoring;
    var seen = new Set();
    if (!monitoringOn) card.driftNote.textContent = '';
    else if (!m) card.driftNote.textContent = 'not monitored';
    else if (m.status === 'no_profile') card.driftNote.textContent = 'no reference profile (' + m.profile + '): drift is not monitored';
    else if (m.status === 'invalid_profile') card.driftNote.textContent = 'its reference profile cannot be used: ' + (m.reason || '');
    else if (m.status === 'loading') card.driftNote.textContent = 'reading its reference profile…';
    else card.driftNote.textContent = 'drift against the reference profile (' + (m.profile_rows || 0) + ' rows): ' + m.observed + ' requests observed, ' + m.skipped + ' skipped' + (m.misfits ? ', ' + m.misfits + ' tensors that did not fit' : '') + '; bars are shares of each histogram';
    var tensors = m ? m.tensors : {};
    var names = Object.keys(tensors).sort(function (a, b) {
      var sa = tensors[a].side, sb = tensors[b].side;
      return sa === sb ? (a < b ? -1 : a > b ? 1 : 0) : sa === 'input' ? -1 : 1;
    });
    names.forEach(function (tn) {
      var t = tensors[tn];
      var group = card.tensors.get(tn);
      if (!group) {
        group = { el: el('div', 'tensor'), head: el('h4'), features: el('div', 'features') };
        group.el.append(group.head, group.features);
        card.driftEl.appendChild(group.el);
        card.tensors.set(tn, group);
      }
      group.head.replaceChildren(document.createTextNode(t.side + ' ' + tn + ' '), badge(t.state, t.state));
      Object.keys(t.features).sort().forEach(function (fn) {
        var f = t.features[fn];
        if (!f.reference || !f.reference.counts) return;
        seen.add(fn);
        var c = card.drift.get(fn);
        if (c && c.n !== f.reference.counts.length) { removeChart(c.id, c.u, c.container); card.drift.delete(fn); c = undefined; }
        if (!c) { c = driftChart(card, group.features, fn, f); card.drift.set(fn, c); }
        else c.u.setData([c.xs, shares(f.reference.counts), f.live ? shares(f.live) : c.xs.map(function () { return null; })]);
        var title = c.u.root.querySelector('.u-title');
        if (title) title.textContent = fn + ' · ' + f.state + (f.psi !== undefined ? ' · PSI ' + fmt(f.psi, 2) : '') + (f.wasserstein !== undefined ? ' · W ' + fmt(f.wasserstein, 2) : '');
      });
    });
    card.drift.forEach(function (c, fn) { if (!seen.has(fn)) { removeChart(c.id, c.u, c.container); card.drift.delete(fn); } });
    card.tensors.forEach(function (g, tn) { if (!tensors[tn]) { g.el.remove(); card.tensors.delete(tn); } });
  }

  function dropCard(card) {
    card.charts.forEach(function (c) { removeChart(c.id, c.u, c.container); });
    card.drift.forEach(function (c) { removeChart(c.id, c.u, c.container); });
    card.el.remove();
  }

  function render(snap) {
    var notes = [];
    if (!snap.metrics) notes.push('metrics off');
    if (!snap.monitoring) notes.push('drift monitoring off');
    notesEl.textContent = notes.join(' · ');
    var live = new Set();
    var models = [];
    snap.versions.forEach(function (v) {
      var key = v.model + '/' + v.version;
      live.add(key);
      var card = cards.get(key);
      var section = sectionOf(v.model);
      if (models.indexOf(v.model) < 0) models.push(v.model);
      if (!card) {
        card = makeCard(v, key);
        cards.set(key, card);
        section.cards.appendChild(card.el);
        if (!section.el.isConnected) root.appendChild(section.el);
      }
      renderBadges(card, v);
      renderSummary(card, v, snap.metrics);
      renderSeries(card, v, snap.time, snap.metrics);
      renderDrift(card, v, snap.monitoring);
    });
    cards.forEach(function (card, key) { if (!live.has(key)) { dropCard(card); cards.delete(key); } });
    sections.forEach(function (s, model) { if (models.indexOf(model) < 0) { s.el.remove(); sections.delete(model); } });
    // Models in name order (the snapshot's), whatever order they came in.
    models.forEach(function (model) { root.appendChild(sections.get(model).el); });
    report.versions = cards.size;
    report.models = models.slice();
    if (snap.versions.length === 0) root.replaceChildren(el('p', 'note', 'no model versions on this server'));
    else { var empty = root.querySelector(':scope > p.note'); if (empty) empty.remove(); }
  }

  function setStatus(text, state) { statusEl.textContent = text; statusEl.dataset.state = state; }

  async function poll() {
    var snap;
    try {
      var res = await fetch('dashboard/data', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error('the server answered ' + res.status);
      snap = await res.json();
    } catch (err) {
      report.failedPolls++;
      report.lastError = String(err && err.message || err);
      setStatus('cannot reach the server: ' + report.lastError + ' (retrying)', 'error');
      return;
    }
    try {
      render(snap);
      report.polls++;
      report.lastTime = snap.time;
      setStatus('updated ' + new Date(snap.time).toLocaleTimeString() + ' · ' + cards.size + ' versions · every ' + snap.pollMs / 1000 + ' s', 'ok');
    } catch (err) {
      report.renderErrors++;
      report.lastError = String(err && err.stack || err);
      setStatus('failed to draw: ' + String(err && err.message || err), 'error');
      console.error('dashboard: failed to draw', err);
    }
  }

  var resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      cards.forEach(function (card) {
        card.charts.concat(Array.from(card.drift.values())).forEach(function (c) { c.u.setSize({ width: widthOf(c.container), height: HEIGHT }); });
      });
    }, 150);
  });

  (async function loop() {
    await poll();
    setTimeout(loop, POLL_MS);
  })();
})();
`;

/** The page's inline script for a poll period of `pollMs`: the shared arithmetic, then the page's own part. */
export function dashboardScript(pollMs: number): string {
  // esbuild's keepNames (tsx) may wrap functions in __name(); in the page it is a no-op.
  return `\nvar __name = function (f) { return f; };\nvar POLL_MS = ${JSON.stringify(pollMs)}, WINDOW_POLLS = ${WINDOW_POLLS}, KEEP_POINTS = ${KEEP_POINTS};\n${PAGE_MATH}\n${SCRIPT}`;
}

/**
 * The dashboard's HTML, polling every `pollMs`. Its scripts and styles load from
 * `dashboard/...` relative to the page, so the page works under a path prefix too.
 */
export function dashboardPage(pollMs: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>onnx-native · dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard/uplot.css">
<style>${STYLE}</style>
</head>
<body>
<header class="top"><h1>onnx-native dashboard</h1><span id="status" data-state="loading">loading…</span><span id="notes"></span></header>
<main id="models"></main>
<script src="dashboard/uplot.js"></script>
<script>${dashboardScript(pollMs)}</script>
</body>
</html>
`;
}
