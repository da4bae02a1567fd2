/**
 * POST /v1/chat/completions on the fast path, sync and SSE.
 *
 * Streams commit to the client only when the first content arrives (see fastpath/stream.ts). A failure after
 * that point ends the stream with an OpenAI-style `data: {"error": ...}` event and no `[DONE]`: the OpenAI SDKs
 * raise it as an APIError. We do not splice another deployment's answer onto a half-sent one, because the
 * client would receive text no single model wrote, with no way to tell.
 */
import type { Request, Response } from 'express';
import { once } from 'node:events';
import { chatRequestSchema, type ChatRequest } from '../../protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk, Usage } from '../../protocol/chat-response.js';
import { sseData } from '../../protocol/sse.js';
import { queuedTokensOf, requestTraits, type RequestTraits } from '../../decision/traits.js';
import { withInputTokens } from '../../decision/input-tokens.js';
import { tagsOf, type RuleMatch } from '../../decision/capability.js';
import { CASCADE_HEADER, COST_HEADER, describeCascade, formatUsd } from '../../decision/cascade.js';
import { runCascadeFast } from '../../fastpath/cascade-run.js';
import { semanticMatch } from '../../routing/semantic-match.js';
import { parseRouteHint, ROUTE_HINT_HEADER, type RouteHint } from '../../decision/route-hints.js';
import { NoRouteError, type Plan } from '../../decision/plan.js';
import { presetCompletion } from '../../fastpath/catch-all.js';
import { cacheLookup, durableCacheOutcome, staleAnswer, storeAnswer, tapStream, type RouteCache } from '../../cache/serve.js';
import type { RunOutcome } from '../../fastpath/executor.js';
import { openStream, type OpenedStream } from '../../fastpath/stream.js';
import { ProviderError } from '../../providers/errors.js';
import type { AppContext } from '../context.js';
import { fromZodError, invalidRequest, modelNotFound, serviceBusy } from '../../protocol/errors.js';
import { setGatewayHeaders } from '../gateway-headers.js';
import { trailOf } from '../request-log.js';
import { admitRequest, reportUsage } from '../admission.js';
import { assertModelAllowed } from '../auth.js';
import { costUsd } from '../../decision/cost.js';
import { tenantOf } from '../tenant.js';
import { chunksOf } from '../../protocol/chunks-of.js';
import { attemptsOfWorkflowError, httpErrorOfWorkflow } from './durable-errors.js';
import { idempotencyKeyOf, requireDurable } from './requests.js';
import { clientAbortSignal, requestStart } from '../request-scope.js';

