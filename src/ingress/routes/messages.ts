/**
 * POST /v1/messages: Anthropic's Messages API in front of any provider. The request is translated to the
 * canonical form and run through the same pipeline as a chat completion (same plan, fallbacks, stream commit
 * point, durable branch, headers, logs and charge); only the answer is spelled in Anthropic's shape. Errors take
 * Anthropic's shape in `sendError`, which recognises this route by its path.
 */
import type { Request, Response } from 'express';
import { sseNamed } from '../../protocol/sse.js';
import { firstProblem, messagesRequestSchema, toCanonical, type MessagesRequest } from '../../protocol/anthropic-messages/request.js';
import { toAnthropicMessage } from '../../protocol/anthropic-messages/response.js';
import { AnthropicStreamEncoder, errorEvent } from '../../protocol/anthropic-messages/stream.js';
import type { AnthropicStreamEvent } from '../../providers/anthropic/wire.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { invalidRequest } from '../../protocol/errors.js';
import type { Dialect } from '../../pipeline/dialect.js';
import { runChat } from '../../pipeline/run-chat.js';
import { chatJobOf } from '../chat-job.js';
import { httpReply } from '../http-reply.js';

export function parseMessagesRequest(body: unknown): MessagesRequest {
  const parsed = messagesRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const { path, message } = firstProblem(parsed.error);
  throw invalidRequest(`${path}: ${message}`, path, 'invalid_value');
}

function sse(events: AnthropicStreamEvent[]): string {
  let out = '';
  for (const e of events) out += sseNamed(e.type, e);
  return out;
}

export function anthropicDialect(model: string): Dialect {
  return {
    live: { protocol: 'anthropic', model },
    completion: (c) => toAnthropicMessage(c, model),
    stream() {
      const encoder = new AnthropicStreamEncoder(model);
      return {
        chunk: (c) => sse(encoder.push(c)),
        end: () => sse(encoder.end()),
        error: (failure) => sse([errorEvent(failure?.kind)]),
      };
    },
  };
}

export function messagesHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const request = parseMessagesRequest(req.body);
    await runChat(ctx, chatJobOf(toCanonical(request), req, res), httpReply(res), anthropicDialect(request.model));
  };
}
