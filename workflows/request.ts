/**
 * The request workflow: the fallback chain as durable steps. It drives the chain's step function
 * (src/execution/chain.ts) with activities as its I/O, as the fast executor drives it with in-process calls;
 * Temporal keeps every step in history, so a crash of the worker or the gateway resumes
 * where it stopped, and an operator reads in the UI which provider was tried, why it failed, what came next.
 *
 * Imports only pure modules and types (the workflow sandbox has no Node built-ins).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  type ActivityOptions,
  ApplicationFailure,
  TemporalFailure,
  TimeoutFailure,
  defineQuery,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { GatewayActivities } from '../activities/index.js';
import { fallbackCount, outcomeLabel, type Attempt } from '../src/decision/attempt.js';
import type { FailureFacts } from '../src/decision/fallback.js';
import { failedMove } from '../src/execution/chain.js';
import { attemptTable, callSummary } from '../src/durable/attempt-table.js';
import { SA } from '../src/durable/search-attributes.js';
import {
  FAILURE_NO_ROUTE,
  FAILURE_SERVICE_BUSY,
  FAILURE_UPSTREAM_REJECTED,
  PROGRESS_QUERY,
  type DurableRequestInput,
  type DurableResult,
  type ProviderFailureDetails,
  type RequestProgress,
  type RouteResult,
} from '../src/durable/types.js';
import type { ErrorKind } from '../src/providers/errors.js';
import type { ChatRequest } from '../src/protocol/chat-request.js';
import type { ChatCompletion } from '../src/protocol/chat-response.js';
import type { RoutingConfig } from '../src/config/types.js';
import type { Plan } from '../src/decision/plan.js';
import { CascadeFailedError, describeCascade, runCascade } from '../src/decision/cascade.js';
import { costOfAttempts } from '../src/ledger/price.js';

export const progressQuery = defineQuery<RequestProgress>(PROGRESS_QUERY);

/** Provider errors that no retry of the same call fixes; the workflow decides where to go next. */
const NON_RETRYABLE: ErrorKind[] = ['bad_request', 'content_filter', 'context_length', 'auth', 'permission', 'not_found'];
/** Extra Temporal attempts beyond the configured provider attempts, spent only when a worker dies mid-call. */
const CRASH_HEADROOM = 2;
/**
 * Patch: a call whose workers kept dying until Temporal's attempts ran out (heartbeat timeout) is labelled
 * worker_lost and run again on the same deployment, instead of counting as a provider timeout that may switch.
 */
const WORKER_LOST_PATCH = 'worker-lost-reruns-same-deployment';
/** Re-runs of one step after worker losses, on top of the crash headroom: a worker fleet that keeps dying is an outage. */
const MAX_LOST_RERUNS = 2;

/**
 * Patch: the request is charged once, at the end of the workflow (answered, catch-all, failed or cancelled),
 * by the chargeRequest activity keyed by the workflow id; callProvider no longer charges (a spend-store error
 * there made Temporal retry the call, and the provider was called and billed again). Old histories keep
 * charging inside callProvider (`chargeTo` in its input).
 */
const CHARGE_PATCH = 'charge-once-at-end';
/** Patch: a cancellation during a cascade stage ends the cascade instead of escalating or returning a rejected answer. */
const CASCADE_CANCEL_PATCH = 'cascade-cancel-is-final';
/**
 * Patch: two round trips fewer per request. A request the gateway planned (plan and routing in its input; a
 * cascade never has them) skips the route local activity, whose answer would be that input; and the charge at
 * the end runs as a local activity, inside the last workflow task, instead of an activity of its own (scheduled,
 * dispatched, completed, then one more workflow task to close). Retried the same way, keyed the same way.
 */
const FEWER_TASKS_PATCH = 'planned-input-local-charge';

/**
 * A failed charge is retried as a charge, for as long as it takes (the answer waits for it: a request is not
 * done until it is paid for), never by calling the provider again. The same policy as an activity (histories
 * before FEWER_TASKS_PATCH) and as a local activity.
 */
