/**
 * The one pooled, keep-alive HTTP client every adapter shares. Timeouts are split the way streams fail:
 * connect, first byte (headers), idle between body chunks (a stalled stream), and a total budget.
 * Transport failures come out as ProviderError kinds; a caller's own abort stays an AbortError; a call
 * the gateway could not build or send (unserialisable body, a URL or header undici refuses) is kind `gateway`.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import type { Readable } from 'node:stream';
import { gatewayFault, isStackOverflow, ProviderError, TOO_DEEP } from './errors.js';

export interface Timeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  totalMs: number;
}

export interface HttpResponse {
  status: number;
  header(name: string): string | undefined;
  body: Readable & { text(): Promise<string>; json(): Promise<unknown> };
}

const agents = new Map<number, Agent>();

function agentFor(connectMs: number): Agent {
  let agent = agents.get(connectMs);
  if (!agent) {
    agent = new Agent({
      connect: { timeout: connectMs },
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 256,
      pipelining: 1,
    });
    agents.set(connectMs, agent);
  }
  return agent;
}

export async function closeHttpPools(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

export interface PostOptions {
  headers: Record<string, string>;
  timeouts: Timeouts;
  signal?: AbortSignal;
  method?: 'POST' | 'GET';
}

export class TotalTimeout extends Error {
  constructor(ms: number) {
    super(`upstream exceeded the total time budget of ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * One controller per call, aborted by the caller's signal or the total-time budget, released when the body
 * closes. (AbortSignal.timeout + AbortSignal.any do the same but cost several times more per request.)
 */
function callSignal(totalMs: number, caller?: AbortSignal): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TotalTimeout(totalMs)), totalMs);
  const onCallerAbort = () => controller.abort(caller!.reason);
  if (caller?.aborted) controller.abort(caller.reason);
  else caller?.addEventListener('abort', onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
    },
  };
}

export async function httpRequest(url: string, body: unknown, opts: PostOptions): Promise<HttpResponse> {
  const method = opts.method ?? 'POST';
  // serialised before anything is sent: a body the gateway cannot write is the request's failure, not a
  // connection failure of the deployment
  const payload = method === 'POST' ? serialise(body) : undefined;
  const { signal, release } = callSignal(opts.timeouts.totalMs, opts.signal);
  try {
    const res = await request(url, {
      method,
      headers: method === 'POST' ? { 'content-type': 'application/json', ...opts.headers } : opts.headers,
      body: payload,
      dispatcher: agentFor(opts.timeouts.connectMs),
      headersTimeout: opts.timeouts.firstByteMs,
      bodyTimeout: opts.timeouts.idleMs,
      signal,
    });
    res.body.once('close', release);
    const headers = res.headers;
    return {
      status: res.statusCode,
      header: (name) => {
        const v = headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      body: res.body as HttpResponse['body'],
    };
  } catch (err) {
    release();
    throw transportError(err, opts.signal);
  }
}

function serialise(body: unknown): string {
  try {
    return JSON.stringify(body);
  } catch (err) {
    throw isStackOverflow(err) ? gatewayFault(TOO_DEEP, 400) : gatewayFault(`the request cannot be serialised: ${(err as Error).message}`, 500);
  }
}

/** undici refused the call before sending it (a malformed URL or header): the gateway's doing, not the upstream's. */
const NOT_SENT = new Set(['UND_ERR_INVALID_ARG', 'ERR_INVALID_URL', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED']);

/** Maps a transport failure (undici error, socket error, abort) to the taxonomy. */
export function transportError(err: unknown, callerSignal?: AbortSignal): unknown {
  if (err instanceof ProviderError) return err;
  if (callerSignal?.aborted) return callerSignal.reason ?? err;
  const e = err as { code?: string; name?: string; message?: string };
  const code = e?.code ?? '';
  if (NOT_SENT.has(code) || err instanceof undiciErrors.InvalidArgumentError) {
    return gatewayFault(`the gateway could not send the request (${code || e.name}): ${e.message ?? ''}`, 500);
  }
  // Network failures carry a code (ECONNRESET, UND_ERR_SOCKET, …); a bare TypeError or RangeError is the
  // gateway's own code throwing while it translated (a 5,000-deep value overflowing the stack, a bug).
  if (!code && (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError)) {
    return isStackOverflow(err) ? gatewayFault(TOO_DEEP, 400) : gatewayFault(`the gateway failed while translating the call: ${e.message ?? ''}`, 500);
  }
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return new ProviderError({ kind: 'timeout', message: `upstream timed out (${code || e.name})` });
  }
  if (e?.name === 'TimeoutError' || (e?.name === 'AbortError' && !callerSignal?.aborted)) {
    return new ProviderError({ kind: 'timeout', message: 'upstream exceeded the total time budget' });
  }
  if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ProviderError({ kind: 'connection', message: 'connect to upstream timed out' });
  }
  return new ProviderError({
    kind: 'connection',
    message: `upstream connection failed${code ? ` (${code})` : ''}`,
  });
}
