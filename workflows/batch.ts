/**
 * The batch workflow: validate the input file, run its lines in chunk activities with bounded concurrency,
 * assemble the output. It carries only ids, line indices and counts: lines and answers stay in the file store
 * (the claim check), so a batch of any size fits Temporal's payload limits, and it continues as new every
 * `linesPerRun` lines so its history stays short.
 *
 * Exactly once per line: a chunk stores each answer under its line index, and a chunk retried after its worker
 * died skips the lines already answered; the output is assembled from those per-line answers at the end.
 * Cancelling the workflow (the API's cancel) aborts the lines in flight and finalizes what was answered;
 * the completion window is a timer that does the same with status `expired`.
 *
 * Imports only pure modules and types (the workflow sandbox has no Node built-ins).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  continueAsNew,
  defineQuery,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities/batch.js';
import { chunkLayout } from '../src/batches/chunking.js';
import {
  BATCH_PROGRESS_QUERY,
  FAILURE_BATCH_MISSING,
  type BatchCursor,
  type BatchLineError,
  type BatchProgress,
  type BatchStatus,
  type BatchWorkflowInput,
  type FinalOutcome,
  type RequestCounts,
} from '../src/batches/types.js';

export const batchProgressQuery = defineQuery<BatchProgress>(BATCH_PROGRESS_QUERY);

export interface BatchWorkflowResult {
  status: FinalOutcome;
  request_counts: RequestCounts;
}

const NON_RETRYABLE = [FAILURE_BATCH_MISSING];

function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return (cause as Error)?.message ?? String(cause);
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchWorkflowResult> {
  const { batchId, tenant, settings } = input;
  const layout = chunkLayout(settings.maxConcurrentLines, settings.linesPerChunk);
  const steps = proxyActivities<BatchActivities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: settings.heartbeatTimeoutMs,
    retry: { maximumAttempts: 10, initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
  });
  const chunks = proxyActivities<BatchActivities>({
    // Heartbeats catch a lost worker; this only bounds a chunk whose lines all hang to their own limit.
    startToCloseTimeout: settings.lineTimeoutMs * Math.ceil(settings.linesPerChunk / layout.perChunk) + 60_000,
    heartbeatTimeout: settings.heartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 20, initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE },
  });

  const nowS = () => Math.floor(Date.now() / 1000);
  const cursor: BatchCursor = input.cursor ?? { total: 0, next: 0, completed: 0, failed: 0, inProgressAt: 0, runs: 1 };
  let status: BatchStatus = input.cursor ? 'in_progress' : 'validating';
  let cancellingAt: number | null = null;
  let finalizingAt: number | null = null;
  // A function, not a comparison inline: the status also changes in the cancellation callback below.
  const cancelling = () => status === 'cancelling';
  const counts = (): RequestCounts => ({ total: cursor.total, completed: cursor.completed, failed: cursor.failed });
  const show = () =>
    setCurrentDetails(
      `**${status}** · ${cursor.completed} completed · ${cursor.failed} failed · ${cursor.total} lines · next line ${cursor.next} · run ${cursor.runs}`,
    );
  setHandler(batchProgressQuery, () => ({
    status,
    request_counts: counts(),
    in_progress_at: cursor.inProgressAt || null,
    finalizing_at: finalizingAt,
    cancelling_at: cancellingAt,
    runs: cursor.runs,
  }));
  // Seen at once, so `retrieve` says `cancelling` while the lines in flight are being stopped.
  CancellationScope.current().cancelRequested.catch(() => {
    if (status === 'validating' || status === 'in_progress') {
      status = 'cancelling';
      cancellingAt = nowS();
      show();
    }
  });
  show();

  let expired = false;
  const work = new CancellationScope();
  const window = new CancellationScope();
  void window.run(() => sleep(Math.max(1, input.expiresAtMs - Date.now()))).then(
    () => {
      expired = true;
      work.cancel();
    },
    () => undefined,
  );

  /** Chunks of this run, at most `layout.parallel` at once; `cursor.next` moves only over finished chunks. */
  async function runChunks(): Promise<'completed' | 'more'> {
    const stopAt = Math.min(cursor.total, cursor.next + settings.linesPerRun);
    const order: Array<{ to: number; done: boolean }> = [];
    const running = new Set<Promise<void>>();
    let from = cursor.next;
    let firstError: unknown;
    const launch = (start: number, end: number) => {
      const entry = { to: end, done: false };
      order.push(entry);
      const run: Promise<void> = chunks
        .batchRunChunk({ batchId, tenant, from: start, to: end, concurrency: layout.perChunk })
        .then((r) => {
          entry.done = true;
          cursor.completed += r.completed;
          cursor.failed += r.failed;
          while (order[0]?.done) cursor.next = order.shift()!.to;
          show();
        })
        .catch((err: unknown) => {
          firstError ??= err;
        })
        .finally(() => running.delete(run));
      running.add(run);
    };
    for (;;) {
      while (firstError === undefined && running.size < layout.parallel && from < stopAt && !workflowInfo().continueAsNewSuggested) {
        const end = Math.min(from + settings.linesPerChunk, stopAt);
        launch(from, end);
        from = end;
      }
      if (running.size === 0) break;
      await Promise.race(running);
    }
    if (firstError !== undefined) throw firstError;
    return cursor.next >= cursor.total ? 'completed' : 'more';
  }

  let outcome: FinalOutcome | 'more';
  let validationErrors: BatchLineError[] | undefined;
  let failure: string | undefined;
  try {
    outcome = await work.run(async () => {
      if (!input.cursor) {
        const checked = await steps.batchValidate({ batchId, tenant, allowedModels: input.allowedModels });
        if (checked.errors.length > 0) {
          validationErrors = checked.errors;
          return 'failed' as const;
        }
        cursor.total = checked.total;
        cursor.inProgressAt = nowS();
        await steps.batchMark({ batchId, tenant, status: 'in_progress', inProgressAt: cursor.inProgressAt, total: checked.total, aliases: checked.aliases });
        if (status === 'validating') status = 'in_progress';
        show();
      }
      return runChunks();
    });
  } catch (err) {
    if (isCancellation(err)) outcome = expired ? 'expired' : 'cancelled';
    else {
      outcome = 'failed';
      failure = messageOf(err);
    }
  } finally {
    window.cancel();
  }

  if (outcome === 'more') {
    if (!cancelling()) return continueAsNew<typeof batchWorkflow>({ ...input, cursor: { ...cursor, runs: cursor.runs + 1 } });
    outcome = 'cancelled';
  }

  finalizingAt = nowS();
  if (!validationErrors) status = 'finalizing';
  show();
  const final = await CancellationScope.nonCancellable(() =>
    steps.batchFinalize({
      batchId,
      tenant,
      outcome: outcome as FinalOutcome,
      total: cursor.total,
      inProgressAt: cursor.inProgressAt || null,
      cancellingAt,
      finalizingAt: finalizingAt!,
      errors: validationErrors,
      failure,
    }),
  );
  Object.assign(cursor, { completed: final.completed, failed: final.failed, total: final.total });
  status = outcome;
  show();
  return { status: outcome, request_counts: final };
}
