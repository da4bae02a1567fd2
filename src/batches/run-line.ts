/**
 * One batch line through the gateway's full routing and fallback chain (the fast-path executor: the same plan
 * and `nextMove` as every other request, Retry-After honoured on 429s), answered the way the synchronous
 * endpoint would answer it: a completion, or the OpenAI error body with its status code.
 */
import { NoRouteError } from '../decision/plan.js';
import { requestTraits } from '../decision/traits.js';
import { presetCompletion } from '../fastpath/catch-all.js';
import { UpstreamRejected, type FastPathExecutor } from '../fastpath/executor.js';
import { fromProviderError, invalidRequest, serviceBusy } from '../ingress/errors.js';
import { chatRequestSchema } from '../protocol/chat-request.js';
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

/** Throws only when `signal` aborts (the batch was cancelled) or on a gateway fault; provider failures are answers. */
export async function runLine(executor: FastPathExecutor, line: ParsedLine, signal: AbortSignal): Promise<LineResult> {
  const answer = (status_code: number, body: unknown): LineResult => ({ custom_id: line.customId, status_code, body });
  const request = { ...chatRequestSchema.parse(line.body), stream: false };
  let plan;
  try {
    plan = executor.plan(request.model, requestTraits(request));
  } catch (err) {
    if (err instanceof NoRouteError) return answer(400, invalidRequest(err.message, 'model', err.reason).body());
    throw err;
  }
  try {
    const outcome = await executor.run(plan, (adapter, target, s) => adapter.complete(request, target, { signal: s }), signal);
    if (outcome.kind === 'answered') return answer(200, outcome.value);
    if (outcome.presetAnswer !== undefined) return answer(200, presetCompletion(request.model, outcome.presetAnswer, Math.floor(Date.now() / 1000)));
    const busy = serviceBusy(request.model, outcome.lastError ? `last error: ${outcome.lastError.kind}` : outcome.reason);
    return answer(busy.status, busy.body());
  } catch (err) {
    if (err instanceof UpstreamRejected) {
      const rejected = fromProviderError(err.error, err.attempts.at(-1)?.deployment);
      return answer(rejected.status, rejected.body());
    }
    throw err;
  }
}
