/**
 * Runs a slice of a batch's lines: each line's answer is stored under its index as soon as it arrives, and a
 * line that already has one is not run again, so a chunk retried after its worker died redoes only the lines
 * that were in flight. Concurrency is bounded twice: per chunk (the batch's share) and per alias across the
 * whole worker (so one alias's huge batch cannot take every slot from the others).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { LineDeps } from './run-line.js';
import type { Ledger } from '../ledger/ledger.js';
import { isSuccess } from './output.js';
import { parseLine, runLine, type LineRun } from './run-line.js';
import type { FileStore } from './store.js';
import type { ChunkInput, ChunkResult, LineResult } from './types.js';

/** One limiter per name (an alias, a deployment), shared by every chunk on this worker. */
export class KeyedLimits {
  private readonly limits = new Map<string, LimitFunction>();
  constructor(private readonly perKey: number) {}
  for(key: string): LimitFunction {
    let limit = this.limits.get(key);
    if (!limit) this.limits.set(key, (limit = pLimit(this.perKey)));
    return limit;
  }
}

export interface ChunkDeps {
  store: FileStore;
  answer: LineDeps;
  aliasLimits: KeyedLimits;
  /** Charges each line (once, by batch and line index) to the key that created the batch, and stops answering once its budget is spent. */
  ledger?: Ledger;
}

/** `keyId`: the key that created the batch (absent with `auth.mode: none`). */
export async function runChunk(deps: ChunkDeps, input: ChunkInput, inputFileId: string, signal: AbortSignal, keyId?: string): Promise<ChunkResult> {
  const { store } = deps;
  const lines = await store.readLines(input.tenant, input.batchId, inputFileId, input.from, input.to);
  const pool = pLimit(input.concurrency);
  const counts: ChunkResult = { completed: 0, failed: 0 };
  const count = (r: LineResult) => (isSuccess(r) ? counts.completed++ : counts.failed++);

  // Idempotent by line: a stored line whose charge failed (the chunk failed, Temporal retried it) is charged
  // again here and never run again; a stored line that was charged is not charged twice.
  const charge = async (index: number, alias: string, result: LineResult): Promise<void> => {
    if (!deps.ledger || !result.attempts?.length) return;
    await deps.ledger.charge({ chargeId: `batch:${input.batchId}:${index}`, keyId, tenant: input.tenant, alias, path: 'batch', attempts: result.attempts });
  };

  const one = async (text: string, index: number): Promise<void> => {
    const line = parseLine(text);
    const stored = await store.getResult(input.tenant, input.batchId, index);
    if (stored) {
      await charge(index, line.alias, stored);
      return void count(stored);
    }
    if (signal.aborted) return;
    const run = await deps.aliasLimits.for(line.alias)(async (): Promise<LineRun | undefined> => {
      if (signal.aborted) return undefined;
      const refusal = keyId && deps.ledger ? await deps.ledger.refusal(keyId) : undefined;
      // a spent budget answers the line as the synchronous endpoint would: a 429 of its own
      if (refusal) return { result: { custom_id: line.customId, status_code: refusal.status, body: refusal.body() } };
      return runLine(deps.answer, line, signal, { keyId: keyId ?? 'anonymous', tenant: input.tenant });
    });
    if (!run) return;
    // Stored before it is charged: if the charge fails, the retried chunk finds the answer and charges it.
    await store.putResult(input.tenant, input.batchId, index, run.result);
    await charge(index, line.alias, run.result);
    count(run.result);
  };

  const settled = await Promise.allSettled(lines.map((text, i) => pool(() => one(text, input.from + i))));
  // A cancelled batch's in-flight lines end with the abort: they are simply not answered.
  if (signal.aborted) return counts;
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return counts;
}
