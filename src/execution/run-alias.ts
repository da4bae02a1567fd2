/**
 * One alias answered whole (no stream): its plan (semantic route or capability rules first, when asked),
 * walked by the executor, and what the answer cost at the answering deployment's prices.
 */
import type { GatewayConfig } from '../config/types.js';
import type { Attempt } from '../decision/attempt.js';
import { costUsd } from '../decision/cost.js';
import { withInputTokens } from '../decision/input-tokens.js';
import type { RouteHint } from '../decision/route-hints.js';
import { queuedTokensOf, requestTraits } from '../decision/traits.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { SemanticIndex } from '../routing/semantic-index.js';
import { semanticMatch } from '../routing/semantic-match.js';
import type { AttemptCall, FastPathExecutor, RunOutcome } from './executor.js';

export interface PlainAnswerDeps {
  config: GatewayConfig;
  executor: FastPathExecutor;
  /** Semantic routes of the alias; absent: none are looked at (cascade stages route by their own rules only). */
  semantic?: SemanticIndex;
  /** Wraps each provider call, e.g. to bound calls in flight per deployment (batch lines). */
  aroundCall?: <T>(deployment: string, call: () => Promise<T>) => Promise<T>;
}

export interface PlainAnswerOptions {
  tags: string[];
  hint?: RouteHint;
  signal: AbortSignal;
  /** Filled as the attempts are made. */
  attempts: Attempt[];
}

export type PlainAnswer =
  | { kind: 'answered'; completion: ChatCompletion; costUsd: number }
  | Extract<RunOutcome<ChatCompletion>, { kind: 'catch_all' }>;

/** Throws NoRouteError (no deployment can take the request) and UpstreamRejected (the client's own fault). */
export async function answerPlain(deps: PlainAnswerDeps, request: ChatRequest, opts: PlainAnswerOptions): Promise<PlainAnswer> {
  const { config, executor } = deps;
  const req = { ...request, stream: false };
  const semantic = await semanticMatch(deps.semantic, config, req, opts.signal);
  const traits = withInputTokens(config, req, requestTraits(req, opts.tags));
  const plan = executor.plan(req.model, traits, { hint: opts.hint ?? null, ...(semantic && { semantic }) });
  const around = deps.aroundCall;
  const complete: AttemptCall<ChatCompletion> = (adapter, target, s) => adapter.complete(req, target, { signal: s });
  const call: AttemptCall<ChatCompletion> = around ? (adapter, target, s) => around(target.deployment.name, () => complete(adapter, target, s)) : complete;
  const outcome = await executor.run(plan, call, opts.signal, opts.attempts, {
    outputTokensOf: (c) => c.usage?.completion_tokens,
    queuedTokens: queuedTokensOf(req),
  });
  if (outcome.kind === 'catch_all') return outcome;
  const cost = costUsd(outcome.value.usage ?? undefined, outcome.target.deployment.price);
  const answering = opts.attempts.at(-1);
  if (answering) answering.costUsd = cost;
  return { kind: 'answered', completion: outcome.value, costUsd: cost };
}
