/** POST /v1/embeddings: OpenAI's embeddings protocol in, the pipeline, the provider's vectors out. */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { embeddingsRequestSchema } from '../../protocol/chat-request.js';
import { fromZodError } from '../../protocol/errors.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { runEmbeddings } from '../../pipeline/run-embeddings.js';
import { principalOf } from '../auth.js';
import { httpReply } from '../http-reply.js';
import { trailOf } from '../request-log.js';
import { clientAbortSignal, requestStart } from '../request-scope.js';

export function embeddingsHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = embeddingsRequestSchema.safeParse(req.body);
    if (!parsed.success) throw fromZodError(parsed.error);
    await runEmbeddings(
      ctx,
      {
        request: parsed.data,
        principal: principalOf(req),
        chargeId: `http:${randomUUID()}`,
        startedAt: requestStart(req),
        signal: clientAbortSignal(req, res),
        trail: trailOf(res),
      },
      httpReply(res),
    );
  };
}
