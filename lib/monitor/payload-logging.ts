/**
 * Payload logging as a server extension: `createServer({ extensions: [payloadLogging({
 * url, file })] })` sends the request and response of each sampled inference of every
 * version as CloudEvents (payload-log.ts) to an HTTP sink, a JSON-lines file, or both,
 * with the model, version and route of each; and counts on the server's metrics what
 * each sink was sent and what it dropped:
 * - `onnx_native_payload_events_total{sink}`: events delivered;
 * - `onnx_native_payload_events_dropped_total{sink,reason}`: events dropped
 *   (`queue_full`, `error`, `timeout`, `closed`).
 */
import { Counter } from 'prom-client';
import type { ServerExtension, StartedExtension } from '../server/create-server';
import type { ServingObserver, VersionObserver } from '../server/model/serving-observer';
import { DROP_REASONS, PayloadLogger, type PayloadLoggerOptions } from './payload-log';
import { FileSink, HttpSink, type PayloadSink } from './payload-sinks';

/** Options of {@link payloadLogging}: where events go, and the logger's options. */
export interface PayloadLoggingOptions extends Omit<PayloadLoggerOptions, 'sinks'> {
  /** An HTTP sink's URL (CloudEvents binary mode, a POST an event). */
  readonly url?: string;
  /** A JSON-lines file (structured mode, rotated by size). */
  readonly file?: string;
  /** The file's size at which it is rotated, in bytes (default 64 MiB). */
  readonly maxFileBytes?: number;
  /** Other sinks. */
  readonly sinks?: readonly PayloadSink[];
  /** How long closing waits for queued events to go, in ms (default 5000). */
  readonly closeTimeoutMs?: number;
}

const none = (): void => {};

/** Tells the logger of each inference of every version. */
class PayloadObserver implements ServingObserver {
  constructor(readonly logger: PayloadLogger) {}

  versionServing(model: string, version: number): VersionObserver {
    const logger = this.logger;
    const v = String(version);
    return {
      onRequestStart: none,
      onRequestEnd: none,
      onQueued: none,
      onBatch: none,
      onInference: (request, response, route) => logger.log(request, response, { model, version: v, route: route ?? 'version' }),
    };
  }

  versionRetired(): void {}
}

/** Payload logging for {@link createServer}'s `extensions`; `logger` is set once the server has started. */
export function payloadLogging(options: PayloadLoggingOptions): ServerExtension & { logger?: PayloadLogger } {
  const { url, file, maxFileBytes, sinks: others = [], closeTimeoutMs, ...loggerOptions } = options;
  const extension: ServerExtension & { logger?: PayloadLogger } = {
    async start(core, context): Promise<StartedExtension> {
      const sinks: PayloadSink[] = [...others];
      if (url !== undefined) sinks.push(new HttpSink({ url }));
      if (file !== undefined) sinks.push(new FileSink({ path: file, ...(maxFileBytes !== undefined && { maxBytes: maxFileBytes }) }));
      const logger = new PayloadLogger({ ...loggerOptions, sinks });
      extension.logger = logger;
      const registry = context.metrics?.registry;
      if (registry !== undefined) {
        registry.registerMetric(
          new Counter({
            name: 'onnx_native_payload_events_total',
            help: 'Payload-log events (CloudEvents of requests and responses) a sink was sent',
            labelNames: ['sink'],
            registers: [],
            collect() {
              this.reset();
              for (const [sink, s] of Object.entries(logger.stats().sinks)) this.inc({ sink }, s.sent);
            },
          }),
        );
        registry.registerMetric(
          new Counter({
            name: 'onnx_native_payload_events_dropped_total',
            help: 'Payload-log events a sink did not get: queue_full (it was behind), error, timeout, closed (still queued at shutdown)',
            labelNames: ['sink', 'reason'],
            registers: [],
            collect() {
              this.reset();
              for (const [sink, s] of Object.entries(logger.stats().sinks)) for (const reason of DROP_REASONS) this.inc({ sink, reason }, s.dropped[reason]);
            },
          }),
        );
      }
      const unobserve = core.observe(new PayloadObserver(logger));
      core.log.info({ sinks: sinks.map((s) => s.name), sampleRate: options.sampleRate ?? 1 }, 'payload logging started');
      return {
        close: async () => {
          unobserve();
          const stats = await logger.close(closeTimeoutMs);
          registry?.removeSingleMetric('onnx_native_payload_events_total');
          registry?.removeSingleMetric('onnx_native_payload_events_dropped_total');
          core.log.info({ stats }, 'payload logging closed');
        },
      };
    },
  };
  return extension;
}
