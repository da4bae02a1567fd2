/**
 * The live health of every deployment, fed by the executors (begin/end around each upstream call) and read
 * by routing through `snapshot`, a plain serialisable value, so routing itself stays a pure function of it.
 *
 * Latency windows take successful calls only: a deployment failing fast must not look fast. TTFT is taken
 * whenever the first token arrived, even if the stream broke later: the wait for it was real.
 *
 * Load: `begin(deployment, { queuedTokens })` counts the call's tokens (input + max output) as queued on the
 * deployment until its `end`, so balancing sees work in flight, not just a call count. Engine numbers (vLLM's
 * own queue and KV-cache use) come from a scraper through `setEngineStats`; the snapshot marks them stale
 * once older than `health.engine.maxAgeMs`, and routing then treats them as unknown.
 */
import type { HealthConfig } from '../config/health-schema.js';
import { admit, initialBreaker, record, view as breakerView, type BreakerOutcome, type BreakerPhase, type BreakerState, type BreakerView } from '../decision/breaker.js';
import type { ErrorKind } from '../providers/errors.js';
import { LatencyWindow } from './latency-window.js';

export interface CallHandle {
  readonly deployment: string;
  /** False: the breaker refused the call; do not make it (ending the handle is a harmless no-op). */
  readonly allowed: boolean;
  /** Set when the call is a half-open probe. */
  readonly probe?: number;
  /** When refused during a cool-down: when it ends. */
  readonly retryAt?: number;
  readonly startedAt: number;
  /** Tokens this call added to the deployment's queue (0 when refused); taken off again at `end`. */
  readonly queuedTokens?: number;
}

export interface CallLoad {
  /** The request's input tokens plus its output budget (max tokens): the work it asks of the deployment. */
  queuedTokens: number;
}

/** What an inference engine reports about itself (vLLM: `/metrics`). */
export interface EngineStats {
  /** Requests queued inside the engine, not yet scheduled. */
  waiting: number;
  /** Requests in the engine's running batch. */
  running: number;
  /** KV-cache use, 0..1; null when the engine does not report it. */
  kvCacheUsage: number | null;
}

export interface EngineSnapshot extends EngineStats {
  /** When the numbers were read (ms since epoch). */
  at: number;
  /** Older than `health.engine.maxAgeMs` at snapshot time: not to be trusted. */
  stale: boolean;
}

export interface CallOutcome {
  ok: boolean;
  /**
   * The failure's kind; absent on a failure means no verdict (the client went away). `gateway` (the gateway
   * could not build or send the call) is no verdict either: it is ignored like an absent kind.
   */
  kind?: ErrorKind;
  retryAfterMs?: number;
  latencyMs: number;
  /** Streams: time to the first content token. */
  ttftMs?: number;
  outputTokens?: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface DeploymentSnapshot {
  breaker: BreakerPhase;
  /** Whether the breaker would let a call through now (in half-open: a probe slot is free). */
  allowed: boolean;
  inFlight: number;
  /** Tokens (input + max output) of this gateway's calls in flight to the deployment. */
  queuedTokens: number;
  /** The engine's own load, present once it has been scraped at least once. */
  engine?: EngineSnapshot;
  /** Total latency / output tokens, per successful call. */
  latencyPerTokenMs: Percentiles;
  ttftMs: Percentiles;
  latencyMs: Percentiles;
  /** Output tokens / total latency over the window's successful calls: the speed a call gets. Null without data. */
  tokensPerSecond: number | null;
  samples: { latency: number; perToken: number; ttft: number };
  lastError: { kind: ErrorKind; at: number } | null;
}

export interface HealthSnapshot {
  at: number;
  deployments: Record<string, DeploymentSnapshot>;
}

export interface DeploymentView extends Omit<DeploymentSnapshot, 'breaker'> {
  breaker: BreakerView;
  meanLatencyMs: number | null;
}

export interface HealthView {
  at: number;
  deployments: Record<string, DeploymentView>;
}

export interface HealthStateOptions {
  config: HealthConfig;
  now?: () => number;
  /** Known deployments, listed in snapshots even before their first call. */
  deployments?: readonly string[];
}

interface Entry {
  breaker: BreakerState;
  inFlight: number;
  queuedTokens: number;
  engine: (EngineStats & { at: number }) | null;
  latency: LatencyWindow;
  perToken: LatencyWindow;
  ttft: LatencyWindow;
  /** Fed in lockstep (same calls, same times), so their sums over the window divide into a throughput. */
  tokens: LatencyWindow;
  tokenLatency: LatencyWindow;
  lastError: { kind: ErrorKind; at: number } | null;
}

export class HealthState {
  private readonly entries = new Map<string, Entry>();
  /** Handles begun and not yet ended: makes `end` idempotent, so a double end cannot drive inFlight negative. */
  private readonly open = new WeakSet<CallHandle>();
  private readonly config: HealthConfig;
  private readonly now: () => number;

  constructor(opts: HealthStateOptions) {
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    for (const d of opts.deployments ?? []) this.entry(d);
  }

