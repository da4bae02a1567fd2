/**
 * A plan answered whole (no stream): walked by the executor, each attempt priced where it answered. For the
 * synchronous endpoint, cascade stages and judges, and batch lines.
 */
import type { Attempt } from '../decision/attempt.js';
import type { Plan } from '../decision/plan.js';
import { queuedTokensOf } from '../decision/traits.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { AttemptCall, FastPathExecutor, RunOutcome } from './fast-executor.js';

export interface RunWholeDeps {
  executor: FastPathExecutor;
  /** Wraps each provider call, e.g. to bound calls in flight per deployment (batch lines). */
  aroundCall?: <T>(deployment: string, call: () => Promise<T>) => Promise<T>;
}

/** Throws UpstreamRejected (the client's own fault); `attempts` is filled as the calls are made. */
export function runWhole(deps: RunWholeDeps, request: ChatRequest, plan: Plan, signal: AbortSignal, attempts: Attempt[]): Promise<RunOutcome<ChatCompletion>> {
  const req = { ...request, stream: false };
  const around = deps.aroundCall;
  const complete: AttemptCall<ChatCompletion> = (adapter, target, s) => adapter.complete(req, target, { signal: s });
  const call: AttemptCall<ChatCompletion> = around ? (adapter, target, s) => around(target.deployment.name, () => complete(adapter, target, s)) : complete;
  return deps.executor.run(plan, call, signal, attempts, { usageOf: (c) => c.usage, queuedTokens: queuedTokensOf(req) });
}
