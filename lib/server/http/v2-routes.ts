/**
 * KServe's Open Inference Protocol v2 over HTTP, with Triton's extensions (binary tensor
 * data, model repository, statistics, model configuration), as a fastify plugin: it
 * mounts into this package's server or into an application's own fastify instance.
 *
 *   await app.register(v2Routes, { server });
 *
 * The plugin keeps its content-type parsing, error format and auth to its own routes
 * (fastify's encapsulation), so the application's other routes are left as they were.
 */
import { Readable } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { bearerMatches } from '../bearer-token';
import type { InferenceServer } from '../inference-server';
import { HTTP_STATUS, ProtocolError } from '../protocol/types';
import { splitInferBody } from '../protocol/binary-extension';
import { v1Routes } from './v1-routes';
import { encodeInferResponse } from '../protocol/encode-response';
import { type DecodeLimits, decodeInferRequest, decodeLimits } from '../protocol/json-tensors';

/** Bounds on a request: its body's size, and what its tensors may decode to. */
export interface HttpLimits extends DecodeLimits {
  /** Most bytes in a request body. Default: 64 MiB. */
  readonly bodyLimit: number;
}

/** Options of {@link v2Routes}. */
export interface V2RoutesOptions {
  /** The server core the routes answer from. */
  readonly server: InferenceServer;
  /** Bounds on request bodies (see {@link HttpLimits}). */
  readonly limits?: Partial<HttpLimits>;
  /**
   * A bearer token every route but the health checks requires (`Authorization: Bearer
   * <token>`). Default: none.
   */
  readonly token?: string;
  /** A bearer token the repository API (load, unload, index) requires instead. Default: `token`. */
  readonly adminToken?: string;
  /** Also serve TensorFlow Serving's REST API (`/v1/models/...`, see v1-routes.ts). Default: true. */
  readonly tfServing?: boolean;
}

type Params = { model?: string; version?: string; label?: string };

const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;

function sendError(reply: FastifyReply, err: ProtocolError): FastifyReply {
  if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
  if (err.status === 'UNAUTHENTICATED') reply.header('WWW-Authenticate', 'Bearer');
  return reply.code(HTTP_STATUS[err.status]).send({ error: err.message });
}

/**
 * Answers errors in a fastify context as the v2 routes do: a {@link ProtocolError} with
 * its HTTP status and `{ "error": message }`, fastify's own 4xx as they are, anything
 * else a logged 500. For plugins that add routes beside these (the lifecycle's).
 */
export function answerProtocolErrors(app: FastifyInstance, log: InferenceServer['log']): void {
  app.setErrorHandler((err: FastifyError | ProtocolError, _req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ProtocolError) return sendError(reply, err);
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
    log.error({ err: err.message }, 'request failed');
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });
}

/** An `onRequest` hook that requires `Authorization: Bearer <token>` (none: lets every request through). */
export function requireBearer(token: string | undefined): (req: FastifyRequest) => Promise<void> {
  return async (req: FastifyRequest) => {
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      throw new ProtocolError(req.headers.authorization === undefined ? 'this route needs an Authorization: Bearer token' : 'the bearer token is not valid for this route', 'UNAUTHENTICATED');
    }
  };
}

