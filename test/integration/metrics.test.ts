/**
 * Scripted traffic against the fake provider, then /metrics and the request log read back: every upstream
 * call, fallback, token and cent shows up exactly as it happened, on the fast path.
 */
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { withTestDefaults } from '../support/harness.js';
import { parsePrometheus, valueOf, type Sample } from '../support/prometheus-text.js';
import { operatorFetch } from '../support/operator.js';

const yaml = (extra = '') => `
server: { host: 127.0.0.1 }
durable: { enabled: false }
${extra}
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main, price: { inputPerMTok: 2, outputPerMTok: 8 } }
  an-main: { provider: an, model: claude-main, price: { inputPerMTok: 3, outputPerMTok: 15 } }
models:
  chat: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }] }
  tagged:
    groups: [{ deployments: [oa-main] }]
    rules: [{ name: fast-lane, when: { tags: [fast] }, use: [an-main] }]
defaults:
  fallback: { attemptsPerDeployment: 3, backoff: { baseMs: 1, capMs: 5 }, maxRetryAfterMs: 3000 }
`;

interface Running {
  fake: FakeProvider;
  gateway: RunningGateway;
  openai: OpenAI;
  logs: Array<Record<string, any>>;
  close(): Promise<void>;
}

async function start(extra = ''): Promise<Running> {
  const fake = await startFakeProvider();
  const logs: Array<Record<string, any>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const config = parseConfig(withTestDefaults(yaml(extra)).replaceAll('{{FAKE}}', fake.url), 'metrics-test', {});
  const gateway = await startGateway(config, { port: 0, logger: createLogger('info', sink) });
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 15_000 });
  return { fake, gateway, openai, logs, close: async () => (await gateway.close(), await fake.close()) };
}

async function scrape(r: Running): Promise<Sample[]> {
  const res = await operatorFetch(`${r.gateway.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parsePrometheus(await res.text());
}

/** How much a counter grew between two scrapes. */
const grew = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) =>
  valueOf(after, name, labels) - valueOf(before, name, labels);

const requestLogs = (r: Running) => r.logs.filter((l) => l.msg === 'request');

let g: Running;
beforeAll(async () => {
  g = await start();
});
afterAll(async () => {
  await g?.close();
});
beforeEach(() => {
  g.fake.reset();
  g.logs.length = 0;
});
afterEach(() => expect(g.fake.violations).toEqual([]));

const hello = { model: 'chat', messages: [{ role: 'user' as const, content: 'hello metrics' }] };

describe('metrics after scripted traffic (fast path)', () => {
  it('three 429s and a fallback show up as exactly those counts, with the tokens and cost of the answer', async () => {
    g.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 429, retryAfterMs: 1 }));
    const before = await scrape(g);
    const { data, response } = await g.openai.chat.completions.create(hello).withResponse();
    expect(response.headers.get('x-gateway-deployment')).toBe('an-main');
    const after = await scrape(g);

    expect(grew(before, after, 'llm_gateway_attempts_total', { deployment: 'oa-main', result: 'error', error_kind: 'rate_limited' })).toBe(3);
    expect(grew(before, after, 'llm_gateway_attempts_total', { deployment: 'an-main', result: 'ok' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_attempts_total')).toBe(4);
    expect(grew(before, after, 'llm_gateway_fallback_triggers_total', { alias: 'chat', stage: 'retry', reason: 'rate_limited' })).toBe(2);
    expect(grew(before, after, 'llm_gateway_fallback_triggers_total', { alias: 'chat', stage: 'switch', reason: 'rate_limited' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_fallback_triggers_total')).toBe(3);
    expect(grew(before, after, 'llm_gateway_requests_total', { alias: 'chat', deployment: 'an-main', provider: 'an', mode: 'fast', outcome: 'fallback' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_requests_total')).toBe(1);
    expect(grew(before, after, 'llm_gateway_tokens_total', { deployment: 'an-main', direction: 'input' })).toBe(data.usage!.prompt_tokens);
    expect(grew(before, after, 'llm_gateway_tokens_total', { deployment: 'an-main', direction: 'output' })).toBe(data.usage!.completion_tokens);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(grew(before, after, 'llm_gateway_cost_usd_total', { deployment: 'an-main' })).toBeCloseTo(Number(response.headers.get('x-gateway-cost-usd')), 9);
    expect(grew(before, after, 'llm_gateway_request_duration_seconds_count', { alias: 'chat', mode: 'fast', outcome: 'fallback' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_upstream_duration_seconds_count', { deployment: 'oa-main', result: 'error' })).toBe(3);
    expect(grew(before, after, 'llm_gateway_overhead_seconds_count', { alias: 'chat' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_overhead_seconds_sum', { alias: 'chat' })).toBeCloseTo(Number(response.headers.get('x-gateway-overhead-ms')) / 1000, 6);
    expect(valueOf(after, 'llm_gateway_requests_in_flight')).toBe(0);
    expect(after.some((s) => s.name === 'llm_gateway_circuit_breaker_state' && s.labels.deployment === 'oa-main')).toBe(true);

    // the same request, as its one log record
    const logs = requestLogs(g);
    expect(logs).toHaveLength(1);
    const rec = logs[0]!;
    expect(rec).toMatchObject({
      requestId: response.headers.get('x-request-id'),
      tenant: 'default',
      alias: 'chat',
      outcome: 'fallback',
      mode: 'fast',
      deployment: 'an-main',
      usage: { inputTokens: data.usage!.prompt_tokens, outputTokens: data.usage!.completion_tokens },
    });
    expect(rec.errorClass).toBeUndefined();
    expect(rec.attempts.map((a: any) => [a.deployment, a.outcome, a.kind ?? null, a.status ?? null])).toEqual([
      ['oa-main', 'error', 'rate_limited', 429],
      ['oa-main', 'error', 'rate_limited', 429],
      ['oa-main', 'error', 'rate_limited', 429],
      ['an-main', 'ok', null, null],
    ]);
    // the answering attempt carries what it cost, the failed ones nothing
    expect(rec.attempts.map((a: any) => a.costUsd ?? null)).toEqual([null, null, null, rec.costUsd]);
    // bodies are off by default
    expect(rec.prompt).toBeUndefined();
    expect(rec.answer).toBeUndefined();
    expect(JSON.stringify(rec)).not.toContain('hello metrics');
  });

  it('a stream records its time to first token and its usage', async () => {
    const before = await scrape(g);
    const stream = await g.openai.chat.completions.create({ ...hello, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const after = await scrape(g);
    expect(grew(before, after, 'llm_gateway_time_to_first_token_seconds_count', { deployment: 'oa-main' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_requests_total', { deployment: 'oa-main', outcome: 'success' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_tokens_total', { deployment: 'oa-main', direction: 'output' })).toBe(usage!.completion_tokens);
    expect(requestLogs(g)[0]).toMatchObject({ stream: true, outcome: 'success' });
  });

  it('nothing answers and the catch-all has nothing: a failed request (as on the durable path), every failure a trigger, and the error class in the log', async () => {
    g.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 500 }));
    g.fake.scriptFor('claude-main', ...Array(3).fill({ kind: 'error', status: 529 }));
    const before = await scrape(g);
    const res = await fetch(`${g.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hello) });
    expect(res.status).toBe(503);
    const after = await scrape(g);
    expect(grew(before, after, 'llm_gateway_requests_total', { deployment: 'none', outcome: 'failed' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_requests_total', { outcome: 'catch_all' })).toBe(0);
    expect(grew(before, after, 'llm_gateway_attempts_total', { result: 'error' })).toBe(6);
    expect(grew(before, after, 'llm_gateway_fallback_triggers_total', { stage: 'retry' })).toBe(4);
    expect(grew(before, after, 'llm_gateway_fallback_triggers_total', { stage: 'switch', reason: 'server' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_fallback_triggers_total', { stage: 'catch_all', reason: 'overloaded' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_tokens_total')).toBe(0);
    expect(requestLogs(g)[0]).toMatchObject({ status: 503, outcome: 'failed', errorClass: 'overloaded' });
    expect(requestLogs(g)[0]!.catchAll).toBeUndefined();
    expect(res.headers.get('x-gateway-attempts')).toBe('6');
  });
});

