/**
 * The `batches` block: where the Batch API keeps uploaded files, batch records and per-line results (the claim
 * check: workflows carry file ids and line indices, never contents), and how hard one batch may push the
 * providers. Every field has a default, so no block at all is a complete configuration.
 */
import bytes from 'bytes';
import { z } from 'zod';

const size = z.string().refine((s) => (bytes.parse(s) ?? 0) > 0, 'must be a size such as 200mb or 512kb');

export const batchesSchema = z.strictObject({
  /**
   * Files, batch records and results; a relative path is inside `dataDir`. The HTTP gateway and every worker
   * must see the same directory (one machine, or a shared volume).
   */
  dir: z.string().min(1).default('files'),
  /** The largest upload accepted (OpenAI's own limit for batch input is 200 MB). */
  maxFileSize: size.default('200mb'),
  /** Requests in one batch (OpenAI allows 50,000). */
  maxLines: z.number().int().positive().default(50_000),
  /** Lines of one batch in flight at once. */
  maxConcurrentLines: z.number().int().min(1).max(1_000).default(32),
  /**
   * Lines in flight per model alias on one worker, across all batches: a huge batch for one alias leaves the
   * other aliases their share instead of queueing them behind it.
   */
  maxConcurrentPerAlias: z.number().int().min(1).default(64),
  /**
   * Provider calls of batch lines in flight per deployment on one worker, across all batches: batch traffic
   * cannot take a deployment's whole capacity (or rate limit) from interactive calls. 429s within it are
   * retried after their Retry-After by the fallback chain, and repeated ones open the deployment's breaker.
   */
  maxConcurrentPerDeployment: z.number().int().min(1).default(16),
  /** Lines per activity: a worker lost mid-batch costs the unfinished lines of its running chunks, no more. */
  linesPerChunk: z.number().int().min(1).max(1_000).default(50),
  /** Lines handled by one workflow run before it continues as new, so histories stay short for any batch size. */
  linesPerRun: z.number().int().min(1).default(2_000),
  /**
   * How long a batch may run before its unfinished lines expire. Clients still send OpenAI's only accepted
   * `completion_window: "24h"`; a shorter value here is for operators (and tests) who want an earlier cut-off.
   */
  expireAfterMs: z.number().int().min(1_000).default(24 * 3_600_000),
});

export type BatchesConfig = z.output<typeof batchesSchema>;

export const DEFAULT_BATCHES: BatchesConfig = batchesSchema.parse({});
