/**
 * The durable path's counters after scripted traffic: the worker counts every request workflow it starts,
 * completes and fails (submitted ones nobody waits for included); the gateway counts the HTTP requests.
 */
import { describe, expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';
import { parsePrometheus, valueOf, type Sample } from '../support/prometheus-text.js';
import { operatorFetch } from '../support/operator.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-durable-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-durable }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  chat: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }] }
  solo: { groups: [{ deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 1, backoff: { baseMs: 10, capMs: 50 } }
`;

const h = useDurableHarness(yaml);

async function scrape(): Promise<Sample[]> {
  return parsePrometheus(await (await operatorFetch(`${h.gateway.url}/metrics`)).text());
}

async function until(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

const chat = (model: string, content: string) => ({ model, messages: [{ role: 'user', content }] });

describe('durable counters', () => {
  it('counts started, completed (by outcome) and failed (by reason) workflows exactly', async () => {
    const DURABLE = { 'x-gateway-durable': 'true' };
    // 1. synchronous durable call, answered first time
    expect((await post('/v1/chat/completions', chat('chat', 'one'), DURABLE)).status).toBe(200);
    // 2. submitted, nobody waits: OpenAI fails, Anthropic answers (a fallback)
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    const submitted = await post('/v1/requests', chat('chat', 'two'));
    expect(submitted.status).toBe(202);
    // its scripted 500 must be taken before the next script is queued for the same model
    await fetch(`${h.gateway.url}/v1/requests/${submitted.body.id}?wait=10s`);
    // 3. rejected upstream: the 400 goes back, the workflow fails
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 400 });
    expect((await post('/v1/chat/completions', chat('solo', 'three'), DURABLE)).status).toBe(400);
    // 4. cancelled while its provider call is held open
    h.fake.scriptFor('gpt-main', { kind: 'hold' });
    const held = await post('/v1/requests', chat('solo', 'four'));
    await until(() => h.fake.held === 1);
    const cancel = await fetch(`${h.gateway.url}/v1/requests/${held.body.id}`, { method: 'DELETE' });
    expect(((await cancel.json()) as any).status).toBe('cancelled');

    // The worker counts as workflows end, which may be a moment after the HTTP answers.
    const total = (s: Sample[]) =>
      valueOf(s, 'llm_gateway_durable_requests_completed_total') + valueOf(s, 'llm_gateway_durable_requests_failed_total');
    await until(async () => total(await scrape()) >= 4);
    await new Promise((r) => setTimeout(r, 300)); // nothing more may arrive
    const s = await scrape();
    expect(valueOf(s, 'llm_gateway_durable_requests_started_total')).toBe(4);
    expect(valueOf(s, 'llm_gateway_durable_requests_started_total', { alias: 'chat' })).toBe(2);
    expect(valueOf(s, 'llm_gateway_durable_requests_started_total', { alias: 'solo' })).toBe(2);
    expect(valueOf(s, 'llm_gateway_durable_requests_completed_total', { alias: 'chat', outcome: 'success' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_durable_requests_completed_total', { alias: 'chat', outcome: 'fallback' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_durable_requests_completed_total')).toBe(2);
    expect(valueOf(s, 'llm_gateway_durable_requests_failed_total', { alias: 'solo', reason: 'UpstreamRejected' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_durable_requests_failed_total', { alias: 'solo', reason: 'cancelled' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_durable_requests_failed_total')).toBe(2);

    // the gateway's side: the HTTP requests, with the attempts of the synchronous ones
    expect(valueOf(s, 'llm_gateway_requests_total', { mode: 'durable', alias: 'chat', outcome: 'success', deployment: 'oa-main' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_requests_total', { mode: 'durable', alias: 'solo', outcome: 'failed' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_requests_total', { mode: 'submit', outcome: 'accepted' })).toBe(2);
    expect(valueOf(s, 'llm_gateway_attempts_total', { deployment: 'oa-main', result: 'error', error_kind: 'bad_request' })).toBe(1);
    expect(valueOf(s, 'llm_gateway_requests_in_flight')).toBe(0);
  }, 60_000);
});
