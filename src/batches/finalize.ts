/**
 * The end of a batch: the per-line answers are assembled, in input order, into the output file (2xx answers)
 * and the error file (other answers, and lines never run when the batch was cancelled, expired or failed);
 * the record gets its final status, counts and file ids; the working files go. Idempotent: the result files'
 * ids come from the batch id, and a record already final is returned as it is.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { resultFileId } from './ids.js';
import { addUsage, answeredLine, emptyUsage, isSuccess, notRunLine } from './output.js';
import type { FileStore } from './store.js';
import { TERMINAL_STATUSES, type BatchRecord, type FileRecord, type FinalizeInput, type LineResult, type RequestCounts } from './types.js';

const BLOCK = 500;

class JsonlWriter {
  readonly stream: WriteStream;
  bytes = 0;
  lines = 0;
  constructor(readonly path: string) {
    this.stream = createWriteStream(path);
  }
  async write(line: string): Promise<void> {
    const text = `${line}\n`;
    this.bytes += Buffer.byteLength(text);
    this.lines++;
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'close');
  }
}

export async function finalizeBatch(store: FileStore, input: FinalizeInput, heartbeat: () => void): Promise<RequestCounts> {
  const record = await store.getBatch(input.tenant, input.batchId);
  if (!record) throw new Error(`batch ${input.batchId} has no record`);
  if (TERMINAL_STATUSES.has(record.status)) {
    // A retry after the record was written: only the clean-up may be left to do.
    await store.dropWorkingFiles(input.tenant, input.batchId);
    return record.request_counts;
  }
  const nowS = Math.floor(Date.now() / 1000);

  if (input.errors && input.errors.length > 0) {
    const failed: BatchRecord = {
      ...record,
      status: 'failed',
      failed_at: nowS,
      errors: { object: 'list', data: input.errors },
      request_counts: { total: 0, completed: 0, failed: 0 },
    };
    await store.putBatch(failed);
    await store.dropWorkingFiles(input.tenant, input.batchId);
    return failed.request_counts;
  }

  await store.putBatch({ ...record, status: 'finalizing', finalizing_at: input.finalizingAt });
  const out = new JsonlWriter(await store.tempPath(input.tenant));
  const err = new JsonlWriter(await store.tempPath(input.tenant));
  const usage = emptyUsage();
  const counts: RequestCounts = { total: input.total, completed: 0, failed: 0 };
  try {
    for (let from = 0; from < input.total; from += BLOCK) {
      const to = Math.min(input.total, from + BLOCK);
      const results = await Promise.all(Array.from({ length: to - from }, (_, i) => store.getResult(input.tenant, input.batchId, from + i)));
      // custom_ids of lines never run come from the input itself.
      const inputs = results.some((r) => r === undefined)
        ? await store.readLines(input.tenant, input.batchId, record.input_file_id, from, to)
        : undefined;
      for (const [i, result] of results.entries()) {
        await writeLine(out, err, counts, usage, input, from + i, result, inputs?.[i]);
      }
      heartbeat();
    }
    await Promise.all([out.close(), err.close()]);
  } catch (e) {
    out.stream.destroy();
    err.stream.destroy();
    await Promise.all([store.discard(out.path), store.discard(err.path)]);
    throw e;
  }

  const outputFileId = await commit(store, input, out, 'output', nowS);
  const errorFileId = await commit(store, input, err, 'error', nowS);
  const final: BatchRecord = {
    ...record,
    status: input.outcome,
    output_file_id: outputFileId,
    error_file_id: errorFileId,
    request_counts: counts,
    usage,
    in_progress_at: record.in_progress_at ?? input.inProgressAt,
    finalizing_at: input.finalizingAt,
    ...(input.outcome === 'completed' && { completed_at: nowS }),
    ...(input.outcome === 'failed' && { failed_at: nowS, errors: { object: 'list' as const, data: [{ code: 'batch_failed', message: `The batch stopped: ${input.failure ?? 'internal error'}. Lines not run are in the error file.`, param: null, line: null }] } }),
    ...(input.outcome === 'expired' && { expired_at: nowS }),
    ...(input.outcome === 'cancelled' && { cancelling_at: input.cancellingAt ?? nowS, cancelled_at: nowS }),
  };
  await store.putBatch(final);
  await store.dropWorkingFiles(input.tenant, input.batchId);
  return counts;
}

async function writeLine(
  out: JsonlWriter,
  err: JsonlWriter,
  counts: RequestCounts,
  usage: ReturnType<typeof emptyUsage>,
  input: FinalizeInput,
  index: number,
  result: LineResult | undefined,
  inputLine: string | undefined,
): Promise<void> {
  if (!result) {
    const customId = (JSON.parse(inputLine!) as { custom_id: string }).custom_id;
    return err.write(notRunLine(input.batchId, index, customId, input.outcome));
  }
  if (isSuccess(result)) {
    counts.completed++;
    addUsage(usage, result.body);
    return out.write(answeredLine(input.batchId, index, result));
  }
  counts.failed++;
  return err.write(answeredLine(input.batchId, index, result));
}

/** An empty result file is not kept: OpenAI leaves `output_file_id` / `error_file_id` unset then. */
async function commit(store: FileStore, input: FinalizeInput, writer: JsonlWriter, kind: 'output' | 'error', nowS: number): Promise<string | null> {
  if (writer.lines === 0) {
    await store.discard(writer.path);
    return null;
  }
  const record: FileRecord = {
    id: resultFileId(input.batchId, kind),
    object: 'file',
    bytes: writer.bytes,
    created_at: nowS,
    filename: `${input.batchId}_${kind}.jsonl`,
    purpose: 'batch_output',
    status: 'processed',
    expires_at: null,
    status_details: null,
    tenant: input.tenant,
  };
  await store.commitFile(writer.path, record);
  return record.id;
}
