/**
 * Durable requests from the gateway's side: submit (idempotent by key), read (with long-poll), cancel, and run
 * synchronously. A request id is its workflow id; a tenant sees only its own requests (others get "not found").
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowClientInterceptor,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure, type PayloadCodec } from '@temporalio/common';
import type { Attempt } from '../decision/attempt.js';
import type { GatewayConfig } from '../config/types.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { requestWorkflow } from '../../workflows/request.js';
import { dataConverterOf, type TemporalLink, type TemporalTarget } from './connection.js';
import { EagerStarts, startEagerlyIfLocal, type LocalWorker } from './eager-start.js';
import { IdempotencyConflict, noteFailedRun, RequestNotFound } from './errors.js';
import type { RecentDurable } from '../observability/status.js';
import { SA } from './search-attributes.js';
import type { RouteHint } from '../decision/route-hints.js';
import type { Plan } from '../decision/plan.js';
import type { RoutingConfig } from '../config/types.js';
import { PROGRESS_QUERY, type DurableResult, type ProviderFailureDetails, type RequestProgress } from './types.js';

export type RequestStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RequestView {
  id: string;
  object: 'gateway.request';
  status: RequestStatus;
  model: string;
  created_at: number;
  completed_at: number | null;
  outcome?: string;
  deployment?: string;
  attempts: Attempt[];
  result: ChatCompletion | null;
  error: { type: string; code: string; message: string; kind?: string; status?: number } | null;
}

export interface SubmitOptions {
  tenant: string;
  requestId: string;
  idempotencyKey?: string;
  /** Task tags from the request's header, for capability rules (metadata.tags travel in the body). */
  tags?: string[];
  routeHint?: RouteHint;
  /** Key id the worker charges the request to (every durable request, when keys are configured). */
  chargeTo?: string;
  /** The gateway's plan, used by the worker instead of planning again (absent for cascades). */
  plan?: Plan;
  routing?: RoutingConfig;
  /** Runs once the id is known, before the workflow starts (a live stream opens its log here: src/streams). */
  beforeStart?: (id: string) => Promise<void>;
}

