/**
 * GET /health/deployments: what routing sees right now, per deployment — breaker phase with its counts and
 * reason, in-flight calls, latency percentiles, throughput, and the weight routing gives it now (per alias
 * group under `aliases`). No secrets: deployments are named, never keyed.
 */
import type { Request, Response } from 'express';
import type { PipelineContext } from '../../pipeline/context.js';
import { routingView } from '../../health/routing-view.js';

export function deploymentHealthHandler(ctx: PipelineContext) {
  return (_req: Request, res: Response): void => {
    const view = ctx.health ? routingView(ctx.health, ctx.config) : undefined;
    const deployments = Object.fromEntries(
      Object.values(ctx.config.deployments).map((d) => [
        d.name,
        { provider: d.provider, model: d.model, tier: d.tier, region: d.region ?? null, weight: d.weight, ...view?.deployments[d.name] },
      ]),
    );
    res.setHeader('cache-control', 'no-store');
    res.json({ at: view ? new Date(view.at).toISOString() : new Date().toISOString(), deployments, aliases: view?.aliases ?? {} });
  };
}
