/**
 * The request runner: the one orchestration of a chat request, whichever protocol it came in (OpenAI chat,
 * Anthropic messages) and whoever waits for it (an HTTP client, a batch line). Its stages, in order:
 *   admit → route (traits, rules, semantic, plan) → cache → execute (fast executor or workflow) → respond,
 * and settle once the exchange is over. Errors are thrown as HttpErrors in the protocol's terms, after the
 * same `x-gateway-*` headers an answer would carry.
 */
import { CASCADE_HEADER, COST_HEADER, describeCascade, formatUsd } from '../decision/cascade.js';
import { queuedTokensOf } from '../decision/traits.js';
import type { Attempt } from '../decision/attempt.js';
import type { Plan } from '../decision/plan.js';
import type { CascadeConfig } from '../config/cascade-schema.js';
import { runCascadeFast } from '../execution/cascade-run.js';
import { catchAllAnswer } from '../execution/catch-all.js';
import { UpstreamRejected, type RunOutcome, type Timing } from '../execution/fast-executor.js';
import { openStream, type OpenedStream } from '../execution/open-stream.js';
import { runWhole } from '../execution/run-alias.js';
import { upstreamMs, waitedMs } from '../execution/chain.js';
import { costOfAttempts } from '../ledger/price.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import { chunksOf } from '../protocol/chunks-of.js';
import { fromProviderError, serviceBusy } from '../protocol/errors.js';
import type { ProviderError } from '../providers/errors.js';
import { admissionTokens, admit } from './admit.js';
import { cacheBegin, cacheLookup, staleAnswer, storeAnswer, tapStream, type RouteCache } from './cache.js';
import type { PipelineContext } from './context.js';
import type { Dialect } from './dialect.js';
import { runDurable } from './durable.js';
import { headerSafe, rejectedByOf, setGatewayHeaders, type Journey } from './headers.js';
import type { ChatJob } from './job.js';
import type { Reply } from './reply.js';
import { routeLabel, routeRequest, type Routed } from './route.js';
import { settleWhenOver } from './settle.js';
import { writeSse } from './sse.js';

/** Runs one chat request to its answer in `dialect`, and settles it once the exchange is over. */
export async function runChat(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect): Promise<void> {
  const { request, trail } = job;
  Object.assign(trail, { alias: request.model, stream: !!request.stream, attempts: [] as Attempt[], ...(!job.durable && job.chargeId && { chargeId: job.chargeId }) });
  const settleAdmission = await admit(ctx, job.principal, request.model, admissionTokens(request));
  const run = (async () => {
    // the cache's embedding runs on the model's thread while the request is routed
    const begun = cacheBegin(ctx, job);
    // a durable answer is replayed as chunks, so its plan needs no streaming deployment
    const routed = await routeRequest(ctx, job.durable ? { ...request, stream: false } : request, { tags: job.tags, hint: job.routeHint, signal: job.signal, tenant: job.principal.tenant });
    const label = routeLabel(routed);
    trail.route = label;
    reply.header('x-gateway-routed-by', headerSafe(label.rule ? `${label.strategy}:${label.rule}` : label.strategy));
    const cached = await cacheLookup(ctx, job, reply, begun);
    if (cached.hit) return answerFromCache(cached.hit, job, reply, dialect, ctx);
    if (job.durable) return runDurable(ctx, job, reply, dialect, routed, cached.route);
    return runFast(ctx, job, reply, dialect, routed, cached.route);
  })();
  // Settled when both are done: the client got its answer (or left) and every attempt has its price.
  settleWhenOver(reply, run, {
    trail,
    admission: settleAdmission,
    ...(!job.durable && job.chargeId && { charge: { chargeId: job.chargeId, keyId: ctx.admission ? job.principal.keyId : undefined, tenant: job.principal.tenant, alias: request.model, path: 'fast' } }),
    ledger: ctx.ledger,
    logger: ctx.logger,
  });
  await run;
}

