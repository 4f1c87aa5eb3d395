/**
 * The model server as one object: the core over a model repository, and the listeners
 * that serve it: HTTP/REST (fastify), gRPC (@grpc/grpc-js) and Prometheus metrics on ports
 * of their own.
 * `onnx-native serve` is this with its options from the command line.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { InferenceServer } from './inference-server';
import { type HttpLimits, requireBearer, v2Routes } from './http/v2-routes';
import type { ModelControl } from './repository/model-repository';
import { RepositoryWatcher } from './repository/repository-watcher';
import { type UnaryRpc, addInferenceService, unaryRpc } from './grpc/grpc-service';
import { ServerMetrics } from './metrics/server-metrics';
import { type MetricsListener, listenMetrics } from './metrics/metrics-listener';

/** TLS certificate files. */
export interface TlsFiles {
  /** The certificate chain (PEM). */
  readonly cert: string;
  /** Its private key (PEM). */
  readonly key: string;
}

/** `onRequest` hooks that check the user's and the admin's bearer tokens (they pass everything when no token is set). */
export interface RouteGuards {
  readonly user: (req: FastifyRequest) => Promise<void>;
  readonly admin: (req: FastifyRequest) => Promise<void>;
  /** Who an admin request is, for audit logs: the credential it passed and where it came from (`admin-token@10.0.0.7`, `no-auth@127.0.0.1`). */
  readonly actor: (req: FastifyRequest) => string;
}

/** What an extension adds to a running server. */
export interface StartedExtension {
  /** HTTP routes, mounted beside the v2 routes (the guards are for their `onRequest`). */
  readonly routes?: FastifyPluginAsync<RouteGuards>;
  /** gRPC services, added beside the inference service (`unary` makes handlers that check the tokens as it does). Not called without gRPC. */
  grpc?(server: grpc.Server, unary: UnaryRpc): void;
  /** Called when the server closes, before the models are unloaded. */
  close?(): Promise<void>;
}

/** What an extension is given besides the core. */
export interface ExtensionContext {
  /** The server's Prometheus metrics, for the extension's own series (absent with `metricsPort: false`). */
  readonly metrics?: ServerMetrics;
}

/**
 * A part of the server that lives above this folder (the lifecycle's version control,
 * the monitoring): started once the core has opened its repository, closed with the
 * server.
 */
export interface ServerExtension {
  start(core: InferenceServer, context: ExtensionContext): Promise<StartedExtension>;
}

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The model repository's folder (Triton's layout). */
  readonly repository: string;
  /** Where to listen. Default: 127.0.0.1 (pass `'0.0.0.0'` to listen on every interface, as in a container). */
  readonly host?: string;
  /** The HTTP/REST port. Default: 8000 (Triton's); 0 picks a free one. */
  readonly httpPort?: number;
  /** The gRPC port. Default: 8001 (Triton's); 0 picks a free one; `false`: no gRPC. */
  readonly grpcPort?: number | false;
  /**
   * The Prometheus metrics port (`GET /metrics`, plain HTTP, no token). Default: 8002
   * (Triton's); 0 picks a free one; `false`: no metrics.
   */
  readonly metricsPort?: number | false;
  /**
   * `'explicit'`: load only `loadModels` at start, and allow the repository API to load
   * and unload. `'poll'`: load every model at start, then load what changes in the folder
   * once its files have stopped changing (see `pollIntervalMs`). Default: `'none'`.
   */
  readonly modelControl?: ModelControl;
  /** With `'poll'`: how often the folder is scanned, in ms (Triton's `--repository-poll-secs`). Default: 15000. */
  readonly pollIntervalMs?: number;
  /** Parts above the server to start with it (see {@link ServerExtension}). */
  readonly extensions?: readonly ServerExtension[];
  /** With explicit model control: the models to load at start (`'*'`: all). */
  readonly loadModels?: readonly string[];
  /** A bearer token for every route but the health checks. */
  readonly token?: string;
  /** A bearer token for the repository API instead of `token`. */
  readonly adminToken?: string;
  /** Serve HTTPS from these files. */
  readonly tls?: TlsFiles;
  /** Request bounds. */
  readonly limits?: Partial<HttpLimits>;
  /** Whether readiness waits for every model (Triton's `--strict-readiness`). Default: true. */
  readonly strictReadiness?: boolean;
  /** How long shutdown waits for requests in flight, in ms. Default: 30000. */
  readonly graceMs?: number;
  /** The logger (pino). Default: pino at `info` on stdout. */
  readonly log?: Logger;
  /**
   * The share of HTTP requests to log (method, URL, status, time), from 0 (none, the
   * default: a line per request costs more than a small model's inference) to 1 (all).
   */
  readonly logRequests?: number;
}

/** Where a listening server can be reached. */
export interface ServerAddresses {
  /** `http://127.0.0.1:8000`, say. */
  readonly http: string;
  /** `127.0.0.1:8001`, say (no scheme: what gRPC clients take); absent without gRPC. */
  readonly grpc?: string;
  /** `http://127.0.0.1:8002/metrics`, say: the metrics endpoint's URL; absent without metrics. */
  readonly metrics?: string;
}

