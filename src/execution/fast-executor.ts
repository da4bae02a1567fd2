/**
 * The fast executor: the chain's step function (./chain.ts) with in-process calls as its I/O. Each attempt
 * runs through an adapter with its own abort signal (linked to the client's); refusals and failures go
 * through the same step function the durable workflow drives, so both paths take identical turns. An
 * attempt's usage and cost are recorded on its record when the call's usage is known (at the end, for streams).
 */
import type { GatewayConfig } from '../config/types.js';
import { planRoute, type Plan, type PlanStep, type RouteContext } from '../decision/plan.js';
import type { CallHandle, CallOutcome, HealthSnapshot, HealthState } from '../health/health-state.js';
import type { RequestTraits } from '../decision/traits.js';
import type { Attempt } from '../decision/attempt.js';
import type { Usage } from '../protocol/chat-response.js';
import { asProviderError, isUpstreamAttributable, ProviderError } from '../providers/errors.js';
import { adapterFor } from '../providers/registry.js';
import type { ProviderAdapter, Target } from '../providers/types.js';
import { priceAttempt } from '../ledger/price.js';
import { abortableSleep } from '../util/sleep.js';
import { attemptRecord, failedMove, refusedMove, StepCalls } from './chain.js';

export interface Timing {
  /** Time awaiting upstream calls. */
  upstreamMs: number;
  /** Time spent in backoff sleeps (neither gateway work nor upstream). */
  waitedMs: number;
}

/** How a streamed answer ended, reported once its body is done (see RunOptions.streaming). */
export type StreamEnd = { ok: true; outputTokens?: number; usage?: Usage | null } | { ok: false; kind?: ProviderError['kind'] };

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
  /** Usage of a finished (non-streamed) answer: prices the attempt and feeds the latency-per-token window. */
  usageOf?: (value: T) => Usage | null | undefined;
  /** Input plus output budget: counted as queued on the deployment while the call runs (least-loaded routing). */
  queuedTokens?: number;
}

type AttemptResult<T> = { ok: true; value: T; settle: (end: StreamEnd) => void } | { ok: false; error: unknown };

/** One call in flight (or refused by its breaker, with no promise). */
interface Started<T> {
  record: Attempt;
  stepIndex: number;
  target: Target;
  refused?: true;
  promise?: Promise<AttemptResult<T>>;
  cancel?: () => void;
}

