/**
 * Live durable streams (`stream: true` on the durable path, plain aliases): the gateway opens the request's
 * stream log before the workflow starts, the provider-call activity publishes chunks into it, and this gateway
 * follows the log to the client as it grows (src/streams/follow.ts), with an SSE `id:` on every event. The
 * answer's end goes into the log too, from the workflow's result, so `GET /v1/requests/{id}/stream` with
 * `Last-Event-ID` resumes on any instance sharing the log, also after this one died.
 */
import { HttpError } from '../protocol/errors.js';
import { followStream, type FollowResult } from '../streams/follow.js';
import { START, type StreamEntry, type StreamLog, type StreamProtocol } from '../streams/stream-log.js';
import type { DurableResult } from '../durable/types.js';
import type { RequestView } from '../durable/requests.js';
import type { PipelineContext } from './context.js';
import type { Dialect } from './dialect.js';
import { httpErrorOfWorkflow } from './durable-errors.js';
import type { Reply } from './reply.js';
import type { ChatJob } from './job.js';

type End = { entry: StreamEntry; shared: boolean };

/** The workflow's answer as the log's end. */
export function endOfResult(result: DurableResult): End {
  return { entry: { t: 'done', completion: result.completion, ...(result.outcome === 'catch_all' && { catchAll: true }) }, shared: true };
}

/** A workflow's failure is every reader's end; losing Temporal while waiting ends only this reader's stream. */
export function endOfFailure(err: unknown, alias: string): End {
  const failed = httpErrorOfWorkflow(err, alias);
  const final = failed !== undefined && failed.status !== 503;
  const e = failed ?? new HttpError(503, 'The gateway lost track of this request; it is still running: resume the stream with Last-Event-ID', 'service_unavailable', 'durable_unavailable');
  return { entry: { t: 'error', status: e.status, type: e.type, code: e.code ?? 'error', message: e.message }, shared: final };
}

function writerOf(reply: Reply) {
  return async (text: string) => {
    if (!reply.committed) reply.openStream();
    await reply.write(text);
  };
}

/** Runs the request's workflow and follows its stream log to the client. `failed`: the run's error, when nothing was sent. */
export async function followDurable(
  ctx: PipelineContext,
  log: StreamLog,
  job: ChatJob,
  reply: Reply,
  dialect: Dialect & { live: StreamProtocol },
  start: (beforeStart: (id: string) => Promise<void>) => Promise<DurableResult>,
): Promise<{ follow: FollowResult; result?: DurableResult; failed?: unknown }> {
  let key: string | undefined;
  let failure: unknown;
  let opened!: () => void;
  const logOpened = new Promise<void>((resolve) => (opened = resolve));
  const running = start(async (id) => {
    key = id;
    reply.header('x-gateway-request-id', id);
    // without a log the activity publishes nothing, and the answer still comes whole at the end
    await log.append(id, [{ t: 'open', ...dialect.live }]).catch((err) => ctx.logger.warn({ err, requestId: id }, 'stream log unavailable: this durable stream will arrive whole'));
    opened();
  });
  const ending = running.then(endOfResult, (err) => {
    failure = err;
    return endOfFailure(err, job.request.model);
  });
  await Promise.race([logOpened, ending]);
  // not started, or failed before any of its answer: the caller answers with the error's status
  if (key === undefined || (failure !== undefined && !(await hasChunks(log, key)))) {
    await ending;
    return { follow: { ended: true, entries: 0, restarts: 0 }, failed: failure };
  }
  const follow = await followStream(log, key, {
    protocol: dialect.live,
    newEncoder: () => dialect.stream(),
    ending,
    signal: job.signal,
    write: writerOf(reply),
    gone: () => reply.gone,
  });
  if (follow.ended && !reply.gone && reply.committed) reply.end();
  if (follow.failedFirst) return { follow, failed: failure ?? new HttpError(follow.failedFirst.status, follow.failedFirst.message, follow.failedFirst.type, follow.failedFirst.code) };
  const result = follow.ended ? await running.catch(() => undefined) : undefined;
  return { follow, ...(result && { result }) };
}

async function hasChunks(log: StreamLog, key: string): Promise<boolean> {
  return (await log.read(key, START, 0).catch(() => [])).some((e) => e.entry.t === 'chunk');
}

/** The request's end, read through the API's long-poll (the resuming gateway did not start the workflow). */
async function endOfView(wait: () => Promise<RequestView>): Promise<End> {
  for (;;) {
    let view: RequestView;
    try {
      view = await wait();
    } catch {
      return { entry: { t: 'error', status: 503, type: 'service_unavailable', code: 'durable_unavailable', message: 'The durable path is unavailable right now; resume the stream with Last-Event-ID' }, shared: false };
    }
    if (view.status === 'succeeded' && view.result) return { entry: { t: 'done', completion: view.result, ...(view.outcome === 'catch_all' && { catchAll: true }) }, shared: true };
    if (view.status === 'cancelled') return { entry: { t: 'error', status: 409, type: 'invalid_request_error', code: 'request_cancelled', message: 'The request was cancelled' }, shared: true };
    if (view.status === 'failed') {
      const e = view.error;
      return { entry: { t: 'error', status: e?.status && e.status >= 400 ? e.status : 502, type: 'server_error', code: e?.code ?? 'durable_request_failed', message: e?.message ?? 'The request failed' }, shared: true };
    }
  }
}

/**
 * GET /v1/requests/{id}/stream: the stream from the event after `after` (the client's Last-Event-ID), or from
 * its start, spelled in the protocol the request was made in. 404 when the request was never streamed or its log
 * expired (`GET /v1/requests/{id}` still has the answer), 410 when the events it needs were trimmed.
 */
export async function resumeDurableStream(
  ctx: PipelineContext,
  req: { id: string; tenant: string; after?: string; signal: AbortSignal },
  reply: Reply,
  dialectFor: (p: StreamProtocol) => Dialect,
): Promise<void> {
  const durable = ctx.durable!;
  const log = ctx.streamLog;
  await durable.view(req.id, req.tenant); // the tenant's own request, or RequestNotFound
  const head = log ? await log.read(req.id, START, 0) : [];
  if (!log || head.length === 0) {
    throw new HttpError(404, `Request '${req.id}' has no stream to resume (it was not streamed, or its stream expired): GET /v1/requests/${req.id} has its answer`, 'invalid_request_error', 'stream_not_found', 'id');
  }
  const open = head[0]!.entry;
  if (open.t !== 'open') throw new HttpError(410, `The start of request '${req.id}'s stream is no longer kept: GET /v1/requests/${req.id} has its answer`, 'invalid_request_error', 'stream_expired', 'id');
  const { t: _t, ...protocol } = open;
  const dialect = dialectFor(protocol);
  reply.header('x-gateway-request-id', req.id);
  const maxMs = ctx.config.server.longPollMaxMs;
  const follow = await followStream(log, req.id, {
    protocol,
    newEncoder: () => dialect.stream(),
    after: req.after,
    ending: endOfView(() => durable.view(req.id, req.tenant, maxMs, req.signal)),
    signal: req.signal,
    write: writerOf(reply),
    gone: () => reply.gone,
  });
  if (follow.failedFirst && !reply.committed) {
    const f = follow.failedFirst;
    throw new HttpError(f.status, f.message, f.type, f.code);
  }
  if (!reply.gone) {
    if (!reply.committed) reply.openStream();
    reply.end();
  }
}
