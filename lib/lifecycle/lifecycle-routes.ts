/**
 * The lifecycle's HTTP API, beside the v2 routes (a fastify plugin, mounted by the
 * server as an extension):
 *
 *   GET    /v2/models/{m}/lifecycle          versions, default, pin, labels, history
 *   PUT    /v2/models/{m}/labels/{label}     {"version": 3}: point a label at a ready version
 *   DELETE /v2/models/{m}/labels/{label}
 *   POST   /v2/models/{m}/rollback           back to the version that served before
 *   POST   /v2/models/{m}/promote            {"version": 3} pins the default; {} follows the latest again
 *   GET    /v2/lifecycle/audit[?model=m]     the audit log
 *
 * Reading a model's status takes the user's token; changes and the audit log, the admin's.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { InferenceServer } from '../server/inference-server';
import type { RouteGuards } from '../server/create-server';
import { answerProtocolErrors, parseOptionalJson } from '../server/http/v2-routes';
import { invalid } from '../server/protocol/types';
import type { VersionControl } from './version-control';

/** Options of {@link lifecycleRoutes}. */
export interface LifecycleRoutesOptions extends RouteGuards {
  readonly control: VersionControl;
  readonly server: InferenceServer;
}

type Params = { model: string; label: string };

function versionIn(body: Record<string, unknown>, required: boolean): number | undefined {
  const v = body.version;
  if (v === undefined && !required) return undefined;
  // Versions travel as strings in the v2 protocol; take both.
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(`the body's "version" must be a version number, got ${JSON.stringify(v)}`);
  return n;
}

/** The lifecycle's routes, as a fastify plugin. */
export const lifecycleRoutes: FastifyPluginAsync<LifecycleRoutesOptions> = async (app, options) => {
  const { control } = options;
  // Bodies are small JSON objects (or empty), whatever their content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body: Buffer, done) => done(null, body));
  answerProtocolErrors(app, options.server.log);
  const user = { onRequest: options.user };
  const admin = { onRequest: options.admin };
  const { actor } = options;
  const body = (req: FastifyRequest) => parseOptionalJson(req.body as Buffer | undefined);

  app.get<{ Params: Params }>('/v2/models/:model/lifecycle', user, async (req) => control.status(req.params.model));
  app.put<{ Params: Params }>('/v2/models/:model/labels/:label', admin, async (req) => {
    await control.setLabel(req.params.model, req.params.label, versionIn(body(req), true) as number, actor(req));
    return control.status(req.params.model);
  });
  app.delete<{ Params: Params }>('/v2/models/:model/labels/:label', admin, async (req) => {
    await control.removeLabel(req.params.model, req.params.label, actor(req));
    return control.status(req.params.model);
  });
  app.post<{ Params: Params }>('/v2/models/:model/rollback', admin, async (req) => {
    body(req);
    const moved = await control.rollback(req.params.model, actor(req));
    return { ...moved, status: control.status(req.params.model) };
  });
  app.post<{ Params: Params }>('/v2/models/:model/promote', admin, async (req) => {
    await control.promote(req.params.model, versionIn(body(req), false), actor(req));
    return control.status(req.params.model);
  });
  app.get<{ Querystring: { model?: string } }>('/v2/lifecycle/audit', admin, async (req) => ({ entries: (await control.auditLog?.entries(req.query.model)) ?? [] }));
};
