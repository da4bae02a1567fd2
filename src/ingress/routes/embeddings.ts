/** POST /v1/embeddings: routed like chat, over the deployments of the alias that can embed. */
import type { Request, Response } from 'express';
import { embeddingsRequestSchema } from '../../protocol/chat-request.js';
import { ProviderError } from '../../providers/errors.js';
import type { AppContext } from '../context.js';
import { fromZodError, serviceBusy } from '../../protocol/errors.js';
import { admit, planFor, recordUsage } from './chat.js';
import { setGatewayHeaders } from '../gateway-headers.js';
import { trailOf } from '../request-log.js';
import { clientAbortSignal, requestStart } from '../request-scope.js';

export function embeddingsHandler(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = embeddingsRequestSchema.safeParse(req.body);
    if (!parsed.success) throw fromZodError(parsed.error);
    const request = parsed.data;
    const inputChars = JSON.stringify(request.input).length;
    const traits = { stream: false, needs: ['embeddings' as const], estimatedInputTokens: Math.ceil(inputChars / 4) };
    const plan = planFor(ctx, request.model, traits);
    await admit(ctx, req, res, request.model, traits);
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
      recordUsage(ctx, res, outcome.target.deployment.name, { ...outcome.value.usage, completion_tokens: 0 });
      res.json(outcome.value);
  };
}
