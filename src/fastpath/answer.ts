/**
 * One whole (non-streamed) answer for a request, routed the way the synchronous endpoint routes it: the
 * alias's cascade, or its semantic routes, capability rules and plan. For work with no client connection to
 * stream to and no response headers to fill (batch lines): the caller turns the outcome into what it stores.
 */
import { tagsOf } from '../decision/capability.js';
import type { Attempt } from '../decision/attempt.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { ProviderError } from '../providers/errors.js';
import { runCascadeFast } from './cascade-run.js';
import { answerPlain, type PlainAnswerDeps } from './plain-answer.js';

export type Answer =
  | { kind: 'answered'; completion: ChatCompletion; costUsd: number; attempts: Attempt[] }
  /** Every deployment (or cascade stage) failed: the caller applies its catch-all. */
  | { kind: 'catch_all'; presetAnswer?: string; reason: string; lastError?: ProviderError; attempts: Attempt[] };

/** Throws NoRouteError (no deployment can take the request) and UpstreamRejected (the client's own fault). */
export async function answerRequest(deps: PlainAnswerDeps, request: ChatRequest, signal: AbortSignal): Promise<Answer> {
  const attempts: Attempt[] = [];
  const model = deps.config.models[request.model];
  const tags = tagsOf(undefined, request.metadata);
  if (model?.cascade) {
    const { semantic: _stagesHaveNone, ...stageDeps } = deps;
    const outcome = await runCascadeFast(model.cascade, { ...request, stream: false }, { ...stageDeps, tags, signal, attempts });
    if (outcome.kind === 'catch_all') return { kind: 'catch_all', presetAnswer: outcome.presetAnswer, reason: outcome.reason, lastError: outcome.lastError, attempts };
    return { kind: 'answered', completion: outcome.result.completion, costUsd: outcome.result.totalCostUsd, attempts };
  }
  const answer = await answerPlain(deps, request, { tags, signal, attempts });
  if (answer.kind === 'catch_all') return { kind: 'catch_all', presetAnswer: answer.presetAnswer, reason: answer.reason, lastError: answer.lastError, attempts };
  return { ...answer, attempts };
}
