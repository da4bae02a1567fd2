/**
 * A circuit breaker per deployment, as a pure state machine over plain data: the time is given, nothing is
 * kept outside the state, and every function returns a new state. So the fast path can keep one in memory
 * and the durable workflow can carry one in its history and replay it.
 *
 * closed ──(failure rate ≥ threshold with ≥ minRequests in the window, or N failures in a row)──► open
 * open ──(cool-down over)──► half_open: at most halfOpenProbes calls at once
 * half_open ──(a probe succeeds)──► closed, counts reset
 * half_open ──(a probe fails)──► open again, for longer
 *
 * Only failures that speak about the provider's health count (rate_limited, overloaded, timeout, connection,
 * server). A bad request, a content filter, a context overflow or a misconfigured key is the request's or the
 * operator's fault: such outcomes are neutral, neither failure nor success.
 */
import type { BreakerConfig } from '../config/health-schema.js';
import { isTransientKind, type ErrorKind } from '../providers/errors.js';

export type BreakerPhase = 'closed' | 'open' | 'half_open';

export interface WindowBucket {
  /** floor(time / bucket width): buckets with an epoch older than the window are dropped. */
  epoch: number;
  requests: number;
  failures: number;
}

export interface BreakerState {
  phase: BreakerPhase;
  /** Oldest first, at most `cfg.buckets` long. */
  buckets: WindowBucket[];
  consecutiveFailures: number;
  /** Opens since the breaker last closed: drives the growing cool-down. */
  streak: number;
  /** Opens ever, for the health view. */
  opens: number;
  /** While open: when the cool-down ends (ms since epoch). */
  until: number | null;
  /** Id of the current half-open trial. Probes carry it, so answers from an older trial are not mistaken for current ones. */
  trial: number;
  trialStartedAt: number | null;
  probesInFlight: number;
  /** Why the breaker last opened. */
  reason: string | null;
}

export type BreakerOutcome =
  | { type: 'success'; probe?: number }
  | { type: 'failure'; kind: ErrorKind; retryAfterMs?: number; probe?: number }
  /** The call ended without a verdict on the provider (cancelled, or a neutral error): frees a probe slot. */
  | { type: 'released'; probe?: number };

export interface Admission {
  allowed: boolean;
  /** Set when the call is a half-open probe: pass it back in the outcome. */
  probe?: number;
  /** When refused during a cool-down: when it ends. */
  retryAt?: number;
  state: BreakerState;
}

export interface BreakerView {
  state: BreakerPhase;
  /** Failures / requests within the window; null when there were no requests. */
  failureRate: number | null;
  requests: number;
  failures: number;
  consecutiveFailures: number;
  opens: number;
  until: number | null;
  probesInFlight: number;
  reason: string | null;
}

export function initialBreaker(): BreakerState {
  return {
    phase: 'closed',
    buckets: [],
    consecutiveFailures: 0,
    streak: 0,
    opens: 0,
    until: null,
    trial: 0,
    trialStartedAt: null,
    probesInFlight: 0,
    reason: null,
  };
}

export function isHealthFailure(kind: ErrorKind): boolean {
  return isTransientKind(kind);
}

/** Whether a call may go to the deployment now; may move an open breaker whose cool-down is over to half-open. */
export function admit(state: BreakerState, now: number, cfg: BreakerConfig): Admission {
  if (state.phase === 'closed') return { allowed: true, state };
  let s = state;
  if (s.phase === 'open') {
    if (now < s.until!) return { allowed: false, retryAt: s.until!, state: s };
    s = startTrial(s, now);
  } else if (now - s.trialStartedAt! >= cfg.probeTimeoutMs) {
    s = startTrial(s, now);
  }
  if (s.probesInFlight >= cfg.halfOpenProbes) return { allowed: false, state: s };
  return { allowed: true, probe: s.trial, state: { ...s, probesInFlight: s.probesInFlight + 1 } };
}