export function parseChatRequest(body: unknown): ChatRequest {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

/** What routing needs to know of a request: its needs, size (tokenizer-counted where it matters) and task tags. */
export function traitsOf(ctx: AppContext, request: ChatRequest, req: Request): RequestTraits {
  const traits = requestTraits(request, tagsOf(req.headers, request.metadata));
  return ctx.config.models[request.model] ? withInputTokens(ctx.config, request, traits) : traits;
}

/** A client's routing wishes from headers: task tags and an `x-gateway-route` hint (a bad hint is a 400). */
export interface RoutingHeaders {
  tags: string[];
  routeHint?: RouteHint;
}

export function routingHeadersOf(req: Request): RoutingHeaders {
  const parsed = parseRouteHint(req.headers[ROUTE_HINT_HEADER]);
  if (!parsed.ok) throw invalidRequest(parsed.error, ROUTE_HINT_HEADER, 'invalid_route_hint');
  return { tags: tagsOf(req.headers, undefined), ...(parsed.hint && { routeHint: parsed.hint }) };
}

/** The plan for an alias, or the client-facing 404/400 when there is none. */
export function planFor(ctx: AppContext, alias: string, traits: RequestTraits, hint?: RouteHint, semantic?: RuleMatch): Plan {
  if (!ctx.config.models[alias]) throw modelNotFound(alias);
  try {
    return ctx.executor.plan(alias, traits, { hint: hint ?? null, ...(semantic && { semantic }) });
  } catch (err) {
    if (err instanceof NoRouteError) throw invalidRequest(err.message, 'model', err.reason);
    throw err;
  }
}

/** How a committed stream is written in the client's protocol. */
export interface StreamEncoder {
  /** The wire text for one chunk; '' writes nothing. */
  chunk(chunk: ChatCompletionChunk): string;
  /** The clean end of the stream. */
  end(): string;
  /** The in-band error that ends a stream whose output already began. */
  error(failure: ProviderError | undefined): string;
}

/** How answers are spelled for the client: OpenAI's shape here; routes for other protocols bring their own. */
export interface Dialect {
  completion(c: ChatCompletion): unknown;
  stream(): StreamEncoder;
}

function openAIStream(includeUsage: boolean): StreamEncoder {
  return {
    chunk(chunk) {
      if (chunk.choices.length === 0 && !includeUsage) return '';
      if (!includeUsage) delete chunk.usage;
      return sseData(chunk);
    },
    end: () => 'data: [DONE]\n\n',
    error: (failure) =>
      sseData({
        error: {
          message: `The upstream stream was interrupted after output began (${failure?.kind ?? 'internal error'}); the answer is incomplete.`,
          type: 'server_error',
          param: null,
          code: 'stream_interrupted',
        },
      }),
  };
}

function openAIDialect(request: ChatRequest): Dialect {
  return { completion: (c) => c, stream: () => openAIStream(request.stream_options?.include_usage === true) };
}

export function chatCompletionsHandler(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const request = parseChatRequest(req.body);
    await serveChat(ctx, request, req, res, openAIDialect(request));
  };
}

/** Routes and runs a canonical request (fast path or durable, sync or stream) and answers in `dialect`. */
export async function serveChat(ctx: AppContext, request: ChatRequest, req: Request, res: Response, dialect: Dialect): Promise<void> {
  const traits = traitsOf(ctx, request, req);
  const routing = routingHeadersOf(req);
  const cascade = ctx.config.models[request.model]?.cascade;
  const signal = clientAbortSignal(req, res);
  // A cascade plans each stage as it reaches it; anything else is planned (and refused if impossible) up front.
  const semantic = cascade ? undefined : await semanticMatch(ctx.semantic, ctx.config, request, signal);
  const plan = cascade ? undefined : planFor(ctx, request.model, traits, routing.routeHint, semantic);
  const route = plan ? { strategy: plan.route.strategy, ...(plan.route.rule && { rule: plan.route.rule }) } : { strategy: 'cascade' };
  // recorded before admission, so refusals (403, 429) are in the logs and metrics too
  Object.assign(trailOf(res), { alias: request.model, stream: !!request.stream, attempts: [], route });
  await admit(ctx, req, res, request.model, traits);
  res.setHeader('x-gateway-routed-by', headerSafe(route.rule ? `${route.strategy}:${route.rule}` : route.strategy));
  const cached = await cacheLookup(ctx, request, req, res, signal);
  if (cached.hit) await answerFromCache(ctx, cached.hit, request, req, res, signal, dialect);
  else if (wantsDurable(req)) await durableChat(ctx, request, routing, req, res, signal, dialect, cached.route);
  else if (cascade) await cascadeChat(ctx, request, routing, req, res, signal, dialect, cached.route);
  else if (request.stream) await streamChat(ctx, request, plan!, req, res, signal, dialect, cached.route);
  else await completeChat(ctx, request, plan!, req, res, signal, dialect, cached.route);
}

/** Header values must be latin-1; rule and route names come from config and may not be. */
function headerSafe(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?');
}

/**
 * A cascade alias: cheap stages first, escalating while evaluators reject. Nothing reaches the client before
 * an answer is accepted, so a streaming client gets the accepted answer replayed as chunks.
 */
