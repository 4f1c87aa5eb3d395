/**
 * The metrics port's listener: `GET /metrics` and nothing else, on a plain node:http
 * server of its own (Triton's port 8002), so that a scrape never queues behind inference
 * bodies on the HTTP port and the port can be firewalled apart. Plain HTTP without a
 * token, as Triton serves its metrics: expose it only where scrapers are.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the listener serves: {@link ServerMetrics} or anything shaped like it. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** A listening metrics endpoint. */
export interface MetricsListener {
  /** `http://127.0.0.1:8002/metrics`, say: the URL a scraper is given. */
  readonly url: string;
  /** Stops listening and drops idle keep-alive connections (a scraper keeps one open). */
  close(): Promise<void>;
}

/**
 * Serves `source` at `GET /metrics` on `host`:`port` (0 picks a free port).
 *
 * @throws the listen error (`EADDRINUSE`, say) if the port cannot be had.
 */
export async function listenMetrics(source: MetricsSource, host: string, port: number): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method ?? ''} ${path}: metrics are at GET /metrics` }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ error: `${req.method ?? ''} /metrics: only GET` }));
      return;
    }
    source.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': source.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `collecting metrics failed: ${err instanceof Error ? err.message : String(err)}` }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostPart}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
