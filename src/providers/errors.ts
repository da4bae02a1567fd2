/**
 * One typed taxonomy for every provider failure, so the decision layer reasons about kinds, never about
 * a provider's status codes or error strings. Messages carry the upstream's explanation but never a key.
 */
export type ErrorKind =
  | 'rate_limited'
  | 'overloaded'
  | 'timeout'
  | 'connection'
  | 'server'
  | 'bad_request'
  | 'auth'
  | 'permission'
  | 'not_found'
  | 'context_length'
  | 'content_filter';

export const ERROR_KINDS: readonly ErrorKind[] = [
  'rate_limited',
  'overloaded',
  'timeout',
  'connection',
  'server',
  'bad_request',
  'auth',
  'permission',
  'not_found',
  'context_length',
  'content_filter',
];

export interface ProviderErrorInit {
  kind: ErrorKind;
  message: string;
  status?: number;
  retryAfterMs?: number;
  /** The upstream's own error type/code, for logs and for the client when the error is passed through. */
  upstreamCode?: string;
  /** True once any output has reached the caller: the failure happened mid-stream. */
  afterOutput?: boolean;
}

export class ProviderError extends Error {
  readonly kind: ErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly upstreamCode?: string;
  afterOutput: boolean;

  constructor(init: ProviderErrorInit) {
    super(init.message);
    this.name = 'ProviderError';
    this.kind = init.kind;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.upstreamCode = init.upstreamCode;
    this.afterOutput = init.afterOutput ?? false;
  }
}

/** The HTTP status the gateway answers with when it passes a provider error through to the client. */
export function statusForKind(kind: ErrorKind): number {
  switch (kind) {
    case 'rate_limited':
      return 429;
    case 'overloaded':
      return 503;
    case 'timeout':
      return 504;
    case 'connection':
    case 'server':
      return 502;
    case 'bad_request':
    case 'context_length':
    case 'content_filter':
      return 400;
    case 'auth':
      return 401;
    case 'permission':
      return 403;
    case 'not_found':
      return 404;
  }
}

/** Kinds that say something about the provider's health (retry, switch, breaker) rather than the request. */
export function isTransientKind(kind: ErrorKind): boolean {
  return kind === 'rate_limited' || kind === 'overloaded' || kind === 'timeout' || kind === 'connection' || kind === 'server';
}
