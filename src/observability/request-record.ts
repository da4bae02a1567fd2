/**
 * What one finished request was, in one plain record: built once when the response closes, from the facts
 * the handlers left in the request's trail, and read by the request log, the metrics and the tracing.
 */
import { outcomeLabel, type Attempt, type RunOutcomeLabel } from '../decision/attempt.js';
import { costOfAttempts } from '../ledger/price.js';

/** fast: in-process; durable: a workflow answered synchronously (x-gateway-durable); submit: POST /v1/requests. */
export type RequestMode = 'fast' | 'durable' | 'submit';
/** `accepted`: a durable submission was queued; `aborted`: the client left before the answer was complete. */
/** `refused`: the gateway said no before any provider call (a key's model access, rate limit or budget). */
export type RequestOutcome = RunOutcomeLabel | 'accepted' | 'aborted' | 'refused';
export type CacheResult = 'hit' | 'miss' | 'stale' | 'bypass';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface FinishedRequest {
  requestId: string;
  method: string;
  path: string;
  status: number;
  mode: RequestMode;
  alias: string;
  stream: boolean;
  tenant?: string;
  keyId?: string;
  /** Who answered (absent for catch-all answers, errors and submissions). */
  deployment?: string;
  provider?: string;
  /** The x-gateway-fallback level the client saw. */
  fallback?: string;
  outcome: RequestOutcome;
  /** Why it failed: the last upstream error kind, or `http_<status>` for the gateway's own refusals. */
  errorClass?: string;
  attempts: readonly Attempt[];
  usage?: Usage;
  /** The sum of the attempts' costs: what the request is charged. */
  costUsd?: number;
  /** What the request was charged under (fast path; durable work is charged by the worker under its workflow id). */
  chargeId?: string;
  totalMs: number;
  /** The gateway's own time, as the x-gateway-overhead-ms header reported it. */
  overheadMs?: number;
  route?: { strategy: string; rule?: string };
  cache?: CacheResult;
  /** The workflow id of a durable request. */
  durableId?: string;
}

export interface TrailFacts {
  alias: string;
  stream?: boolean;
  attempts?: readonly Attempt[];
  catchAll?: boolean;
  usage?: Usage;
  route?: { strategy: string; rule?: string };
  cache?: CacheResult;
  chargeId?: string;
  /** A committed stream that ended with an error event: the request failed though its status is 200. */
  interrupted?: { kind: string };
}

export interface ResponseFacts {
  requestId: string;
  method: string;
  path: string;
  status: number;
  durableHeader: boolean;
  headers: { deployment?: string; provider?: string; fallback?: string; overheadMs?: string; durableId?: string };
  tenant?: string;
  keyId?: string;
  clientAborted: boolean;
  totalMs: number;
}

export function modeOf(path: string, durableHeader: boolean): RequestMode {
  if (path === '/v1/requests') return 'submit';
  return durableHeader ? 'durable' : 'fast';
}

export function finishedRequest(trail: TrailFacts, r: ResponseFacts): FinishedRequest {
  const attempts = trail.attempts ?? [];
  const mode = modeOf(r.path, r.durableHeader);
  const answered = r.status < 400 && !trail.interrupted;
  const outcome: RequestOutcome =
    !answered && attempts.length === 0 && (r.status === 403 || r.status === 429)
      ? 'refused'
      : mode === 'submit'
        ? answered
          ? 'accepted'
          : 'failed'
        : r.clientAborted && !trail.catchAll
          ? 'aborted'
          : outcomeLabel(attempts, answered, !!trail.catchAll);
  const lastFailure = [...attempts].reverse().find((a) => a.outcome === 'error');
  const overhead = r.headers.overheadMs !== undefined ? Number(r.headers.overheadMs) : undefined;
  return {
    requestId: r.requestId,
    method: r.method,
    path: r.path,
    status: r.status,
    mode,
    alias: trail.alias,
    stream: !!trail.stream,
    tenant: r.tenant,
    keyId: r.keyId,
    deployment: r.headers.deployment,
    provider: r.headers.provider,
    fallback: r.headers.fallback,
    outcome,
    errorClass: answered ? undefined : (trail.interrupted ? 'stream_interrupted' : (lastFailure?.kind ?? `http_${r.status}`)),
    attempts,
    usage: trail.usage,
    ...(attempts.length > 0 && { costUsd: costOfAttempts(attempts) }),
    ...(trail.chargeId && { chargeId: trail.chargeId }),
    totalMs: r.totalMs,
    overheadMs: overhead !== undefined && Number.isFinite(overhead) ? overhead : undefined,
    route: trail.route,
    cache: trail.cache,
    durableId: r.headers.durableId,
  };
}

/** Streams: the executor returns when the first content arrived, so a streamed attempt's latency is its TTFT. */
export function ttftOf(a: Attempt, stream: boolean): number | undefined {
  if (a.ttftMs !== undefined) return a.ttftMs;
  return stream && a.outcome === 'ok' ? a.latencyMs : undefined;
}

/**
 * What the chain did after each failed attempt: `retry` (same deployment again), `switch` / `downgrade`
 * (the next attempt's stage), `catch_all` (nothing left), or nothing (the error went back to the client).
 */
export function fallbackTriggers(attempts: readonly Attempt[], catchAll: boolean): Array<{ stage: string; reason: string }> {
  const out: Array<{ stage: string; reason: string }> = [];
  attempts.forEach((a, i) => {
    if (a.outcome === 'ok') return;
    const reason = a.outcome === 'skipped' ? 'circuit_open' : a.outcome === 'worker_lost' ? 'worker_lost' : (a.kind ?? 'unknown');
    const next = attempts[i + 1];
    if (next) out.push({ stage: next.deployment === a.deployment ? 'retry' : next.stage, reason });
    // the chain reached the catch-all, whether or not it had an answer to give
    else if (catchAll || a.next === 'catch_all') out.push({ stage: 'catch_all', reason });
  });
  return out;
}