interface Settled<T> {
  winner?: { value: T; target: Target; stepIndex: number; settle: (end: StreamEnd) => void };
  error?: unknown;
  /** The records of the calls made, in start order. */
  records: Attempt[];
  /** The furthest step tried. */
  lastStep: number;
}

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

  plan(alias: string, traits: RequestTraits, ctx: Omit<RouteContext, 'snapshot'> = {}): Plan {
    return planRoute(this.config, alias, traits, this.deps.random, {
      ...ctx,
      snapshot: this.snapshot(),
      ...(this.config.server.gatewayRegion !== undefined && { gatewayRegion: this.config.server.gatewayRegion }),
    });
  }

  /** Fresh per plan: in-flight counts move with every call, and a snapshot costs ~2 µs for ten deployments. */
  private snapshot(): HealthSnapshot | undefined {
    return this.deps.health?.snapshot();
  }

  targetOf(step: PlanStep): Target {
    const deployment = this.config.deployments[step.deployment]!;
    const passthrough = this.config.models[step.alias]?.passthrough;
    return { deployment, provider: this.config.providers[deployment.provider]!, ...(passthrough && { passthrough }) };
  }

  /**
   * Runs `call` along the plan until one attempt succeeds, the error must go back to the client
   * (throws UpstreamRejected), or the chain is exhausted (returns the catch-all outcome).
   * A failed attempt's signal is aborted so nothing keeps running behind the next attempt.
   * `attempts` is filled as the run goes, so a caller still has the trail when the client aborts midway.
   */
  async run<T>(plan: Plan, call: AttemptCall<T>, clientSignal?: AbortSignal, attempts: Attempt[] = [], opts: RunOptions<T> = {}): Promise<RunOutcome<T>> {
    const timing: Timing = { upstreamMs: 0, waitedMs: 0 };
    const calls = new StepCalls();
    const catchAll = (reason: string, lastError?: ProviderError): RunOutcome<T> => ({
      kind: 'catch_all',
      presetAnswer: plan.policies[plan.alias]!.catchAll.presetAnswer,
      reason,
      lastError,
      attempts,
      timing,
    });
    let stepIndex = 0;
    let lastError: ProviderError | undefined;

    for (;;) {
      const attemptNo = calls.next(stepIndex);
      const first = this.start(plan, stepIndex, attemptNo, call, clientSignal, opts);
      if (first.refused) {
        const move = refusedMove(this.config, plan, stepIndex, first.record, this.deps.random);
        attempts.push(first.record);
        this.deps.onAttempt?.(first.record);
        if (move.action === 'advance') {
          stepIndex = move.step;
          continue;
        }
        return catchAll(move.reason, lastError);
      }
      const settled = await this.raceWithHedge(plan, stepIndex, attemptNo, first, call, clientSignal, opts, calls, attempts);
      for (const r of settled.records) timing.upstreamMs += r.latencyMs;
      if (settled.winner) {
        const w = settled.winner;
        return { kind: 'answered', value: w.value, target: w.target, step: plan.steps[w.stepIndex]!, attempts, timing, settle: w.settle };
      }
      const err = settled.error!;
      if (clientSignal?.aborted) throw clientSignal.reason ?? err;
      if (!(err instanceof ProviderError)) throw err;
      lastError = err;
      // After a hedge both steps have been tried: the chain goes on from the later one.
      const from = settled.lastStep;
      const record = settled.records.at(-1)!;
      const move = failedMove(this.config, plan, from, Math.max(1, calls.of(from)), err, record, this.deps.random);
      this.deps.onAttempt?.(record);

      if (move.action === 'return_error') throw new UpstreamRejected(err, attempts);
      if (move.action === 'catch_all') return catchAll(move.reason, lastError);
      if (move.action === 'retry') {
        const t0 = this.deps.now();
        await this.deps.sleep(move.delayMs, clientSignal);
        timing.waitedMs += this.deps.now() - t0;
        stepIndex = from;
      } else {
        stepIndex = move.step;
      }
    }
  }

  /** Starts one call to one step: its own abort controller (linked to the client's) and health record. */
  private start<T>(plan: Plan, stepIndex: number, attemptNo: number, call: AttemptCall<T>, clientSignal: AbortSignal | undefined, opts: RunOptions<T>): Started<T> {
    const step = plan.steps[stepIndex]!;
    const target = this.targetOf(step);
    const record = attemptRecord(step, target.provider.name, attemptNo);
    const handle = this.deps.health?.begin(step.deployment, { queuedTokens: opts.queuedTokens ?? 0 });
    if (handle && !handle.allowed) return { refused: true, record, stepIndex, target };

    // The link to the client outlives the call for streams, whose body is read after run() returns;
    // it dies with the request's signal.
    const controller = new AbortController();
    const onClientAbort = () => controller.abort(clientSignal!.reason);
    clientSignal?.addEventListener('abort', onClientAbort, { once: true });
    const started = this.deps.now();
    // a call that throws before it returns a promise (a translation failing) ends like any failed call
    const promise = new Promise<T>((resolve) => resolve(call(adapterFor(target.provider.type), target, controller.signal))).then(
      (value): AttemptResult<T> => {
        record.latencyMs = this.deps.now() - started;
        const settle = this.settler(handle, record, target, started, opts.streaming ? record.latencyMs : undefined);
        if (!opts.streaming) {
          const usage = opts.usageOf?.(value);
          settle({ ok: true, usage, outputTokens: usage?.completion_tokens });
        }
        return { ok: true, value, settle: opts.streaming ? settle : () => undefined };
      },
      (err: unknown): AttemptResult<T> => {
        record.latencyMs = this.deps.now() - started;
        clientSignal?.removeEventListener('abort', onClientAbort);
        // An abort (the client left, the hedge was lost) says nothing; anything but a ProviderError is the
        // gateway's own fault (kind `gateway`): neither feeds the deployment's health.
        const failure = controller.signal.aborted || clientSignal?.aborted ? undefined : asProviderError(err);
        controller.abort();
        if (handle) this.deps.health!.end(handle, failure && isUpstreamAttributable(failure) ? { ok: false, kind: failure.kind, retryAfterMs: failure.retryAfterMs, latencyMs: record.latencyMs } : { ok: false, latencyMs: record.latencyMs });
        // a hedge loser keeps its 'cancelled' outcome: its error is only the abort
        if (record.outcome === 'ok') {
          const described = failure ?? asProviderError(err);
          if (clientSignal?.aborted) Object.assign(record, { outcome: 'cancelled', message: 'the client went away during the call' });
          else Object.assign(record, { outcome: 'error', kind: described.kind, status: described.status, message: described.message });
        }
        return { ok: false, error: failure ?? err };
      },
    );
    const cancel = () => {
      clientSignal?.removeEventListener('abort', onClientAbort);
      controller.abort(new Error('lost the hedge race'));
    };
    return { record, stepIndex, target, promise, cancel };
  }

  /**
   * Hedging (opt-in per alias): when the first attempt on a step has not answered within the deployment's P95
   * time to first token (or the configured delay), the next step is started too; the first to answer wins and
   * the other is cancelled. Only first attempts hedge: a retry already waited its backoff.
   */
  private async raceWithHedge<T>(
    plan: Plan,
    stepIndex: number,
    attemptNo: number,
    first: Started<T>,
    call: AttemptCall<T>,
    clientSignal: AbortSignal | undefined,
    opts: RunOptions<T>,
    calls: StepCalls,
    attempts: Attempt[],
  ): Promise<Settled<T>> {
    const delay = attemptNo === 1 && stepIndex + 1 < plan.steps.length ? this.hedgeDelay(plan, stepIndex) : undefined;
    const single = async (): Promise<Settled<T>> => {
      const r = await first.promise!;
      attempts.push(first.record);
      if (r.ok) {
        this.deps.onAttempt?.(first.record);
        return { winner: { value: r.value, target: first.target, stepIndex, settle: r.settle }, records: [first.record], lastStep: stepIndex };
      }
      return { error: r.error, records: [first.record], lastStep: stepIndex };
    };
    if (delay === undefined) return single();

    let timer: ReturnType<typeof setTimeout> | undefined;
    const fired = new Promise<'hedge'>((resolve) => (timer = setTimeout(() => resolve('hedge'), delay)));
    const early = await Promise.race([first.promise!.then(() => 'done' as const), fired]);
    clearTimeout(timer);
    if (early === 'done') return single();

    const hedgeIndex = stepIndex + 1;
    const second = this.start(plan, hedgeIndex, calls.next(hedgeIndex), call, clientSignal, opts);
    if (second.refused) {
      // no hedge: keep the refusal in the trail without moving the chain; the first call goes on alone
      Object.assign(second.record, { outcome: 'skipped', message: 'circuit breaker open (hedge not started)' });
      attempts.push(second.record);
      return single();
    }
    second.record.hedge = true;
    const contenders = [first, second];
    const results = contenders.map((c, i) => c.promise!.then((r) => ({ r, i })));
    const pending = new Set([0, 1]);
    let lastError: unknown;
    while (pending.size > 0) {
      const { r, i } = await Promise.race([...pending].map((k) => results[k]!));
      pending.delete(i);
      const c = contenders[i]!;
      if (r.ok) {
        // The loser goes in the trail before the winner: the answering call is the trail's last, as on every path.
        for (const k of pending) {
          const loser = contenders[k]!;
          loser.cancel!();
          Object.assign(loser.record, { outcome: 'cancelled', message: 'the other hedged call answered first' });
          attempts.push(loser.record);
          this.deps.onAttempt?.(loser.record);
          void loser.promise!.then((lr) => lr.ok && lr.settle({ ok: false }));
        }
        attempts.push(c.record);
        this.deps.onAttempt?.(c.record);
        return { winner: { value: r.value, target: c.target, stepIndex: c.stepIndex, settle: r.settle }, records: contenders.map((x) => x.record), lastStep: hedgeIndex };
      }
      attempts.push(c.record);
      lastError = r.error;
      if (pending.size > 0) {
        c.record.next = 'wait for the hedged call';
        this.deps.onAttempt?.(c.record);
      }
    }
    return { error: lastError, records: [first.record, second.record], lastStep: hedgeIndex };
  }

  private hedgeDelay(plan: Plan, stepIndex: number): number | undefined {
    const step = plan.steps[stepIndex]!;
    const hedge = this.config.models[step.alias]?.hedge;
    if (!hedge) return undefined;
    const p95 = this.snapshot()?.deployments[step.deployment]?.ttftMs.p95 ?? null;
    const delay = hedge.afterMs ?? p95;
    return delay === null ? undefined : Math.max(hedge.minDelayMs, delay);
  }

  /**
   * Ends a successful call, once: now for plain answers, at the stream's end for streams. The attempt is
   * priced with the usage the call reported (none for a stream cut short), and the health record closed.
   */
  private settler(handle: CallHandle | undefined, record: Attempt, target: Target, started: number, ttftMs: number | undefined): (end: StreamEnd) => void {
    let done = false;
    return (end) => {
      if (done) return;
      done = true;
      priceAttempt(record, end.ok ? end.usage : undefined, target.deployment.price);
      if (!handle) return;
      const outcome: CallOutcome = end.ok
        ? { ok: true, latencyMs: this.deps.now() - started, ...(end.outputTokens !== undefined && { outputTokens: end.outputTokens }) }
        : { ok: false, latencyMs: this.deps.now() - started, ...(end.kind !== undefined && { kind: end.kind }) };
      if (ttftMs !== undefined) outcome.ttftMs = ttftMs;
      this.deps.health!.end(handle!, outcome);
    };
  }
}