  begin(deployment: string, load?: CallLoad): CallHandle {
    const e = this.entry(deployment);
    const now = this.now();
    const a = admit(e.breaker, now, this.config.breaker);
    e.breaker = a.state;
    const queuedTokens = a.allowed ? cleanTokens(load?.queuedTokens) : 0;
    const handle: CallHandle = {
      deployment,
      allowed: a.allowed,
      startedAt: now,
      queuedTokens,
      ...(a.probe !== undefined && { probe: a.probe }),
      ...(a.retryAt !== undefined && { retryAt: a.retryAt }),
    };
    if (a.allowed) {
      e.inFlight++;
      e.queuedTokens += queuedTokens;
      this.open.add(handle);
    }
    return handle;
  }

  /**
   * The engine's own numbers as read at `at`. A reading older than the one held is ignored: scrapes may
   * answer out of order, and the older one must not overwrite the newer.
   */
  setEngineStats(deployment: string, stats: EngineStats, at: number): void {
    const e = this.entry(deployment);
    if (e.engine && at < e.engine.at) return;
    e.engine = { waiting: stats.waiting, running: stats.running, kvCacheUsage: stats.kvCacheUsage, at };
  }

  end(handle: CallHandle, outcome: CallOutcome): void {
    if (!this.open.delete(handle)) return;
    const e = this.entry(handle.deployment);
    const now = this.now();
    e.inFlight--;
    // clamped: a handle built by hand (not by begin) must not drive the queue negative
    e.queuedTokens = Math.max(0, e.queuedTokens - (handle.queuedTokens ?? 0));
    e.breaker = record(e.breaker, breakerOutcome(outcome, handle.probe), now, this.config.breaker);
    if (!outcome.ok && attributable(outcome)) e.lastError = { kind: outcome.kind!, at: now };
    if (outcome.ttftMs !== undefined) e.ttft.add(outcome.ttftMs, now);
    if (!outcome.ok) return;
    e.latency.add(outcome.latencyMs, now);
    if (outcome.outputTokens !== undefined && outcome.outputTokens > 0) {
      e.perToken.add(outcome.latencyMs / outcome.outputTokens, now);
      e.tokens.add(outcome.outputTokens, now);
      e.tokenLatency.add(outcome.latencyMs, now);
    }
  }

  snapshot(now: number = this.now()): HealthSnapshot {
    const deployments: Record<string, DeploymentSnapshot> = {};
    for (const [name, e] of this.entries) deployments[name] = this.deploymentSnapshot(e, now);
    return { at: now, deployments };
  }

  /** For the JSON health endpoint: the snapshot plus the breaker's counts and reasons. */
  view(now: number = this.now()): HealthView {
    const deployments: Record<string, DeploymentView> = {};
    for (const [name, e] of this.entries) {
      deployments[name] = { ...this.deploymentSnapshot(e, now), breaker: breakerView(e.breaker, now, this.config.breaker), meanLatencyMs: e.latency.mean(now) };
    }
    return { at: now, deployments };
  }

  private deploymentSnapshot(e: Entry, now: number): DeploymentSnapshot {
    // a dry run of admit: what a call would meet now, without taking a probe slot
    const peek = admit(e.breaker, now, this.config.breaker);
    const seconds = e.tokenLatency.sum(now) / 1000;
    return {
      breaker: peek.state.phase,
      allowed: peek.allowed,
      inFlight: e.inFlight,
      queuedTokens: e.queuedTokens,
      ...(e.engine && { engine: { ...e.engine, stale: now - e.engine.at > this.config.engine.maxAgeMs } }),
      latencyPerTokenMs: percentiles(e.perToken, now),
      ttftMs: percentiles(e.ttft, now),
      latencyMs: percentiles(e.latency, now),
      tokensPerSecond: seconds > 0 ? e.tokens.sum(now) / seconds : null,
      samples: { latency: e.latency.count(now), perToken: e.perToken.count(now), ttft: e.ttft.count(now) },
      lastError: e.lastError && { ...e.lastError },
    };
  }

  private entry(deployment: string): Entry {
    let e = this.entries.get(deployment);
    if (!e) {
      const w = () => new LatencyWindow(this.config.latency);
      const sums = () => new LatencyWindow({ ...this.config.latency, sumOnly: true });
      e = { breaker: initialBreaker(), inFlight: 0, queuedTokens: 0, engine: null, latency: w(), perToken: w(), ttft: w(), tokens: sums(), tokenLatency: sums(), lastError: null };
      this.entries.set(deployment, e);
    }
    return e;
  }
}

function breakerOutcome(o: CallOutcome, probe: number | undefined): BreakerOutcome {
  const p = probe !== undefined ? { probe } : {};
  if (o.ok) return { type: 'success', ...p };
  if (attributable(o)) return { type: 'failure', kind: o.kind!, ...(o.retryAfterMs !== undefined && { retryAfterMs: o.retryAfterMs }), ...p };
  return { type: 'released', ...p };
}

/** Only what the upstream did is evidence about it: a gateway fault, like a client's abort, is no verdict. */
function attributable(o: CallOutcome): boolean {
  return o.kind !== undefined && o.kind !== 'gateway';
}

function cleanTokens(n: number | undefined): number {
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

function percentiles(w: LatencyWindow, now: number): Percentiles {
  return { p50: w.quantile(0.5, now), p95: w.quantile(0.95, now) };
}
