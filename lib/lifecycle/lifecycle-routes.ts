/**
 * The lifecycle's HTTP API, beside the v2 routes (a fastify plugin, mounted by the
 * server as an extension):
 *
 *   GET    /v2/models/{m}/lifecycle          versions, default, pin, labels, history
 *   PUT    /v2/models/{m}/labels/{label}     {"version": 3}: point a label at a ready version
 *   DELETE /v2/models/{m}/labels/{label}
 *   POST   /v2/models/{m}/rollback           back to the version that served before
 *   POST   /v2/models/{m}/promote            {"version": 3} pins the default; {} follows the latest again
 *   PUT    /v2/models/{m}/traffic            {"split": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}],
 *                                             "sticky_key": "x-user-id", "routes": [{"key": "x-group", "value": "beta", "version": 2}],
 *                                             "shadow": {"version": 3, "share": 0.1}}
 *   DELETE /v2/models/{m}/traffic            all traffic to the default again
 *   POST   /v2/models/{m}/rollout            {"candidate": 3, "steps": [1, 10, 50, 100], "interval_s": 60, ...}:
 *                                             a progressive rollout (rollout-spec.ts has every field)
 *   GET    /v2/models/{m}/rollout            the rollout in progress, else the latest one
 *   DELETE /v2/models/{m}/rollout            aborts it: all traffic back on its baseline
 *   GET    /v2/lifecycle/audit[?model=m]     the audit log
 *
 * While a rollout is in progress, promote ends it by promoting its candidate now, rollback
 * aborts it, and the traffic cannot be set by hand.
 *
 * Reading a model's status takes the user's token; changes and the audit log, the admin's.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { InferenceServer } from '../server/inference-server';
import type { RouteGuards } from '../server/create-server';
import { answerProtocolErrors, parseOptionalJson } from '../server/http/v2-routes';
import { ProtocolError, invalid } from '../server/protocol/types';
import { type LifecycleStatus, type Traffic, type VersionControl, versionField } from './version-control';
import type { RolloutController, RolloutStatus } from './progressive-rollout';

/** Options of {@link lifecycleRoutes}. */
export interface LifecycleRoutesOptions extends RouteGuards {
  readonly control: VersionControl;
  readonly rollouts: RolloutController;
  readonly server: InferenceServer;
}

/** `GET /v2/models/{m}/lifecycle`: the version control's status and the model's rollout. */
export type ModelLifecycle = LifecycleStatus & { readonly rollout?: RolloutStatus };

type Params = { model: string; label: string };

function versionIn(body: Record<string, unknown>, required: boolean): number | undefined {
  const version = versionField(body, 'version', 'the body');
  if (version === undefined && required) throw invalid(`the body's "version" must be a version number, got undefined`);
  return version;
}

const FIELDS = new Set(['split', 'sticky_key', 'routes', 'shadow']);

