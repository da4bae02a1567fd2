/**
 * The cache stage, as the pipeline uses it: reads the request's `x-gateway-cache` directives, looks up, marks the
 * outcome in the response headers and the request trail, and stores answers once they are known to be whole
 * (a JSON answer when it is sent, a stream only when it reached its end).
 *
 * Response headers: `x-gateway-cache: hit | miss | stale | bypass`, `x-gateway-cache-similarity` on hits.
 * `bypass` is also what a request gets when the cache store failed (or is backing off after a failure): the
 * request goes on to the providers and the outage shows in `llm_gateway_cache_requests_total{result="bypass"}`.
 */
import type { ChatCompletion, ChatCompletionChunk } from '../protocol/chat-response.js';
import { CompletionAccumulator } from '../protocol/accumulate.js';
import type { OpenedStream } from '../execution/open-stream.js';
import type { PipelineContext } from './context.js';
import { invalidRequest } from '../protocol/errors.js';
import type { DurableResult } from '../durable/types.js';
import { CacheControlError, parseCacheControl, type StoreFacts } from '../cache/policy.js';
import type { CacheTicket, SemanticCache } from '../cache/semantic-cache.js';
import type { ChatJob } from './job.js';
import type { Reply } from './reply.js';
import type { Trail } from './trail.js';
import { ownValue } from '../util/own-value.js';

export const CACHE_HEADER = 'x-gateway-cache';
export const SIMILARITY_HEADER = 'x-gateway-cache-similarity';
/** `verified` on a semantic or exact hit; on a miss, why the best candidate above the threshold was refused. */
export const VERDICT_HEADER = 'x-gateway-cache-verdict';

/** The cache and this request's ticket, carried through a route. */
export interface RouteCache {
  cache: SemanticCache;
  ticket: CacheTicket;
}

/** The request's trail and reply, where the cache's outcome is told. */
export interface CacheMarks {
  trail: Trail;
  reply: Reply;
}

function mark(m: CacheMarks, outcome: 'hit' | 'miss' | 'stale' | 'bypass', similarity?: number, verdict?: string): void {
  m.trail.cache = outcome;
  m.reply.header(CACHE_HEADER, outcome);
  if (similarity !== undefined) {
    m.reply.header(SIMILARITY_HEADER, similarity.toFixed(4));
    m.trail.cacheSimilarity = Math.round(similarity * 10_000) / 10_000;
  }
  if (verdict !== undefined) {
    m.reply.header(VERDICT_HEADER, verdict);
    m.trail.cacheVerdict = verdict;
  }
}

/**
 * Starts the request's cache work before it is routed: the ticket, and the embedding its lookup will need, which
 * runs on the model's thread meanwhile (semantic routing of the same text waits for this run). Never throws: a bad
 * `x-gateway-cache` header is the lookup's to refuse.
 */
export function cacheBegin(ctx: PipelineContext, job: ChatJob): RouteCache | undefined {
  const cache = ctx.cache;
  // an unknown alias is refused by routing: nothing to embed for it
  if (!cache || !ownValue(ctx.config.models, job.request.model)) return undefined;
  let route: RouteCache;
  try {
    route = openTicket(cache, job);
  } catch {
    return undefined;
  }
  cache.prefetch(route.ticket, job.signal);
  return route;
}

/** The request's ticket; throws CacheControlError on a bad `x-gateway-cache` header. */
function openTicket(cache: SemanticCache, job: ChatJob): RouteCache {
  const control = parseCacheControl(job.cacheControl, cache.config.maxTtlSeconds);
  return { cache, ticket: cache.ticket(job.request, job.principal.tenant, control) };
}

/** Looks the request up; `hit` is the answer to serve, `route` what the rest of the route passes along. */
export async function cacheLookup(ctx: PipelineContext, job: ChatJob, reply: Reply, begun?: RouteCache): Promise<{ route?: RouteCache; hit?: ChatCompletion }> {
  const cache = ctx.cache;
  if (!cache) return {};
  const m = { trail: job.trail, reply };
  let route = begun;
  try {
    route ??= openTicket(cache, job);
  } catch (err) {
    if (err instanceof CacheControlError) throw invalidRequest(err.message, CACHE_HEADER, 'invalid_value');
    throw err;
  }
  if (route.ticket.bypass) {
    mark(m, 'bypass');
    return { route };
  }
  const hit = await cache.lookup(route.ticket, job.signal);
  if (!hit) {
    const refused = route.ticket.refused;
    mark(m, route.ticket.unavailable ? 'bypass' : 'miss', refused?.similarity, refused?.verdict);
    return { route };
  }
  mark(m, 'hit', hit.similarity, hit.verdict);
  return { route, hit: hit.completion };
}

/**
 * Keeps a finished answer in the background: on the next turn of the event loop, so the response is written
 * first and the store's work (an embedding if the lookup made none, the upsert) is never on the request's time.
 */
export function storeAnswer(route: RouteCache | undefined, completion: ChatCompletion, facts: StoreFacts = {}): void {
  if (!route) return;
  setImmediate(() => void route.cache.store(route.ticket, completion, facts));
}

/** The stream as the client gets it, folded on the side and stored only if it reaches its end. */
export function tapStream(route: RouteCache | undefined, opened: OpenedStream): OpenedStream {
  if (!route || route.ticket.bypass || route.ticket.control.noStore) return opened;
  const acc = new CompletionAccumulator();
  for (const c of opened.head) acc.push(c);
  const rest = opened.rest;
  if (!rest) {
    // The whole answer arrived with its first content; it is stored once the writer has read it all.
    return { ...opened, rest: finishing(acc, route)[Symbol.asyncIterator]() };
  }
  return { ...opened, rest: following(rest, acc, route)[Symbol.asyncIterator]() };
}

async function* finishing(acc: CompletionAccumulator, route: RouteCache): AsyncGenerator<ChatCompletionChunk> {
  storeAnswer(route, acc.result());
}

async function* following(rest: AsyncIterator<ChatCompletionChunk>, acc: CompletionAccumulator, route: RouteCache): AsyncGenerator<ChatCompletionChunk> {
  try {
    for (let next = await rest.next(); !next.done; next = await rest.next()) {
      acc.push(next.value);
      yield next.value;
    }
  } finally {
    // Runs on a clean end, an upstream failure and a client that left alike: the upstream is closed either way.
    await rest.return?.(undefined);
  }
  // Reached only when the upstream ended cleanly and the writer read every chunk.
  storeAnswer(route, acc.result());
}

/** For the catch-all: a stale answer above the catch-all threshold, marked as such. */
export async function staleAnswer(route: RouteCache | undefined, m: CacheMarks, signal: AbortSignal): Promise<ChatCompletion | undefined> {
  if (!route || route.ticket.bypass) return undefined;
  const hit = await route.cache.lookupStale(route.ticket, signal);
  if (!hit) {
    if (route.ticket.unavailable) mark(m, 'bypass');
    return undefined;
  }
  mark(m, 'stale', hit.similarity, hit.verdict);
  return hit.completion;
}

/** A durable answer: a stale one from the worker's catch-all is marked; a provider's answer is stored. */
export function durableCacheOutcome(route: RouteCache | undefined, m: CacheMarks, result: DurableResult): void {
  if (result.catchAll === 'cache') mark(m, 'stale', result.cacheSimilarity, result.cacheVerdict);
  else if (result.outcome !== 'catch_all') storeAnswer(route, result.completion);
}
