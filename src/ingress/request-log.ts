/**
 * One structured log record per request, written when the response is done: the alias asked for, every
 * attempt (deployment, outcome, error kind, status, latency, what the chain did next) and the final status.
 * Handlers only record facts into the trail; this module decides what is logged. No bodies, no keys.
 */
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Attempt } from '../fastpath/executor.js';
import { principalOf } from './auth.js';

export interface Trail {
  alias?: string;
  stream?: boolean;
  attempts?: Attempt[];
  catchAll?: boolean;
  costUsd?: number;
}

const trails = new WeakMap<Response, Trail>();

export function trailOf(res: Response): Trail {
  let t = trails.get(res);
  if (!t) trails.set(res, (t = {}));
  return t;
}

export function logWhenDone(logger: Logger, req: Request, res: Response, startedAt: number): void {
  if (!logger.isLevelEnabled('info')) return;
  const write = (aborted: boolean) => {
    const trail = trails.get(res);
    if (!trail?.alias) return;
    const attempts = trail.attempts ?? [];
    logger.info(
      {
        requestId: res.getHeader('x-request-id'),
        method: req.method,
        path: req.path,
        status: res.statusCode,
        alias: trail.alias,
        stream: trail.stream,
        deployment: res.getHeader('x-gateway-deployment'),
        fallback: res.getHeader('x-gateway-fallback'),
        catchAll: trail.catchAll || undefined,
        costUsd: trail.costUsd,
        tenant: principalOf(req).tenant,
        keyId: principalOf(req).keyId,
        clientAborted: aborted || undefined,
        attempts: attempts.map((a) => ({
          deployment: a.deployment,
          stage: a.stage,
          attempt: a.attempt,
          outcome: a.outcome,
          kind: a.kind,
          status: a.status,
          ms: Math.round(a.latencyMs * 10) / 10,
          next: a.next,
        })),
        totalMs: Math.round((performance.now() - startedAt) * 10) / 10,
      },
      'request',
    );
  };
  res.once('close', () => write(!res.writableFinished));
}
