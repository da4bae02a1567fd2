/**
 * Runs a slice of a batch's lines: each line's answer is stored under its index as soon as it arrives, and a
 * line that already has one is not run again, so a chunk retried after its worker died redoes only the lines
 * that were in flight. Concurrency is bounded twice: per chunk (the batch's share) and per alias across the
 * whole worker (so one alias's huge batch cannot take every slot from the others). Each line is admitted
 * against the limits of the key that created the batch (requests and tokens per minute, concurrency), the
 * same counters its synchronous requests take: a line waits for capacity (src/limits/pace.ts) before it
 * takes an alias slot, so a limited key's batch runs at its limit without holding slots others could use.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { LineDeps } from './run-line.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Settle } from '../limits/admission.js';
import type { Pacer } from '../limits/pace.js';
import { HttpError } from '../protocol/errors.js';
import { isSuccess } from './output.js';
import { lineTokens, parseLine, runLine, usedTokens, type LineRun, type ParsedLine } from './run-line.js';
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
  /** Admits each line against the key's rpm, tpm and concurrency, waiting for capacity (absent: no per-key limits). */
  pacer?: Pick<Pacer, 'admit'>;
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
    const admitted = await admitLine(deps, line, signal, keyId);
    if ('refused' in admitted) return finish(index, line, admitted.refused);
    let run: LineRun | undefined;
    try {
      run = await deps.aliasLimits.for(line.alias)(async (): Promise<LineRun | undefined> => {
        if (signal.aborted) return undefined;
        const refusal = keyId && deps.ledger ? await deps.ledger.refusal(keyId) : undefined;
        // a spent budget answers the line as the synchronous endpoint would: a 429 of its own
        if (refusal) return { result: { custom_id: line.customId, status_code: refusal.status, body: refusal.body() } };
        return runLine(deps.answer, line, signal, { keyId: keyId ?? 'anonymous', tenant: input.tenant });
      });
    } finally {
      await admitted.settle?.({ tokens: run && usedTokens(run.result) });
    }
    if (run) await finish(index, line, run);
  };

  const finish = async (index: number, line: ParsedLine, run: LineRun): Promise<void> => {
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

/**
 * The line's admission against its key's limits: waits for capacity; a refusal that does not pass (a spent
 * budget) answers the line with that 429. A line that is not valid chat (validation proved it is) is left
 * for runLine to answer.
 */
async function admitLine(deps: ChunkDeps, line: ParsedLine, signal: AbortSignal, keyId: string | undefined): Promise<{ settle?: Settle } | { refused: LineRun }> {
  if (!deps.pacer || !keyId) return {};
  try {
    return { settle: await deps.pacer.admit(keyId, lineTokens(line), signal) };
  } catch (err) {
    if (err instanceof HttpError && !signal.aborted) return { refused: { result: { custom_id: line.customId, status_code: err.status, body: err.body() } } };
    throw err;
  }
}
