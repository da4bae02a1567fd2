/**
 * OpenAI's Files API, for batch input and output:
 *   POST   /v1/files               multipart upload (`file`, `purpose=batch`)
 *   GET    /v1/files               list (`purpose`, `order`, `after`, `limit`)
 *   GET    /v1/files/{id}          metadata
 *   GET    /v1/files/{id}/content  the bytes
 *   DELETE /v1/files/{id}
 * Files belong to the key's tenant: another tenant's file is "not found".
 */
import type { Request, Response } from 'express';
import bytes from 'bytes';
import type { BatchService } from '../../batches/service.js';
import { fileNotFound, pageOf, publicFile } from '../../batches/views.js';
import { receiveUpload } from '../../batches/upload.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { HttpError, invalidRequest } from '../../protocol/errors.js';
import { tenantOf } from '../tenant.js';

export function requireBatches(ctx: PipelineContext): BatchService {
  if (!ctx.batches) throw new HttpError(501, 'Files and batches need the durable path, which is not enabled on this gateway', 'invalid_request_error', 'batches_disabled');
  return ctx.batches;
}

/** `limit` within [1, max], `default` when absent. */
export function limitOf(raw: unknown, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalidRequest(`Invalid value for 'limit': an integer from 1 to ${max}.`, 'limit', 'invalid_value');
  return n;
}

function optionalString(raw: unknown, name: string): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw invalidRequest(`Invalid value for '${name}'.`, name, 'invalid_value');
  return raw;
}

function listBody<T extends { id: string }>(data: T[], hasMore: boolean) {
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}

export function uploadFileHandler(ctx: PipelineContext) {
  const maxLabel = ctx.config.batches.maxFileSize;
  const maxBytes = bytes.parse(maxLabel) ?? 200 * 1024 * 1024;
  return async (req: Request, res: Response): Promise<void> => {
    const { store } = requireBatches(ctx);
    const record = await receiveUpload(req, store, tenantOf(req), maxBytes, maxLabel);
    res.json(publicFile(record));
  };
}

export function listFilesHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { store } = requireBatches(ctx);
    const purpose = optionalString(req.query.purpose, 'purpose');
    const order = optionalString(req.query.order, 'order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw invalidRequest("Invalid value for 'order': 'asc' or 'desc'.", 'order', 'invalid_value');
    const limit = limitOf(req.query.limit, 10_000, 10_000);
    let files = await store.listFiles(tenantOf(req));
    if (purpose !== undefined) files = files.filter((f) => f.purpose === purpose);
    if (order === 'asc') files.reverse();
    const page = pageOf(files, optionalString(req.query.after, 'after'), limit);
    res.json(listBody(page.data.map(publicFile), page.has_more));
  };
}

export function getFileHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { store } = requireBatches(ctx);
    const id = String(req.params.id);
    const record = await store.getFile(tenantOf(req), id);
    if (!record) throw fileNotFound(id);
    res.json(publicFile(record));
  };
}

export function fileContentHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { store } = requireBatches(ctx);
    const id = String(req.params.id);
    const tenant = tenantOf(req);
    const record = await store.getFile(tenant, id);
    if (!record) throw fileNotFound(id);
    const stream = store.openContent(tenant, id);
    // Opening first: a file deleted between the two steps is a 404, not a broken 200.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    }).catch(() => {
      throw fileNotFound(id);
    });
    // Any name a client uploaded (any script, control characters): an ASCII fallback plus RFC 5987 `filename*`.
    res.attachment(record.filename);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(record.bytes) });
    stream.pipe(res);
    await new Promise<void>((resolve) => {
      res.once('close', resolve);
      stream.once('error', () => res.destroy());
    });
  };
}

export function deleteFileHandler(ctx: PipelineContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const batches = requireBatches(ctx);
    const id = String(req.params.id);
    const tenant = tenantOf(req);
    if (!(await batches.store.getFile(tenant, id))) throw fileNotFound(id);
    if (await batches.fileInUse(tenant, id)) {
      throw new HttpError(409, `The file ${id} is the input of a batch that is still running; cancel it first.`, 'invalid_request_error', 'file_in_use', 'file_id');
    }
    const deleted = await batches.store.deleteFile(tenant, id);
    if (!deleted) throw fileNotFound(id);
    res.json({ id, object: 'file', deleted: true });
  };
}
