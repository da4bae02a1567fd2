/** POST /v1/embeddings: routed like chat, over the deployments of the alias that can embed. */
import type { Request, Response } from 'express';
import { embeddingsRequestSchema } from '../../protocol/chat-request.js';
import { ProviderError } from '../../providers/errors.js';
import type { AppContext } from '../context.js';
import { fromZodError, serviceBusy } from '../errors.js';
import { planFor } from './chat.js';
import { setGatewayHeaders } from '../gateway-headers.js';
import { trailOf } from '../request-log.js';
import { clientAbortSignal, requestStart } from '../request-scope.js';

export function embeddingsHandler(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = embeddingsRequestSchema.safeParse(req.body);
    if (!parsed.success) throw fromZodError(parsed.error);
    const request = parsed.data;
    const plan = planFor(ctx, request.model, { stream: false, needs: ['embeddings'], estimatedInputTokens: 0 });
    const signal = clientAbortSignal(req, res);
    const trail = Object.assign(trailOf(res), { alias: request.model, attempts: [] });
    const outcome = await ctx.executor.run(
        plan,
        (adapter, target, s) => {
          if (!adapter.embed) throw new ProviderError({ kind: 'not_found', message: `${target.provider.type} has no embeddings API` });
          return adapter.embed(request, target, { signal: s });
        },
        signal,
        trail.attempts,
      );
      if (outcome.kind === 'catch_all') throw serviceBusy(request.model, outcome.lastError?.kind ?? outcome.reason);
      setGatewayHeaders(res, requestStart(req), performance.now(), outcome.attempts, outcome.timing, {
        deployment: outcome.target.deployment.name,
        provider: outcome.target.provider.name,
      });
      res.json(outcome.value);
  };
}
