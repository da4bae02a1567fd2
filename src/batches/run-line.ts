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
import { admissionTokens } from '../pipeline/admit.js';
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

/** Tokens the line may use, as admission counts them for a synchronous request (0 for a body that is not chat: runLine answers it). */
export function lineTokens(line: ParsedLine): number {
  const parsed = chatRequestSchema.safeParse(line.body);
  return parsed.success ? admissionTokens(parsed.data) : 0;
}

/** Tokens an answered line used (its usage), for the key's tokens-per-minute; undefined when unknown. */
export function usedTokens(result: LineResult): number | undefined {
  const usage = (result.body as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } | null)?.usage;
  if (!usage || typeof usage.prompt_tokens !== 'number') return undefined;
  return usage.prompt_tokens + (typeof usage.completion_tokens === 'number' ? usage.completion_tokens : 0);
}

/** A line's stored answer, with the attempts that made it (what the ledger charges). */
export interface LineRun {
  result: LineResult;
}

export interface LineDeps {
  /** The pipeline's context on the worker: config, executor, semantic routes, logger (no admission: the chunk admits each line, src/limits/pace.ts). */
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
