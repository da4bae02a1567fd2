/**
 * The durable request API:
 *   POST   /v1/requests        a chat completion request, run as a workflow; 202 with its id
 *   GET    /v1/requests/{id}   status, attempts, and the result in OpenAI's shape; `?wait=30s` long-polls
 *   DELETE /v1/requests/{id}   cancels it (the running provider call is aborted)
 * An `Idempotency-Key` header makes a repeated submission return the same request; without one, the client's
 * own `x-request-id` does (per tenant, in separate namespaces).
 */
import type { Request, Response } from 'express';
import { IdempotencyConflict, RequestNotFound, type DurableRequests, type RequestView } from '../../durable/requests.js';
import { TemporalUnavailable } from '../../durable/connection.js';
import type { AppContext } from '../context.js';
import { HttpError, invalidRequest } from '../../protocol/errors.js';
import { tenantOf } from '../tenant.js';
import { principalOf } from '../auth.js';
import { admit, parseChatRequest, planFor, routingHeadersOf, traitsOf } from './chat.js';
import { trailOf } from '../request-log.js';

const MAX_WAIT_MS = 60_000;

export function requireDurable(ctx: AppContext): DurableRequests {
  if (!ctx.durable) throw new HttpError(501, 'The durable path is not enabled on this gateway', 'invalid_request_error', 'durable_disabled');
  return ctx.durable;
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

/** `30s`, `1500ms`, `2m` or plain seconds; capped so a long-poll never outlives proxies' idle timeouts. */
export function parseWait(raw: unknown): number {
  if (raw === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(raw));
  if (!m) throw invalidRequest(`Invalid wait '${String(raw)}': use e.g. 30s, 500ms or 2m`, 'wait', 'invalid_value');
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  return Math.min(MAX_WAIT_MS, Math.round(ms));
}

function notFound(err: unknown): never {
  if (err instanceof RequestNotFound) throw new HttpError(404, err.message, 'invalid_request_error', 'request_not_found', 'id');
  throw err;
}

function send(res: Response, view: RequestView, status = 200): void {
  res.status(status).json(view);
}

export function submitRequestHandler(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const durable = requireDurable(ctx);
    const request = parseChatRequest(req.body);
    const traits = traitsOf(ctx, { ...request, stream: false }, req);
    const routing = routingHeadersOf(req);
    planFor(ctx, request.model, traits, routing.routeHint);
    Object.assign(trailOf(res), { alias: request.model, stream: false });
    await admit(ctx, req, res, request.model, traits);
    const tenant = tenantOf(req);
    let id: string;
    const idempotencyKey = idempotencyKeyOf(req);
    try {
      ({ id } = await durable.submit(request, { tenant, requestId: String(res.getHeader('x-request-id')), idempotencyKey, ...routing, ...(ctx.admission && { chargeTo: principalOf(req).keyId }) }));
    } catch (err) {
      if (err instanceof IdempotencyConflict) throw new HttpError(409, err.message, 'invalid_request_error', 'idempotency_key_reused', 'Idempotency-Key');
      throw err;
    }
    res.setHeader('location', `/v1/requests/${id}`);
    // A keyed submission may find its request already running or done; a fresh one is queued by definition.
    // Submitted but unreadable: the 503 still names the request, which exists.
    const view = idempotencyKey
      ? await durable.view(id, tenant).catch((err) => {
          throw err instanceof TemporalUnavailable && !err.requestId ? new TemporalUnavailable(err.message, id, { cause: err }) : err;
        })
      : durable.queuedView(id, request.model);
    send(res, view, 202);
  };
}

export function getRequestHandler(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const durable = requireDurable(ctx);
    const wait = parseWait(req.query.wait);
    const view = await durable.view(String(req.params.id), tenantOf(req), wait).catch(notFound);
    send(res, view);
  };
}

export function cancelRequestHandler(ctx: AppContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const durable = requireDurable(ctx);
    send(res, await durable.cancel(String(req.params.id), tenantOf(req)).catch(notFound));
  };
}
