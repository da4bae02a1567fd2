/**
 * The cost-aware cascade on the fast path: the pure driver (decision/cascade.ts) with the executor as its I/O.
 * Each stage alias is planned and run like any request (its own groups, fallback and breakers); the answer's
 * cost comes from the answering deployment's prices, and the attempt trail of every stage and judge is kept.
 */
import type { CascadeConfig } from '../config/cascade-schema.js';
import { CascadeFailedError, runCascade, type CascadeResult, type StageRun } from '../decision/cascade.js';
import { logprobsStages } from '../decision/cascade-stages.js';
import { evaluateLocally } from '../decision/evaluators/index.js';
import type { RouteHint } from '../decision/route-hints.js';
import type { Attempt } from '../decision/attempt.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ProviderError } from '../providers/errors.js';
import { UpstreamRejected } from './executor.js';
import { answerPlain, type PlainAnswerDeps } from './plain-answer.js';

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

/** Stages are planned by their own rules only: semantic routes belong to the alias the client named. */
export interface CascadeRunContext extends Omit<PlainAnswerDeps, 'semantic'> {
  tags: string[];
  hint?: RouteHint;
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
    return { kind: 'answered', result: await driveCascade(cascade, request, ctx) };
  } catch (err) {
    if (!(err instanceof CascadeFailedError)) throw err;
    const lastError = err.lastError instanceof StageUnavailable ? err.lastError.lastError : undefined;
    return { kind: 'catch_all', presetAnswer: ctx.config.models[request.model]?.fallback.catchAll.presetAnswer, reason: err.message, lastError, failed: err };
  }
}

async function driveCascade(cascade: CascadeConfig, request: ChatRequest, ctx: CascadeRunContext): Promise<CascadeResult> {
  const withLogprobs = new Set(logprobsStages(ctx.config, cascade));
  const runAlias = async (alias: string, req: ChatRequest): Promise<StageRun> => {
    const attempts: Attempt[] = [];
    try {
      const answer = await answerPlain(ctx, { ...req, model: alias }, { tags: ctx.tags, hint: ctx.hint, signal: ctx.signal, attempts });
      if (answer.kind === 'catch_all') throw new StageUnavailable(alias, attempts, answer.lastError);
      return { completion: answer.completion, attempts, costUsd: answer.costUsd };
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
