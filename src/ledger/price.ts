/**
 * The only place an attempt gets its price, and the only sum that makes a request's cost. Pure: every
 * executor (fast, durable activity, cascade stages, judges, hedge legs, batch lines) calls priceAttempt where
 * the call's usage becomes known, so logs, budgets and the cost metric all add up the same numbers.
 */
import type { Attempt } from '../decision/attempt.js';
import { costUsd } from '../decision/cost.js';

export interface AttemptUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface AttemptPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * Records the call's usage and cost on its attempt. No usage (a cancelled hedge, a failed call) costs 0:
 * the gateway only charges what the upstream reported. No price (a free local model) costs 0 but keeps tokens.
 */
export function priceAttempt(a: Attempt, usage: AttemptUsage | null | undefined, price: AttemptPrice | undefined): void {
  if (!usage) {
    a.costUsd = 0;
    return;
  }
  a.inputTokens = usage.prompt_tokens;
  a.outputTokens = usage.completion_tokens;
  a.costUsd = price ? costUsd(usage, price) : 0;
}

export function costOfAttempts(attempts: readonly Attempt[]): number {
  let total = 0;
  for (const a of attempts) total += a.costUsd ?? 0;
  return total;
}
