/**
 * Ids of files, batches and batch lines. New ids start with the creation time in hex, so sorting ids sorts by
 * age (lists page by id); ids derived from a batch (its output files, its lines) are hashes, so a retried step
 * produces the same id again. Every id is checked against its pattern before it names anything on disk.
 */
import { createHash, randomBytes } from 'node:crypto';

const FILE_ID = /^file-[0-9a-f]{24}$/;
const BATCH_ID = /^batch_[0-9a-f]{24}$/;

function timeOrdered(): string {
  return Date.now().toString(16).padStart(12, '0').slice(-12) + randomBytes(6).toString('hex');
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}

export const newFileId = (): string => `file-${timeOrdered()}`;
export const newBatchId = (): string => `batch_${timeOrdered()}`;

export const isFileId = (id: string): boolean => FILE_ID.test(id);
export const isBatchId = (id: string): boolean => BATCH_ID.test(id);

/** The batch's output or error file: the same id however often finalization runs. */
export const resultFileId = (batchId: string, kind: 'output' | 'error'): string => `file-${digest(`${batchId}:${kind}`)}`;

/** A line's id in the output (OpenAI's `batch_req_…`), stable across retries. */
export const lineRequestId = (batchId: string, index: number): string => `batch_req_${digest(`${batchId}:line:${index}`)}`;
