/**
 * The batch workflow's activities: thin wrappers over src/batches that add what Temporal needs (heartbeats,
 * cancellation, non-retryable failures). They read and write the claim-check store; only ids, line indices
 * and counts go back to the workflow.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { KeyedLimits, runChunk } from '../src/batches/chunk.js';
import type { LineDeps } from '../src/batches/run-line.js';
import { pino, type Logger } from 'pino';
import { finalizeBatch } from '../src/batches/finalize.js';
import { scanInputFile } from '../src/batches/scan.js';
import { FileStore } from '../src/batches/store.js';
import {
  FAILURE_BATCH_MISSING,
  type BatchRecord,
  type ChunkInput,
  type ChunkResult,
  type FinalizeInput,
  type MarkInput,
  type RequestCounts,
  type ValidateInput,
  type ValidateResult,
} from '../src/batches/types.js';
import type { GatewayConfig } from '../src/config/types.js';
import { FastPathExecutor } from '../src/execution/fast-executor.js';
import type { HealthState } from '../src/health/health-state.js';
import type { SemanticIndex } from '../src/routing/semantic-index.js';
import type { Ledger } from '../src/ledger/ledger.js';
import type { Pacer } from '../src/limits/pace.js';

/** Heartbeats on a timer while `fn` runs, so a live activity is never mistaken for a lost worker. */
async function withHeartbeats<T>(fn: (beat: () => void) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const beat = () => ctx.heartbeat();
  const timer = setInterval(beat, Math.max(200, Math.floor((ctx.info.heartbeatTimeoutMs ?? 10_000) / 3)));
  try {
    return await fn(beat);
  } finally {
    clearInterval(timer);
  }
}

export interface BatchActivityDeps {
  health?: HealthState;
  semantic?: SemanticIndex;
  /** Charges each line once (chargeId `batch:<batchId>:<lineIndex>`) to the key that created the batch. */
  ledger?: Ledger;
  /** Batch lines count against their key's rpm, tpm and concurrency: each waits for capacity. */
  pacer?: Pacer;
  logger?: Logger;
}

export function createBatchActivities(config: GatewayConfig, opts: BatchActivityDeps = {}) {
  const store = new FileStore(config.batches.dir);
  const perDeployment = new KeyedLimits(config.batches.maxConcurrentPerDeployment);
  const answer: LineDeps = {
    pipeline: { config, executor: new FastPathExecutor(config, { health: opts.health }), semantic: opts.semantic, logger: opts.logger ?? pino({ level: 'silent' }) },
    aroundCall: (deployment, call) => perDeployment.for(deployment)(call),
  };
  const aliasLimits = new KeyedLimits(config.batches.maxConcurrentPerAlias);
  const knownModels = new Set(Object.keys(config.models));

  const recordOf = async (tenant: string, batchId: string): Promise<BatchRecord> => {
    const record = await store.getBatch(tenant, batchId);
    if (!record) throw ApplicationFailure.create({ type: FAILURE_BATCH_MISSING, message: `batch ${batchId} has no record`, nonRetryable: true });
    return record;
  };

  return {
    /** Checks every line and writes the line index; the problems (if any) fail the batch. */
    async batchValidate(input: ValidateInput): Promise<ValidateResult> {
      const record = await recordOf(input.tenant, input.batchId);
      if (!(await store.hasInput(input.tenant, record.input_file_id))) {
        return { total: 0, aliases: [], errors: [{ code: 'file_not_found', message: `The input file ${record.input_file_id} no longer exists.`, param: 'input_file_id', line: null }] };
      }
      return withHeartbeats(async (beat) => {
        const scan = await scanInputFile(store.contentPath(input.tenant, record.input_file_id), {
          endpoint: record.endpoint,
          knownModels,
          allowedModels: input.allowedModels ? new Set(input.allowedModels) : undefined,
          maxLines: config.batches.maxLines,
          onProgress: beat,
        });
        if (scan.errorCount > 0) return { total: scan.total, aliases: scan.aliases, errors: scan.errors };
        await store.putIndex(input.tenant, input.batchId, scan.ranges);
        return { total: scan.total, aliases: scan.aliases, errors: [] };
      });
    },

    async batchMark(input: MarkInput): Promise<void> {
      const record = await recordOf(input.tenant, input.batchId);
      await store.putBatch({
        ...record,
        status: input.status,
        in_progress_at: input.inProgressAt,
        request_counts: { total: input.total, completed: 0, failed: 0 },
        model: input.aliases.join(','),
      });
    },

    /** Lines [from, to): answers stored by line index; cancellation aborts the lines in flight. */
    async batchRunChunk(input: ChunkInput): Promise<ChunkResult> {
      const record = await recordOf(input.tenant, input.batchId);
      const signal = Context.current().cancellationSignal;
      const counts = await withHeartbeats(() => runChunk({ store, answer, aliasLimits, ledger: opts.ledger, pacer: opts.pacer }, input, record.input_file_id, signal, record.key_id));
      if (signal.aborted) throw new CancelledFailure('batch cancelled');
      return counts;
    },

    async batchFinalize(input: FinalizeInput): Promise<RequestCounts> {
      await recordOf(input.tenant, input.batchId);
      return withHeartbeats((beat) => finalizeBatch(store, input, beat));
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