async function answerFromCache(completion: ChatCompletion, job: ChatJob, reply: Reply, dialect: Dialect, ctx: PipelineContext): Promise<void> {
  setGatewayHeaders(reply, performance.now(), { startedAt: job.startedAt, attempts: [], timing: { upstreamMs: 0, waitedMs: 0 } });
  if (completion.usage) job.trail.usage = { inputTokens: completion.usage.prompt_tokens, outputTokens: completion.usage.completion_tokens };
  await respond(ctx, job, reply, dialect, completion);
}

/** A whole answer in the form the client asked for: JSON, or (a cascade's, a cached or catch-all one) replayed as a stream. */
async function respond(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect, completion: ChatCompletion): Promise<void> {
  if (job.request.stream) {
    await writeSse({ head: chunksOf(completion) }, { reply, trail: job.trail, encoder: dialect.stream(), signal: job.signal, logger: ctx.logger });
    return;
  }
  reply.json(dialect.completion(completion));
}

function runFast(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect, routed: Routed, cache?: RouteCache): Promise<void> {
  if (routed.kind === 'cascade') return cascadeFast(ctx, job, reply, dialect, routed.cascade, cache);
  if (job.request.stream) return streamFast(ctx, job, reply, dialect, routed.plan, cache);
  return completeFast(ctx, job, reply, dialect, routed.plan, cache);
}

/** Headers, then the error of a chain that ended with the client's own fault or with nothing left. */
function failWithHeaders(reply: Reply, job: ChatJob, timing: Timing, err: unknown): never {
  if (err instanceof UpstreamRejected) {
    setGatewayHeaders(reply, performance.now(), { startedAt: job.startedAt, attempts: err.attempts, timing, rejectedBy: rejectedByOf(err.attempts) });
    throw fromProviderError(err.error, err.attempts.at(-1)?.deployment);
  }
  throw err;
}