export function record(state: BreakerState, outcome: BreakerOutcome, now: number, cfg: BreakerConfig): BreakerState {
  const failure = outcome.type === 'failure' && isHealthFailure(outcome.kind) ? outcome : undefined;
  const verdict = failure ? 'failure' : outcome.type === 'success' ? 'success' : 'neutral';
  const retryAfterMs = failure?.retryAfterMs;

  if (state.phase === 'open') return state; // calls admitted before it opened: it already knows
  if (state.phase === 'half_open') {
    if (outcome.probe !== state.trial) return state; // not a probe of this trial: stale evidence
    if (verdict === 'success') return { ...initialBreaker(), opens: state.opens, trial: state.trial, reason: state.reason };
    if (failure) return trip(state, now, cfg, retryAfterMs, `probe failed: ${failure.kind}`);
    return { ...state, probesInFlight: Math.max(0, state.probesInFlight - 1) };
  }

  // closed: every outcome counts, probes of an earlier trial included (they are recent, real evidence)
  if (verdict === 'neutral') return state;
  const failed = failure ? 1 : 0;
  const buckets = addToWindow(state.buckets, now, cfg, failed);
  const consecutiveFailures = failed ? state.consecutiveFailures + 1 : 0;
  const next = { ...state, buckets, consecutiveFailures };
  if (!failure) return next;

  const kind = failure.kind;
  if (consecutiveFailures >= cfg.consecutiveFailures) {
    return trip(next, now, cfg, retryAfterMs, `${consecutiveFailures} consecutive failures (last: ${kind})`);
  }
  const { requests, failures } = totals(buckets, now, cfg);
  if (requests >= cfg.minRequests && failures / requests >= cfg.failureRateThreshold) {
    return trip(next, now, cfg, retryAfterMs, `${failures}/${requests} failed within ${cfg.windowMs} ms (last: ${kind})`);
  }
  return next;
}

/** Cool-down for the n-th open in a row: grows geometrically up to the cap, and never ends before Retry-After. */
export function cooldownFor(streak: number, cfg: BreakerConfig, retryAfterMs?: number): number {
  const grown = Math.min(cfg.maxCooldownMs, cfg.cooldownMs * Math.pow(cfg.cooldownGrowth, Math.max(0, streak - 1)));
  return Math.max(grown, retryAfterMs ?? 0);
}

/** For the health endpoint; reports an open breaker whose cool-down is over as half-open, as admit would. */
export function view(state: BreakerState, now: number, cfg: BreakerConfig): BreakerView {
  const { requests, failures } = totals(state.buckets, now, cfg);
  const phase = state.phase === 'open' && now >= state.until! ? 'half_open' : state.phase;
  return {
    state: phase,
    failureRate: requests > 0 ? failures / requests : null,
    requests,
    failures,
    consecutiveFailures: state.consecutiveFailures,
    opens: state.opens,
    until: phase === 'open' ? state.until : null,
    probesInFlight: phase === state.phase ? state.probesInFlight : 0,
    reason: state.reason,
  };
}

function trip(state: BreakerState, now: number, cfg: BreakerConfig, retryAfterMs: number | undefined, reason: string): BreakerState {
  const streak = state.streak + 1;
  return {
    ...state,
    phase: 'open',
    streak,
    opens: state.opens + 1,
    until: now + cooldownFor(streak, cfg, retryAfterMs),
    trialStartedAt: null,
    probesInFlight: 0,
    reason,
  };
}

function startTrial(state: BreakerState, now: number): BreakerState {
  return { ...state, phase: 'half_open', until: null, trial: state.trial + 1, trialStartedAt: now, probesInFlight: 0 };
}

function epochOf(now: number, cfg: BreakerConfig): number {
  return Math.floor(now / (cfg.windowMs / cfg.buckets));
}

function live(buckets: readonly WindowBucket[], now: number, cfg: BreakerConfig): WindowBucket[] {
  const oldest = epochOf(now, cfg) - cfg.buckets + 1;
  return buckets.filter((b) => b.epoch >= oldest);
}

function addToWindow(buckets: readonly WindowBucket[], now: number, cfg: BreakerConfig, failed: 0 | 1): WindowBucket[] {
  const kept = live(buckets, now, cfg);
  const last = kept[kept.length - 1];
  // a clock that steps back lands in the newest bucket rather than reopening an old one
  if (last && last.epoch >= epochOf(now, cfg)) {
    kept[kept.length - 1] = { ...last, requests: last.requests + 1, failures: last.failures + failed };
  } else {
    kept.push({ epoch: epochOf(now, cfg), requests: 1, failures: failed });
  }
  return kept;
}

function totals(buckets: readonly WindowBucket[], now: number, cfg: BreakerConfig): { requests: number; failures: number } {
  let requests = 0;
  let failures = 0;
  for (const b of live(buckets, now, cfg)) {
    requests += b.requests;
    failures += b.failures;
  }
  return { requests, failures };
}
