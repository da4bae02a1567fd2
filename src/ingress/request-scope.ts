/**
 * Per-request facts the handlers share: when the request arrived (for the overhead header) and a signal
 * that fires when the client goes away, so the upstream call is aborted instead of running for nobody.
 */
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { logWhenDone } from './request-log.js';

const started = new WeakMap<IncomingMessage, number>();

/** Called by the HTTP server on the request event, before any middleware. */
export function markArrival(req: IncomingMessage): void {
  started.set(req, performance.now());
}

export function requestScope(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    let now = started.get(req);
    if (now === undefined) started.set(req, (now = performance.now()));
    const id = req.get('x-request-id');
    res.setHeader('x-request-id', id && id.length <= 128 && /^[\w.:-]+$/.test(id) ? id : randomUUID());
    logWhenDone(logger, req, res, now);
    next();
  };
}

export function requestStart(req: Request): number {
  return started.get(req) ?? performance.now();
}

export class ClientDisconnected extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientDisconnected';
  }
}

export function clientAbortSignal(_req: Request, res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new ClientDisconnected());
  });
  return controller.signal;
}
