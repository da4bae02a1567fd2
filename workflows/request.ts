/**
 * The request workflow: the fallback chain as durable steps. It walks the same plan with the same `nextMove`
 * as the fast path; Temporal keeps every step in history, so a crash of the worker or the gateway resumes
 * where it stopped, and an operator reads in the UI which provider was tried, why it failed, what came next.
 *
 * Imports only pure modules and types (the workflow sandbox has no Node built-ins).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  TimeoutFailure,
  defineQuery,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { GatewayActivities } from '../activities/index.js';
import { fallbackCount, outcomeLabel, type Attempt } from '../src/decision/attempt.js';
import { nextMove, type FailureFacts } from '../src/decision/fallback.js';
import { attemptTable, callSummary } from '../src/durable/attempt-table.js';
import { SA } from '../src/durable/search-attributes.js';
import {
  FAILURE_SERVICE_BUSY,
  FAILURE_UPSTREAM_REJECTED,
  PROGRESS_QUERY,
  type DurableRequestInput,
  type DurableResult,
  type ProviderFailureDetails,
  type RequestProgress,
} from '../src/durable/types.js';
import type { ErrorKind } from '../src/providers/errors.js';

export const progressQuery = defineQuery<RequestProgress>(PROGRESS_QUERY);

/** Provider errors that no retry of the same call fixes; the workflow decides where to go next. */
const NON_RETRYABLE: ErrorKind[] = ['bad_request', 'content_filter', 'context_length', 'auth', 'permission', 'not_found'];
/** Extra Temporal attempts beyond the configured provider attempts, spent only when a worker dies mid-call. */
const CRASH_HEADROOM = 2;

const { route, catchAll } = proxyLocalActivities<GatewayActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface RequestWorkflowOptions {
  heartbeatTimeoutMs: number;
  attemptTimeoutMs: number;
}

/** What the failed call tells the chain: its error kind and the attempts it made (one, if the worker died). */
function readFailure(err: unknown, stepAttempt: Attempt): { facts: FailureFacts; attempts: Attempt[] } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.details?.[0]) {
    const d = cause.details[0] as ProviderFailureDetails;
    return { facts: { kind: d.kind, retryAfterMs: d.retryAfterMs, circuitOpen: d.circuitOpen }, attempts: d.attempts };
  }
  const lost = cause instanceof TimeoutFailure;
  const message = lost ? `no heartbeat (${cause.timeoutType}): the worker was lost` : String((cause as Error)?.message ?? cause);
  return {
    facts: { kind: lost ? 'timeout' : 'server' },
    attempts: [{ ...stepAttempt, outcome: 'error', kind: lost ? 'timeout' : 'server', message }],
  };
}

export async function requestWorkflow(input: DurableRequestInput, options: RequestWorkflowOptions): Promise<DurableResult> {
  const alias = input.request.model;
  const attempts: Attempt[] = [];
  let phase: RequestProgress['phase'] = 'routing';
  setHandler(progressQuery, () => ({ phase, alias, attempts }));
  const show = (status: string) => setCurrentDetails(attemptTable(alias, attempts, status));

  const { plan, routing } = await route(input);
  show(plan.route ? `routed (${plan.route.reason})` : 'routed');

  const finish = (result: Omit<DurableResult, 'outcome' | 'attempts'>, catchAllUsed: boolean): DurableResult => {
    const outcome = outcomeLabel(attempts, true, catchAllUsed);
    upsertSearchAttributes([
      { key: SA.outcome, value: outcome },
      { key: SA.fallbacks, value: fallbackCount(attempts) },
      ...(result.deployment ? [{ key: SA.deployment, value: result.deployment }] : []),
      ...(result.provider ? [{ key: SA.provider, value: result.provider }] : []),
    ]);
    phase = 'done';
    show(outcome);
    return { ...result, outcome, attempts };
  };
  const fail = (type: string, message: string, details: ProviderFailureDetails | undefined): never => {
    upsertSearchAttributes([
      { key: SA.outcome, value: 'failed' },
      { key: SA.fallbacks, value: fallbackCount(attempts) },
    ]);
    phase = 'done';
    show(`failed: ${message}`);
    throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [{ ...details, attempts }] });
  };

  const callsPerStep = new Map<number, number>();
  let stepIndex = 0;
  for (;;) {
    const step = plan.steps[stepIndex]!;
    const policy = plan.policies[step.alias]!;
    const prior = callsPerStep.get(stepIndex) ?? 0;
    const provider = routing.deployments[step.deployment]!.provider;
    const activityOptions: ActivityOptions = {
      startToCloseTimeout: options.attemptTimeoutMs,
      heartbeatTimeout: options.heartbeatTimeoutMs,
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: {
        maximumAttempts: Math.max(1, policy.attemptsPerDeployment - prior) + CRASH_HEADROOM,
        initialInterval: Math.max(1, policy.backoff.baseMs),
        maximumInterval: Math.max(1, policy.backoff.capMs, policy.backoff.baseMs),
        backoffCoefficient: 2,
        nonRetryableErrorTypes: NON_RETRYABLE,
      },
    };
    const { callProvider } = proxyActivities<GatewayActivities>(activityOptions);
    phase = 'calling';
    try {
      const result = await callProvider.executeWithOptions(
        { ...activityOptions, summary: callSummary(provider, step.deployment, step.stage, prior + 1, attempts.at(-1)) },
        [{ request: input.request, plan, routing, stepIndex, priorAttempts: prior }],
      );
      attempts.push(...result.attempts);
      return finish({ completion: result.completion, deployment: step.deployment, provider }, false);
    } catch (err) {
      if (isCancellation(err)) {
        phase = 'done';
        show('cancelled');
        throw err;
      }
      const blank: Attempt = { deployment: step.deployment, provider, alias: step.alias, stage: step.stage, attempt: prior + 1, outcome: 'error', latencyMs: 0 };
      const { facts, attempts: made } = readFailure(err, blank);
      attempts.push(...made);
      callsPerStep.set(stepIndex, prior + made.length);
      const move = nextMove(routing, plan, stepIndex, prior + made.length, facts, Math.random);
      const last = made.at(-1)!;
      if (move.action === 'retry') {
        // Temporal's attempts ran out on crashes alone: the provider still has tries left on this step.
        last.next = `retry in ${move.delayMs} ms`;
        phase = 'waiting';
        show(`waiting ${move.delayMs} ms before retrying ${step.deployment}`);
        await sleep(move.delayMs);
        continue;
      }
      if (move.action === 'advance') {
        last.next ??= `switch to ${plan.steps[move.step]!.deployment}`;
        show(`switching to ${plan.steps[move.step]!.deployment}`);
        stepIndex = move.step;
        continue;
      }
      const cause = (err instanceof ActivityFailure ? err.cause : err) as ApplicationFailure | undefined;
      const details = cause?.details?.[0] as ProviderFailureDetails | undefined;
      if (move.action === 'return_error') {
        return fail(FAILURE_UPSTREAM_REJECTED, cause?.message ?? facts.kind, details ?? { kind: facts.kind, attempts });
      }
      phase = 'catch_all';
      show('every deployment failed: catch-all');
      const fallback = await catchAll({ alias, request: input.request, tenant: input.tenant, nowSeconds: Math.floor(Date.now() / 1000) });
      if (fallback.completion) return finish({ completion: fallback.completion, catchAll: fallback.source, cacheSimilarity: fallback.similarity }, true);
      return fail(FAILURE_SERVICE_BUSY, `All providers for model '${alias}' are unavailable (last error: ${facts.kind})`, details);
    }
  }
}
