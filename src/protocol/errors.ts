/**
 * Errors in OpenAI's shape ({ error: { message, type, param, code } }), the one form every OpenAI SDK parses,
 * and the one mapping from a provider's error to the client's status and code, shared by every path (fast,
 * durable, batch lines). The ingress spells them in the client's protocol (ingress/errors.ts).
 */
import type { ZodError } from 'zod';
import { formatPath } from '../config/load.js';
import { statusForKind, type ProviderError } from '../providers/errors.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return new HttpError(400, message, 'invalid_request_error', code, param);
}

export function modelNotFound(model: string): HttpError {
  return new HttpError(
    404,
    `The model '${model}' does not exist or you do not have access to it.`,
    'invalid_request_error',
    'model_not_found',
    'model',
  );
}

/** The first schema problem, named by its path, as OpenAI does ("Invalid value for 'messages[0].role'"). */
export function fromZodError(err: ZodError): HttpError {
  const issue = err.issues[0]!;
  const path = formatPath(issue.path);
  const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more problem${err.issues.length > 2 ? 's' : ''})` : '';
  return invalidRequest(`Invalid request: '${path}': ${issue.message}${more}`, path, 'invalid_value');
}

const TYPE_FOR_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  429: 'rate_limit_error',
};

/** A provider error passed through to the client: the upstream's explanation, the gateway's status mapping. */
export function fromProviderError(err: ProviderError, deployment?: string): HttpError {
  const status = err.status && err.status < 500 && err.status !== 429 ? err.status : statusForKind(err.kind);
  const where = deployment ? ` (upstream ${deployment})` : '';
  return new HttpError(
    status,
    `${err.message}${where}`,
    TYPE_FOR_STATUS[status] ?? 'server_error',
    err.kind === 'context_length' ? 'context_length_exceeded' : err.kind === 'content_filter' ? 'content_filter' : (err.upstreamCode ?? err.kind),
  );
}

export function serviceBusy(alias: string, reason: string): HttpError {
  return new HttpError(
    503,
    `All providers for model '${alias}' are unavailable right now (${reason}). Please retry later.`,
    'service_unavailable',
    'service_busy',
    null,
    { 'retry-after': '5' },
  );
}
