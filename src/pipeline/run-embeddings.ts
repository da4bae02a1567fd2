/** POST /v1/embeddings through the pipeline: admitted, planned over the alias's deployments that can embed, run, settled. */
import type { EmbeddingsRequest } from '../protocol/chat-request.js';
import { fromProviderError, serviceBusy } from '../protocol/errors.js';
import { ProviderError } from '../providers/errors.js';
import type { Principal } from '../auth/keys.js';
import { UpstreamRejected } from '../execution/fast-executor.js';
import { upstreamMs, waitedMs } from '../execution/chain.js';
import { NoRouteError } from '../decision/plan.js';
import { invalidRequest } from '../protocol/errors.js';
import { admit } from './admit.js';
import type { PipelineContext } from './context.js';
import { rejectedByOf, setGatewayHeaders } from './headers.js';
import type { Reply } from './reply.js';
import { settleWhenOver } from './settle.js';
import type { Trail } from './trail.js';

export interface EmbeddingsJob {
  request: EmbeddingsRequest;
  principal: Principal;
  chargeId: string;
  startedAt: number;
  signal: AbortSignal;
  trail: Trail;
}

export async function runEmbeddings(ctx: PipelineContext, job: EmbeddingsJob, reply: Reply): Promise<void> {
  const { request, trail } = job;
  const attempts = (trail.attempts = []);
  trail.alias = request.model;
  trail.chargeId = job.chargeId;
  const estimate = Math.ceil(JSON.stringify(request.input).length / 4);
  const settleAdmission = await admit(ctx, job.principal, request.model, estimate);
  const run = (async () => {
    const traits = { stream: false, needs: ['embeddings' as const], estimatedInputTokens: estimate };
    let plan;
    try {
      plan = ctx.executor.plan(request.model, traits);
    } catch (err) {
      if (err instanceof NoRouteError) throw invalidRequest(err.message, 'model', err.reason);
      throw err;
    }
    const timing = () => ({ upstreamMs: upstreamMs(attempts), waitedMs: waitedMs(attempts) });
    const outcome = await ctx.executor
      .run(
        plan,
        (adapter, target, s) => {
          if (!adapter.embed) throw new ProviderError({ kind: 'not_found', message: `${target.provider.type} has no embeddings API` });
          return adapter.embed(request, target, { signal: s });
        },
        job.signal,
        attempts,
        { usageOf: (r) => ({ prompt_tokens: r.usage.prompt_tokens, completion_tokens: 0, total_tokens: r.usage.prompt_tokens }) },
      )
      .catch((err) => {
        if (!(err instanceof UpstreamRejected)) throw err;
        setGatewayHeaders(reply, performance.now(), { startedAt: job.startedAt, attempts, timing: timing(), rejectedBy: rejectedByOf(attempts) });
        throw fromProviderError(err.error, err.attempts.at(-1)?.deployment);
      });
    if (outcome.kind === 'catch_all') {
      setGatewayHeaders(reply, performance.now(), { startedAt: job.startedAt, attempts, timing: outcome.timing });
      throw serviceBusy(request.model, outcome.lastError?.kind ?? outcome.reason);
    }
    setGatewayHeaders(reply, performance.now(), {
      startedAt: job.startedAt,
      attempts,
      timing: outcome.timing,
      answeredBy: { deployment: outcome.target.deployment.name, provider: outcome.target.provider.name },
    });
    trail.usage = { inputTokens: outcome.value.usage.prompt_tokens, outputTokens: 0 };
    reply.json(outcome.value);
  })();
  settleWhenOver(reply, run, {
    trail,
    admission: settleAdmission,
    charge: { chargeId: job.chargeId, keyId: ctx.admission ? job.principal.keyId : undefined, tenant: job.principal.tenant, alias: request.model, path: 'fast' },
    ledger: ctx.ledger,
    logger: ctx.logger,
  });
  await run;
}
