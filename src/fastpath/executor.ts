/**
 * The fast path: walks the decision layer's plan in-process. Each attempt runs through an adapter with its own
 * abort signal (linked to the client's), and every failure is handed to `nextMove`, the same pure function
 * the durable workflow uses, so both paths take identical turns.
 */
import type { GatewayConfig } from '../config/types.js';
import { nextMove } from '../decision/fallback.js';
import { planRoute, type Plan, type PlanStep, type RouteContext } from '../decision/plan.js';
import type { CallHandle, CallOutcome, HealthSnapshot, HealthState } from '../health/health-state.js';
import type { RequestTraits } from '../decision/traits.js';
import { describeMove, type Attempt } from '../decision/attempt.js';
import { ProviderError } from '../providers/errors.js';
import { adapterFor } from '../providers/registry.js';
import type { ProviderAdapter, Target } from '../providers/types.js';
import { abortableSleep } from '../util/sleep.js';

export interface Timing {
  /** Time awaiting upstream calls. */
  upstreamMs: number;
  /** Time spent in backoff sleeps (neither gateway work nor upstream). */
  waitedMs: number;
}

/** How a streamed answer ended, reported once its body is done (see RunOptions.streaming). */
export type StreamEnd = { ok: true; outputTokens?: number } | { ok: false; kind?: ProviderError['kind'] };

export type RunOutcome<T> =
  | {
      kind: 'answered';
      value: T;
      target: Target;
      step: PlanStep;
      attempts: Attempt[];
      timing: Timing;
      /** Streams only: tells the health state how the body ended (idempotent; a no-op for other calls). */
      settle: (end: StreamEnd) => void;
    }
  | { kind: 'catch_all'; presetAnswer?: string; reason: string; lastError?: ProviderError; attempts: Attempt[]; timing: Timing };

export type { Attempt };

/** The upstream's error goes back to the client as is (a 4xx that no other deployment would fix). */
export class UpstreamRejected extends Error {
  constructor(
    readonly error: ProviderError,
    readonly attempts: Attempt[],
  ) {
    super(error.message);
    this.name = 'UpstreamRejected';
  }
}

export interface ExecutorDeps {
  random: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
  onAttempt?: (attempt: Attempt) => void;
  /** Live breakers, load and latency; shared with the durable worker when both run in one process. */
  health?: HealthState;
}

export interface RunOptions<T> {
  /**
   * The call returns when the first content arrived and the body is read later: latency and success are
   * reported through `settle` at the end, and the time to the value counts as time to first token.
   */
  streaming?: boolean;
  /** Output tokens of a finished (non-streamed) answer, for the latency-per-token window. */
  outputTokensOf?: (value: T) => number | undefined;
}

/** A plan may be a little stale: breakers are checked again at call time, and percentiles move slowly. */
const SNAPSHOT_TTL_MS = 100;

export type AttemptCall<T> = (adapter: ProviderAdapter, target: Target, signal: AbortSignal) => Promise<T>;

export class FastPathExecutor {
  private readonly deps: ExecutorDeps;

  constructor(
    private readonly config: GatewayConfig,
    deps: Partial<ExecutorDeps> = {},
  ) {
    this.deps = {
      random: deps.random ?? Math.random,
      sleep: deps.sleep ?? abortableSleep,
      now: deps.now ?? (() => performance.now()),
      onAttempt: deps.onAttempt,
      health: deps.health,
    };
  }

  get health(): HealthState | undefined {
    return this.deps.health;
  }

  plan(alias: string, traits: RequestTraits, ctx: Omit<RouteContext, 'snapshot'> = {}): Plan {
    return planRoute(this.config, alias, traits, this.deps.random, { ...ctx, snapshot: this.snapshot() });
  }

  private cached?: { at: number; snapshot: HealthSnapshot };

  private snapshot(): HealthSnapshot | undefined {
    const health = this.deps.health;
    if (!health) return undefined;
    const now = Date.now();
    if (!this.cached || now - this.cached.at > SNAPSHOT_TTL_MS) this.cached = { at: now, snapshot: health.snapshot(now) };
    return this.cached.snapshot;
  }

  targetOf(step: PlanStep): Target {
    const deployment = this.config.deployments[step.deployment]!;
    return { deployment, provider: this.config.providers[deployment.provider]! };
  }

