/**
 * One batch line through the gateway's full routing and fallback chain (the fast-path executor: the same plan,
 * cascade and `nextMove` as every other request, Retry-After honoured on 429s), answered the way the synchronous
 * endpoint would answer it: a completion, or the OpenAI error body with its status code.
 */
import { NoRouteError } from '../decision/plan.js';
import { presetCompletion } from '../fastpath/catch-all.js';
import { UpstreamRejected } from '../fastpath/executor.js';
import { answerRequest } from '../fastpath/answer.js';
import type { PlainAnswerDeps } from '../fastpath/plain-answer.js';
import { fromProviderError, invalidRequest, serviceBusy } from '../protocol/errors.js';
import { chatRequestSchema } from '../protocol/chat-request.js';
import type { Attempt } from '../decision/attempt.js';
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

/** Throws only when `signal` aborts (the batch was cancelled) or on a gateway fault; provider failures are answers. */
export async function runLine(deps: PlainAnswerDeps, line: ParsedLine, signal: AbortSignal): Promise<LineRun> {
  const answer = (status_code: number, body: unknown, attempts: Attempt[] = []): LineRun => ({
    result: { custom_id: line.customId, status_code, body, ...(attempts.length > 0 && { attempts }) },
  });
  const request = { ...chatRequestSchema.parse(line.body), stream: false };
  try {
    const outcome = await answerRequest(deps, request, signal);
    if (outcome.kind === 'answered') return answer(200, outcome.completion, outcome.attempts);
    if (outcome.presetAnswer !== undefined) return answer(200, presetCompletion(request.model, outcome.presetAnswer, Math.floor(Date.now() / 1000)), outcome.attempts);
    const busy = serviceBusy(request.model, outcome.lastError ? `last error: ${outcome.lastError.kind}` : outcome.reason);
    return answer(busy.status, busy.body(), outcome.attempts);
  } catch (err) {
    if (err instanceof NoRouteError) return answer(400, invalidRequest(err.message, 'model', err.reason).body());
    if (err instanceof UpstreamRejected) {
      const rejected = fromProviderError(err.error, err.attempts.at(-1)?.deployment);
      return answer(rejected.status, rejected.body(), err.attempts);
    }
    throw err;
  }
}
