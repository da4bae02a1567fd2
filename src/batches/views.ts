/**
 * What the batch and file routes answer with, apart from the service: the routes are mounted on every
 * gateway, while BatchService (a Temporal client) is loaded only with the durable path on.
 */
import { HttpError } from '../protocol/errors.js';
import type { BatchRecord, FileRecord } from './types.js';

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

export function batchNotFound(id: string): HttpError {
  return new HttpError(404, `No batch found with id '${id}'.`, 'invalid_request_error', 'batch_not_found', 'batch_id');
}

export function fileNotFound(id: string, param = 'file_id'): HttpError {
  return new HttpError(404, `No such File object: ${id}`, 'invalid_request_error', 'file_not_found', param);
}

/** The page after the item `after` (an id); an unknown cursor ends the listing rather than restarting it. */
export function pageOf<T extends { id: string }>(items: T[], after: string | undefined, limit: number): Page<T> {
  const start = after === undefined ? 0 : items.findIndex((i) => i.id === after) + 1;
  if (after !== undefined && start === 0) return { data: [], has_more: false };
  return { data: items.slice(start, start + limit), has_more: start + limit < items.length };
}

/** The API's view: the tenant is ours, not the client's. */
export function publicBatch(record: BatchRecord): Omit<BatchRecord, 'tenant' | 'key_id'> {
  const { tenant: _tenant, key_id: _keyId, ...view } = record;
  return view;
}

export function publicFile(record: FileRecord): Omit<FileRecord, 'tenant'> {
  const { tenant: _tenant, ...view } = record;
  return view;
}