/** A model server: {@link createServer}'s result. */
export interface ModelServer {
  /** The transport-free core: repository, inference, statistics. */
  readonly core: InferenceServer;
  /** The HTTP server's fastify instance (to add routes before `listen()`). */
  readonly http: FastifyInstance;
  /** The gRPC server, unless `grpcPort: false`. */
  readonly grpc?: grpc.Server;
  /** The Prometheus metrics (their registry takes an application's own too), unless `metricsPort: false`. */
  readonly metrics?: ServerMetrics;
  /** Starts listening; resolves with the addresses. */
  listen(): Promise<ServerAddresses>;
  /**
   * Shuts down gracefully: readiness turns false, new requests get 503, requests in
   * flight finish (up to `graceMs`), the models are unloaded, the listeners (metrics
   * too) close.
   */
  close(): Promise<void>;
}

/**
 * Opens a model repository, loads its models, and makes a server for it (call `listen()`).
 *
 * @example
 * ```ts
 * const server = await createServer({ repository: './models', httpPort: 0 });
 * const { http } = await server.listen();
 * // POST `${http}/v2/models/cls/infer` ...
 * await server.close();
 * ```
 */
export async function createServer(options: ServerOptions): Promise<ModelServer> {
  const log = options.log ?? pino({ level: 'info' });
  // Made before the repository opens, so that the models loaded at start are observed.
  const metricsPort = options.metricsPort ?? 8002;
  const metrics = metricsPort === false ? undefined : new ServerMetrics();
  const core = await InferenceServer.open({
    repository: options.repository,
    log,
    modelControl: options.modelControl,
    startupModels: options.loadModels,
    strictReadiness: options.strictReadiness,
    observer: metrics,
  });
  metrics?.watch(core.repository);
  const started: StartedExtension[] = [];
  let watcher: RepositoryWatcher | undefined;
  try {
    for (const extension of options.extensions ?? []) started.push(await extension.start(core, { metrics }));
    if (core.modelControl === 'poll') watcher = await RepositoryWatcher.start(core.repository, { intervalMs: options.pollIntervalMs ?? 15_000, log });
  } catch (err) {
    await Promise.all(started.map((e) => e.close?.()));
    await core.close(0);
    throw err;
  }
  const http = Fastify({
    // Request logging is off: one line per request would cost more than small models' inference.
    logger: false,
    bodyLimit: options.limits?.bodyLimit ?? 64 * 1024 * 1024,
    ...(options.tls && { https: { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) } }),
  }) as unknown as FastifyInstance;
  const sample = options.logRequests ?? 0;
  if (!(sample >= 0 && sample <= 1)) throw new Error(`logRequests must be a share from 0 to 1, got ${String(options.logRequests)}`);
  if (sample > 0) {
    http.addHook('onResponse', async (req, reply) => {
      if (sample >= 1 || Math.random() < sample) log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    });
  }
  http.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));
  await http.register(v2Routes, { server: core, limits: options.limits, token: options.token, adminToken: options.adminToken });
  const adminToken = options.adminToken ?? options.token;
  const guards: RouteGuards = {
    user: requireBearer(options.token),
    admin: requireBearer(adminToken),
    actor: (req) => `${adminToken === undefined ? 'no-auth' : 'admin-token'}@${req.ip}`,
  };
  for (const e of started) if (e.routes !== undefined) await http.register(e.routes, guards);
  const bodyLimit = options.limits?.bodyLimit ?? 64 * 1024 * 1024;
  let grpcServer: grpc.Server | undefined;
  if (options.grpcPort !== false) {
    grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': bodyLimit, 'grpc.max_send_message_length': 2 ** 31 - 1 });
    const tokens = { token: options.token, adminToken: options.adminToken };
    addInferenceService(grpcServer, core, tokens);
    for (const e of started) e.grpc?.(grpcServer, unaryRpc(tokens));
  }
  const host = options.host ?? '127.0.0.1';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  let metricsListener: MetricsListener | undefined;
  return {
    core,
    http,
    grpc: grpcServer,
    metrics,
    async listen() {
      await http.listen({ host, port: options.httpPort ?? 8000 });
      const { port } = http.server.address() as AddressInfo;
      const scheme = options.tls ? 'https' : 'http';
      let grpcAddress: string | undefined;
      if (grpcServer !== undefined) {
        const credentials = options.tls
          ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(options.tls.cert), private_key: readFileSync(options.tls.key) }])
          : grpc.ServerCredentials.createInsecure();
        const server = grpcServer;
        const grpcPort = await new Promise<number>((resolve, reject) =>
          server.bindAsync(`${hostPart}:${options.grpcPort ?? 8001}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
        );
        grpcAddress = `${hostPart}:${grpcPort}`;
      }
      if (metrics !== undefined && metricsPort !== false) metricsListener = await listenMetrics(metrics, host, metricsPort);
      return {
        http: `${scheme}://${hostPart}:${port}`,
        ...(grpcAddress !== undefined && { grpc: grpcAddress }),
        ...(metricsListener !== undefined && { metrics: metricsListener.url }),
      };
    },
    close() {
      closing ??= (async () => {
        // Nothing loads or routes anew while the server drains.
        await watcher?.close();
        await Promise.all(started.map((e) => e.close?.()));
        await core.close(options.graceMs ?? 30_000);
        const server = grpcServer;
        await Promise.all([
          http.close(),
          server && new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
          metricsListener?.close(),
        ]);
      })();
      return closing;
    },
  };
}
