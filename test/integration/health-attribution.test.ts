/**
 * Health is what upstreams did. A hostile corpus (deep, huge and odd bodies; clients that disconnect before
 * the answer, or in the middle of a stream) on both paths, against breakers that open after three failures:
 * afterwards every breaker is closed and no failure was counted, while the deployment did answer the calls
 * that reached it. (The 5,000-deep bodies are refused at the door by the JSON reader's depth limit; below it,
 * the executor and adapters turn them into the request's own 400 too: test/unit/gateway-fault.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { operatorFetch } from '../support/operator.js';
import { until } from '../support/until.js';

let h: DurableHarness;

beforeAll(async () => {
  h = await startDurableHarness(`
health: { breaker: { consecutiveFailures: 3, minRequests: 3, failureRateThreshold: 0.1 } }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-health-upstream-0123456789 }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-health-upstream-0123456789 }
  gm: { type: gemini, baseUrl: "{{FAKE}}/v1beta", apiKey: gemini-health-upstream-0123456789 }
  # a header no HTTP client will send: every call fails in the gateway, before anything leaves it
  broken: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-health-upstream-0123456789, headers: { x-team: "line\\nbreak" } }
deployments:
  oa1: { provider: oa, model: gpt-h }
  an1: { provider: an, model: claude-h }
  gm1: { provider: gm, model: gemini-h }
  broken1: { provider: broken, model: gpt-h }
models:
  openai: { groups: [{ deployments: [oa1] }] }
  anthropic: { groups: [{ deployments: [an1] }] }
  gemini: { groups: [{ deployments: [gm1] }] }
  broken: { groups: [{ deployments: [broken1] }] }
`);
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const msg = [{ role: 'user', content: 'hi' }];

/** Deep JSON as text: JSON.stringify itself overflows on such values. */
const deepText = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const deepSchema = (levels: number) => `${'{"type":"object","properties":{"x":'.repeat(levels)}{"type":"string"}${'}}'.repeat(levels)}`;
/** A valid request with `field` (a JSON text) spliced in. */
const withField = (model: string, name: string, json: string) => `${JSON.stringify({ model, messages: msg }).slice(0, -1)},"${name}":${json}}`;

async function post(body: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<number> {
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal });
  await res.text();
  return res.status;
}

/** Bodies no upstream should ever be blamed for. */
function hostileBodies(model: string): string[] {
  return [
    withField(model, 'unknown_field', deepText(5_000)),
    withField(model, 'tools', `[{"type":"function","function":{"name":"f","parameters":${deepSchema(5_000)}}}]`),
    withField(model, 'response_format', `{"type":"json_schema","json_schema":{"name":"s","schema":${deepSchema(10_000)}}}`),
    JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(5_000_000) }] }),
    deepText(20_000),
    `{"model":"${model}","messages":[`,
    JSON.stringify({ model, messages: [] }),
    JSON.stringify({ model, messages: [{ role: 'wizard', content: 'hi' }] }),
    JSON.stringify({ model, messages: msg, max_tokens: -5, temperature: 'hot' }),
    JSON.stringify({ model, messages: msg, tool_choice: { type: 'function', function: { name: 'missing' } } }),
  ];
}

async function disconnectMidCall(model: string, stream: boolean, durable: boolean): Promise<void> {
  h.fake.scriptFor(model === 'openai' ? 'gpt-h' : model === 'anthropic' ? 'claude-h' : 'gemini-h', { kind: 'hold' });
  const client = new AbortController();
  const sent = post(JSON.stringify({ model, stream, messages: msg }), durable ? { 'x-gateway-durable': 'true' } : {}, client.signal).catch((e: unknown) => e);
  await until('the call to reach the upstream', async () => h.fake.held > 0 || undefined);
  client.abort();
  await sent;
  // the upstream is let go only after the gateway saw the client leave
  await new Promise((r) => setTimeout(r, 50));
  h.fake.release();
}

async function disconnectMidStream(model: string): Promise<void> {
  h.fake.scriptFor(model === 'openai' ? 'gpt-h' : model === 'anthropic' ? 'claude-h' : 'gemini-h', { kind: 'reply', text: 'one two three four five six seven eight', tokenDelayMs: 40 });
  const client = new AbortController();
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, stream: true, messages: msg }), signal: client.signal });
  const reader = res.body!.getReader();
  await reader.read();
  client.abort();
  await reader.read().catch(() => undefined);
}

describe('only what upstreams did counts', () => {
  it('a hostile corpus on both paths leaves every breaker closed, with no failure counted', async () => {
    const statuses: number[] = [];
    for (const model of ['openai', 'anthropic', 'gemini']) {
      for (const durable of [false, true]) {
        for (const body of hostileBodies(model)) statuses.push(await post(body, durable ? { 'x-gateway-durable': 'true' } : {}));
      }
      for (let i = 0; i < 3; i++) {
        await disconnectMidCall(model, false, false);
        await disconnectMidCall(model, true, false);
        await disconnectMidStream(model);
      }
      await disconnectMidCall(model, false, true);
    }
    // the deep ones are the request's own 400, never a 5xx blamed on a deployment
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    // and the deployments still answer: nothing was opened along the way
    for (const model of ['openai', 'anthropic', 'gemini']) expect(await post(JSON.stringify({ model, messages: msg }))).toBe(200);

    const view = (await (await operatorFetch(`${h.gateway.url}/health/deployments`)).json()) as {
      deployments: Record<string, { breaker: { state: string; requests: number; failures: number; consecutiveFailures: number; opens: number }; lastError: unknown; inFlight: number }>;
    };
    for (const name of ['oa1', 'an1', 'gm1']) {
      const d = view.deployments[name]!;
      expect(d.breaker, name).toMatchObject({ state: 'closed', failures: 0, consecutiveFailures: 0, opens: 0 });
      expect(d.lastError, name).toBeNull();
      expect(d.inFlight, name).toBe(0);
      // not vacuous: the deployment's answers were counted
      expect(d.breaker.requests, name).toBeGreaterThan(0);
    }
  }, 120_000);

  it('a call the gateway cannot send is that request\'s 500 on both paths, and no failure of the deployment', async () => {
    for (const durable of [false, true]) {
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(durable && { 'x-gateway-durable': 'true' }) },
          body: JSON.stringify({ model: 'broken', messages: msg }),
        });
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(res.status, JSON.stringify(body)).toBe(500);
        expect(body.error.code).toBe('gateway_error');
        expect(body.error.message).toMatch(/could not send the request/);
      }
    }
    // nothing reached the upstream, and nothing was blamed on the deployment
    expect(h.fake.requests.filter((r) => JSON.stringify(r.headers).includes('line'))).toEqual([]);
    const view = (await (await operatorFetch(`${h.gateway.url}/health/deployments`)).json()) as {
      deployments: Record<string, { breaker: { state: string; failures: number; opens: number }; lastError: unknown }>;
    };
    expect(view.deployments.broken1!.breaker).toMatchObject({ state: 'closed', failures: 0, opens: 0 });
    expect(view.deployments.broken1!.lastError).toBeNull();
  }, 60_000);
});
