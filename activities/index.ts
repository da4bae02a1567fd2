/**
 * The durable path's activities: thin wrappers over the same decision logic and adapters the fast path uses.
 * Keys are resolved here from the worker's config and never leave the worker; history holds deployment names.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { GatewayConfig } from '../src/config/types.js';
import type { Attempt } from '../src/decision/attempt.js';
import { attemptRecord, failedMove, refusedMove } from '../src/execution/chain.js';
import { queuedTokensOf } from '../src/decision/traits.js';
import type { HealthState } from '../src/health/health-state.js';
import type { SemanticIndex } from '../src/routing/semantic-index.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { costOfAttempts, priceAttempt } from '../src/ledger/price.js';
import { logprobsStages } from '../src/decision/cascade-stages.js';
import { evaluateLocally, type Verdict } from '../src/decision/evaluators/index.js';
import type { EvaluatorConfig } from '../src/config/cascade-schema.js';
import type { SemanticCache } from '../src/cache/semantic-cache.js';
import type {
  CallProviderInput,
  CallProviderResult,
  CatchAllResult,
  ChargeRequestInput,
  ChargeRequestResult,
  DurableRequestInput,
  ProviderFailureDetails,
  RouteResult,
} from '../src/durable/types.js';
import { FAILURE_NO_ROUTE, type NoRouteDetails } from '../src/durable/types.js';
import { routeRequest } from '../src/pipeline/route.js';
import { FastPathExecutor } from '../src/execution/fast-executor.js';
import { HttpError } from '../src/protocol/errors.js';
import { routingSlice } from '../src/durable/routing-slice.js';
import { catchAllAnswer } from '../src/execution/catch-all.js';
import { CompletionAccumulator } from '../src/protocol/accumulate.js';
import { chunkHasContent } from '../src/protocol/chat-response.js';
import type { ChatRequest } from '../src/protocol/chat-request.js';
import type { ChatCompletion } from '../src/protocol/chat-response.js';
import { asProviderError, isUpstreamAttributable } from '../src/providers/errors.js';
import { redact } from '../src/security/secrets.js';
import { adapterFor } from '../src/providers/registry.js';
import type { Target } from '../src/providers/types.js';
import type { StreamLog } from '../src/streams/stream-log.js';
import { StreamPublisher } from '../src/streams/publisher.js';
import { chunksOf } from '../src/protocol/chunks-of.js';

/**
 * Streams from the provider when the deployment can, so each chunk proves progress; folds it to one answer.
 * `onFirstContent` marks the time to first token for the latency windows.
 */
async function callOnce(req: ChatRequest, target: Target, signal: AbortSignal, progress: () => void, onFirstContent: () => void, publisher?: StreamPublisher): Promise<ChatCompletion> {
  const adapter = adapterFor(target.provider.type);
  if (!target.deployment.capabilities.includes('streaming')) {
    const whole = await adapter.complete({ ...req, stream: false }, target, { signal });
    // a deployment that cannot stream still fills a live stream: with its whole answer at once
    if (publisher) for (const c of chunksOf(whole)) publisher.chunk(c);
    return whole;
  }
  const acc = new CompletionAccumulator();
  let first = true;
  for await (const chunk of adapter.stream({ ...req, stream: true, stream_options: { include_usage: true } }, target, { signal })) {
    if (first && chunkHasContent(chunk)) {
      first = false;
      onFirstContent();
    }
    publisher?.chunk(structuredClone(chunk));
    acc.push(chunk);
    progress();
  }
  return acc.result();
}

export interface ActivityDeps {
  /** The worker's live health state: plans read it, provider calls feed it and respect its breakers. */
  health?: HealthState;
  /** The semantic cache, asked by the catch-all before the preset answer. */
  cache?: SemanticCache;
  /** Semantic routes, classified inside the route activity (embedding is I/O). */
  semantic?: SemanticIndex;
  /** Charges each durable request once, at the end of its workflow (chargeRequest). */
  ledger?: Ledger;
  /** Where live durable streams go (src/streams): chunks are published there when the gateway opened a log. */
  streamLog?: StreamLog;
}