describe('routing rules', () => {
  it('counts a capability rule hit by strategy and rule, and plain routing as no rule', async () => {
    const before = await scrape(g);
    const tagged = await g.openai.chat.completions.create({ ...hello, model: 'tagged' }, { headers: { 'x-gateway-tags': 'fast' } }).withResponse();
    expect(tagged.response.headers.get('x-gateway-deployment')).toBe('an-main');
    await g.openai.chat.completions.create({ ...hello, model: 'tagged' });
    const after = await scrape(g);
    expect(grew(before, after, 'llm_gateway_routing_rule_hits_total', { alias: 'tagged', strategy: 'capability', rule: 'fast-lane' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_routing_rule_hits_total', { alias: 'tagged', rule: 'none' })).toBe(1);
    expect(grew(before, after, 'llm_gateway_routing_rule_hits_total')).toBe(2);
    expect(requestLogs(g)[0]).toMatchObject({ route: { strategy: 'capability', rule: 'fast-lane' } });
  });
});

describe('logging.bodies', () => {
  let b: Running;
  beforeAll(async () => {
    b = await start('logging: { level: info, bodies: true }');
  });
  afterAll(async () => {
    await b?.close();
  });

  it('puts the prompt and the answer in the record only when turned on', async () => {
    const answer = await b.openai.chat.completions.create(hello);
    const stream = await b.openai.chat.completions.create({ ...hello, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    const [sync, streamRec] = requestLogs(b);
    expect(sync!.prompt.messages).toEqual(hello.messages);
    expect(sync!.answer.choices[0].message.content).toBe(answer.choices[0]!.message.content);
    expect(streamRec!.answer.text).toBe(streamed);
    expect(streamed.length).toBeGreaterThan(0);
  });
});
