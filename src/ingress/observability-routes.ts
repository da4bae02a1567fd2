/**
 * The observability side of the HTTP app: a middleware that follows every model request (in flight, its
 * trace span, its record into the metrics and the status counters), and the operator routes: `/metrics`
 * (Prometheus), `/status` (the live page), `/status.json` (what the page polls: it lists recent durable
 * requests of every tenant) and `/health/deployments` (what routing sees). They are for operators only:
 * mounted behind a guard on the main port (operator-auth.ts), and open on the operator listener, which binds
 * loopback unless the config says otherwise (operator-app.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { PipelineContext } from '../pipeline/context.js';
import { onRequestDone, trailOf } from './request-log.js';
import { requestStart } from './request-scope.js';
import { captureBodies } from '../observability/body-capture.js';
import type { Observability } from '../observability/index.js';
import type { FinishedRequest } from '../observability/request-record.js';
import { statusDocument, type HealthViewForStatus } from '../observability/status.js';
import { routingView } from '../health/routing-view.js';
import { deploymentHealthHandler } from './routes/health.js';

/** The routes that call models: the only ones counted in flight, traced and recorded. */
const MODEL_ROUTES = new Set(['/v1/chat/completions', '/v1/messages', '/v1/embeddings', '/v1/requests']);

export function observeRequests(obs: Observability) {
  const { metrics, tracing, stats } = obs;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST' || !MODEL_ROUTES.has(req.path)) return next();
    const inFlightDone = metrics?.requestBegan(req.path);
    if (obs.logBodies) captureBodies(res);
    const span = tracing?.startIngress(req.method, req.path, String(res.getHeader('x-request-id') ?? ''), req.headers, requestStart(req));
    let finished: FinishedRequest | undefined;
    onRequestDone(res, (f) => {
      finished = f;
      metrics?.observe(f);
      stats.record(f);
    });
    // registered after the request log's own close listener, and chained after it on the settlement the
    // record waits for, so the record above is already made
    res.once('close', () => {
      void Promise.resolve(trailOf(res).settled).then(() => {
        inFlightDone?.();
        span?.end(finished, res.statusCode);
      });
    });
    if (span) span.run(next);
    else next();
  };
}

const STATUS_PAGE = fileURLToPath(new URL('../observability/status-page/index.html', import.meta.url));

/** Mounts the operator routes, each behind `guard` (none: open, as on the loopback operator listener). */
export function mountOperatorRoutes(app: Express, ctx: PipelineContext, obs: Observability | undefined, guard?: RequestHandler): void {
  const guarded: RequestHandler[] = guard ? [guard] : [];
  app.get('/health/deployments', ...guarded, deploymentHealthHandler(ctx));
  if (!obs) return;
  const { metrics } = obs;
  if (metrics) {
    app.get(obs.config.metrics.path, ...guarded, async (_req, res) => {
      const { contentType, body } = await metrics.render();
      res.setHeader('content-type', contentType);
      res.setHeader('cache-control', 'no-store');
      res.end(body);
    });
  }
  if (obs.config.statusPage.enabled) {
    const page = readFileSync(STATUS_PAGE);
    app.get('/status', ...guarded, (_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      res.end(page);
    });
    app.get('/status.json', ...guarded, async (_req, res) => {
      const durable = ctx.durable;
      const doc = await statusDocument({
        config: ctx.config,
        stats: obs.stats,
        health: ctx.health ? () => routingView(ctx.health!, ctx.config) as HealthViewForStatus : undefined,
        recentDurable: durable ? (n) => durable.recent(n) : undefined,
        uiUrl: obs.temporalUiUrl ?? ctx.config.durable.temporal.uiUrl,
      });
      res.setHeader('cache-control', 'no-store');
      res.json(doc);
    });
  }
}
