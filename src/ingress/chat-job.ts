/** What the ingress reads around a chat request (key, headers, arrival), handed to the pipeline as a job. */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { tagsOf } from '../decision/capability.js';
import { parseRouteHint, ROUTE_HINT_HEADER } from '../decision/route-hints.js';
import type { ChatJob } from '../pipeline/job.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import { invalidRequest } from '../protocol/errors.js';
import { CACHE_HEADER } from '../pipeline/cache.js';
import { principalOf } from './auth.js';
import { trailOf } from './request-log.js';
import { clientAbortSignal, requestStart } from './request-scope.js';

/** `x-gateway-durable: true` (or `1`) runs the call as a workflow and answers when it ends. */
export function wantsDurable(req: Request): boolean {
  const v = req.get('x-gateway-durable');
  return v === 'true' || v === '1';
}

/**
 * What makes a repeated durable call find the same request: the Idempotency-Key, else an `x-request-id` the client
 * sent (request-scope echoes it only when well-formed; one the gateway generated is no key, it names nothing
 * the client could repeat).
 */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) {
    const rid = req.get('x-request-id');
    return rid && rid === req.res?.getHeader('x-request-id') ? `x-request-id:${rid}` : undefined;
  }
  if (key.length === 0 || key.length > 255) throw invalidRequest('Idempotency-Key must be 1 to 255 characters', 'Idempotency-Key', 'invalid_idempotency_key');
  return key;
}

export function chatJobOf(request: ChatRequest, req: Request, res: Response, durable = wantsDurable(req)): ChatJob {
  const hint = parseRouteHint(req.headers[ROUTE_HINT_HEADER]);
  if (!hint.ok) throw invalidRequest(hint.error, ROUTE_HINT_HEADER, 'invalid_route_hint');
  return {
    request,
    principal: principalOf(req),
    tags: tagsOf(req.headers, undefined),
    ...(hint.hint && { routeHint: hint.hint }),
    cacheControl: req.get(CACHE_HEADER),
    durable,
    ...(durable && { idempotencyKey: idempotencyKeyOf(req) }),
    requestId: String(res.getHeader('x-request-id')),
    chargeId: `http:${randomUUID()}`,
    startedAt: requestStart(req),
    signal: clientAbortSignal(req, res),
    trail: trailOf(res),
  };
}
