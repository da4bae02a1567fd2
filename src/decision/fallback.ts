/**
 * What to do after an attempt fails: retry the same deployment, move along the plan, give the error back,
 * or fall to the catch-all. Pure (random is given), so both executors and the workflow take the same turns.
 *
 * Rules, in order:
 * - a deployment whose breaker refused the call is passed over (it was not called, so nothing to retry);
 * - a failure after output reached the client cannot be retried invisibly: it goes back to the client;
 * - the client's own fault (bad request, content filter) goes straight back: another provider would refuse it too;
 * - a call the gateway could not build or send (kind `gateway`) goes back as that request's error;
 * - context length: skip to the next step whose context window is larger, else back to the client;
 * - auth, permission, not found: this deployment is misconfigured; move on without retrying it;
 * - transient kinds listed in retryOn: retry with full-jitter backoff, never sooner than Retry-After,
 *   and move on instead when Retry-After exceeds maxRetryAfterMs or attempts are used up;
 * - when no step is left: the catch-all.
 */
import type { RoutingConfig } from '../config/types.js';
import type { ErrorKind } from '../providers/errors.js';
import type { Plan } from './plan.js';

export interface FailureFacts {
  kind: ErrorKind;
  retryAfterMs?: number;
  afterOutput?: boolean;
  /** No call was made: the deployment's circuit breaker is open (or its probes are all taken). */
  circuitOpen?: boolean;
}

export type NextMove =
  | { action: 'retry'; delayMs: number; reason: string }
  | { action: 'advance'; step: number; reason: string }
  | { action: 'return_error'; reason: string }
  | { action: 'catch_all'; reason: string };

/** Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^(n-1))], so retries spread out. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * Math.pow(2, Math.max(0, attempt - 1)));
  return Math.round(random() * ceiling);
}

function advanceFrom(plan: Plan, from: number, reason: string, accept: (i: number) => boolean = () => true): NextMove {
  for (let i = from + 1; i < plan.steps.length; i++) {
    if (accept(i)) return { action: 'advance', step: i, reason };
  }
  return { action: 'catch_all', reason: `${reason}; no deployment left` };
}

export function nextMove(
  cfg: RoutingConfig,
  plan: Plan,
  stepIndex: number,
  attemptOnStep: number,
  failure: FailureFacts,
  random: () => number,
): NextMove {
  const step = plan.steps[stepIndex]!;
  const policy = plan.policies[step.alias]!;
  const kind = failure.kind;

  if (failure.circuitOpen) return advanceFrom(plan, stepIndex, `circuit open on ${step.deployment}`);
  if (failure.afterOutput) return { action: 'return_error', reason: `${kind} after output was sent` };
  // the gateway could not build or send the call: that request's own failure, whichever deployment it went to
  if (kind === 'gateway') return { action: 'return_error', reason: 'the gateway could not make the call' };
  if (kind === 'bad_request' || kind === 'content_filter') return { action: 'return_error', reason: kind };
  if (kind === 'context_length') {
    const window = cfg.deployments[step.deployment]!.contextWindow;
    const move = advanceFrom(plan, stepIndex, 'context length exceeded', (i) => cfg.deployments[plan.steps[i]!.deployment]!.contextWindow > window);
    return move.action === 'advance' ? move : { action: 'return_error', reason: 'context length exceeded everywhere' };
  }
  if (kind === 'auth' || kind === 'permission' || kind === 'not_found') {
    return advanceFrom(plan, stepIndex, `${kind} on ${step.deployment}`);
  }
  if (policy.retryOn.includes(kind) && attemptOnStep < policy.attemptsPerDeployment) {
    const hint = failure.retryAfterMs;
    if (hint !== undefined && hint > policy.maxRetryAfterMs) {
      return advanceFrom(plan, stepIndex, `${kind}, retry-after ${hint} ms exceeds ${policy.maxRetryAfterMs} ms`);
    }
    const jittered = backoffDelay(attemptOnStep, policy.backoff.baseMs, policy.backoff.capMs, random);
    return { action: 'retry', delayMs: Math.max(hint ?? 0, jittered), reason: kind };
  }
  return advanceFrom(plan, stepIndex, attemptOnStep > 1 ? `${kind} after ${attemptOnStep} attempts` : kind);
}
