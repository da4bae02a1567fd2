/**
 * The operator listener (`server.operator.port`): the operator routes without a key, for a Prometheus
 * scraper, a dashboard or a browser on the operator's network. It binds `server.operator.host`, loopback
 * by default; whoever can reach it reads every tenant's recent durable request ids, so open it only to
 * the operators' network.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { PipelineContext } from '../pipeline/context.js';
import { HttpError } from '../protocol/errors.js';
import type { Observability } from '../observability/index.js';
import { sendError } from './errors.js';
import { mountOperatorRoutes } from './observability-routes.js';
import { CODEC_PATH, codecRoutes } from './routes/codec.js';

export function createOperatorApp(ctx: PipelineContext, obs?: Observability): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptime_s: Math.round(process.uptime()) });
  });
  mountOperatorRoutes(app, ctx, obs);
  // the Temporal UI's codec: on this listener, as the other operator routes, without a key
  app.use(CODEC_PATH, codecRoutes(ctx, { operatorListener: true }));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(404, `Unknown request URL: ${req.method} ${req.path}`, 'invalid_request_error', 'unknown_url'));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) return sendError(res, err);
    ctx.logger.error({ err }, 'operator route failed');
    sendError(res, new HttpError(500, 'The gateway had an internal error', 'server_error', 'internal_error'));
  });
  return app;
}