/** Every provider failed: the catch-all's answer (stale cache, preset), or the clean "service busy". */
async function catchAll(
  ctx: PipelineContext,
  job: ChatJob,
  reply: Reply,
  outcome: { presetAnswer?: string; reason: string; lastError?: ProviderError },
  timing: Timing,
  cache?: RouteCache,
): Promise<ChatCompletion> {
  const answer = await catchAllAnswer({
    alias: job.request.model,
    presetAnswer: outcome.presetAnswer,
    stale: async () => {
      const completion = await staleAnswer(cache, { trail: job.trail, reply }, job.signal);
      return completion && { completion };
    },
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  // only an answer given by the catch-all makes the request a catch-all one; without one it failed
  job.trail.catchAll = !!answer;
  setGatewayHeaders(reply, performance.now(), { startedAt: job.startedAt, attempts: job.trail.attempts!, timing, catchAll: !!answer });
  if (!answer) throw serviceBusy(job.request.model, outcome.lastError ? `last error: ${outcome.lastError.kind}` : outcome.reason);
  return answer.completion;
}

function answeredJourney(job: ChatJob, outcome: Extract<RunOutcome<unknown>, { kind: 'answered' }>): Journey {
  return {
    startedAt: job.startedAt,
    attempts: outcome.attempts,
    timing: outcome.timing,
    answeredBy: { deployment: outcome.target.deployment.name, provider: outcome.target.provider.name },
  };
}

async function completeFast(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect, plan: Plan, cache?: RouteCache) {
  const attempts = job.trail.attempts!;
  const outcome = await runWhole(executionOf(ctx, job), job.request, plan, job.signal, attempts).catch((err) => failWithHeaders(reply, job, { upstreamMs: upstreamMs(attempts), waitedMs: waitedMs(attempts) }, err));
  if (outcome.kind === 'catch_all') {
    const answer = await catchAll(ctx, job, reply, outcome, outcome.timing, cache);
    reply.json(dialect.completion(answer));
    return;
  }
  noteUsage(job, outcome.value);
  reply.header(COST_HEADER, formatUsd(costOfAttempts(attempts)));
  setGatewayHeaders(reply, performance.now(), answeredJourney(job, outcome));
  reply.json(dialect.completion(outcome.value));
  storeAnswer(cache, outcome.value);
}

function executionOf(ctx: PipelineContext, job: ChatJob) {
  return { executor: ctx.executor, ...(job.aroundCall && { aroundCall: job.aroundCall }) };
}

function noteUsage(job: ChatJob, completion: ChatCompletion): void {
  const u = completion.usage;
  if (u) job.trail.usage = { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens };
}

async function streamFast(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect, plan: Plan, cache?: RouteCache) {
  const attempts = job.trail.attempts!;
  const outcome = await ctx.executor
    .run(plan, (adapter, target, s) => openStream(adapter, job.request, target, s), job.signal, attempts, { streaming: true, queuedTokens: queuedTokensOf(job.request) })
    .catch((err) => failWithHeaders(reply, job, { upstreamMs: upstreamMs(attempts), waitedMs: waitedMs(attempts) }, err));
  let opened: OpenedStream;
  let answering: Attempt | undefined;
  if (outcome.kind === 'catch_all') {
    opened = { head: chunksOf(await catchAll(ctx, job, reply, outcome, outcome.timing, cache)) };
  } else {
    setGatewayHeaders(reply, performance.now(), answeredJourney(job, outcome));
    opened = tapStream(cache, { ...outcome.value, settle: outcome.settle });
    answering = attempts.at(-1);
  }
  const usage = await writeSse(opened, { reply, trail: job.trail, encoder: dialect.stream(), signal: job.signal, logger: ctx.logger, ...(answering && { answering }) });
  if (usage) job.trail.usage = { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens };
}

/**
 * A cascade alias: cheap stages first, escalating while evaluators reject. Nothing reaches the client before
 * an answer is accepted, so a streaming client gets the accepted answer replayed as chunks.
 */
async function cascadeFast(ctx: PipelineContext, job: ChatJob, reply: Reply, dialect: Dialect, cascade: CascadeConfig, cache?: RouteCache) {
  const attempts = job.trail.attempts!;
  const timing = () => ({ upstreamMs: upstreamMs(attempts), waitedMs: waitedMs(attempts) });
  const plan = async (request: ChatRequest) => {
    const routed = await routeRequest(ctx, request, { tags: job.tags, hint: job.routeHint, signal: job.signal, semantic: false });
    if (routed.kind !== 'plan') throw new Error(`cascade stage '${request.model}' is itself a cascade`);
    return routed.plan;
  };
  const outcome = await runCascadeFast(cascade, job.request, { ...executionOf(ctx, job), config: ctx.config, plan, signal: job.signal, attempts }).catch((err) =>
    failWithHeaders(reply, job, timing(), err),
  );
  if (outcome.kind === 'catch_all') {
    reply.header(CASCADE_HEADER, headerSafe(describeCascade(outcome.failed)));
    const answer = await catchAll(ctx, job, reply, outcome, timing(), cache);
    return respond(ctx, job, reply, dialect, answer);
  }
  const result = outcome.result;
  const chosen = result.stageResults[result.stageIndex]!;
  const answered = chosen.attempts.filter((a) => a.outcome === 'ok').at(-1);
  noteUsage(job, result.completion);
  reply.header(COST_HEADER, formatUsd(costOfAttempts(attempts)));
  reply.header(CASCADE_HEADER, headerSafe(describeCascade(result)));
  reply.header('x-gateway-cascade-stage', headerSafe(result.stage));
  // attempts and fallback level of the answering stage: the escalation itself is told by x-gateway-cascade
  setGatewayHeaders(reply, performance.now(), {
    startedAt: job.startedAt,
    attempts: chosen.attempts,
    timing: timing(),
    ...(answered && { answeredBy: { deployment: answered.deployment, provider: answered.provider } }),
  });
  // stored once the answer is written (or the client left): the accepted answer is whole either way
  try {
    await respond(ctx, job, reply, dialect, result.completion);
  } finally {
    storeAnswer(cache, result.completion, { rejected: chosen.outcome === 'rejected' });
  }
}