/** Parses a small JSON-object body that may be empty (the repository and lifecycle APIs'). */
export function parseOptionalJson(body: Buffer | undefined): Record<string, unknown> {
  if (body === undefined || body.byteLength === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ProtocolError(`the body is not JSON: ${(err as Error).message}`, 'INVALID_ARGUMENT');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError('the body must be a JSON object', 'INVALID_ARGUMENT');
  return value as Record<string, unknown>;
}

/** The Open Inference Protocol's v2 routes, as a fastify plugin. */
export const v2Routes: FastifyPluginAsync<V2RoutesOptions> = async (app: FastifyInstance, options: V2RoutesOptions) => {
  const { server } = options;
  const { bodyLimit = DEFAULT_BODY_LIMIT, ...decoding } = options.limits ?? {};
  const limits = decodeLimits(decoding);

  // Bodies arrive whole as Buffers: JSON requests are parsed by the codec (which bounds
  // them), binary ones split at Inference-Header-Content-Length.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body));

  answerProtocolErrors(app, server.log);
  const user = { onRequest: requireBearer(options.token) };
  const admin = { onRequest: requireBearer(options.adminToken ?? options.token) };

  app.get('/v2/health/live', async () => ({ live: server.live }));
  app.get('/v2/health/ready', async (_req, reply) => {
    const ready = server.ready;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/v2', user, async () => server.metadata());

  // A version by number, by label (TF Serving's labels: `stable`, `canary`), or the default.
  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version', '/v2/models/:model/labels/:label']) {
    app.get<{ Params: Params }>(prefix, user, async (req) => server.modelMetadata(req.params.model as string, req.params.version, req.params.label));
    app.get<{ Params: Params }>(`${prefix}/ready`, user, async (req, reply) => {
      const ready = server.modelReady(req.params.model as string, req.params.version, req.params.label);
      return reply.code(ready ? 200 : 503).send({ name: req.params.model, ready });
    });
    if (!prefix.endsWith(':label')) app.get<{ Params: Params }>(`${prefix}/stats`, user, async (req) => server.statistics(req.params.model, req.params.version));
    app.post<{ Params: Params }>(`${prefix}/infer`, user, async (req, reply) => {
      const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
      const route = { model: req.params.model as string, version: req.params.version, label: req.params.label };
      // An unknown model, version or label is a 404 whatever the body holds.
      server.resolve(route);
      const { header, binary } = splitInferBody(body, req.headers['inference-header-content-length']);
      const decoded = decodeInferRequest(header, binary, route, limits);
      // The headers go along for the model's routes and sticky splits, which may key on one.
      const request = { ...decoded, ...(route.label !== undefined && { label: route.label }), headers: req.headers };
      const response = await server.infer(request);
      // Which version answered, for clients of labels, defaults and (later) traffic splits.
      reply.header('Model-Version', response.model_version);
      const encoded = encodeInferResponse(response, request);
      if ('json' in encoded) return reply.type('application/json').send(encoded.json);
      // The header, then each output's bytes straight from its tensor's memory: no
      // concatenated copy of the outputs.
      const head = Buffer.from(encoded.header, 'utf8');
      reply.header('Inference-Header-Content-Length', String(encoded.headerLength));
      reply.header('Content-Length', String(encoded.chunks.reduce((n: number, c: Buffer) => n + c.byteLength, head.byteLength)));
      return reply.type('application/octet-stream').send(Readable.from([head, ...encoded.chunks], { objectMode: false }));
    });
    // The model's own terms: the body as it comes (an image, text, JSON), through its handler.mjs.
    app.post<{ Params: Params; Querystring: Record<string, string> }>(`${prefix}/predict`, user, async (req) => {
      const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
      return server.predict({ model: req.params.model as string, version: req.params.version, label: req.params.label }, body, req.headers['content-type'] ?? '', { ...req.query });
    });
  }
  app.get('/v2/models/stats', user, async () => server.statistics());
  app.get<{ Params: Params }>('/v2/models/:model/config', user, async (req) => server.modelConfig(req.params.model as string));

  if (options.tfServing !== false) {
    // A child context: it shares this one's body parsing and errors, and takes the user token.
    await app.register(async (child) => {
      child.addHook('onRequest', user.onRequest);
      await child.register(v1Routes, { server });
    });
  }

  app.post('/v2/repository/index', admin, async (req) => {
    const body = parseOptionalJson(req.body as Buffer | undefined);
    return server.repositoryIndex(body.ready === true);
  });
  app.post<{ Params: Params }>('/v2/repository/models/:model/load', admin, async (req) => {
    parseOptionalJson(req.body as Buffer | undefined);
    await server.loadModel(req.params.model as string);
    return {};
  });
  app.post<{ Params: Params }>('/v2/repository/models/:model/unload', admin, async (req) => {
    parseOptionalJson(req.body as Buffer | undefined);
    await server.unloadModel(req.params.model as string);
    return {};
  });
};
