/**
 * The metrics a finished request turns into, read back through Prometheus' text format; the request record
 * they come from; the body capture and redaction the request log relies on.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Attempt } from '../../src/decision/attempt.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { fallbackTriggers, finishedRequest, ttftOf, type FinishedRequest, type ResponseFacts } from '../../src/observability/request-record.js';
import { streamText } from '../../src/observability/body-capture.js';
import { createLogger } from '../../src/observability/logger.js';
import { DeploymentStats } from '../../src/observability/deployment-stats.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';
import { observabilitySchema } from '../../src/config/observability-schema.js';
import { serveMetrics } from '../../src/observability/metrics-server.js';

const attempt = (over: Partial<Attempt>): Attempt => ({
  deployment: 'oa-main',
  provider: 'oa',
  alias: 'chat',
  stage: 'primary',
  attempt: 1,
  outcome: 'ok',
  latencyMs: 100,
  ...over,
});

/** Three 429s on oa-main (two retries, then a switch), and an-main answers. */
const threeRateLimitsThenSwitch: Attempt[] = [
  attempt({ outcome: 'error', kind: 'rate_limited', status: 429, latencyMs: 20 }),
  attempt({ attempt: 2, outcome: 'error', kind: 'rate_limited', status: 429, latencyMs: 30 }),
  attempt({ attempt: 3, outcome: 'error', kind: 'rate_limited', status: 429, latencyMs: 40 }),
  attempt({ deployment: 'an-main', provider: 'an', stage: 'switch', latencyMs: 250 }),
];

const facts = (over: Partial<ResponseFacts> = {}): ResponseFacts => ({
  requestId: 'r1',
  method: 'POST',
  path: '/v1/chat/completions',
  status: 200,
  durableHeader: false,
  headers: { deployment: 'an-main', provider: 'an', fallback: 'switch', overheadMs: '0.75' },
  tenant: 't1',
  clientAborted: false,
  totalMs: 400,
  ...over,
});

async function samples(m: GatewayMetrics) {
  return parsePrometheus((await m.render()).body);
}

describe('request record', () => {
  it('names the outcome, the error class and the mode', () => {
    const ok = finishedRequest({ alias: 'chat', attempts: threeRateLimitsThenSwitch }, facts());
    expect(ok).toMatchObject({ outcome: 'fallback', mode: 'fast', deployment: 'an-main', overheadMs: 0.75, errorClass: undefined });
    const busy = finishedRequest({ alias: 'chat', attempts: threeRateLimitsThenSwitch.slice(0, 3), catchAll: true }, facts({ status: 503, headers: {} }));
    expect(busy).toMatchObject({ outcome: 'catch_all', errorClass: 'rate_limited' });
    const refused = finishedRequest({ alias: 'chat', attempts: [] }, facts({ status: 404, headers: {} }));
    expect(refused).toMatchObject({ outcome: 'failed', errorClass: 'http_404' });
    expect(finishedRequest({ alias: 'chat' }, facts({ path: '/v1/requests', status: 202 })).outcome).toBe('accepted');
    expect(finishedRequest({ alias: 'chat' }, facts({ durableHeader: true })).mode).toBe('durable');
    expect(finishedRequest({ alias: 'chat', attempts: [attempt({})], stream: true }, facts({ clientAborted: true })).outcome).toBe('aborted');
  });

  it('tells what the chain did after each failure', () => {
    expect(fallbackTriggers(threeRateLimitsThenSwitch, false)).toEqual([
      { stage: 'retry', reason: 'rate_limited' },
      { stage: 'retry', reason: 'rate_limited' },
      { stage: 'switch', reason: 'rate_limited' },
    ]);
    const skippedThenDowngrade = [attempt({ outcome: 'skipped' }), attempt({ deployment: 'small', stage: 'downgrade' })];
    expect(fallbackTriggers(skippedThenDowngrade, false)).toEqual([{ stage: 'downgrade', reason: 'circuit_open' }]);
    expect(fallbackTriggers([attempt({ outcome: 'error', kind: 'server' })], true)).toEqual([{ stage: 'catch_all', reason: 'server' }]);
    // an error that went back to the client was not recovered from
    expect(fallbackTriggers([attempt({ outcome: 'error', kind: 'bad_request' })], false)).toEqual([]);
  });

  it('takes a stream attempt’s latency as its time to first token unless it was measured', () => {
    expect(ttftOf(attempt({ latencyMs: 80 }), true)).toBe(80);
    expect(ttftOf(attempt({ latencyMs: 80, ttftMs: 12 }), true)).toBe(12);
    expect(ttftOf(attempt({ latencyMs: 80 }), false)).toBeUndefined();
    expect(ttftOf(attempt({ outcome: 'error', latencyMs: 80 }), true)).toBeUndefined();
  });
});

