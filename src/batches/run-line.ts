/**
 * One batch line through the request pipeline (the same admission of the alias, routing, cascade, fallback
 * chain and catch-all as the synchronous endpoint, Retry-After honoured on 429s), answered the way that
 * endpoint would answer it: a completion, or the OpenAI error body with its status code. The line's attempts
 * are kept with its answer: the chunk charges them once the answer is stored.
 */
import type { Principal } from '../auth/keys.js';
import type { Attempt } from '../decision/attempt.js';
import type { PipelineContext } from '../pipeline/context.js';
import { collectedReply } from '../pipeline/collected-reply.js';
import { openAIDialect } from '../pipeline/dialect.js';
import { runChat } from '../pipeline/run-chat.js';
import type { Trail } from '../pipeline/trail.js';
import { chatRequestSchema } from '../protocol/chat-request.js';
import { HttpError } from '../protocol/errors.js';
import type { LineResult } from './types.js';

export interface ParsedLine {
  customId: string;
  body: unknown;
  alias: string;
}

/** The parts of a validated line the runner needs (validation already proved its shape). */
export function parseLine(text: string): ParsedLine {
  const line = JSON.parse(text) as { custom_id: string; body: { model?: unknown } };
  return { customId: line.custom_id, body: line.body, alias: String(line.body.model) };
}

/** A line's stored answer, with the attempts that made it (what the ledger charges). */
export interface LineRun {
  result: LineResult;
}

export interface LineDeps {
  /** The pipeline's context on the worker: config, executor, semantic routes, logger (no admission: the batch was admitted). */
  pipeline: PipelineContext;
  /** Wraps each provider call (bounds calls in flight per deployment). */
  aroundCall?: <T>(deployment: string, call: () => Promise<T>) => Promise<T>;
}

/** Throws only when `signal` aborts (the batch was cancelled) or on a gateway fault; provider failures are answers. */
export async function runLine(deps: LineDeps, line: ParsedLine, signal: AbortSignal, owner: Pick<Principal, 'keyId' | 'tenant'>): Promise<LineRun> {
  const request = { ...chatRequestSchema.parse(line.body), stream: false };
  const trail: Trail = {};
  const reply = collectedReply();
  const answer = (status_code: number, body: unknown): LineRun => {
    const attempts: Attempt[] = trail.attempts ?? [];
    return { result: { custom_id: line.customId, status_code, body, ...(attempts.length > 0 && { attempts }) } };
  };
  try {
    await runChat(
      deps.pipeline,
      {
        request,
        principal: { keyId: owner.keyId, tenant: owner.tenant, limits: {} },
        tags: [],
        durable: false,
        requestId: line.customId,
        startedAt: performance.now(),
        signal,
        trail,
        ...(deps.aroundCall && { aroundCall: deps.aroundCall }),
      },
      reply,
      openAIDialect(request),
    );
    return answer(reply.status ?? 200, reply.body);
  } catch (err) {
    if (err instanceof HttpError) return answer(err.status, err.body());
    if (signal.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    reply.finish();
  }
}
