/**
 * The step function of the fallback chain, the one both executors drive: the fast executor with in-process
 * calls, the durable workflow with activities as its I/O. It numbers attempts, writes the attempt records,
 * turns a breaker's refusal or a failure into the next move (the pure `nextMove`), and notes on the record
 * what came next and how long the chain waits before it. No I/O, no clock; randomness is given.
 */
import type { RoutingConfig } from '../config/types.js';
import { describeMove, type Attempt } from '../decision/attempt.js';
import { nextMove, type FailureFacts, type NextMove } from '../decision/fallback.js';
import type { Plan, PlanStep } from '../decision/plan.js';

/** The record of one call to one plan step, before it is made (outcome 'ok' until it fails). */
export function attemptRecord(step: PlanStep, provider: string, attemptNo: number): Attempt {
  return { deployment: step.deployment, provider, alias: step.alias, stage: step.stage, attempt: attemptNo, outcome: 'ok', latencyMs: 0 };
}

/** Marks on `record` what the chain does after it, and the planned wait when it retries. */
export function noteMove(record: Attempt, plan: Plan, move: NextMove): void {
  record.next = describeMove(move, move.action === 'advance' ? plan.steps[move.step]!.deployment : undefined);
  if (move.action === 'retry') record.retryDelayMs = move.delayMs;
}

/** A breaker refused the call: no call was made; the chain passes the deployment over. */
export function refusedMove(cfg: RoutingConfig, plan: Plan, stepIndex: number, record: Attempt, random: () => number, message = 'circuit breaker open'): NextMove {
  const move = nextMove(cfg, plan, stepIndex, record.attempt, { kind: 'overloaded', circuitOpen: true }, random);
  Object.assign(record, { outcome: 'skipped', message });
  noteMove(record, plan, move);
  return move;
}

/** A call failed: the move the chain makes next, noted on the failed call's record. */
export function failedMove(cfg: RoutingConfig, plan: Plan, stepIndex: number, attemptOnStep: number, failure: FailureFacts, record: Attempt, random: () => number): NextMove {
  const move = nextMove(cfg, plan, stepIndex, attemptOnStep, failure, random);
  noteMove(record, plan, move);
  return move;
}

/** Calls made per plan step, for attempt numbers and the retry budget of each step. */
export class StepCalls {
  private readonly calls = new Map<number, number>();

  /** Counts one more call to `step` and returns its 1-based number. */
  next(step: number): number {
    const n = (this.calls.get(step) ?? 0) + 1;
    this.calls.set(step, n);
    return n;
  }

  of(step: number): number {
    return this.calls.get(step) ?? 0;
  }

  set(step: number, n: number): void {
    this.calls.set(step, n);
  }
}

/** The gateway's planned waits between calls (retry backoffs), which are neither its own work nor upstream time. */
export function waitedMs(attempts: readonly Attempt[]): number {
  let ms = 0;
  for (const a of attempts) ms += a.retryDelayMs ?? 0;
  return ms;
}

/** Time spent awaiting upstream calls. */
export function upstreamMs(attempts: readonly Attempt[]): number {
  let ms = 0;
  for (const a of attempts) ms += a.latencyMs;
  return ms;
}