function digest(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** Stable JSON (sorted keys), so the same request body always hashes the same. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A start that got no answer in this time has an unknown outcome: the client hears 503 with the request's id. */
const START_DEADLINE_MS = 5_000;

export class DurableRequests {
  private readonly client: Client;
  private readonly target: TemporalTarget;
  /** What encrypts this gateway's payloads (the codec endpoint decodes with it for the Temporal UI). */
  readonly payloadCodec?: PayloadCodec;
  /** With a worker in this process: starts over its connection, eagerly (eager-start.ts). */
  private readonly eagerStarts?: EagerStarts;

  /**
   * Over `link`, which its owner closes; `interceptors`: e.g. tracing's, which carry the request's trace into the
   * workflow; `localWorker`: this process's own worker (role all), which then gets each request's first task eagerly.
   */
  constructor(
    private readonly link: TemporalLink,
    private readonly config: GatewayConfig,
    interceptors: WorkflowClientInterceptor[] = [],
    localWorker?: LocalWorker,
  ) {
    this.target = link.target;
    this.payloadCodec = link.target.payloadCodec;
    const options = { namespace: link.target.namespace, dataConverter: dataConverterOf(link.target), interceptors: { workflow: interceptors } };
    this.client = new Client({ connection: link.connection, ...options });
    if (localWorker) this.eagerStarts = new EagerStarts(localWorker, options);
  }

  /** The latest request workflows on this gateway's task queue, for the status page (no tenant filter: operators only). */
  async recent(limit: number): Promise<RecentDurable[]> {
    const query = `TaskQueue = '${this.target.taskQueue}' AND WorkflowType = 'requestWorkflow'`;
    // a page that polls every few seconds must not hang on a slow cluster
    return this.link.call(() => this.client.connection.withDeadline(Date.now() + 3_000, async () => {
      const out: RecentDurable[] = [];
      for await (const wf of this.client.workflow.list({ query, pageSize: limit })) {
        out.push({
          id: wf.workflowId,
          runId: wf.runId,
          status: wf.status.name,
          alias: wf.typedSearchAttributes.get(SA.alias) ?? '',
          outcome: wf.typedSearchAttributes.get(SA.outcome) ?? null,
          deployment: wf.typedSearchAttributes.get(SA.deployment) ?? null,
          startedAt: wf.startTime.toISOString(),
          closedAt: wf.closeTime?.toISOString() ?? null,
        });
        if (out.length >= limit) break;
      }
      return out;
    }));
  }

  /** The connection belongs to the TemporalLink; nothing of its own to close. */
  async close(): Promise<void> {}

  /** The workflow id: from the tenant's Idempotency-Key when given (so a repeat finds the same request). */
  idFor(tenant: string, idempotencyKey?: string): string {
    return idempotencyKey ? `req-${digest('idem', tenant, idempotencyKey).slice(0, 32)}` : `req-${randomUUID()}`;
  }

  async submit(request: ChatRequest, opts: SubmitOptions): Promise<{ id: string }> {
    const id = this.idFor(opts.tenant, opts.idempotencyKey);
    const bodyHash = digest(canonicalJson(request)).slice(0, 32);
    const body = { ...request, stream: false };
    await opts.beforeStart?.(id);
    // Sent but unanswered (deadline, connection lost): it may have started, so the 503 names the id it has.
    const start = () => startEagerlyIfLocal(this.eagerStarts, this.client, (client, eager) => client.connection.withDeadline(Date.now() + START_DEADLINE_MS, () => client.workflow.start<typeof requestWorkflow>('requestWorkflow', {
        workflowId: id,
        taskQueue: this.target.taskQueue,
        requestEagerStart: eager,
        args: [
          { request: body, tenant: opts.tenant, requestId: opts.requestId, ...(opts.tags?.length && { tags: opts.tags }), ...(opts.routeHint && { routeHint: opts.routeHint }), ...(opts.chargeTo && { chargeTo: opts.chargeTo }), ...(opts.plan && opts.routing && { plan: opts.plan, routing: opts.routing }) },
          { heartbeatTimeoutMs: this.config.durable.heartbeatTimeoutMs, attemptTimeoutMs: this.config.durable.attemptTimeoutMs },
        ],
        // A running request with this id is the same request; a finished one is not started again.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: SA.alias, value: request.model },
          { key: SA.tenant, value: opts.tenant },
        ],
        memo: { bodyHash, tenant: opts.tenant },
        staticSummary: `${request.model} · tenant ${opts.tenant} · request ${opts.requestId}`.slice(0, 200),
        staticDetails: `Chat completion for model alias **${request.model}** (${request.messages.length} messages${request.tools?.length ? `, ${request.tools.length} tools` : ''}).\n\nGateway request id: \`${opts.requestId}\``,
      })));
    try {
      await this.link.call(start, id);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    if (opts.idempotencyKey) {
      const existing = await this.link.call(() => this.client.workflow.getHandle(id).describe(), id);
      if (existing.memo?.bodyHash !== undefined && existing.memo.bodyHash !== bodyHash) throw new IdempotencyConflict();
    }
    return { id };
  }

  private async handleFor(id: string, tenant: string): Promise<{ handle: WorkflowHandle<typeof requestWorkflow>; desc: Awaited<ReturnType<WorkflowHandle['describe']>> }> {
    if (!/^req-[\w-]{1,64}$/.test(id)) throw new RequestNotFound(id);
    const handle = this.client.workflow.getHandle<typeof requestWorkflow>(id);
    try {
      const desc = await this.link.call(() => handle.describe());
      if (desc.typedSearchAttributes.get(SA.tenant) !== tenant) throw new RequestNotFound(id);
      return { handle, desc };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new RequestNotFound(id);
      throw err;
    }
  }

  /** What a request looks like the moment it is submitted, without asking the server again. */
  queuedView(id: string, model: string): RequestView {
    const now = Math.floor(Date.now() / 1000);
    return { id, object: 'gateway.request', status: 'queued', model, created_at: now, completed_at: null, attempts: [], result: null, error: null };
  }

  /**
   * The request as the API shows it; `waitMs` long-polls a running request until it ends or the time is up,
   * or until `signal` aborts (the client went away: the wait ends with it, throwing the signal's reason).
   */
  async view(id: string, tenant: string, waitMs = 0, signal?: AbortSignal): Promise<RequestView> {
    return this.link.call(() => this.readView(id, tenant, waitMs, signal));
  }

  private async readView(id: string, tenant: string, waitMs: number, signal?: AbortSignal): Promise<RequestView> {
    let { handle, desc } = await this.handleFor(id, tenant);
    let finished: DurableResult | undefined;
    if (desc.status.name === 'RUNNING' && waitMs > 0) {
      // The long-poll's own result is kept: fetching it again would cost another history read.
      const waited = signal ? AbortSignal.any([AbortSignal.timeout(waitMs), signal]) : AbortSignal.timeout(waitMs);
      finished = await this.client.connection.withAbortSignal(waited, () => handle.result()).catch(() => undefined);
      if (signal?.aborted) throw signal.reason;
      desc = await handle.describe();
    }
    const base: RequestView = {
      id,
      object: 'gateway.request',
      status: 'running',
      model: desc.typedSearchAttributes.get(SA.alias) ?? '',
      created_at: Math.floor(desc.startTime.getTime() / 1000),
      completed_at: desc.closeTime ? Math.floor(desc.closeTime.getTime() / 1000) : null,
      attempts: [],
      result: null,
      error: null,
    };
    switch (desc.status.name) {
      case 'RUNNING': {
        const progress = await this.client.connection
          .withDeadline(Date.now() + 2_000, () => handle.query<RequestProgress>(PROGRESS_QUERY))
          .catch(() => undefined);
        return { ...base, status: progress && progress.attempts.length > 0 ? 'running' : 'queued', attempts: progress?.attempts ?? [] };
      }
      case 'COMPLETED': {
        const r: DurableResult = finished ?? (await handle.result());
        return { ...base, status: 'succeeded', outcome: r.outcome, deployment: r.deployment, attempts: r.attempts, result: r.completion };
      }
      default:
        return this.failedView(base, handle);
    }
  }

  private async failedView(base: RequestView, handle: WorkflowHandle<typeof requestWorkflow>): Promise<RequestView> {
    try {
      await handle.result();
    } catch (err) {
      const cause = err instanceof WorkflowFailedError ? err.cause : err;
      if (cause instanceof CancelledFailure) {
        return { ...base, status: 'cancelled', error: { type: 'cancelled', code: 'request_cancelled', message: 'The request was cancelled' } };
      }
      if (cause instanceof ApplicationFailure) {
        const d = cause.details?.[0] as (ProviderFailureDetails & { attempts: Attempt[] }) | undefined;
        return {
          ...base,
          status: 'failed',
          outcome: 'failed',
          attempts: d?.attempts ?? [],
          error: { type: cause.type ?? 'error', code: cause.type ?? 'error', message: cause.message, kind: d?.kind, status: d?.status },
        };
      }
      const code = cause instanceof TerminatedFailure ? 'terminated' : cause instanceof TimeoutFailure ? 'timed_out' : 'failed';
      return { ...base, status: 'failed', error: { type: 'error', code, message: (cause as Error)?.message ?? String(cause) } };
    }
    return base;
  }

  async cancel(id: string, tenant: string): Promise<RequestView> {
    const { handle, desc } = await this.handleFor(id, tenant);
    if (desc.status.name === 'RUNNING') await this.link.call(() => handle.cancel());
    return this.view(id, tenant, 5_000);
  }

  /**
   * Runs a request through the workflow and waits for its end: durability for plain OpenAI clients.
   * `onStarted` learns the request's id as soon as it exists (a client may leave before the end).
   */
  async run(request: ChatRequest, opts: SubmitOptions, signal?: AbortSignal, onStarted?: (id: string) => void): Promise<{ id: string; result: DurableResult }> {
    const { id } = await this.submit(request, opts);
    onStarted?.(id);
    const handle = this.client.workflow.getHandle<typeof requestWorkflow>(id);
    // Lost while waiting: the request runs on, and the 503 names it so the client can fetch or repeat it.
    try {
      const result = await this.link.call(() => (signal ? this.client.connection.withAbortSignal(signal, () => handle.result()) : handle.result()), id);
      return { id, result };
    } catch (err) {
      noteFailedRun(err, id);
      throw err;
    }
  }
}
