/**
 * Turns a provider's non-2xx answer into the error taxonomy. Status codes give the first guess; each
 * family's error body refines it (context length, content filter, overload hide behind 400/429/529).
 * The body is upstream text: it is scrubbed of secrets before any of it is kept.
 */
import { retryAfterMs } from '../decision/retry-after.js';
import { redact } from '../security/secrets.js';
import { ProviderError, type ErrorKind } from './errors.js';
import type { HttpResponse } from './http.js';

const CONTEXT_LENGTH = /context[_ ]length|context window|maximum context|too many tokens|prompt is too long|exceeds the maximum number of tokens|input is too long|maximum number of tokens/i;
const CONTENT_FILTER = /content[_ ]?(filter|policy|management)|safety|responsible ?ai|blocked/i;

export interface UpstreamErrorBody {
  message: string;
  code?: string;
  /** Gemini puts its retry hint in the body (google.rpc.RetryInfo), not in a header. */
  retryDelayMs?: number;
}

/** google.rpc.RetryInfo's retryDelay is a protobuf Duration in JSON: "2s", "0.5s". */
function retryInfoMs(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details as Array<Record<string, unknown>>) {
    if (String(d?.['@type'] ?? '').endsWith('google.rpc.RetryInfo') && typeof d.retryDelay === 'string') {
      const m = /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay);
      if (m) return Math.round(Number(m[1]) * 1000);
    }
  }
  return undefined;
}

/** Pulls message and code out of the error bodies of OpenAI, Azure, Anthropic and Gemini. */
export function readErrorBody(text: string): UpstreamErrorBody {
  try {
    const parsed = JSON.parse(text) as unknown;
    const root = (Array.isArray(parsed) ? parsed[0] : parsed) as Record<string, unknown> | undefined;
    const err = (root?.error ?? root) as Record<string, unknown> | undefined;
    if (err && typeof err === 'object') {
      const message = typeof err.message === 'string' ? err.message : text.slice(0, 500);
      const code = [err.code, err.type, err.status].find((v) => typeof v === 'string') as string | undefined;
      const innerCode = (err.innererror as Record<string, unknown> | undefined)?.code;
      return { message, code: typeof innerCode === 'string' ? innerCode : code, retryDelayMs: retryInfoMs(err.details) };
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return { message: text.slice(0, 500) || 'no error body' };
}

export function kindFromStatus(status: number, body: UpstreamErrorBody): ErrorKind {
  const code = body.code ?? '';
  const haystack = `${code} ${body.message}`;
  if (code === 'context_length_exceeded' || code === 'string_above_max_length') return 'context_length';
  if (code === 'content_filter' || code === 'content_policy_violation') return 'content_filter';
  if (status === 429) {
    // Gemini and Anthropic use 429 for quota; "insufficient_quota" is not going to clear with a retry, but
    // another provider may still answer, so it stays a rate limit the chain can move past.
    return 'rate_limited';
  }
  if (status === 529 || code === 'overloaded_error' || code === 'UNAVAILABLE') return 'overloaded';
  if (status === 503) return 'overloaded';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 500) return 'server';
  if (status === 401) return 'auth';
  if (status === 403) return code === 'PERMISSION_DENIED' || !CONTENT_FILTER.test(haystack) ? 'permission' : 'content_filter';
  if (status === 404) return 'not_found';
  if (status === 413) return 'context_length';
  if (status === 400 || status === 422) {
    if (CONTEXT_LENGTH.test(haystack)) return 'context_length';
    if (CONTENT_FILTER.test(haystack)) return 'content_filter';
    return 'bad_request';
  }
  return 'bad_request';
}

/** Reads the body of a failed upstream response and builds the typed error, with the retry hint. */
export async function errorFromResponse(res: HttpResponse, nowMs: number = Date.now()): Promise<ProviderError> {
  let text = '';
  try {
    text = await res.body.text();
  } catch {
    // a body we cannot read still has a status
  }
  // scrubbed whole before anything is cut from it: a key cut in half at the 500th character would slip past
  const body = readErrorBody(redact(text));
  const kind = kindFromStatus(res.status, body);
  return new ProviderError({
    kind,
    status: res.status,
    message: body.message,
    upstreamCode: body.code,
    retryAfterMs: retryAfterMs(res.header, nowMs) ?? body.retryDelayMs,
  });
}