async function cascadeChat(
  ctx: AppContext,
  request: ChatRequest,
  routing: RoutingHeaders,
  req: Request,
  res: Response,
  signal: AbortSignal,
  dialect: Dialect,
  cache?: RouteCache,
) {
  const trail = trailOf(res);
  const cascade = ctx.config.models[request.model]!.cascade!;
  const tags = tagsOf(req.headers, request.metadata);
  const start = requestStart(req);
  const outcome = await runCascadeFast(cascade, request, { config: ctx.config, executor: ctx.executor, tags, hint: routing.routeHint, signal, attempts: trail.attempts! });
  if (outcome.kind === 'catch_all') {
    const answer = await catchAllAnswer(outcome, request.model, res, signal, cache);
    setGatewayHeaders(res, start, performance.now(), trail.attempts!, upstreamTiming(trail.attempts!), undefined, true);
    res.setHeader(CASCADE_HEADER, headerSafe(describeCascade(outcome.failed)));
    if (request.stream) return writeSse(ctx, res, { head: chunksOf(answer) }, dialect.stream(), signal);
    res.json(dialect.completion(answer));
    return;
  }
  const result = outcome.result;
  const chosen = result.stageResults[result.stageIndex]!;
  const answered = chosen.attempts.filter((a) => a.outcome === 'ok').at(-1);
  chargeAnswer(res, result.completion.usage, result.totalCostUsd);
  res.setHeader(CASCADE_HEADER, headerSafe(describeCascade(result)));
  res.setHeader('x-gateway-cascade-stage', headerSafe(result.stage));
  const by = answered ? { deployment: answered.deployment, provider: answered.provider } : undefined;
  // attempts and fallback level of the answering stage: the escalation itself is told by x-gateway-cascade
  setGatewayHeaders(res, start, performance.now(), chosen.attempts, upstreamTiming(trail.attempts!), by);
  storeAnswer(cache, result.completion, { rejected: chosen.outcome === 'rejected' });
  if (request.stream) return writeSse(ctx, res, { head: chunksOf(result.completion) }, dialect.stream(), signal);
  res.json(dialect.completion(result.completion));
}

function upstreamTiming(attempts: readonly { latencyMs: number }[]) {
  return { upstreamMs: attempts.reduce((n, a) => n + a.latencyMs, 0), waitedMs: 0 };
}

/** A cached answer, in the form the client asked for (JSON or a stream, in its dialect). */
async function answerFromCache(ctx: AppContext, completion: ChatCompletion, request: ChatRequest, req: Request, res: Response, signal: AbortSignal, dialect: Dialect) {
  setGatewayHeaders(res, requestStart(req), performance.now(), [], { upstreamMs: 0, waitedMs: 0 });
  if (request.stream) return writeSse(ctx, res, { head: chunksOf(completion) }, dialect.stream(), signal);
  recordUsage(ctx, res, undefined, completion.usage);
  res.json(dialect.completion(completion));
}

/** The key may use this alias and is within its limits (or a 403/429 is thrown). */
export async function admit(ctx: AppContext, req: Request, res: Response, alias: string, traits: RequestTraits): Promise<void> {
  assertModelAllowed(req, alias);
  await admitRequest(ctx.admission, req, res, traits.estimatedInputTokens + (traits.maxOutputTokens ?? 0), (err) =>
    ctx.logger.error({ err }, 'settling a request against its limits failed'),
  );
}

/** What the answer used and cost, for the key's limits, the logs and (when headers are still open) the client. */
export function recordUsage(ctx: AppContext, res: Response, deployment: string | undefined, usage: Usage | null | undefined): void {
  if (!usage) return;
  const price = deployment ? ctx.config.deployments[deployment]?.price : undefined;
  const cost = price ? costUsd(usage, price) : 0;
  // the answering attempt carries its cost too, as in a cascade's trail
  const answering = trailOf(res).attempts?.at(-1);
  if (answering?.outcome === 'ok' && answering.deployment === deployment) answering.costUsd = cost;
  chargeAnswer(res, usage, cost);
}

