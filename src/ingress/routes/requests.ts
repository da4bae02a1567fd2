/**
 * The durable request API:
 *   POST   /v1/requests        a chat completion request, run as a workflow; 202 with its id
 *   GET    /v1/requests/{id}   status, attempts, and the result in OpenAI's shape; `?wait=30s` long-polls
 *   DELETE /v1/requests/{id}   cancels it (the running provider call is aborted)
 * An `Idempotency-Key` header makes a repeated submission return the same request; without one, the client's
 * own `x-request-id` does (per tenant, in separate namespaces).
 */
import type { Request, Response } from 'express';
import { RequestNotFound } from '../../durable/errors.js';
import type { RequestView } from '../../durable/requests.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { requireDurable } from '../../pipeline/durable.js';
import { submitChat } from '../../pipeline/submit.js';
import { HttpError, invalidRequest } from '../../protocol/errors.js';
import { tenantOf } from '../tenant.js';
import { chatJobOf } from '../chat-job.js';
import { httpReply } from '../http-reply.js';
import { parseChatRequest } from './chat.js';
import { clientAbortSignal } from '../request-scope.js';

/** What counts long-polls waiting now (the in-flight gauge, route `LONG_POLL_ROUTE`). */
export interface WaitGauge {
  requestBegan(route: string): () => void;
}

export const LONG_POLL_ROUTE = '/v1/requests/{id}?wait';

/**
 * `30s`, `1500ms`, `2m` or plain seconds; capped at `maxMs` (`server.longPollMaxMs`) so a long-poll never
 * outlives proxies' idle timeouts and a client cannot park connections for long.
 */
export function parseWait(raw: unknown, maxMs = 60_000): number {
  if (raw === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(raw));
  if (!m) throw invalidRequest(`Invalid wait '${String(raw)}': use e.g. 30s, 500ms or 2m`, 'wait', 'invalid_value');
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  return Math.min(maxMs, Math.round(ms));
}

function notFound(err: unknown): never {
  if (err instanceof RequestNotFound) throw new HttpError(404, err.message, 'invalid_request_error', 'request_not_found', 'id');
  throw err;
}

function send(res: Response, view: RequestView, status = 200): void {
  res.status(status).json(view);
}

export function submitRequestHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireDurable(ctx);
    const request = parseChatRequest(req.body);
    send(res, await submitChat(ctx, chatJobOf(request, req, res, true), httpReply(res)), 202);
  };
}

/** A long-poll holds a Temporal call open: it ends when the request ends, the wait is up, or the client leaves. */
export function getRequestHandler(ctx: PipelineContext, gauge?: WaitGauge) {
  return async (req: Request, res: Response): Promise<void> => {
    const durable = requireDurable(ctx);
    const wait = parseWait(req.query.wait, ctx.config.server.longPollMaxMs);
    if (wait === 0) return send(res, await durable.view(String(req.params.id), tenantOf(req)).catch(notFound));
    const waiting = gauge?.requestBegan(LONG_POLL_ROUTE);
    try {
      send(res, await durable.view(String(req.params.id), tenantOf(req), wait, clientAbortSignal(req, res)).catch(notFound));
    } finally {
      waiting?.();
    }
  };
}

export function cancelRequestHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const durable = requireDurable(ctx);
    send(res, await durable.cancel(String(req.params.id), tenantOf(req)).catch(notFound));
  };
}
