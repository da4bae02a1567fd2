/**
 * The cost-aware cascade on the fast path: the pure driver (decision/cascade.ts) with the executor as its I/O.
 * Each stage alias is planned and run like any request (its own groups, fallback and breakers); every stage's
 * and judge's attempts are priced where they answered and kept in the request's trail, so the request's cost
 * is the sum of its attempts like any other's.
 */
import type { CascadeConfig } from '../config/cascade-schema.js';
import { CascadeFailedError, runCascade, type CascadeResult, type StageRun } from '../decision/cascade.js';
import { logprobsStages } from '../decision/cascade-stages.js';
import { evaluateLocally } from '../decision/evaluators/index.js';
import type { Attempt } from '../decision/attempt.js';
import type { Plan } from '../decision/plan.js';
import type { GatewayConfig } from '../config/types.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ProviderError } from '../providers/errors.js';
import { costOfAttempts } from '../ledger/price.js';
import { UpstreamRejected } from './fast-executor.js';
import { runWhole, type RunWholeDeps } from './run-alias.js';
import { ownValue } from '../util/own-value.js';

/** A stage (or judge) alias that ran out of deployments: the cascade moves on to the next stage. */
export class StageUnavailable extends Error {
  constructor(
    readonly alias: string,
    readonly attempts: Attempt[],
    readonly lastError?: ProviderError,
  ) {
    super(`'${alias}' has no deployment left (${lastError?.kind ?? 'no answer'})`);
    this.name = 'StageUnavailable';
  }
}

export interface CascadeRunContext extends RunWholeDeps {
  config: GatewayConfig;
  /** Plans a stage or judge alias (by its own rules: semantic routes belong to the alias the client named). */
  plan(request: ChatRequest): Promise<Plan>;
  signal: AbortSignal;
  /** Every attempt of every stage and judge, in order: the request's trail. */
  attempts: Attempt[];
}

export type CascadeOutcome =
  | { kind: 'answered'; result: CascadeResult }
  /** No stage answered: the alias's catch-all applies. `failed` tells what each stage did. */
  | { kind: 'catch_all'; presetAnswer?: string; reason: string; lastError?: ProviderError; failed: CascadeFailedError };

/** The cascade of `request.model`, or the catch-all outcome when no stage answered. */
export async function runCascadeFast(cascade: CascadeConfig, request: ChatRequest, ctx: CascadeRunContext): Promise<CascadeOutcome> {
  try {
    return { kind: 'answered', result: await driveCascade(cascade, { ...request, stream: false }, ctx) };
  } catch (err) {
    if (!(err instanceof CascadeFailedError)) throw err;
    const lastError = err.lastError instanceof StageUnavailable ? err.lastError.lastError : undefined;
    return { kind: 'catch_all', presetAnswer: ownValue(ctx.config.models, request.model)?.fallback.catchAll.presetAnswer, reason: err.message, lastError, failed: err };
  }
}

async function driveCascade(cascade: CascadeConfig, request: ChatRequest, ctx: CascadeRunContext): Promise<CascadeResult> {
  const withLogprobs = new Set(logprobsStages(ctx.config, cascade));
  const runAlias = async (alias: string, req: ChatRequest): Promise<StageRun> => {
    const attempts: Attempt[] = [];
    try {
      const staged = { ...req, model: alias };
      const outcome = await runWhole(ctx, staged, await ctx.plan(staged), ctx.signal, attempts);
      if (outcome.kind === 'catch_all') throw new StageUnavailable(alias, attempts, outcome.lastError);
      return { completion: outcome.value, attempts, costUsd: costOfAttempts(attempts) };
    } finally {
      ctx.attempts.push(...attempts);
    }
  };
  return runCascade(cascade, request, {
    runStage: runAlias,
    judge: (req, alias) => runAlias(alias, req),
    evaluate: evaluateLocally,
    supportsLogprobs: (alias) => withLogprobs.has(alias),
    // the client's own fault fails on every stage alike, and a client that left wants nothing more
    isFinal: (err) => err instanceof UpstreamRejected || ctx.signal.aborted,
  });
}