/**
 * Charges an answer: its usage and cost go to the request's trail (logs, metrics), to the key's limits, and
 * while headers are open to the client. A cascade's cost is that of every stage and judge it called.
 */
function chargeAnswer(res: Response, usage: Usage | null | undefined, cost: number): void {
  const trail = trailOf(res);
  trail.costUsd = cost;
  if (usage) trail.usage = { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens };
  reportUsage(res, { tokens: usage ? (usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens) : 0, costUsd: cost });
  if (!res.headersSent) res.setHeader(COST_HEADER, formatUsd(cost));
}

/** Every provider failed: a stale answer from the cache (its catch-all threshold), else the preset answer, else a 503. */
async function catchAllAnswer(outcome: Pick<Extract<RunOutcome<unknown>, { kind: 'catch_all' }>, 'presetAnswer' | 'reason' | 'lastError'>, alias: string, res: Response, signal: AbortSignal, cache?: RouteCache): Promise<ChatCompletion> {
  trailOf(res).catchAll = true;
  const stale = await staleAnswer(cache, res, signal);
  if (stale) return stale;
  if (outcome.presetAnswer !== undefined) return presetCompletion(alias, outcome.presetAnswer, Math.floor(Date.now() / 1000));
  throw serviceBusy(alias, outcome.lastError ? `last error: ${outcome.lastError.kind}` : outcome.reason);
}

async function completeChat(ctx: AppContext, request: ChatRequest, plan: Plan, req: Request, res: Response, signal: AbortSignal, dialect: Dialect, cache?: RouteCache) {
  const trail = trailOf(res);
  const outcome = await ctx.executor.run(plan, (adapter, target, s) => adapter.complete(request, target, { signal: s }), signal, trail.attempts, {
    outputTokensOf: (c) => c.usage?.completion_tokens,
    queuedTokens: queuedTokensOf(request),
  });
  const start = requestStart(req);
  if (outcome.kind === 'catch_all') {
    const answer = await catchAllAnswer(outcome, request.model, res, signal, cache);
    setGatewayHeaders(res, start, performance.now(), outcome.attempts, outcome.timing, undefined, true);
    res.json(dialect.completion(answer));
    return;
  }
  recordUsage(ctx, res, outcome.target.deployment.name, outcome.value.usage);
  const body = JSON.stringify(dialect.completion(outcome.value));
  setGatewayHeaders(res, start, performance.now(), outcome.attempts, outcome.timing, {
    deployment: outcome.target.deployment.name,
    provider: outcome.target.provider.name,
  });
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(body);
  storeAnswer(cache, outcome.value);
}

async function streamChat(ctx: AppContext, request: ChatRequest, plan: Plan, req: Request, res: Response, signal: AbortSignal, dialect: Dialect, cache?: RouteCache) {
  const trail = trailOf(res);
  const outcome = await ctx.executor.run(plan, (adapter, target, s) => openStream(adapter, request, target, s), signal, trail.attempts, { streaming: true, queuedTokens: queuedTokensOf(request) });
  const start = requestStart(req);
  let opened: OpenedStream;
  if (outcome.kind === 'catch_all') {
    const answer = await catchAllAnswer(outcome, request.model, res, signal, cache);
    setGatewayHeaders(res, start, performance.now(), outcome.attempts, outcome.timing, undefined, true);
    opened = { head: chunksOf(answer) };
  } else {
    setGatewayHeaders(res, start, performance.now(), outcome.attempts, outcome.timing, {
      deployment: outcome.target.deployment.name,
      provider: outcome.target.provider.name,
    });
    opened = tapStream(cache, { ...outcome.value, settle: outcome.settle });
  }
  await writeSse(ctx, res, opened, dialect.stream(), signal, outcome.kind === 'answered' ? outcome.target.deployment.name : undefined);
}

