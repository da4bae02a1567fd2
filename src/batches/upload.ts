/**
 * `POST /v1/files`: a multipart/form-data upload (fields `file` and `purpose`, as the OpenAI SDKs send them),
 * parsed by busboy and streamed straight to the store, so a 200 MB file never sits in memory. The size limit
 * stops the upload as soon as it is crossed (413); the content must be UTF-8 (checked as it streams).
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import busboy from 'busboy';
import { HttpError, invalidRequest } from '../protocol/errors.js';
import { newFileId } from './ids.js';
import type { FileStore } from './store.js';
import type { FileRecord } from './types.js';

const MULTIPART = /^multipart\/form-data\s*;/i;

interface Received {
  fields: Record<string, string>;
  file?: { filename: string; bytes: number; badUtf8: boolean };
}

export async function receiveUpload(req: Request, store: FileStore, tenant: string, maxBytes: number, maxLabel: string): Promise<FileRecord> {
  const type = req.headers['content-type'];
  if (!type || !MULTIPART.test(type)) {
    throw new HttpError(415, "Upload files as multipart/form-data with the fields 'file' and 'purpose'", 'invalid_request_error', 'unsupported_media_type');
  }
  const tmp = await store.tempPath(tenant);
  try {
    const received = await parse(req, tmp, maxBytes, maxLabel);
    const purpose = received.fields.purpose;
    if (purpose === undefined) throw invalidRequest("Missing required parameter: 'purpose'.", 'purpose', 'missing_required_parameter');
    if (purpose !== 'batch') throw invalidRequest(`Invalid value for 'purpose': this gateway stores 'batch' files only, not '${purpose}'.`, 'purpose', 'invalid_value');
    const file = received.file;
    if (!file) throw invalidRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
    if (file.bytes === 0) throw invalidRequest('The uploaded file is empty.', 'file', 'empty_file');
    if (file.badUtf8) throw invalidRequest('The uploaded file is not valid UTF-8 text (a batch file is JSONL).', 'file', 'invalid_encoding');
    return await store.commitFile(tmp, {
      id: newFileId(),
      object: 'file',
      bytes: file.bytes,
      created_at: Math.floor(Date.now() / 1000),
      filename: file.filename,
      purpose: 'batch',
      status: 'processed',
      expires_at: null,
      status_details: null,
      tenant,
    });
  } catch (err) {
    await store.discard(tmp);
    throw err;
  }
}

function parse(req: Request, tmp: string, maxBytes: number, maxLabel: string): Promise<Received> {
  let parser: busboy.Busboy;
  try {
    // defParamCharset: the SDKs send a raw UTF-8 `filename="…"` (busboy would read it as Latin-1); `filename*` is decoded either way.
    parser = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 1, fileSize: maxBytes, fields: 16, fieldSize: 4096, parts: 24 } });
  } catch (err) {
    return Promise.reject(invalidRequest(`Malformed multipart/form-data request: ${(err as Error).message}`, null, 'invalid_multipart'));
  }
  const received: Received = { fields: {} };
  const writes: Promise<void>[] = [];
  return new Promise<Received>((resolve, reject) => {
    let settled = false;
    const fail = (err: HttpError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.resume();
      reject(err);
    };
    parser.on('field', (name, value) => {
      received.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || received.file) {
        stream.resume();
        return;
      }
      const file = { filename: info.filename || 'upload.jsonl', bytes: 0, badUtf8: false };
      received.file = file;
      const decoder = new TextDecoder('utf-8', { fatal: true });
      stream.on('data', (chunk: Buffer) => {
        file.bytes += chunk.length;
        if (file.badUtf8) return;
        try {
          decoder.decode(chunk, { stream: true });
        } catch {
          file.badUtf8 = true;
        }
      });
      stream.on('limit', () => {
        fail(new HttpError(413, `The file is larger than ${maxLabel}`, 'invalid_request_error', 'file_too_large', 'file', { connection: 'close' }));
      });
      writes.push(
        pipeline(stream, createWriteStream(tmp)).then(() => {
          if (file.badUtf8) return;
          try {
            decoder.decode();
          } catch {
            file.badUtf8 = true;
          }
        }),
      );
    });
    parser.on('error', (err) => fail(invalidRequest(`Malformed multipart/form-data request: ${(err as Error).message}`, null, 'invalid_multipart')));
    parser.on('close', () => {
      Promise.all(writes).then(
        () => {
          if (settled) return;
          settled = true;
          resolve(received);
        },
        (err: unknown) => fail(new HttpError(500, `The upload could not be stored: ${(err as NodeJS.ErrnoException).code ?? 'write error'}`, 'server_error', 'upload_failed')),
      );
    });
    req.once('error', () => fail(invalidRequest('The upload was interrupted', null, 'request_aborted')));
    req.pipe(parser);
  });
}
