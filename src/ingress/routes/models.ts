/** GET /v1/models: the aliases clients may send in `model`, in OpenAI's list shape. */
import type { Request, Response } from 'express';
import type { AppContext } from '../context.js';
import { modelNotFound } from '../errors.js';

function modelObject(id: string) {
  return { id, object: 'model' as const, created: 0, owned_by: 'gateway' };
}

export function listModelsHandler(ctx: AppContext) {
  const body = JSON.stringify({ object: 'list', data: Object.keys(ctx.config.models).map(modelObject) });
  return (_req: Request, res: Response) => {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(body);
  };
}

export function getModelHandler(ctx: AppContext) {
  return (req: Request, res: Response) => {
    const id = String(req.params.model);
    if (!ctx.config.models[id]) throw modelNotFound(id);
    res.json(modelObject(id));
  };
}
