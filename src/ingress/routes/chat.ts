/** POST /v1/chat/completions: OpenAI's chat protocol in, the pipeline, OpenAI's shape out (JSON or SSE). */
import type { Request, Response } from 'express';
import { chatRequestSchema, type ChatRequest } from '../../protocol/chat-request.js';
import { fromZodError } from '../../protocol/errors.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { openAIDialect } from '../../pipeline/dialect.js';
import { runChat } from '../../pipeline/run-chat.js';
import { chatJobOf } from '../chat-job.js';
import { httpReply } from '../http-reply.js';

export function parseChatRequest(body: unknown): ChatRequest {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

export function chatCompletionsHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const request = parseChatRequest(req.body);
    await runChat(ctx, chatJobOf(request, req, res), httpReply(res), openAIDialect(request));
  };
}
