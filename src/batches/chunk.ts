/**
 * Runs a slice of a batch's lines: each line's answer is stored under its index as soon as it arrives, and a
 * line that already has one is not run again, so a chunk retried after its worker died redoes only the lines
 * that were in flight. Concurrency is bounded twice: per chunk (the batch's share) and per alias across the
 * whole worker (so one alias's huge batch cannot take every slot from the others).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { FastPathExecutor } from '../fastpath/executor.js';
import { isSuccess } from './output.js';
import { parseLine, runLine } from './run-line.js';
import type { FileStore } from './store.js';
import type { ChunkInput, ChunkResult, LineResult } from './types.js';

/** One limiter per alias, shared by every chunk on this worker. */
export class AliasLimits {
  private readonly limits = new Map<string, LimitFunction>();
  constructor(private readonly perAlias: number) {}
  for(alias: string): LimitFunction {
    let limit = this.limits.get(alias);
    if (!limit) this.limits.set(alias, (limit = pLimit(this.perAlias)));
    return limit;
  }
}

export interface ChunkDeps {
  store: FileStore;
  executor: FastPathExecutor;
  aliasLimits: AliasLimits;
}

export async function runChunk(deps: ChunkDeps, input: ChunkInput, inputFileId: string, signal: AbortSignal): Promise<ChunkResult> {
  const { store } = deps;
  const lines = await store.readLines(input.tenant, input.batchId, inputFileId, input.from, input.to);
  const pool = pLimit(input.concurrency);
  const counts: ChunkResult = { completed: 0, failed: 0 };
  const count = (r: LineResult) => (isSuccess(r) ? counts.completed++ : counts.failed++);

  const one = async (text: string, index: number): Promise<void> => {
    const stored = await store.getResult(input.tenant, input.batchId, index);
    if (stored) return void count(stored);
    if (signal.aborted) return;
    const line = parseLine(text);
    const result = await deps.aliasLimits.for(line.alias)(() => (signal.aborted ? undefined : runLine(deps.executor, line, signal)));
    if (!result) return;
    await store.putResult(input.tenant, input.batchId, index, result);
    count(result);
  };

  const settled = await Promise.allSettled(lines.map((text, i) => pool(() => one(text, input.from + i))));
  // A cancelled batch's in-flight lines end with the abort: they are simply not answered.
  if (signal.aborted) return counts;
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return counts;
}
