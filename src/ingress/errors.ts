/** Sends an error in the client's protocol: OpenAI's shape, or Anthropic's on the Messages route. */
import type { Response } from 'express';
import { HttpError, invalidRequest } from '../protocol/errors.js';
import { anthropicErrorBody, speaksAnthropic } from '../protocol/anthropic-messages/errors.js';

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(err.status).json(speaksAnthropic(res.req) ? anthropicErrorBody(err.status, err.message) : err.body());
}

/**
 * The client's error among those Express itself raises before a handler runs: a path parameter that is not
 * valid percent-encoding (`/v1/requests/%E0%A4%A`) makes the router throw a URIError. Undefined for anything else.
 */
export function clientErrorOf(err: unknown): HttpError | undefined {
  if (err instanceof URIError) return invalidRequest('The URL path has a malformed percent-escape in one of its ids', null, 'invalid_path');
  return undefined;
}
