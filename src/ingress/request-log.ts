/**
 * One structured log record per request, written when the response is done: the alias asked for, every
 * attempt (deployment, outcome, error kind, status, latency, tokens, what the chain did next), the final
 * outcome, usage and error class. Handlers only record facts into the trail; this module turns them into one
 * FinishedRequest, which the log and every other observer (metrics, tracing) read. Keys are never logged;
 * prompts and answers only with `logging.bodies: true`.
 */
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Trail } from '../pipeline/trail.js';
import { capturedBodies } from '../observability/body-capture.js';
import { finishedRequest, type FinishedRequest } from '../observability/request-record.js';
import { principalOf } from './auth.js';

export type RequestListener = (finished: FinishedRequest) => void;

const trails = new WeakMap<Response, Trail>();
const listeners = new WeakMap<Response, RequestListener[]>();

export type { Trail };

export function trailOf(res: Response): Trail {
  let t = trails.get(res);
  if (!t) trails.set(res, (t = {}));
  return t;
}

/** Called once with the request's record when its response closes (model requests only: those with an alias). */
export function onRequestDone(res: Response, listener: RequestListener): void {
  const list = listeners.get(res);
  if (list) list.push(listener);
  else listeners.set(res, [listener]);
}

function header(res: Response, name: string): string | undefined {
  const v = res.getHeader(name);
  return v === undefined ? undefined : String(v);
}

export function logWhenDone(logger: Logger, req: Request, res: Response, startedAt: number): void {
  res.once('close', () => {
    const trail = trails.get(res);
    // written once the request is settled: a stream's last attempt is priced at its end, the charge after it
    void Promise.resolve(trail?.settled).then(() => record(trail));
  });
  const record = (trail: Trail | undefined) => {
    const observers = listeners.get(res);
    const logging = logger.isLevelEnabled('info');
    if (!trail?.alias || (!logging && !observers)) return;
    const principal = principalOf(req);
    const durable = req.get('x-gateway-durable');
    const finished = finishedRequest(trail as Trail & { alias: string }, {
      requestId: header(res, 'x-request-id') ?? '',
      method: req.method,
      path: req.path,
      status: res.statusCode,
      durableHeader: durable === 'true' || durable === '1',
      headers: {
        deployment: header(res, 'x-gateway-deployment'),
        provider: header(res, 'x-gateway-provider'),
        fallback: header(res, 'x-gateway-fallback'),
        overheadMs: header(res, 'x-gateway-overhead-ms'),
        durableId: header(res, 'x-gateway-request-id') ?? trail.durableId,
      },
      tenant: principal.tenant,
      keyId: principal.keyId,
      clientAborted: !res.writableFinished,
      totalMs: performance.now() - startedAt,
    });
    if (logging) writeRecord(logger, req, res, finished);
    for (const observe of observers ?? []) {
      try {
        observe(finished);
      } catch (err) {
        logger.error({ err }, 'a request observer failed');
      }
    }
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

function writeRecord(logger: Logger, req: Request, res: Response, f: FinishedRequest): void {
  const bodies = capturedBodies(res);
  logger.info(
    {
      requestId: f.requestId,
      method: f.method,
      path: f.path,
      status: f.status,
      alias: f.alias,
      mode: f.mode,
      stream: f.stream,
      outcome: f.outcome,
      errorClass: f.errorClass,
      deployment: f.deployment,
      provider: f.provider,
      fallback: f.fallback,
      catchAll: f.outcome === 'catch_all' || undefined,
      route: f.route,
      cache: f.cache,
      cacheSimilarity: trails.get(res)?.cacheSimilarity,
      cacheVerdict: trails.get(res)?.cacheVerdict,
      durableId: f.durableId,
      usage: f.usage,
      costUsd: f.costUsd,
      chargeId: f.chargeId,
      tenant: f.tenant,
      keyId: f.keyId,
      clientAborted: f.outcome === 'aborted' || undefined,
      attempts: f.attempts.map((a) => ({
        deployment: a.deployment,
        provider: a.provider,
        stage: a.stage,
        attempt: a.attempt,
        outcome: a.outcome,
        kind: a.kind,
        status: a.status,
        ms: round(a.latencyMs),
        ttftMs: a.ttftMs === undefined ? undefined : round(a.ttftMs),
        inputTokens: a.inputTokens,
        outputTokens: a.outputTokens,
        costUsd: a.costUsd,
        alias: a.alias,
        hedge: a.hedge,
        next: a.next,
        workerLost: a.workerLost,
      })),
      totalMs: round(f.totalMs),
      overheadMs: f.overheadMs,
      ...(bodies && { prompt: req.body, answer: bodies.answer() }),
    },
    'request',
  );
}
