/**
 * POST /v1/requests through the pipeline: admitted and routed like any request (a cascade alias too: its
 * stages are planned by the worker as it reaches them), then started as a workflow and answered at once.
 * The worker charges it when it ends.
 */
import { IdempotencyConflict, TemporalUnavailable } from '../durable/errors.js';
import type { RequestView } from '../durable/requests.js';
import { admissionTokens, admit } from './admit.js';
import type { PipelineContext } from './context.js';
import { requireDurable, submitOptions } from './durable.js';
import { idempotencyConflictError } from './durable-errors.js';
import type { ChatJob } from './job.js';
import type { Reply } from './reply.js';
import { routeLabel, routeRequest } from './route.js';
import { settleRequest } from './settle.js';

export async function submitChat(ctx: PipelineContext, job: ChatJob, reply: Reply): Promise<RequestView> {
  const durable = requireDurable(ctx);
  const request = { ...job.request, stream: false };
  Object.assign(job.trail, { alias: request.model, stream: false });
  const settleAdmission = await admit(ctx, job.principal, request.model, admissionTokens(request));
  reply.onDone(() => {
    job.trail.settled = settleRequest({ trail: job.trail, admission: settleAdmission, logger: ctx.logger });
  });
  const routed = await routeRequest(ctx, request, { tags: job.tags, hint: job.routeHint, signal: job.signal, tenant: job.principal.tenant });
  job.trail.route = routeLabel(routed);
  let id: string;
  try {
    ({ id } = await durable.submit(request, submitOptions(ctx, job, routed)));
  } catch (err) {
    if (err instanceof IdempotencyConflict) throw idempotencyConflictError(err);
    throw err;
  }
  job.trail.durableId = id;
  reply.header('location', `/v1/requests/${id}`);
  reply.header('x-gateway-request-id', id);
  // A keyed submission may find its request already running or done; a fresh one is queued by definition.
  // Submitted but unreadable: the 503 still names the request, which exists.
  if (!job.idempotencyKey) return durable.queuedView(id, request.model);
  return durable.view(id, job.principal.tenant).catch((err) => {
    throw err instanceof TemporalUnavailable && !err.requestId ? new TemporalUnavailable(err.message, id, { cause: err }) : err;
  });
}