const CHARGE = { startToCloseTimeout: '30 seconds', retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' } } as const;
const { chargeRequest } = proxyActivities<GatewayActivities>(CHARGE);
const { chargeRequest: chargeRequestLocally } = proxyLocalActivities<GatewayActivities>(CHARGE);

const { route, catchAll, evaluateAnswer } = proxyLocalActivities<GatewayActivities>({
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

/** The call's worker died (no heartbeat): what it had recorded before, then the lost attempt itself. */
function workerLost(err: unknown, stepAttempt: Attempt): Attempt[] | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (!(cause instanceof TimeoutFailure) || cause.timeoutType !== 'HEARTBEAT') return undefined;
  const before = ((cause.lastHeartbeatDetails as { attempts?: Attempt[] } | undefined)?.attempts ?? []).slice();
  return [...before, { ...stepAttempt, outcome: 'worker_lost', workerLost: true, message: 'the worker making this call was lost (no heartbeat)', next: 'run again on another worker' }];
}

/** How a chain of deployments ended without an answer: an error for the client, or every deployment failed. */
class ChainEnded extends Error {
  constructor(
    readonly action: 'return_error' | 'catch_all',
    readonly kind: ErrorKind,
    readonly failure: ApplicationFailure | undefined,
    readonly details: ProviderFailureDetails | undefined,
  ) {
    super(failure?.message ?? kind);
    this.name = 'ChainEnded';
  }
}

interface ChainAnswer {
  completion: ChatCompletion;
  deployment: string;
  provider: string;
  attempts: Attempt[];
}

export async function requestWorkflow(input: DurableRequestInput, options: RequestWorkflowOptions): Promise<DurableResult> {
  const attempts: Attempt[] = [];
  const chargeAtEnd = patched(CHARGE_PATCH);
  const fewerTasks = patched(FEWER_TASKS_PATCH);
  const chargeActivity = fewerTasks ? chargeRequestLocally : chargeRequest;
  // Not cancellable: a cancelled request still pays for the calls it made.
  const charge = () =>
    CancellationScope.nonCancellable(() =>
      chargeActivity({ chargeId: workflowInfo().workflowId, ...(input.chargeTo && { keyId: input.chargeTo }), tenant: input.tenant, alias: input.request.model, attempts }),
    );
  let result: DurableResult;
  try {
    result = await runRequest(input, options, attempts, chargeAtEnd, fewerTasks);
  } catch (err) {
    // Failed (a TemporalFailure fails the workflow) or cancelled: charged too. Anything else is a workflow task failure that
    // Temporal retries by replaying, so there is no end to charge yet.
    if (chargeAtEnd && (err instanceof TemporalFailure || isCancellation(err))) await charge();
    throw err;
  }
  if (!chargeAtEnd) return result;
  await charge();
  return { ...result, costUsd: costOfAttempts(attempts) };
}

async function runRequest(input: DurableRequestInput, options: RequestWorkflowOptions, attempts: Attempt[], chargeAtEnd: boolean, fewerTasks: boolean): Promise<DurableResult> {
  const alias = input.request.model;
  let phase: RequestProgress['phase'] = 'routing';
  setHandler(progressQuery, () => ({ phase, alias, attempts }));
  const show = (status: string) => setCurrentDetails(attemptTable(alias, attempts, status));

  const routed: RouteResult = fewerTasks && input.plan && input.routing ? { plan: input.plan, routing: input.routing } : await route(input);
  show(routed.plan?.route ? `routed (${routed.plan.route.reason})` : routed.cascade ? 'cascade' : 'routed');

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

  /** Walks one plan with the shared `nextMove`: each step a provider-call activity, retries as durable timers. */
  const runChain = async (request: ChatRequest, plan: Plan, routing: RoutingConfig): Promise<ChainAnswer> => {
    const callsPerStep = new Map<number, number>();
    const lostReruns = new Map<number, number>();
    const made0 = attempts.length;
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
          [{ request, plan, routing, stepIndex, priorAttempts: prior, ...(!chargeAtEnd && input.chargeTo && { chargeTo: input.chargeTo }) }],
        );
        attempts.push(...result.attempts);
        return { completion: result.completion, deployment: step.deployment, provider, attempts: attempts.slice(made0) };
      } catch (err) {
        if (isCancellation(err)) {
          phase = 'done';
          show('cancelled');
          throw err;
        }
        const blank: Attempt = { deployment: step.deployment, provider, alias: step.alias, stage: step.stage, attempt: prior + 1, outcome: 'error', latencyMs: 0 };
        const lost = (lostReruns.get(stepIndex) ?? 0) < MAX_LOST_RERUNS ? workerLost(err, blank) : undefined;
        if (lost && patched(WORKER_LOST_PATCH)) {
          attempts.push(...lost);
          lostReruns.set(stepIndex, (lostReruns.get(stepIndex) ?? 0) + 1);
          callsPerStep.set(stepIndex, prior + lost.filter((a) => a.outcome !== 'worker_lost').length);
          show(`worker lost while calling ${step.deployment}: running the call again`);
          continue;
        }
        const { facts, attempts: made } = readFailure(err, blank);
        attempts.push(...made);
        callsPerStep.set(stepIndex, prior + made.length);
        const last = made.at(-1)!;
        const move = failedMove(routing, plan, stepIndex, prior + made.length, facts, last, Math.random);
        if (move.action === 'retry') {
          // Temporal's attempts ran out on crashes alone: the provider still has tries left on this step.
          phase = 'waiting';
          show(`waiting ${move.delayMs} ms before retrying ${step.deployment}`);
          await sleep(move.delayMs);
          continue;
        }
        if (move.action === 'advance') {
          show(`switching to ${plan.steps[move.step]!.deployment}`);
          stepIndex = move.step;
          continue;
        }
        const cause = (err instanceof ActivityFailure ? err.cause : err) as ApplicationFailure | undefined;
        throw new ChainEnded(move.action, facts.kind, cause, cause?.details?.[0] as ProviderFailureDetails | undefined);
      }
    }
  };

  const catchAllOrBusy = async (kind: string, details: ProviderFailureDetails | undefined): Promise<DurableResult> => {
    phase = 'catch_all';
    show('every deployment failed: catch-all');
    const fallback = await catchAll({ alias, request: input.request, tenant: input.tenant, nowSeconds: Math.floor(Date.now() / 1000) });
    if (fallback.completion) return finish({ completion: fallback.completion, catchAll: fallback.source, cacheSimilarity: fallback.similarity, cacheVerdict: fallback.verdict }, true);
    return fail(FAILURE_SERVICE_BUSY, `All providers for model '${alias}' are unavailable (last error: ${kind})`, details);
  };

  if (routed.cascade) {
    const { config: cascade, logprobsStages } = routed.cascade;
    const runAlias = async (stageAlias: string, request: ChatRequest) => {
      const stage = await route({ ...input, request });
      if (!stage.plan || !stage.routing) throw ApplicationFailure.create({ type: FAILURE_NO_ROUTE, message: `'${stageAlias}' is not a plain alias`, nonRetryable: true });
      const answer = await runChain(request, stage.plan, stage.routing);
      // priced by the provider-call activity where the usage arrived
      return { ...answer, costUsd: costOfAttempts(answer.attempts) };
    };
    try {
      const result = await runCascade(cascade, input.request, {
        runStage: async (stageAlias, request) => {
          const a = await runAlias(stageAlias, request);
          show(`cascade: ${stageAlias} answered; evaluating`);
          return a;
        },
        judge: (request, judgeAlias) => runAlias(judgeAlias, request),
        evaluate: (request, completion, evaluators) => evaluateAnswer({ request, completion, evaluators }),
        supportsLogprobs: (stageAlias) => logprobsStages.includes(stageAlias),
        // a cancelled request ends the cascade: the next stage would be paid for nobody
        isFinal: (err) => (err instanceof ChainEnded && err.action === 'return_error') || (isCancellation(err) && patched(CASCADE_CANCEL_PATCH)),
      });
      const answeredBy = result.stageResults[result.stageIndex]!.attempts.filter((a) => a.outcome === 'ok').at(-1);
      return finish(
        {
          completion: result.completion,
          ...(answeredBy && { deployment: answeredBy.deployment, provider: answeredBy.provider }),
          costUsd: result.totalCostUsd,
          cascade: describeCascade(result),
        },
        false,
      );
    } catch (err) {
      if (err instanceof ChainEnded) return fail(FAILURE_UPSTREAM_REJECTED, err.message, err.details ?? { kind: err.kind, attempts });
      if (err instanceof CascadeFailedError) {
        const last = err.lastError instanceof ChainEnded ? err.lastError : undefined;
        return catchAllOrBusy(last?.kind ?? 'no answer', last?.details);
      }
      throw err;
    }
  }

  try {
    const answer = await runChain(input.request, routed.plan!, routed.routing!);
    return finish({ completion: answer.completion, deployment: answer.deployment, provider: answer.provider }, false);
  } catch (err) {
    if (!(err instanceof ChainEnded)) throw err;
    if (err.action === 'return_error') return fail(FAILURE_UPSTREAM_REJECTED, err.message, err.details ?? { kind: err.kind, attempts });
    return catchAllOrBusy(err.kind, err.details);
  }
}
