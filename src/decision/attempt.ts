/** One call to one deployment, as both executors record it. Plain data: it travels through Temporal history. */
import type { ErrorKind } from '../providers/errors.js';
import type { Stage } from './plan.js';

export interface Attempt {
  deployment: string;
  provider: string;
  alias: string;
  stage: Stage;
  /** 1-based count of calls to this deployment within the request. */
  attempt: number;
  /**
   * skipped: the deployment's circuit breaker refused the call, so none was made; cancelled: a hedge that lost;
   * worker_lost (durable path): the worker making the call died, so it was made again on the same deployment.
   */
  outcome: 'ok' | 'error' | 'skipped' | 'cancelled' | 'worker_lost';
  kind?: ErrorKind;
  status?: number;
  message?: string;
  latencyMs: number;
  /** What the decision layer did next, for the attempt trail. */
  next?: string;
  /** The backoff the chain waited after this call before the next one (set when `next` is a retry). */
  retryDelayMs?: number;
  /** Durable path: the worker making this call died; the call was retried elsewhere. */
  workerLost?: boolean;
  /** Started as a hedge, alongside a slow first call. */
  hedge?: boolean;
  /** What this call cost in USD: the deployment's prices times the usage reported (decision/cost.ts). */
  costUsd?: number;
  /** Usage the upstream reported for this call, when it did (for logs and per-attempt token metrics). */
  inputTokens?: number;
  outputTokens?: number;
  /** Streams: time from the call's start to the first content token. */
  ttftMs?: number;
  /** Durable live streams: chunks this call published to the stream log (for a lost call: as last heartbeated). */
  chunks?: number;
  /** Durable live streams: where this call's stream ended (the finish reason, or the error kind). */
  streamEnd?: string;
}

/** How a run ended, in the words operators filter by (a search attribute on the durable path). */
export type RunOutcomeLabel = 'success' | 'fallback' | 'catch_all' | 'failed' | 'worker_lost';

/** `worker_lost`: answered after only worker deaths, no provider failure: the gateway's fault, not a fallback. */
export function outcomeLabel(attempts: readonly Attempt[], answered: boolean, catchAll: boolean): RunOutcomeLabel {
  if (catchAll) return 'catch_all';
  if (!answered) return 'failed';
  // a hedge's cancelled loser failed at nothing: the request was answered without a fallback
  const failed = attempts.filter((a) => a.outcome !== 'ok' && a.outcome !== 'cancelled');
  if (failed.length === 0) return 'success';
  return failed.every((a) => a.outcome === 'worker_lost') ? 'worker_lost' : 'fallback';
}

/** Switches between deployments (retries on the same one are not fallbacks). */
export function fallbackCount(attempts: readonly Attempt[]): number {
  let n = 0;
  for (let i = 1; i < attempts.length; i++) if (attempts[i]!.deployment !== attempts[i - 1]!.deployment) n++;
  return n;
}

export function describeMove(move: { action: string; delayMs?: number; step?: number }, nextDeployment?: string): string {
  if (move.action === 'retry') return `retry in ${move.delayMs} ms`;
  if (move.action === 'advance') return `switch to ${nextDeployment}`;
  return move.action;
}
