/**
 * The load generator both `npm run bench` and `npm run bench:peers` drive: one undici keep-alive pool per target,
 * requests checked for the fake provider's exact answer (so a target that answers fast but wrong never counts),
 * streamed answers timed to the first content event, and closed-loop throughput phases.
 */
import { Pool } from 'undici';
import { BenchError } from './children.js';
import { API_KEY, EXPECTED_TEXT, PROMPT } from './gateway.js';
import { ERROR_LIMIT, round3, summarize as summarizeAny, type Summary } from './stats.js';

export interface Target<N extends string = string> {
  name: N;
  pool: Pool;
  headers: Record<string, string>;
  body: string;
  streamBody: string;
}

/**
 * `extraHeaders`: what a peer needs to know where to send the request (Portkey's x-portkey-* headers);
 * `apiKey`: the bearer token the target checks (the gateway's and LiteLLM's keys differ).
 */
export function makeTarget<N extends string>(name: N, origin: string, model: string, { extraHeaders = {}, apiKey = API_KEY }: { extraHeaders?: Record<string, string>; apiKey?: string } = {}): Target<N> {
  const messages = [{ role: 'user', content: PROMPT }];
  return {
    name,
    // One keep-alive pool per target, big enough for the highest concurrency.
    pool: new Pool(origin, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, ...extraHeaders },
    body: JSON.stringify({ model, messages }),
    streamBody: JSON.stringify({ model, messages, stream: true }),
  };
}

export interface Sample {
  ms: number;
  /** x-gateway-overhead-ms, when the gateway answered. */
  overheadMs?: number;
}

export function overheadHeader(headers: Record<string, string | string[] | undefined>): number | undefined {
  const v = headers['x-gateway-overhead-ms'];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** One non-streamed chat request, timed from send to the last byte of the body. */
export async function completeOnce(t: Target): Promise<Sample> {
  const t0 = performance.now();
  const res = await t.pool.request({ path: '/v1/chat/completions', method: 'POST', headers: t.headers, body: t.body });
  const text = await res.body.text();
  const ms = performance.now() - t0;
  if (res.statusCode !== 200) throw new BenchError(`${t.name}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  const content = (JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content;
  if (content !== EXPECTED_TEXT) throw new BenchError(`${t.name}: unexpected answer ${JSON.stringify(content)}`);
  return { ms, overheadMs: overheadHeader(res.headers) };
}

export interface StreamSample {
  /** Time to the first SSE event with non-empty choices[0].delta.content. */
  ttftMs: number;
  totalMs: number;
  overheadMs?: number;
}

/** One streamed chat request: TTFT is when the bytes holding the first content event arrived. */
export async function streamOnce(t: Target): Promise<StreamSample> {
  const t0 = performance.now();
  const res = await t.pool.request({ path: '/v1/chat/completions', method: 'POST', headers: t.headers, body: t.streamBody });
  if (res.statusCode !== 200) throw new BenchError(`${t.name}: HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`);
  const decoder = new TextDecoder();
  let buf = '';
  let ttftMs: number | undefined;
  let text = '';
  let done = false;
  for await (const chunk of res.body) {
    const arrived = performance.now();
    buf += decoder.decode(chunk as Uint8Array, { stream: true }).replace(/\r\n?/g, '\n');
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data === '') continue;
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const parsed = JSON.parse(data) as { error?: unknown; choices?: Array<{ delta?: { content?: unknown } }> };
      if (parsed.error) throw new BenchError(`${t.name}: error event in stream: ${data.slice(0, 300)}`);
      const content = parsed.choices?.[0]?.delta?.content;
      if (typeof content === 'string' && content !== '') {
        ttftMs ??= arrived - t0;
        text += content;
      }
    }
  }
  const totalMs = performance.now() - t0;
  if (!done) throw new BenchError(`${t.name}: stream ended without [DONE]`);
  if (text !== EXPECTED_TEXT) throw new BenchError(`${t.name}: unexpected streamed answer ${JSON.stringify(text)}`);
  if (ttftMs === undefined) throw new BenchError(`${t.name}: stream had no content`);
  return { ttftMs, totalMs, overheadMs: overheadHeader(res.headers) };
}

/** Finer than bench/durable.ts: added latencies here are fractions of a millisecond, and p99.9 is in the JSON. */
export const summarize = (values: number[]): Summary => summarizeAny(values, { digits: 4, withP999: true });

/** Each iteration sends one request to every target, in an order rotated (and reversed) per iteration. */
export function orderFor<T>(items: T[], i: number): T[] {
  const k = i % items.length;
  const rotated = [...items.slice(k), ...items.slice(0, k)];
  return Math.floor(i / items.length) % 2 === 0 ? rotated : rotated.reverse();
}

export interface Added {
  p50: number;
  p99: number;
  mean: number;
}

export function addedOver(base: Summary, s: Summary): Added {
  return { p50: round3(s.p50 - base.p50), p99: round3(s.p99 - base.p99), mean: round3(s.mean - base.mean) };
}

export interface Phase<N extends string = string> {
  target: N;
  round: number;
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  latencyMs: Summary;
}

/** `concurrency` closed-loop workers for `ms`; requests in flight at the deadline are finished and counted. */
export async function closedLoop<N extends string>(t: Target<N>, concurrency: number, ms: number, round: number): Promise<Phase<N>> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      try {
        latencies.push((await completeOnce(t)).ms);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        if (errors > ERROR_LIMIT) throw new BenchError(`${t.name} at concurrency ${concurrency}: too many errors, first: ${firstError}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  return {
    target: t.name,
    round,
    requests: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds: round3(seconds),
    rps: Math.round(latencies.length / seconds),
    latencyMs: summarize(latencies),
  };
}
