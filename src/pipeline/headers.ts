/**
 * Response headers that tell the client which deployment answered, how many attempts it took and how much
 * time the gateway itself added (total minus upstream time and backoff waits). Set on answers and on errors
 * alike, on both paths.
 */
import type { Attempt } from '../decision/attempt.js';
import type { Timing } from '../execution/fast-executor.js';
import type { Reply } from './reply.js';

export type FallbackLevel = 'none' | 'retry' | 'switch' | 'downgrade' | 'catch_all' | 'worker_lost';

export function fallbackLevel(attempts: readonly Attempt[], catchAll: boolean): FallbackLevel {
  if (catchAll) return 'catch_all';
  const last = attempts[attempts.length - 1];
  if (!last) return 'none';
  if (last.stage === 'downgrade') return 'downgrade';
  if (last.stage === 'switch') return 'switch';
  // a hedge's cancelled loser is no fallback: nothing failed
  const before = attempts.slice(0, -1).filter((a) => a.outcome !== 'cancelled');
  if (before.length === 0) return 'none';
  // the same call made again because its worker died: no provider failed, so no fallback happened
  return before.every((a) => a.outcome === 'worker_lost') ? 'worker_lost' : 'retry';
}

export interface Journey {
  startedAt: number;
  attempts: readonly Attempt[];
  timing: Timing;
  answeredBy?: { deployment: string; provider: string };
  /** The deployment whose error is passed through to the client (its own fault, which no other would fix). */
  rejectedBy?: { deployment: string; provider: string };
  catchAll?: boolean;
}

export function setGatewayHeaders(reply: Reply, now: number, j: Journey): void {
  const overhead = Math.max(0, now - j.startedAt - j.timing.upstreamMs - j.timing.waitedMs);
  const by = j.answeredBy ?? j.rejectedBy;
  if (by) {
    reply.header('x-gateway-deployment', by.deployment);
    reply.header('x-gateway-provider', by.provider);
  }
  reply.header('x-gateway-attempts', String(j.attempts.length));
  reply.header('x-gateway-fallback', fallbackLevel(j.attempts, !!j.catchAll));
  reply.header('x-gateway-overhead-ms', overhead.toFixed(3));
}

/** Header values must be latin-1; rule and route names come from config and may not be. */
export function headerSafe(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?');
}

/** Who gave the error a chain ended with: the last call that failed. */
export function rejectedByOf(attempts: readonly Attempt[]): { deployment: string; provider: string } | undefined {
  const last = [...attempts].reverse().find((a) => a.outcome === 'error');
  return last && { deployment: last.deployment, provider: last.provider };
}
