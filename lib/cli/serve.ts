/**
 * `onnx-native serve REPO`: the model server from the command line, over
 * server/create-server.ts. Prints each model's state once loaded and a line with the
 * URLs when ready; on SIGTERM or SIGINT shuts down gracefully (readiness false at once,
 * requests in flight finished, then exit 0); a second signal exits at once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type ModelServer, type ServerOptions, createServer } from '../server/create-server';
import { writeExampleRepository } from '../server/example-repository';
import { lifecycle } from '../lifecycle/lifecycle-extension';
import { monitoring } from '../monitor/monitoring-extension';
import { payloadLogging } from '../monitor/payload-logging';
import { dashboard } from '../monitor/dashboard-extension';

/** The command's options, from its flags. */
export interface ServeFlags {
  readonly repository?: string;
  readonly example: boolean;
  readonly host?: string;
  readonly httpPort?: number;
  readonly grpcPort?: number | false;
  readonly metricsPort?: number | false;
  readonly modelControl?: 'none' | 'explicit' | 'poll';
  readonly pollIntervalMs?: number;
  readonly stateDir?: string;
  readonly loadModels: readonly string[];
  readonly authTokenFile?: string;
  readonly adminTokenFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly strictReadiness: boolean;
  readonly graceMs?: number;
  readonly logLevel: string;
  readonly logRequests?: number;
  /** Drift monitoring of the versions that have a reference profile (default on). */
  readonly monitoring?: boolean;
  /** Requests the monitoring observes a second, per version, at most. */
  readonly monitorRate?: number;
  /** A version without a profile captures one from the first this many rows it serves. */
  readonly captureRows?: number;
  /** Payload logging to this HTTP sink. */
  readonly payloadLogUrl?: string;
  /** Payload logging to this JSON-lines file. */
  readonly payloadLogFile?: string;
  /** The share of requests payload-logged (default 1). */
  readonly payloadLogSample?: number;
  /** Serve the live dashboard page at /dashboard (behind the admin token when there is one). */
  readonly dashboard?: boolean;
}

function readToken(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const token = readFileSync(file, 'utf8').trim();
  if (token.length === 0) throw new Error(`${file} is empty: it must hold the bearer token`);
  return token;
}

/** Runs the server until a signal stops it. Resolves with the exit code. */
export async function serve(flags: ServeFlags): Promise<number> {
  // One run thread per core (the addon's default is 4), so that a model's default
  // instances (one per core) all run at once. Read when the first run starts.
  process.env.ONNX_NATIVE_RUN_THREADS ??= String(Math.max(4, availableParallelism()));
  let exampleDir: string | undefined;
  let repository = flags.repository;
  if (flags.example) {
    // Beside the package where it may write there, so that the example handler's
    // `import 'sharp'` resolves from the node_modules the package is in.
    try {
      exampleDir = mkdtempSync(join(__dirname, '..', '..', '.example-'));
    } catch {
      exampleDir = mkdtempSync(join(tmpdir(), 'onnx-native-example-'));
    }
    repository = writeExampleRepository(exampleDir);
  }
  if (repository === undefined) throw new Error('serve needs a model repository folder (or --example)');
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  const log = pino({ level: flags.logLevel });
  const monitor = flags.monitoring === false ? undefined : monitoring({ maxPerSecond: flags.monitorRate, captureRows: flags.captureRows });
  const options: ServerOptions = {
    repository,
    host: flags.host,
    httpPort: flags.httpPort,
    grpcPort: flags.grpcPort,
    metricsPort: flags.metricsPort,
    modelControl: flags.modelControl,
    pollIntervalMs: flags.pollIntervalMs,
    loadModels: flags.loadModels,
    extensions: [
      lifecycle({ stateDir: flags.stateDir }),
      ...(monitor === undefined ? [] : [monitor]),
      ...(flags.dashboard === true ? [dashboard({ monitoring: monitor })] : []),
      ...(flags.payloadLogUrl === undefined && flags.payloadLogFile === undefined
        ? []
        : [payloadLogging({ url: flags.payloadLogUrl, file: flags.payloadLogFile, ...(flags.payloadLogSample !== undefined && { sampleRate: flags.payloadLogSample }) })]),
    ],
    token: readToken(flags.authTokenFile),
    adminToken: readToken(flags.adminTokenFile),
    tls: flags.tlsCert !== undefined && flags.tlsKey !== undefined ? { cert: flags.tlsCert, key: flags.tlsKey } : undefined,
    strictReadiness: flags.strictReadiness,
    graceMs: flags.graceMs,
    logRequests: flags.logRequests,
    log,
  };
  let server: ModelServer;
  try {
    server = await createServer(options);
  } catch (err) {
    if (exampleDir !== undefined) rmSync(exampleDir, { recursive: true, force: true });
    throw err;
  }
  for (const entry of await server.core.repositoryIndex()) {
    console.log(`model ${entry.name}${entry.version ? ` version ${entry.version}` : ''}: ${entry.state ?? 'not loaded'}${entry.reason ? ` (${entry.reason})` : ''}`);
  }
  const addresses = await server.listen();
  // Parsed by scripts and tests: new parts go at the end.
  console.log(`ready: HTTP ${addresses.http}${addresses.grpc ? `, gRPC ${addresses.grpc}` : ''}${addresses.metrics ? `, metrics ${addresses.metrics}` : ''}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.log(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      console.log(`${signal}: shutting down (requests in flight finish first)`);
      server.close().then(
        () => {
          if (exampleDir !== undefined) rmSync(exampleDir, { recursive: true, force: true });
          resolve(0);
        },
        (err: unknown) => {
          console.error(err);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
