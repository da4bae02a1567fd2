/**
 * OpenAI's Batch API over the gateway's providers:
 *   POST /v1/batches              create from an uploaded file (`input_file_id`, `endpoint`, `completion_window`)
 *   GET  /v1/batches              list (`after`, `limit`)
 *   GET  /v1/batches/{id}         status, `request_counts`, output and error file ids
 *   POST /v1/batches/{id}/cancel  `cancelling`, then `cancelled` with the partial output
 * Batches belong to the key's tenant; the lines may use only the aliases the key may use (checked per line).
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { publicBatch } from '../../batches/views.js';
import { principalOf } from '../auth.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { fromZodError, invalidRequest } from '../../protocol/errors.js';
import { tenantOf } from '../tenant.js';
import { limitOf, requireBatches } from './files.js';

const createSchema = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string().min(1),
  completion_window: z.string().min(1),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys')
    .nullable()
    .optional(),
});

export function createBatchHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const batches = requireBatches(ctx);
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) throw fromZodError(parsed.error);
    const principal = principalOf(req);
    // a key whose budget is spent starts no batch; one that runs out midway gets its remaining lines refused
    const refusal = ctx.admission ? await ctx.admission.budgetRefusal(principal) : undefined;
    if (refusal) throw refusal;
    const models = principal.models;
    const record = await batches.create(tenantOf(req), models ? [...models] : undefined, parsed.data, ctx.admission ? principal.keyId : undefined);
    res.json(publicBatch(record));
  };
}

export function getBatchHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    res.json(publicBatch(await requireBatches(ctx).retrieve(tenantOf(req), String(req.params.id))));
  };
}

export function listBatchesHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const after = req.query.after;
    if (after !== undefined && typeof after !== 'string') throw invalidRequest("Invalid value for 'after'.", 'after', 'invalid_value');
    const page = await requireBatches(ctx).list(tenantOf(req), after, limitOf(req.query.limit, 20, 100));
    const data = page.data.map(publicBatch);
    res.json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.has_more });
  };
}

/** Mounted before the JSON body reader: the SDK's cancel is a POST without a body. */
export function cancelBatchHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    req.resume();
    res.json(publicBatch(await requireBatches(ctx).cancel(tenantOf(req), String(req.params.id))));
  };
}