  /**
   * Runs `call` along the plan until one attempt succeeds, the error must go back to the client
   * (throws UpstreamRejected), or the chain is exhausted (returns the catch-all outcome).
   * A failed attempt's signal is aborted so nothing keeps running behind the next attempt.
   * `attempts` is filled as the run goes, so a caller still has the trail when the client aborts midway.
   */
  async run<T>(plan: Plan, call: AttemptCall<T>, clientSignal?: AbortSignal, attempts: Attempt[] = [], opts: RunOptions<T> = {}): Promise<RunOutcome<T>> {
    const timing: Timing = { upstreamMs: 0, waitedMs: 0 };
    const callsPerStep = new Map<number, number>();
    let stepIndex = 0;
    let lastError: ProviderError | undefined;

    for (;;) {
      const step = plan.steps[stepIndex]!;
      const target = this.targetOf(step);
      const attemptNo = (callsPerStep.get(stepIndex) ?? 0) + 1;
      callsPerStep.set(stepIndex, attemptNo);

      // The attempt's own controller, also aborted when the client leaves (the link outlives run() for
      // streams, whose body is read after it returns; it dies with the request's signal).
      const controller = new AbortController();
      const onClientAbort = () => controller.abort(clientSignal!.reason);
      clientSignal?.addEventListener('abort', onClientAbort, { once: true });
      const signal = controller.signal;
      const handle = this.deps.health?.begin(step.deployment);
      if (handle && !handle.allowed) {
        clientSignal?.removeEventListener('abort', onClientAbort);
        const skipped: Attempt = {
          deployment: step.deployment,
          provider: target.provider.name,
          alias: step.alias,
          stage: step.stage,
          attempt: attemptNo,
          outcome: 'skipped',
          latencyMs: 0,
          message: 'circuit breaker open',
        };
        const move = nextMove(this.config, plan, stepIndex, attemptNo, { kind: 'overloaded', circuitOpen: true }, this.deps.random);
        skipped.next = describeMove(move, move.action === 'advance' ? plan.steps[move.step]!.deployment : undefined);
        attempts.push(skipped);
        this.deps.onAttempt?.(skipped);
        if (move.action === 'advance') {
          stepIndex = move.step;
          continue;
        }
        const policy = plan.policies[plan.alias]!;
        return { kind: 'catch_all', presetAnswer: policy.catchAll.presetAnswer, reason: move.reason, lastError, attempts, timing };
      }
      const started = this.deps.now();
      const record: Attempt = {
        deployment: step.deployment,
        provider: target.provider.name,
        alias: step.alias,
        stage: step.stage,
        attempt: attemptNo,
        outcome: 'ok',
        latencyMs: 0,
      };
      try {
        const value = await call(adapterFor(target.provider.type), target, signal);
        record.latencyMs = this.deps.now() - started;
        timing.upstreamMs += record.latencyMs;
        attempts.push(record);
        this.deps.onAttempt?.(record);
        const settle = this.settler(handle, started, opts.streaming ? record.latencyMs : undefined);
        if (!opts.streaming) settle({ ok: true, outputTokens: opts.outputTokensOf?.(value) });
        return { kind: 'answered', value, target, step, attempts, timing, settle: opts.streaming ? settle : () => undefined };
      } catch (err) {
        record.latencyMs = this.deps.now() - started;
        timing.upstreamMs += record.latencyMs;
        clientSignal?.removeEventListener('abort', onClientAbort);
        controller.abort();
        if (clientSignal?.aborted || !(err instanceof ProviderError)) {
          // no verdict on the deployment: the client left, or the gateway itself failed
          if (handle) this.deps.health!.end(handle, { ok: false, latencyMs: record.latencyMs });
          if (clientSignal?.aborted) throw clientSignal.reason ?? err;
          throw err;
        }
        if (handle) this.deps.health!.end(handle, { ok: false, kind: err.kind, retryAfterMs: err.retryAfterMs, latencyMs: record.latencyMs });
        lastError = err;
        Object.assign(record, { outcome: 'error', kind: err.kind, status: err.status, message: err.message });
        attempts.push(record);

        const move = nextMove(this.config, plan, stepIndex, attemptNo, err, this.deps.random);
        record.next = describeMove(move, move.action === 'advance' ? plan.steps[move.step]!.deployment : undefined);
        this.deps.onAttempt?.(record);

        if (move.action === 'return_error') throw new UpstreamRejected(err, attempts);
        if (move.action === 'catch_all') {
          const policy = plan.policies[plan.alias]!;
          return { kind: 'catch_all', presetAnswer: policy.catchAll.presetAnswer, reason: move.reason, lastError, attempts, timing };
        }
        if (move.action === 'retry') {
          const t0 = this.deps.now();
          await this.deps.sleep(move.delayMs, clientSignal);
          timing.waitedMs += this.deps.now() - t0;
        } else {
          stepIndex = move.step;
        }
      }
    }
  }

  /** Ends a successful call's health record, once: now for plain answers, at the stream's end for streams. */
  private settler(handle: CallHandle | undefined, started: number, ttftMs: number | undefined): (end: StreamEnd) => void {
    let done = !handle;
    return (end) => {
      if (done) return;
      done = true;
      const outcome: CallOutcome = end.ok
        ? { ok: true, latencyMs: this.deps.now() - started, ...(end.outputTokens !== undefined && { outputTokens: end.outputTokens }) }
        : { ok: false, latencyMs: this.deps.now() - started, ...(end.kind !== undefined && { kind: end.kind }) };
      if (ttftMs !== undefined) outcome.ttftMs = ttftMs;
      this.deps.health!.end(handle!, outcome);
    };
  }
}