describe('gateway metrics', () => {
  it('counts three 429s and a fallback as exactly that', async () => {
    const m = new GatewayMetrics();
    const f: FinishedRequest = { ...finishedRequest({ alias: 'chat', attempts: threeRateLimitsThenSwitch, usage: { inputTokens: 12, outputTokens: 30 } }, facts()) };
    m.observe(f);
    const s = await samples(m);
    expect(valueOf(s, 'llm_gateway_attempts_total', { deployment: 'oa-main', result: 'error', error_kind: 'rate_limited' })).toBe(3);
    expect(valueOf(s, 'llm_gateway_attempts_total', { deployment: 'an-main', result: 'ok' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_attempts_total')).toBe(4);
    expect(valueOf(s, 'llm_gateway_fallback_triggers_total', { stage: 'retry', reason: 'rate_limited' })).toBe(2);
    expect(valueOf(s, 'llm_gateway_fallback_triggers_total', { stage: 'switch', reason: 'rate_limited' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_requests_total', { alias: 'chat', deployment: 'an-main', provider: 'an', mode: 'fast', outcome: 'fallback' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_tokens_total', { deployment: 'an-main', direction: 'input' })).toBe(12);
    expect(valueOf(s, 'llm_gateway_tokens_total', { deployment: 'an-main', direction: 'output' })).toBe(30);
    // cost is counted by the ledger when it charges the request (test/unit/ledger.test.ts), never from the record
    expect(valueOf(s, 'llm_gateway_cost_usd_total')).toBe(0);
    expect(valueOf(s, 'llm_gateway_request_duration_seconds_count', { alias: 'chat', outcome: 'fallback' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_request_duration_seconds_sum', { alias: 'chat' })).toBeCloseTo(0.4, 9);
    expect(valueOf(s, 'llm_gateway_upstream_duration_seconds_count', { deployment: 'oa-main', result: 'error' })).toBe(3);
    expect(valueOf(s, 'llm_gateway_upstream_duration_seconds_sum', { deployment: 'oa-main' })).toBeCloseTo(0.09, 9);
    expect(valueOf(s, 'llm_gateway_overhead_seconds_sum', { alias: 'chat' })).toBeCloseTo(0.00075, 12);
    // not a stream: no time to first token
    expect(valueOf(s, 'llm_gateway_time_to_first_token_seconds_count')).toBe(0);
    expect(valueOf(s, 'llm_gateway_routing_rule_hits_total')).toBe(0);
  });

  it('counts routing rules, cache results and stream TTFT', async () => {
    const m = new GatewayMetrics();
    m.observe(finishedRequest({ alias: 'chat', stream: true, attempts: [attempt({ latencyMs: 42 })], route: { strategy: 'capability', rule: 'long-context' }, cache: 'miss' }, facts()));
    m.observe(finishedRequest({ alias: 'chat', route: { strategy: 'latency' }, cache: 'hit' }, facts({ headers: {} })));
    const s = await samples(m);
    expect(valueOf(s, 'llm_gateway_routing_rule_hits_total', { strategy: 'capability', rule: 'long-context' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_routing_rule_hits_total', { strategy: 'latency', rule: 'none' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_cache_requests_total', { result: 'hit' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_time_to_first_token_seconds_sum', { deployment: 'oa-main' })).toBeCloseTo(0.042, 9);
    expect(valueOf(s, 'llm_gateway_requests_total', { deployment: 'none', outcome: 'success' })).toBe(1);
  });

  it('reads breaker states and in-flight calls from the health view when scraped', async () => {
    const m = new GatewayMetrics();
    let state: 'closed' | 'open' = 'closed';
    m.readHealthFrom(() => ({ deployments: { a: { breaker: { state }, inFlight: 3 }, b: { breaker: { state: 'half_open' }, inFlight: 0 } } }));
    let s = await samples(m);
    expect(valueOf(s, 'llm_gateway_circuit_breaker_state', { deployment: 'a' })).toBe(0);
    expect(valueOf(s, 'llm_gateway_circuit_breaker_state', { deployment: 'b' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_deployment_in_flight', { deployment: 'a' })).toBe(3);
    state = 'open';
    s = await samples(m);
    expect(valueOf(s, 'llm_gateway_circuit_breaker_state', { deployment: 'a' })).toBe(2);
  });

  it('counts requests in flight, each ended once', async () => {
    const m = new GatewayMetrics();
    const end1 = m.requestBegan('/v1/chat/completions');
    const end2 = m.requestBegan('/v1/chat/completions');
    expect(valueOf(await samples(m), 'llm_gateway_requests_in_flight', { route: '/v1/chat/completions' })).toBe(2);
    end1();
    end1();
    expect(valueOf(await samples(m), 'llm_gateway_requests_in_flight', { route: '/v1/chat/completions' })).toBe(1);
    end2();
    expect(valueOf(await samples(m), 'llm_gateway_requests_in_flight')).toBe(0);
  });

  it('keeps one registry per instance: two gateways in one process do not share counts', async () => {
    const a = new GatewayMetrics({ processMetrics: true });
    const b = new GatewayMetrics({ processMetrics: true });
    a.observe(finishedRequest({ alias: 'chat', attempts: [attempt({})] }, facts()));
    a.durable.started('chat');
    a.durable.completed('chat', 'success');
    b.durable.failed('chat', 'ServiceBusy');
    const sa = await samples(a);
    const sb = await samples(b);
    expect(valueOf(sa, 'llm_gateway_requests_total')).toBe(1);
    expect(valueOf(sb, 'llm_gateway_requests_total')).toBe(0);
    expect(valueOf(sa, 'llm_gateway_durable_requests_started_total', { alias: 'chat' })).toBe(1);
    expect(valueOf(sa, 'llm_gateway_durable_requests_completed_total', { outcome: 'success' })).toBe(1);
    expect(valueOf(sb, 'llm_gateway_durable_requests_failed_total', { reason: 'ServiceBusy' })).toBe(1);
    expect(valueOf(sa, 'llm_gateway_durable_requests_failed_total')).toBe(0);
    expect(sa.some((x) => x.name === 'process_cpu_user_seconds_total')).toBe(true);
  });
});

describe('per-deployment stats for the status page', () => {
  it('gives the success rate and latency of recent calls', () => {
    let now = 1_000_000;
    const stats = new DeploymentStats({ windowMs: 60_000, maxSamples: 100 }, () => now);
    stats.record(finishedRequest({ alias: 'chat', attempts: threeRateLimitsThenSwitch }, facts()));
    expect(stats.stat('oa-main')).toMatchObject({ successRate: 0, calls: 3, errors: 3, latencyMs: { p50: null } });
    expect(stats.stat('an-main')).toMatchObject({ successRate: 1, calls: 1, latencyMs: { p50: 250, p95: 250 } });
    now += 61_000;
    expect(stats.stat('oa-main')).toMatchObject({ successRate: null, calls: 0 });
  });
});

describe('request log helpers', () => {
  it('folds a captured stream to its text (OpenAI and Anthropic events)', () => {
    const openai = 'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\ndata: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: [DONE]\n\n';
    expect(streamText(openai)).toBe('Hello');
    const anthropic = 'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
    expect(streamText(anthropic)).toBe('Hi');
  });

  it('redacts keys and auth headers at any depth the log may carry them', () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    logger.info({
      apiKey: 'S-root',
      config: { providers: { oa: { apiKey: 'S-provider', headers: { authorization: 'Bearer S-auth' } } } },
      req: { headers: { 'x-api-key': 'S-x', 'api-key': 'S-azure', 'x-goog-api-key': 'S-goog' } },
      err: { options: { headers: { Authorization: 'Bearer S-capital', 'X-Api-Key': 'S-capital-x' } } },
      note: 'a field that is not a secret stays',
    });
    const out = lines.join('');
    for (const secret of ['S-root', 'S-provider', 'S-auth', 'S-x', 'S-azure', 'S-goog', 'S-capital']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
    expect(out).toContain('a field that is not a secret stays');
  });
});

describe('observability config and the worker metrics server', () => {
  it('defaults to metrics and status page on, tracing off, and rejects a non-HTTP OTLP endpoint', () => {
    const d = observabilitySchema.parse({});
    expect(d).toMatchObject({ metrics: { enabled: true, path: '/metrics' }, tracing: { enabled: false, sampleRatio: 1 }, statusPage: { enabled: true } });
    expect(observabilitySchema.safeParse({ tracing: { otlpEndpoint: 'ftp://collector:4318' } }).success).toBe(false);
    expect(observabilitySchema.safeParse({ metrics: { path: 'metrics' } }).success).toBe(false);
    expect(observabilitySchema.safeParse({ tracing: { sampleRatio: 1.5 } }).success).toBe(false);
  });

  it('serves a registry on its own port for worker-only processes', async () => {
    const m = new GatewayMetrics();
    m.durable.started('chat');
    const { server, url } = await serveMetrics(m, '127.0.0.1', 0, '/metrics');
    try {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(valueOf(parsePrometheus(await res.text()), 'llm_gateway_durable_requests_started_total', { alias: 'chat' })).toBe(1);
      expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
