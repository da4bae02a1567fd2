/**
 * Batches from the gateway's side: create (a record in the store, then the workflow), retrieve and list (the
 * record, with live status and counts from the workflow's `progress` query while it runs), cancel (cancels the
 * workflow; the batch shows `cancelling` until its lines in flight are stopped and the output is written).
 * Everything is looked up under the caller's tenant, so another tenant's batch or file is simply not found.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { GatewayConfig } from '../config/types.js';
import { dataConverterOf, type TemporalLink, type TemporalTarget } from '../durable/connection.js';
import { TemporalUnavailable } from '../durable/errors.js';
import { SA } from '../durable/search-attributes.js';
import { HttpError, invalidRequest } from '../protocol/errors.js';
import { batchNotFound, fileNotFound, pageOf, type Page } from './views.js';
import { newBatchId } from './ids.js';
import { FileStore } from './store.js';
import {
  BATCH_ENDPOINT,
  BATCH_PROGRESS_QUERY,
  TERMINAL_STATUSES,
  type BatchProgress,
  type BatchRecord,
  type BatchWorkflowInput,
} from './types.js';

export interface CreateBatchParams {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata?: Record<string, string> | null;
}

const QUERY_DEADLINE_MS = 2_000;

export class BatchService {
  private readonly client: Client;
  private readonly target: TemporalTarget;
  readonly store: FileStore;

  /** Over `link`, which its owner closes. Files need only the store, so they are served while Temporal is down. */
  constructor(
    private readonly link: TemporalLink,
    private readonly config: GatewayConfig,
  ) {
    this.target = link.target;
    this.client = new Client({ connection: link.connection, namespace: link.target.namespace, dataConverter: dataConverterOf(link.target) });
    this.store = new FileStore(config.batches.dir);
  }

  async close(): Promise<void> {}

  /** `keyId`: the key that pays for the lines (absent with `auth.mode: none`). */
  async create(tenant: string, allowedModels: string[] | undefined, params: CreateBatchParams, keyId?: string): Promise<BatchRecord> {
    if (params.endpoint !== BATCH_ENDPOINT) {
      throw invalidRequest(`Invalid value for 'endpoint': this gateway runs batches for ${BATCH_ENDPOINT} only.`, 'endpoint', 'invalid_value');
    }
    if (params.completion_window !== '24h') {
      throw invalidRequest("Invalid value for 'completion_window': only '24h' is supported.", 'completion_window', 'invalid_value');
    }
    const file = await this.store.getFile(tenant, params.input_file_id);
    if (!file) throw fileNotFound(params.input_file_id, 'input_file_id');
    if (file.purpose !== 'batch') {
      throw invalidRequest(`The input file must have purpose 'batch', not '${file.purpose}'.`, 'input_file_id', 'invalid_file_purpose');
    }

    const batches = this.config.batches;
    const now = Date.now();
    const createdAt = Math.floor(now / 1000);
    const expiresAtMs = now + batches.expireAfterMs;
    const record: BatchRecord = {
      id: newBatchId(),
      object: 'batch',
      endpoint: params.endpoint,
      input_file_id: file.id,
      completion_window: params.completion_window,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      errors: null,
      created_at: createdAt,
      in_progress_at: null,
      expires_at: Math.floor(expiresAtMs / 1000),
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: params.metadata ?? null,
      tenant,
      ...(keyId !== undefined && { key_id: keyId }),
    };
    // Not connected yet: refused before any record exists, rather than a batch that failed to start.
    if (!this.link.isConnected) throw new TemporalUnavailable(`Temporal at ${this.target.address} is not reachable yet`);
    await this.store.putBatch(record);
    const input: BatchWorkflowInput = {
      batchId: record.id,
      tenant,
      ...(allowedModels && { allowedModels }),
      expiresAtMs,
      settings: {
        linesPerChunk: batches.linesPerChunk,
        maxConcurrentLines: batches.maxConcurrentLines,
        linesPerRun: batches.linesPerRun,
        heartbeatTimeoutMs: this.config.durable.heartbeatTimeoutMs,
        lineTimeoutMs: this.config.durable.attemptTimeoutMs,
      },
    };
    try {
      await this.link.call(() => this.client.workflow.start('batchWorkflow', {
        workflowId: record.id,
        taskQueue: this.target.taskQueue,
        args: [input],
        typedSearchAttributes: [{ key: SA.tenant, value: tenant }],
        staticSummary: `batch · tenant ${tenant} · input ${file.id} (${file.filename})`.slice(0, 200),
        staticDetails: `Batch **${record.id}** for tenant \`${tenant}\`: ${params.endpoint} over input file \`${file.id}\` (${file.bytes} bytes).`,
      }), record.id);
    } catch (err) {
      // Sent but unanswered: it may have started, so the record stays and the 503 names the batch.
      if (err instanceof TemporalUnavailable && err.requestId) throw err;
      await this.store.putBatch({
        ...record,
        status: 'failed',
        failed_at: createdAt,
        errors: { object: 'list', data: [{ code: 'batch_start_failed', message: 'The batch could not be started.', param: null, line: null }] },
      });
      throw err;
    }
    return record;
  }

  async retrieve(tenant: string, id: string): Promise<BatchRecord> {
    const record = await this.store.getBatch(tenant, id);
    if (!record) throw batchNotFound(id);
    return this.live(record);
  }

  async list(tenant: string, after: string | undefined, limit: number): Promise<Page<BatchRecord>> {
    const page = pageOf(await this.store.listBatches(tenant), after, limit);
    return { ...page, data: await Promise.all(page.data.map((r) => this.live(r))) };
  }

  async cancel(tenant: string, id: string): Promise<BatchRecord> {
    const record = await this.store.getBatch(tenant, id);
    if (!record) throw batchNotFound(id);
    if (record.status === 'cancelled') return record;
    if (TERMINAL_STATUSES.has(record.status)) {
      throw new HttpError(409, `Cannot cancel a batch with status '${record.status}'.`, 'invalid_request_error', 'batch_not_cancellable', 'batch_id');
    }
    try {
      await this.link.call(() => this.client.workflow.getHandle(id).cancel());
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    const view = await this.live(record);
    if (TERMINAL_STATUSES.has(view.status)) return view;
    return { ...view, status: 'cancelling', cancelling_at: view.cancelling_at ?? Math.floor(Date.now() / 1000) };
  }

  /** Whether a batch that is still running reads this file. */
  async fileInUse(tenant: string, fileId: string): Promise<boolean> {
    return (await this.store.listBatches(tenant)).some((b) => b.input_file_id === fileId && !TERMINAL_STATUSES.has(b.status));
  }

  /** A running batch's status and counts come from its workflow; a finished one's record is final. */
  private async live(record: BatchRecord): Promise<BatchRecord> {
    if (TERMINAL_STATUSES.has(record.status)) return record;
    const handle = this.client.workflow.getHandle(record.id);
    const progress = await this.client.connection
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query<BatchProgress>(BATCH_PROGRESS_QUERY))
      .catch(() => undefined);
    if (!progress) return record;
    if (TERMINAL_STATUSES.has(progress.status)) return (await this.store.getBatch(record.tenant, record.id)) ?? record;
    return {
      ...record,
      status: progress.status,
      request_counts: progress.request_counts,
      in_progress_at: progress.in_progress_at ?? record.in_progress_at,
      finalizing_at: progress.finalizing_at ?? record.finalizing_at,
      cancelling_at: progress.cancelling_at ?? record.cancelling_at,
    };
  }
}
