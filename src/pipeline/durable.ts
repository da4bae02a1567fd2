/**
 * The execute stage on the durable path: the request as a workflow, planned here once (the worker uses the
 * plan it is given). `x-gateway-durable: true` waits for the end and answers like the fast path; if the client
 * goes away the workflow keeps running (that is the point of durability) and the worker still charges it. A
 * retry with the same Idempotency-Key finds the same request and its result. POST /v1/requests answers at once.
 * A stream on a plain alias is live: chunks flow as the provider sends them, resumable (durable-stream.ts).
 */
import { CASCADE_HEADER, COST_HEADER, formatUsd } from '../decision/cascade.js';
import { upstreamMs, waitedMs } from '../execution/chain.js';
import { requestIdOfFailure } from '../durable/errors.js';
import type { DurableRequests, SubmitOptions } from '../durable/requests.js';
import { routingSlice } from '../durable/routing-slice.js';
import { costOfAttempts } from '../ledger/price.js';
import { HttpError } from '../protocol/errors.js';
import { durableCacheOutcome, type RouteCache } from './cache.js';
import type { PipelineContext } from './context.js';
import type { Dialect } from './dialect.js';
import { attemptsOfWorkflowError, httpErrorOfWorkflow, isUpstreamRejection } from './durable-errors.js';
import { headerSafe, rejectedByOf, setGatewayHeaders } from './headers.js';
import type { ChatJob } from './job.js';
import type { Reply } from './reply.js';
import type { Routed } from './route.js';
import { writeSse } from './sse.js';
import { chunksOf } from '../protocol/chunks-of.js';
import type { DurableResult } from '../durable/types.js';
import type { StreamLog, StreamProtocol } from '../streams/stream-log.js';
import { followDurable } from './durable-stream.js';

export function requireDurable(ctx: PipelineContext): DurableRequests {
  if (!ctx.durable) throw new HttpError(501, 'The durable path is not enabled on this gateway', 'invalid_request_error', 'durable_disabled');
  return ctx.durable;
}

/** What the workflow is started with: the plan made here (none for a cascade, whose stages are planned as reached). */
export function submitOptions(ctx: PipelineContext, job: ChatJob, routed: Routed): SubmitOptions {
  return {
    tenant: job.principal.tenant,
    requestId: job.requestId,
    idempotencyKey: job.idempotencyKey,
    tags: job.tags,
    ...(job.routeHint && { routeHint: job.routeHint }),
    // the worker charges durable work, whether or not the client stays for the answer
    ...(ctx.admission && { chargeTo: job.principal.keyId }),
    ...(routed.kind === 'plan' && { plan: routed.plan, routing: routingSlice(ctx.config, routed.plan) }),
  };
}

export async function runDurable(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect, routed: Routed, cache?: RouteCache): Promise<void> {
  const durable = requireDurable(ctx);
  const { trail } = job;
  const start = (extra: Partial<SubmitOptions> = {}) => durable.run(job.request, { ...submitOptions(ctx, job, routed), ...extra }, job.signal, (id) => (trail.durableId = id));
  const live = job.request.stream && ctx.streamLog && routed.kind === 'plan' ? dialect.live : undefined;
  if (live) return streamLive(ctx, ctx.streamLog!, job, reply, { ...dialect, live }, cache, start);
  let run;
  try {
    run = await start();
  } catch (err) {
    throw failedRun(job, reply, err);
  }
  const { id, result } = run;
  answeredHeaders(job, reply, id, result, cache);
  if (job.request.stream) {
    await writeSse({ head: chunksOf(result.completion) }, { reply, trail, encoder: dialect.stream(), signal: job.signal, logger: ctx.logger });
    return;
  }
  reply.json(dialect.completion(result.completion));
}

/** The error a failed run answers with (headers set while the head is open), or what it threw. */
function failedRun(job: ChatJob, reply: Reply, err: unknown): unknown {
  const attempts = attemptsOfWorkflowError(err) ?? [];
  job.trail.attempts = attempts;
  const failed = err instanceof HttpError ? err : httpErrorOfWorkflow(err, job.request.model);
  if (!failed) return err;
  const id = requestIdOfFailure(err) ?? job.trail.durableId;
  if (id) reply.header('x-gateway-request-id', id);
  setGatewayHeaders(reply, performance.now(), {
    startedAt: job.startedAt,
    attempts,
    timing: { upstreamMs: upstreamMs(attempts), waitedMs: waitedMs(attempts) },
    ...(isUpstreamRejection(err) && { rejectedBy: rejectedByOf(attempts) }),
  });
  return failed;
}

/** The trail and (while the head is open) the headers of an answered request. */
function answeredHeaders(job: ChatJob, reply: Reply, id: string, result: DurableResult, cache?: RouteCache): void {
  const { trail } = job;
  trail.attempts = result.attempts;
  trail.catchAll = result.outcome === 'catch_all';
  durableCacheOutcome(cache, { trail, reply }, result);
  reply.header('x-gateway-request-id', id);
  reply.header(COST_HEADER, formatUsd(costOfAttempts(result.attempts)));
  if (result.cascade) reply.header(CASCADE_HEADER, headerSafe(result.cascade));
  const u = result.completion.usage;
  if (u) trail.usage = { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens };
  setGatewayHeaders(reply, performance.now(), {
    startedAt: job.startedAt,
    attempts: result.attempts,
    timing: { upstreamMs: upstreamMs(result.attempts), waitedMs: waitedMs(result.attempts) },
    ...(result.deployment && result.provider && { answeredBy: { deployment: result.deployment, provider: result.provider } }),
    catchAll: trail.catchAll,
  });
}

/**
 * A live durable stream (durable-stream.ts): the head goes out with the first chunk, so it carries the request
 * id but not what only the end knows (cost, who answered); the request log gets those from the result.
 */
async function streamLive(
  ctx: PipelineContext,
  log: StreamLog,
  job: ChatJob,
  reply: Reply,
  dialect: Dialect & { live: StreamProtocol },
  cache: RouteCache | undefined,
  start: (extra: Partial<SubmitOptions>) => Promise<{ id: string; result: DurableResult }>,
): Promise<void> {
  const { follow, result, failed } = await followDurable(ctx, log, job, reply, dialect, async (beforeStart) => (await start({ beforeStart })).result);
  if (failed !== undefined && !reply.committed) throw failedRun(job, reply, failed);
  if (result) answeredHeaders(job, reply, job.trail.durableId ?? '', result, cache);
  if (follow.restarts > 0) ctx.logger.info({ requestId: job.requestId, durableId: job.trail.durableId, restarts: follow.restarts }, 'durable stream restarted its answer in-band');
}
