/**
 * How a batch's line concurrency is split over chunk activities. At least two chunks run at once (when the
 * budget allows), so the slow tail of one chunk does not leave the batch idle; small chunks get more parallel
 * activities so the budget is still used. Pure (the workflow calls it).
 */
export interface ChunkLayout {
  /** Chunk activities in flight at once. */
  parallel: number;
  /** Lines in flight inside one chunk activity. */
  perChunk: number;
}

export function chunkLayout(maxConcurrentLines: number, linesPerChunk: number): ChunkLayout {
  const budget = Math.max(1, Math.floor(maxConcurrentLines));
  const chunk = Math.max(1, Math.floor(linesPerChunk));
  const parallel = Math.min(budget, Math.max(2, Math.ceil(budget / chunk)));
  return { parallel, perChunk: Math.max(1, Math.min(chunk, Math.floor(budget / parallel))) };
}
