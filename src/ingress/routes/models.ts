/** GET /v1/models: the aliases clients may send in `model`, in OpenAI's list shape. */
import type { Request, Response } from 'express';
import type { PipelineContext } from '../../pipeline/context.js';
import { modelNotFound } from '../../protocol/errors.js';
import { assertModelAllowed, principalOf } from '../auth.js';
import { ownValue } from '../../util/own-value.js';

function modelObject(id: string) {
  return { id, object: 'model' as const, created: 0, owned_by: 'gateway' };
}

export function listModelsHandler(ctx: PipelineContext) {
  const all = Object.keys(ctx.config.models);
  return (req: Request, res: Response) => {
    const allowed = principalOf(req).models;
    res.json({ object: 'list', data: (allowed ? all.filter((m) => allowed.has(m)) : all).map(modelObject) });
  };
}

export function getModelHandler(ctx: PipelineContext) {
  return (req: Request, res: Response) => {
    const id = String(req.params.model);
    if (!ownValue(ctx.config.models, id)) throw modelNotFound(id);
    assertModelAllowed(req, id);
    res.json(modelObject(id));
  };
}