/** Writes a committed stream to the client; a failure after output ends it with an error event, never a clean end. */
export async function writeSse(ctx: AppContext, res: Response, opened: OpenedStream, encoder: StreamEncoder, signal: AbortSignal, deployment?: string) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let outputTokens: number | undefined;
  const forward = async (chunk: ChatCompletionChunk) => {
    if (chunk.usage) {
      outputTokens = chunk.usage.completion_tokens;
      recordUsage(ctx, res, deployment, chunk.usage);
    }
    const text = encoder.chunk(chunk);
    if (text && !res.write(text) && !res.destroyed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };
  try {
    for (const chunk of opened.head) await forward(chunk);
    // Node corks a response's socket until the next tick; when the upstream sent a burst, the loop below would
    // otherwise run in microtasks and hold the first token back until the whole burst is re-encoded.
    await new Promise<void>((resolve) => process.nextTick(resolve));
    if (opened.rest) {
      for (let next = await opened.rest.next(); !next.done; next = await opened.rest.next()) {
        if (res.destroyed) break;
        await forward(next.value);
      }
    }
    if (!res.destroyed) res.end(encoder.end());
    // a client that left early says nothing about the deployment
    opened.settle?.(res.destroyed && signal.aborted ? { ok: false } : { ok: true, outputTokens });
  } catch (err) {
    const failure = err instanceof ProviderError ? err : undefined;
    opened.settle?.({ ok: false, kind: signal.aborted ? undefined : failure?.kind ?? 'server' });
    if (signal.aborted) return;
    if (failure) failure.afterOutput = true;
    ctx.logger.warn(
      { deployment, kind: failure?.kind, err: failure ? undefined : err },
      'stream failed after output was sent; ending it with an error event',
    );
    res.end(encoder.error(failure));
  } finally {
    // Closes the upstream generator (and so its socket) when the client left before the end.
    await opened.rest?.return?.(undefined).catch(() => undefined);
  }
}

/** `x-gateway-durable: true` (or `1`) runs the call as a workflow and answers when it ends. */
export function wantsDurable(req: Request): boolean {
  const v = req.get('x-gateway-durable');
  return v === 'true' || v === '1';
}

/**
 * The durable path for a plain OpenAI client. If the client goes away the workflow keeps running (that is the
 * point of durability); a retry with the same Idempotency-Key finds the same request and its result.
 */
async function durableChat(
  ctx: AppContext,
  request: ChatRequest,
  routing: RoutingHeaders,
  req: Request,
  res: Response,
  signal: AbortSignal,
  dialect: Dialect,
  cache?: RouteCache,
) {
  const durable = requireDurable(ctx);
  let run;
  try {
    const opts = { tenant: tenantOf(req), requestId: String(res.getHeader('x-request-id')), idempotencyKey: idempotencyKeyOf(req), ...routing };
    run = await durable.run(request, opts, signal);
  } catch (err) {
    trailOf(res).attempts = attemptsOfWorkflowError(err) ?? [];
    throw httpErrorOfWorkflow(err, request.model) ?? err;
  }
  const { id, result } = run;
  const trail = trailOf(res);
  trail.attempts = result.attempts;
  trail.catchAll = result.outcome === 'catch_all';
  durableCacheOutcome(cache, res, result);
  res.setHeader('x-gateway-request-id', id);
  if (result.costUsd !== undefined) {
    // a cascade: every stage and judge it called counts, not only the answering deployment
    chargeAnswer(res, result.completion.usage, result.costUsd);
    if (result.cascade) res.setHeader(CASCADE_HEADER, headerSafe(result.cascade));
  } else if (!request.stream) recordUsage(ctx, res, result.deployment, result.completion.usage);
  setGatewayHeaders(
    res,
    requestStart(req),
    performance.now(),
    result.attempts,
    upstreamTiming(result.attempts),
    result.deployment && result.provider ? { deployment: result.deployment, provider: result.provider } : undefined,
    trail.catchAll,
  );
  if (request.stream) {
    await writeSse(ctx, res, { head: chunksOf(result.completion) }, dialect.stream(), signal, result.deployment);
    return;
  }
  res.json(dialect.completion(result.completion));
}
