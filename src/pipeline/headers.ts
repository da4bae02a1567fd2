/**
 * Response headers that tell the client which deployment answered, how many attempts it took and how much
 * time the gateway itself added (total minus upstream time and backoff waits).
 */
import type { Response } from 'express';
import type { Attempt, Timing } from '../fastpath/executor.js';

export type FallbackLevel = 'none' | 'retry' | 'switch' | 'downgrade' | 'catch_all' | 'worker_lost';

export function fallbackLevel(attempts: Attempt[], catchAll: boolean): FallbackLevel {
  if (catchAll) return 'catch_all';
  const last = attempts[attempts.length - 1];
  if (!last) return 'none';
  if (last.stage === 'downgrade') return 'downgrade';
  if (last.stage === 'switch') return 'switch';
  if (attempts.length <= 1) return 'none';
  // the same call made again because its worker died: no provider failed, so no fallback happened
  return attempts.slice(0, -1).every((a) => a.outcome === 'worker_lost') ? 'worker_lost' : 'retry';
}

export function setGatewayHeaders(
  res: Response,
  startedAt: number,
  now: number,
  attempts: Attempt[],
  timing: Timing,
  answeredBy?: { deployment: string; provider: string },
  catchAll = false,
): void {
  const overhead = Math.max(0, now - startedAt - timing.upstreamMs - timing.waitedMs);
  if (answeredBy) {
    res.setHeader('x-gateway-deployment', answeredBy.deployment);
    res.setHeader('x-gateway-provider', answeredBy.provider);
  }
  res.setHeader('x-gateway-attempts', String(attempts.length));
  res.setHeader('x-gateway-fallback', fallbackLevel(attempts, catchAll));
  res.setHeader('x-gateway-overhead-ms', overhead.toFixed(3));
}
