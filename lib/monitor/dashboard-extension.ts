/**
 * The dashboard as a server extension: `createServer({ extensions: [mon, dashboard({
 * monitoring: mon })] })` serves a live page of every model version (state, traffic,
 * request rate, latency percentiles, queue, batch sizes, drift) from the server itself:
 *
 *   GET /dashboard              the page (dashboard-page.ts)
 *   GET /dashboard/data         its data, polled (dashboard-data.ts)
 *   GET /dashboard/uplot.js     the charting library, uPlot, from the package's dependencies
 *   GET /dashboard/uplot.css    its styles
 *
 * All four take the admin's token when the server has one (the page shows every model's
 * traffic and data distributions). The page needs nothing beyond the server: no CDN, no
 * build step. A browser sends a bearer token only when something adds it (a proxy in
 * front, a header-setting extension, a DevTools client); with no token set the page opens
 * as it is.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerExtension, StartedExtension } from '../server/create-server';
import { answerProtocolErrors } from '../server/http/v2-routes';
import { dashboardSnapshot } from './dashboard-data';
import { dashboardPage, dashboardScript } from './dashboard-page';
import type { DriftMonitoring } from './drift-monitoring';

/** Options of {@link dashboard}. */
export interface DashboardOptions {
  /**
   * The monitoring extension (or anything with a `drift`), read at each poll: with it,
   * each monitored version's drift and histograms are on the page.
   */
  readonly monitoring?: { readonly drift?: DriftMonitoring };
  /** How often the page polls, in ms, from 100 to 60000. Default: 1000. */
  readonly pollMs?: number;
}

/** The files of uPlot the server serves (minified IIFE: it sets `window.uPlot`). */
const UPLOT_FILES = { js: 'uplot/dist/uPlot.iife.min.js', css: 'uplot/dist/uPlot.min.css' } as const;

/**
 * The live dashboard for {@link createServer}'s `extensions`: mounts `GET /dashboard`,
 * `GET /dashboard/data` and uPlot's files, behind the admin's token.
 *
 * @throws RangeError (from `dashboard()`) when `pollMs` is not a number from 100 to 60000;
 *   Error (when the server starts) when the `uplot` package cannot be read.
 * @example
 * ```ts
 * const mon = monitoring();
 * const server = await createServer({ repository: './models', extensions: [mon, dashboard({ monitoring: mon })] });
 * await server.listen(); // open http://127.0.0.1:8000/dashboard
 * ```
 */
export function dashboard(options: DashboardOptions = {}): ServerExtension {
  const pollMs = options.pollMs ?? 1000;
  if (!(Number.isFinite(pollMs) && pollMs >= 100 && pollMs <= 60_000)) throw new RangeError(`pollMs must be a number of ms from 100 to 60000, got ${String(options.pollMs)}`);
  return {
    async start(core, context): Promise<StartedExtension> {
      const uplot = { js: readAsset(UPLOT_FILES.js), css: readAsset(UPLOT_FILES.css) };
      const page = dashboardPage(pollMs);
      const scriptHash = createHash('sha256').update(dashboardScript(pollMs)).digest('base64');
      // Only the server's own files: the inline script by its hash, nothing from elsewhere.
      const policy = [
        "default-src 'none'",
        `script-src 'self' 'sha256-${scriptHash}'`,
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; ');
      const registry = context.metrics?.registry;
      return {
        routes: async (app, guards) => {
          answerProtocolErrors(app, core.log);
          const admin = { onRequest: guards.admin };
          app.get('/dashboard', admin, async (_req, reply) =>
            reply
              .type('text/html; charset=utf-8')
              .header('cache-control', 'no-store')
              .header('content-security-policy', policy)
              .header('x-content-type-options', 'nosniff')
              .header('referrer-policy', 'no-referrer')
              .send(page),
          );
          app.get('/dashboard/data', admin, async (_req, reply) => {
            const snapshot = await dashboardSnapshot(core.repository, { registry, drift: options.monitoring?.drift, pollMs });
            return reply.header('cache-control', 'no-store').send(snapshot);
          });
          app.get('/dashboard/uplot.js', admin, async (_req, reply) =>
            reply.type('text/javascript; charset=utf-8').header('cache-control', 'private, max-age=3600').header('x-content-type-options', 'nosniff').send(uplot.js),
          );
          app.get('/dashboard/uplot.css', admin, async (_req, reply) =>
            reply.type('text/css; charset=utf-8').header('cache-control', 'private, max-age=3600').header('x-content-type-options', 'nosniff').send(uplot.css),
          );
        },
      };
    },
  };
}

/** A file of a dependency, read once; says what to do when it is missing. */
function readAsset(request: string): Buffer {
  let path: string;
  try {
    path = require.resolve(request);
  } catch (err) {
    throw new Error(`the dashboard needs the uplot package (a dependency of onnx-native): ${request} cannot be resolved (${(err as Error).message.split('\n')[0]}); reinstall the package's dependencies (npm install)`);
  }
  return readFileSync(path);
}
