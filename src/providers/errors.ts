/**
 * One typed taxonomy for every provider failure, so the decision layer reasons about kinds, never about
 * a provider's status codes or error strings. Messages carry the upstream's explanation but never a key:
 * this is where upstream text enters the gateway, so the constructor scrubs it (security/secrets.ts), and
 * everything downstream (answers, logs, attempt records, Temporal history, batch files) gets it clean.
 *
 * One kind is not the upstream's: `gateway` is a call the gateway failed to build or send (a body it cannot
 * serialise, a translation that throws, a URL or header undici refuses). It says nothing about the
 * deployment, so it never feeds breakers, latency windows or weights, and it goes back to the client as that
 * request's own 4xx/5xx (the status on the error).
 */
import { redact } from '../security/secrets.js';

/** Kinds an upstream's answer (or its silence) can earn: the ones a config may name in `retryOn`. */
export type UpstreamErrorKind =
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

export type ErrorKind = UpstreamErrorKind | 'gateway';

export const ERROR_KINDS: readonly UpstreamErrorKind[] = [
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
    super(redact(init.message));
    this.name = 'ProviderError';
    this.kind = init.kind;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.upstreamCode = init.upstreamCode === undefined ? undefined : redact(init.upstreamCode);
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
    case 'gateway':
      return 500;
  }
}

/**
 * The gateway could not build or send this call: the request's own failure, not the deployment's. `status`
 * is what the client gets: 400 when the request itself cannot be sent (nested too deeply to serialise),
 * 500 when the gateway is at fault.
 */
export function gatewayFault(message: string, status: 400 | 500, code = status === 400 ? 'request_not_sendable' : 'gateway_error'): ProviderError {
  return new ProviderError({ kind: 'gateway', status, message, upstreamCode: code });
}

/**
 * Whether a failure is evidence about the deployment: only upstream kinds are. Health (breakers, latency
 * windows, weights) is fed with these alone; a gateway fault or a client's abort is no verdict.
 */
export function isUpstreamAttributable(err: unknown): err is ProviderError {
  return err instanceof ProviderError && err.kind !== 'gateway';
}

/** Any failure of an attempt as the taxonomy: a ProviderError as is, anything else the gateway's own fault. */
export function asProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (isStackOverflow(err)) return gatewayFault(TOO_DEEP, 400);
  return gatewayFault(`the gateway failed to build or send the request: ${(err as Error)?.message ?? String(err)}`, 500);
}

export const TOO_DEEP = 'the request is nested too deeply to be sent upstream';

/** Recursion over a client's value ran out of stack: the value is too deep, the request's own fault. */
export function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

/** Kinds that say something about the provider's health (retry, switch, breaker) rather than the request. */
export function isTransientKind(kind: ErrorKind): boolean {
  return kind === 'rate_limited' || kind === 'overloaded' || kind === 'timeout' || kind === 'connection' || kind === 'server';
}
