/**
 * Ground truth's HTTP API (a fastify plugin, mounted by the monitoring extension; the
 * user's token, as inference):
 *
 *   POST /v2/models/{m}/feedback   {"id": "req-1", "truth": 1} or {"id": "req-1", "reward": 0.8}:
 *                                  matched to the prediction of request "req-1"
 *   GET  /v2/models/{m}/feedback   each serving version's accuracy, MAE, RMSE and mean reward
 *                                  over its window, with the counts behind them
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteGuards } from '../server/create-server';
import type { InferenceServer } from '../server/inference-server';
import { answerProtocolErrors, parseOptionalJson } from '../server/http/v2-routes';
import { ProtocolError } from '../server/protocol/types';
import type { FeedbackBody, GroundTruth } from './ground-truth';

/** Options of {@link feedbackRoutes}. */
export interface FeedbackRoutesOptions extends RouteGuards {
  readonly truth: GroundTruth;
  readonly server: InferenceServer;
}

/** The feedback routes (see the file's comment). */
export const feedbackRoutes: FastifyPluginAsync<FeedbackRoutesOptions> = async (app, options) => {
  answerProtocolErrors(app, options.server.log);
  // Bodies are small JSON objects, whatever their content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body: Buffer, done) => done(null, body));
  const user = { onRequest: options.user };
  const { truth } = options;
  app.post<{ Params: { model: string } }>('/v2/models/:model/feedback', user, async (req) => truth.feedback(req.params.model, parseOptionalJson(req.body as Buffer | undefined) as unknown as FeedbackBody));
  app.get<{ Params: { model: string } }>('/v2/models/:model/feedback', user, async (req) => {
    const versions = truth.versions(req.params.model);
    if (versions.length === 0) throw new ProtocolError(`model "${req.params.model}" is not serving`, 'NOT_FOUND');
    return { model: req.params.model, versions: versions.map(({ model: _model, version, ...figures }) => ({ version: String(version), ...figures })) };
  });
};
