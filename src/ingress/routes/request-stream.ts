/**
 *   GET /v1/requests/{id}/stream   a durable request's live stream, from the start or, with `Last-Event-ID`
 *                                  (header, or `?after=`), from the event after it: on any gateway instance
 *                                  sharing the stream log. Spelled in the protocol the request was made in.
 */
import type { Request, Response } from 'express';
import { RequestNotFound } from '../../durable/errors.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { openAIDialect } from '../../pipeline/dialect.js';
import { requireDurable } from '../../pipeline/durable.js';
import { resumeDurableStream } from '../../pipeline/durable-stream.js';
import type { ChatRequest } from '../../protocol/chat-request.js';
import { HttpError, invalidRequest } from '../../protocol/errors.js';
import { isEntryId, type StreamProtocol } from '../../streams/stream-log.js';
import { httpReply } from '../http-reply.js';
import { clientAbortSignal } from '../request-scope.js';
import { tenantOf } from '../tenant.js';
import { anthropicDialect } from './messages.js';

function lastEventId(req: Request): string | undefined {
  const raw = req.get('last-event-id') ?? (typeof req.query.after === 'string' ? req.query.after : undefined);
  if (raw === undefined || raw === '') return undefined;
  if (!isEntryId(raw)) throw invalidRequest(`Invalid Last-Event-ID '${raw.slice(0, 64)}': use the id of the last event received`, 'Last-Event-ID', 'invalid_value');
  return raw;
}

const dialectFor = (p: StreamProtocol) =>
  p.protocol === 'anthropic' ? anthropicDialect(p.model ?? '') : openAIDialect({ stream_options: { include_usage: p.includeUsage === true } } as ChatRequest);

export function resumeStreamHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireDurable(ctx);
    const after = lastEventId(req);
    const request = { id: String(req.params.id), tenant: tenantOf(req), ...(after && { after }), signal: clientAbortSignal(req, res) };
    await resumeDurableStream(ctx, request, httpReply(res), dialectFor).catch((err) => {
      if (err instanceof RequestNotFound) throw new HttpError(404, err.message, 'invalid_request_error', 'request_not_found', 'id');
      throw err;
    });
  };
}
