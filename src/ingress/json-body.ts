/**
 * Reads a JSON request body: the size limit (413, checked against Content-Length before reading), a JSON
 * media type (415 for anything else; a missing Content-Type is read as JSON, as curl users expect), strict
 * UTF-8 (400 on invalid bytes rather than silent replacement characters), JSON syntax (400), and nesting depth
 * (400 past `server.maxJsonDepth`: deeper bodies parse, but every recursive walk after parsing overflows the stack).
 * Lean on purpose: it sits on the hot path of every request.
 */
import type { NextFunction, Request, Response } from 'express';
import bytes from 'bytes';
import { HttpError, invalidRequest } from '../protocol/errors.js';
import { DEFAULT_MAX_JSON_DEPTH, nestsDeeperThan } from '../util/json-depth.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([\w-]+)"?/i;
// Fatal mode throws on invalid bytes; a non-streaming decode() starts fresh each call, so one instance serves all.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function unsupported(message: string): HttpError {
  return new HttpError(415, message, 'invalid_request_error', 'unsupported_media_type');
}

export function tooDeep(maxDepth: number): HttpError {
  return invalidRequest(`The JSON body nests deeper than ${maxDepth} levels (the gateway's limit, server.maxJsonDepth)`, null, 'json_too_deep');
}

export function jsonBody(limit: string, maxDepth = DEFAULT_MAX_JSON_DEPTH) {
  const maxBytes = bytes.parse(limit) ?? 4 * 1024 * 1024;
  const tooLarge = () => new HttpError(413, `Request body is larger than ${limit}`, 'invalid_request_error', 'request_too_large');
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') return next();
    const type = req.headers['content-type'];
    if (type !== undefined && !JSON_TYPE.test(type)) return next(unsupported(`Content-Type must be application/json, not '${type}'`));
    const charset = type && CHARSET.exec(type)?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') return next(unsupported(`Only UTF-8 bodies are accepted, not ${charset}`));
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding !== 'identity') return next(unsupported(`Content-Encoding '${encoding}' is not supported`));
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      res.setHeader('connection', 'close');
      return next(tooLarge());
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: HttpError) => {
      if (failed) return;
      failed = true;
      req.removeListener('data', onData);
      req.resume();
      res.setHeader('connection', 'close');
      next(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return fail(tooLarge());
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', () => fail(invalidRequest('The request body could not be read', null, 'request_aborted')));
    req.once('end', () => {
      if (failed) return;
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (raw.length === 0) {
        req.body = undefined;
        return next(invalidRequest('The request body is empty; send a JSON object', null, 'invalid_json'));
      }
      let text: string;
      try {
        text = UTF8.decode(raw);
      } catch {
        return next(invalidRequest('The request body is not valid UTF-8', null, 'invalid_encoding'));
      }
      if (nestsDeeperThan(text, maxDepth)) return next(tooDeep(maxDepth));
      try {
        req.body = JSON.parse(text);
      } catch (err) {
        return next(invalidRequest(`We could not parse the JSON body of your request: ${(err as Error).message}`, null, 'invalid_json'));
      }
      next();
    });
  };
}