export function createActivities(config: GatewayConfig, deps: ActivityDeps = {}) {
  const health = deps.health;
  // plans with the worker's live health, as the gateway's executor plans with its own
  const planner = new FastPathExecutor(config, { health });
  return {
    async route(input: DurableRequestInput): Promise<RouteResult> {
      const cascade = config.models[input.request.model]?.cascade;
      if (cascade) return { cascade: { config: cascade, logprobsStages: logprobsStages(config, cascade) } };
      // planned once, by the gateway that took the request
      if (input.plan && input.routing) return { plan: input.plan, routing: input.routing };
      try {
        // the same route stage the gateway runs (header tags travel in the input, metadata tags in the request)
        const routed = await routeRequest({ config, executor: planner, semantic: deps.semantic }, { ...input.request, stream: false }, {
          tags: input.tags ?? [],
          hint: input.routeHint,
          signal: Context.current().cancellationSignal,
        });
        if (routed.kind !== 'plan') throw new Error(`'${input.request.model}' is a cascade`);
        return { plan: routed.plan, routing: routingSlice(config, routed.plan) };
      } catch (err) {
        if (err instanceof HttpError) {
          const details: NoRouteDetails = { status: err.status, code: err.code, param: err.param };
          throw ApplicationFailure.create({ type: FAILURE_NO_ROUTE, message: err.message, nonRetryable: true, details: [details] });
        }
        throw err;
      }
    },

    /**
     * One provider call for one plan step. Temporal retries it per the step's RetryPolicy; whether a failure is
     * retried, and after how long, is decided here by the chain's step function, the fast executor's too
     * (full jitter, never before Retry-After). The attempts made so far ride along in heartbeat details, so the last failure (or the
     * result) carries the whole story of the step to the workflow.
     */
    async callProvider(input: CallProviderInput): Promise<CallProviderResult> {
      const ctx = Context.current();
      const step = input.plan.steps[input.stepIndex]!;
      const deployment = config.deployments[step.deployment]!;
      // The alias's passthrough list as the plan was made with it (it rides in the routing slice).
      const passthrough = input.routing.models[step.alias]?.passthrough;
      const target: Target = { deployment, provider: config.providers[deployment.provider]!, ...(passthrough && { passthrough }) };
      const beatDetails = ctx.info.heartbeatDetails as { attempts?: Attempt[]; streamed?: number } | undefined;
      const carried = (beatDetails?.attempts ?? []).slice();
      const lostBefore = carried.length;
      // Earlier tries of this activity that left no record died with their worker: they go in the trail as
      // such, but do not use up the provider's attempts (the provider did not fail; we did).
      for (let lost = ctx.info.attempt - 1 - carried.length; lost > 0; lost--) {
        carried.push({
          deployment: step.deployment,
          provider: target.provider.name,
          alias: step.alias,
          stage: step.stage,
          attempt: input.priorAttempts + carried.length + 1,
          outcome: 'worker_lost',
          workerLost: true,
          message: 'the worker making this call was lost (no heartbeat)',
          latencyMs: 0,
          next: 'retry on another worker',
        });
      }
      // the attempt just before this one heartbeated how many chunks it had streamed when it was lost
      const lastLost = carried.length > lostBefore ? carried.at(-1) : undefined;
      if (lastLost && beatDetails?.streamed !== undefined) lastLost.chunks = beatDetails.streamed;
      const attemptNo = input.priorAttempts + carried.filter((a) => !a.workerLost).length + 1;
      const handle = health?.begin(step.deployment, { queuedTokens: queuedTokensOf(input.request) });
      if (handle && !handle.allowed) {
        // Not called at all: the workflow moves along the plan without spending this step's retries.
        const refused = attemptRecord(step, target.provider.name, attemptNo);
        refusedMove(input.routing, input.plan, input.stepIndex, refused, Math.random);
        carried.push(refused);
        const details: ProviderFailureDetails = { kind: 'overloaded', circuitOpen: true, attempts: carried };
        throw ApplicationFailure.create({ type: 'circuit_open', message: `circuit breaker open on ${step.deployment}`, nonRetryable: true, details: [details] });
      }
      const workflowId = ctx.info.workflowExecution?.workflowId;
      const publisher = await StreamPublisher.open(deps.streamLog, workflowId, `${ctx.info.activityId}.${ctx.info.attempt}`, (err) =>
        ctx.log.warn('stream log unavailable: this stream continues without live chunks', { error: String((err as Error)?.message ?? err) }),
      );
      const beat = () => ctx.heartbeat({ attempts: carried, ...(publisher && { streamed: publisher.chunks }) });
      const interval = setInterval(beat, Math.max(500, Math.floor((ctx.info.heartbeatTimeoutMs ?? 10_000) / 3)));
      const started = performance.now();
      const record = attemptRecord(step, target.provider.name, input.priorAttempts + carried.length + 1);
      let ttftMs: number | undefined;
      try {
        const completion = await callOnce(input.request, target, ctx.cancellationSignal, beat, () => (ttftMs = performance.now() - started), publisher);
        record.latencyMs = performance.now() - started;
        if (publisher) {
          Object.assign(record, { chunks: publisher.chunks, streamEnd: completion.choices[0]?.finish_reason ?? 'stop' });
          await publisher.end(true);
        }
        if (handle) health!.end(handle, { ok: true, latencyMs: record.latencyMs, ttftMs, outputTokens: completion.usage?.completion_tokens });
        priceAttempt(record, completion.usage, deployment.price);
        // Only histories from before the charge-once-at-end patch charge here, once per call.
        if (input.chargeTo && deps.ledger) {
          await deps.ledger.charge({ chargeId: `${workflowId}:${ctx.info.activityId}`, keyId: input.chargeTo, alias: step.alias, path: 'durable', attempts: [record] });
        }
        return { completion, attempts: [...carried, record] };
      } catch (caught) {
        const latencyMs = performance.now() - started;
        // a cancellation says nothing about the deployment; anything but a ProviderError is the gateway's own
        // fault (kind `gateway`), the request's error, and no verdict on the deployment either
        const err = ctx.cancellationSignal.aborted ? undefined : asProviderError(caught);
        if (handle) health!.end(handle, { ok: false, latencyMs, ttftMs, ...(err && isUpstreamAttributable(err) && { kind: err.kind, retryAfterMs: err.retryAfterMs }) });
        if (publisher) {
          Object.assign(record, { chunks: publisher.chunks, streamEnd: err?.kind ?? 'cancelled' });
          await publisher.end(false, err?.kind ?? 'cancelled');
        }
        if (!err) throw new CancelledFailure('request cancelled');
        // Scrubbed again on the way into history (ProviderError already did once): a record, a failure message.
        const message = redact(err.message);
        Object.assign(record, { outcome: 'error', kind: err.kind, status: err.status, message, latencyMs });
        const move = failedMove(input.routing, input.plan, input.stepIndex, attemptNo, err, record, Math.random);
        carried.push(record);
        ctx.heartbeat({ attempts: carried, ...(publisher && { streamed: publisher.chunks }) });
        const details: ProviderFailureDetails = { kind: err.kind, status: err.status, retryAfterMs: err.retryAfterMs, ...(err.upstreamCode !== undefined && { upstreamCode: redact(err.upstreamCode) }), attempts: carried };
        throw ApplicationFailure.create({
          type: err.kind,
          message,
          nonRetryable: move.action !== 'retry',
          nextRetryDelay: move.action === 'retry' ? Math.max(1, move.delayMs) : undefined,
          details: [details],
        });
      } finally {
        clearInterval(interval);
      }
    },

    /**
     * The request's one charge, at the end of its workflow, keyed by the workflow id: Temporal retries it
     * until the store takes it, and a retry after a charge that did land changes nothing.
     */
    async chargeRequest(input: ChargeRequestInput): Promise<ChargeRequestResult> {
      // A worker built without one (unit tests of activities) has nowhere to charge: nothing is charged.
      if (!deps.ledger) return { costUsd: costOfAttempts(input.attempts), charged: false };
      return deps.ledger.charge({ ...input, path: 'durable' });
    },

    /** The last resort: a stale answer from the semantic cache (its catch-all threshold), else the preset answer. */
    async catchAll(input: { alias: string; request: ChatRequest; tenant: string; nowSeconds: number }): Promise<CatchAllResult> {
      const cache = deps.cache;
      const answer = await catchAllAnswer({
        alias: input.alias,
        presetAnswer: config.models[input.alias]?.fallback.catchAll.presetAnswer,
        nowSeconds: input.nowSeconds,
        ...(cache && { stale: () => cache.lookupStale(cache.ticket(input.request, input.tenant, { noCache: false, noStore: false }), Context.current().cancellationSignal) }),
      });
      return answer ?? {};
    },

    evaluateAnswer,
  };
}

/** The cascade's free evaluators (rules, logprobs) as a local activity: ajv stays out of the workflow bundle. */
async function evaluateAnswer(input: { request: ChatRequest; completion: ChatCompletion; evaluators: readonly EvaluatorConfig[] }): Promise<Verdict[]> {
  return evaluateLocally(input.request, input.completion, input.evaluators);
}

export type GatewayActivities = ReturnType<typeof createActivities>;
