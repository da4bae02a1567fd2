/** Sends an error in the client's protocol: OpenAI's shape, or Anthropic's on the Messages route. */
import type { Response } from 'express';
import type { HttpError } from '../protocol/errors.js';
import { anthropicErrorBody, speaksAnthropic } from '../protocol/anthropic-messages/errors.js';

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(err.status).json(speaksAnthropic(res.req) ? anthropicErrorBody(err.status, err.message) : err.body());
}
