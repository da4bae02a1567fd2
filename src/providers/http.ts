/**
 * The one pooled, keep-alive HTTP client every adapter shares. Timeouts are split the way streams fail:
 * connect, first byte (headers), idle between body chunks (a stalled stream), and a total budget.
 * Transport failures come out as ProviderError kinds; a caller's own abort stays an AbortError.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import type { Readable } from 'node:stream';
import { ProviderError } from './errors.js';

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
  const { signal, release } = callSignal(opts.timeouts.totalMs, opts.signal);
  const method = opts.method ?? 'POST';
  try {
    const res = await request(url, {
      method,
      headers: method === 'POST' ? { 'content-type': 'application/json', ...opts.headers } : opts.headers,
      body: method === 'POST' ? JSON.stringify(body) : undefined,
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

/** Maps a transport failure (undici error, socket error, abort) to the taxonomy. */
export function transportError(err: unknown, callerSignal?: AbortSignal): unknown {
  if (err instanceof ProviderError) return err;
  if (callerSignal?.aborted) return callerSignal.reason ?? err;
  const e = err as { code?: string; name?: string; message?: string };
  const code = e?.code ?? '';
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
