/** GET /admin/keys (admin key only): each gateway key's tenant, models, limits and spend so far. */
import type { Request, Response } from 'express';
import type { PipelineContext } from '../../pipeline/context.js';

export function listKeysHandler(ctx: PipelineContext) {
  return async (_req: Request, res: Response): Promise<void> => {
    const keys = ctx.keys?.principals() ?? [];
    const data = await Promise.all(
      keys.map(async (p) => {
        const buckets = ctx.admission?.spendBuckets(p.keyId);
        const [day, month] = buckets ? await Promise.all([ctx.admission!.spend(buckets.day), ctx.admission!.spend(buckets.month)]) : [0, 0];
        return { id: p.keyId, tenant: p.tenant, models: p.models ? [...p.models] : null, limits: p.limits, spend_usd: { today: day, this_month: month } };
      }),
    );
    res.json({ object: 'list', data });
  };
}