/** A traffic body, read: its fields' types checked here, their values by the repository. */
function trafficIn(body: Record<string, unknown>): Traffic {
  for (const field of Object.keys(body)) if (!FIELDS.has(field)) throw invalid(`unknown field "${field}" in the traffic; use split, sticky_key, routes, shadow`);
  const list = (field: string) => {
    const value = body[field];
    if (value !== undefined && !Array.isArray(value)) throw invalid(`"${field}" must be a list`);
    return value as Record<string, unknown>[] | undefined;
  };
  const object = (value: unknown, what: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${what} must be an object`);
    return value as Record<string, unknown>;
  };
  const split = list('split')?.map((s, i) => ({ version: versionIn(object(s, `split[${i}]`), true) as number, weight: object(s, `split[${i}]`).weight as number }));
  const routes = list('routes')?.map((r, i) => ({ key: object(r, `routes[${i}]`).key as string, value: r.value as string, version: versionIn(r, true) as number }));
  const shadow = body.shadow === undefined ? undefined : { version: versionIn(object(body.shadow, '"shadow"'), true) as number, share: (body.shadow as Record<string, unknown>).share as number };
  if (body.sticky_key !== undefined && typeof body.sticky_key !== 'string') throw invalid('"sticky_key" must be a header or parameter name');
  return {
    ...(split && { split }),
    ...(typeof body.sticky_key === 'string' && { stickyKey: body.sticky_key.toLowerCase() }),
    ...(routes && { routes: routes.map((r) => ({ ...r, key: typeof r.key === 'string' ? r.key.toLowerCase() : r.key })) }),
    ...(shadow && { shadow }),
  };
}

/** The lifecycle's routes, as a fastify plugin. */
export const lifecycleRoutes: FastifyPluginAsync<LifecycleRoutesOptions> = async (app, options) => {
  const { control, rollouts } = options;
  // Bodies are small JSON objects (or empty), whatever their content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body: Buffer, done) => done(null, body));
  answerProtocolErrors(app, options.server.log);
  const user = { onRequest: options.user };
  const admin = { onRequest: options.admin };
  const { actor } = options;
  const body = (req: FastifyRequest) => parseOptionalJson(req.body as Buffer | undefined);

  const status = (name: string): ModelLifecycle => {
    const rollout = rollouts.status(name);
    return { ...control.status(name), ...(rollout !== undefined && { rollout }) };
  };
  const noRollout = (name: string, what: string) => {
    if (rollouts.active(name)) throw invalid(`model "${name}" has a rollout in progress: ${what} waits until it ends (promote or abort it first)`);
  };

  app.get<{ Params: Params }>('/v2/models/:model/lifecycle', user, async (req) => status(req.params.model));
  app.put<{ Params: Params }>('/v2/models/:model/labels/:label', admin, async (req) => {
    await control.setLabel(req.params.model, req.params.label, versionIn(body(req), true) as number, actor(req));
    return status(req.params.model);
  });
  app.delete<{ Params: Params }>('/v2/models/:model/labels/:label', admin, async (req) => {
    await control.removeLabel(req.params.model, req.params.label, actor(req));
    return status(req.params.model);
  });
  app.post<{ Params: Params }>('/v2/models/:model/rollback', admin, async (req) => {
    body(req);
    const name = req.params.model;
    if (rollouts.active(name)) {
      const ended = await rollouts.abort(name, actor(req));
      return { from: ended.spec.candidate, to: ended.spec.baseline, status: status(name) };
    }
    const moved = await control.rollback(name, actor(req));
    return { ...moved, status: status(name) };
  });
  app.post<{ Params: Params }>('/v2/models/:model/promote', admin, async (req) => {
    const name = req.params.model;
    const version = versionIn(body(req), false);
    if (rollouts.active(name)) {
      const candidate = rollouts.status(name)?.spec.candidate;
      if (version !== undefined && version !== candidate) throw invalid(`model "${name}" is rolling out version ${String(candidate)}: promote that one, or abort the rollout first`);
      await rollouts.promote(name, actor(req));
    } else {
      await control.promote(name, version, actor(req));
    }
    return status(name);
  });
  app.put<{ Params: Params }>('/v2/models/:model/traffic', admin, async (req) => {
    const traffic = trafficIn(body(req));
    noRollout(req.params.model, 'setting the traffic');
    await control.setTraffic(req.params.model, traffic, actor(req));
    return status(req.params.model);
  });
  app.delete<{ Params: Params }>('/v2/models/:model/traffic', admin, async (req) => {
    noRollout(req.params.model, 'clearing the traffic');
    await control.setTraffic(req.params.model, undefined, actor(req));
    return status(req.params.model);
  });
  app.post<{ Params: Params }>('/v2/models/:model/rollout', admin, async (req) => rollouts.start(req.params.model, body(req), actor(req)));
  app.get<{ Params: Params }>('/v2/models/:model/rollout', user, async (req) => {
    const rollout = rollouts.status(req.params.model);
    if (rollout === undefined) throw new ProtocolError(`model "${req.params.model}" has had no rollout`, 'NOT_FOUND');
    return rollout;
  });
  app.delete<{ Params: Params }>('/v2/models/:model/rollout', admin, async (req) => rollouts.abort(req.params.model, actor(req)));
  app.get<{ Querystring: { model?: string } }>('/v2/lifecycle/audit', admin, async (req) => ({ entries: (await control.auditLog?.entries(req.query.model)) ?? [] }));
};
