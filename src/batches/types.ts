/**
 * The Batch API's records and what crosses the Temporal boundary for a batch. Plain data and pure constants
 * only: the batch workflow imports this module. Nothing here ever holds file contents or answers; those stay in
 * the file store and are named by file id and line index.
 */
import type { Attempt } from '../decision/attempt.js';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export const TERMINAL_STATUSES: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

export const BATCH_ENDPOINT = '/v1/chat/completions';

/** Query name shared with the request workflow, so `temporal workflow query --type progress` works on both. */
export const BATCH_PROGRESS_QUERY = 'progress';

export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

/** One problem found in the input file, as OpenAI reports it in `errors.data` (line numbers are 1-based). */
export interface BatchLineError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface TokenUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** A batch as stored (and, minus `tenant` and `allowed_models`, as the API shows it). */
export interface BatchRecord {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  errors: { object: 'list'; data: BatchLineError[] } | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: RequestCounts;
  metadata: Record<string, string> | null;
  /** The aliases the lines use, once validated (OpenAI shows one `model`; a gateway batch may mix aliases). */
  model?: string;
  usage?: TokenUsage;
  tenant: string;
  /** The id (never the secret) of the key that created the batch: its lines' spend is charged to it. */
  key_id?: string;
}

export type FilePurpose = 'batch' | 'batch_output';

export interface FileRecord {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: 'processed';
  expires_at: number | null;
  status_details: null;
  tenant: string;
}

/** How one batch runs; fixed at creation so a config change does not alter a running batch midway. */
export interface BatchSettings {
  linesPerChunk: number;
  maxConcurrentLines: number;
  linesPerRun: number;
  heartbeatTimeoutMs: number;
  /** Upper bound of one line (all its provider attempts): bounds a chunk activity together with its size. */
  lineTimeoutMs: number;
}

/** Where a batch is, carried from one workflow run to the next by continue-as-new. */
export interface BatchCursor {
  total: number;
  /** Every line before it has a stored result. */
  next: number;
  completed: number;
  failed: number;
  inProgressAt: number;
  runs: number;
}

export interface BatchWorkflowInput {
  batchId: string;
  tenant: string;
  /** The aliases the submitting key may use (names only, no key); absent when it may use every alias. */
  allowedModels?: string[];
  /** Epoch ms after which unfinished lines expire. */
  expiresAtMs: number;
  settings: BatchSettings;
  cursor?: BatchCursor;
}

export interface BatchProgress {
  status: BatchStatus;
  request_counts: RequestCounts;
  in_progress_at: number | null;
  finalizing_at: number | null;
  cancelling_at: number | null;
  /** Workflow runs so far (continue-as-new starts a new one every `linesPerRun` lines). */
  runs: number;
}

export interface ValidateInput {
  batchId: string;
  tenant: string;
  allowedModels?: string[];
}

export interface ValidateResult {
  total: number;
  /** The first problems found (capped: the record shows them, the workflow payload stays small). */
  errors: BatchLineError[];
  aliases: string[];
}

export interface ChunkInput {
  batchId: string;
  tenant: string;
  /** Line indices [from, to), 0-based over the requests (blank lines are not requests). */
  from: number;
  to: number;
  concurrency: number;
}

export interface ChunkResult {
  /** Over the whole chunk, lines answered before a retry of this activity included. */
  completed: number;
  failed: number;
}

export type FinalOutcome = 'completed' | 'failed' | 'cancelled' | 'expired';

export interface FinalizeInput {
  batchId: string;
  tenant: string;
  outcome: FinalOutcome;
  total: number;
  /** Workflow-clock seconds of the transitions the workflow saw. */
  inProgressAt: number | null;
  cancellingAt: number | null;
  finalizingAt: number;
  /** Validation problems, for a batch that failed before any line ran. */
  errors?: BatchLineError[];
  /** Why a running batch failed (an internal fault, not a line's answer). */
  failure?: string;
}

export interface MarkInput {
  batchId: string;
  tenant: string;
  status: 'in_progress';
  inProgressAt: number;
  total: number;
  aliases: string[];
}

/** One line's answer as stored by line index: what the output or error file line will say. */
export interface LineResult {
  custom_id: string;
  status_code: number;
  /** The completion (2xx) or an OpenAI error body. */
  body: unknown;
  /**
   * The upstream calls that made the answer, each with its cost: kept with the answer so a chunk retried after a
   * failed charge charges the stored line again (idempotently) instead of calling the provider again. Not written
   * to the output file. Absent on lines answered without a call (a spent budget) and on results from before.
   */
  attempts?: Attempt[];
}

/** The failure type of a step whose batch record is gone: no retry brings it back. */
export const FAILURE_BATCH_MISSING = 'BatchMissing';

/** Validation errors kept per batch: enough to fix a file, small enough for a workflow payload. */
export const MAX_REPORTED_ERRORS = 100;
