/**
 * Gateway keys and per-key limits, through the official openai SDK: 401 without a valid key, 403 for a model
 * the key may not use, 429 with Retry-After for requests, tokens, concurrency and spend budgets.
 */
import { describe, expect, it } from 'vitest';
import OpenAI, { APIError } from 'openai';
import { hashKey } from '../../src/auth/keys.js';
import { useHarness } from '../support/harness.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';

const KEYS = {
  open: 'gw-open-key-000000000000000000000000000000',
  limited: 'gw-limited-key-11111111111111111111111111',
  tokens: 'gw-tokens-key-222222222222222222222222222',
  single: 'gw-single-key-333333333333333333333333333',
  budget: 'gw-budget-key-444444444444444444444444444',
  admin: 'gw-admin-key-555555555555555555555555555555',
};

const h = useHarness(`
server: { host: 127.0.0.1 }
durable: { enabled: false }
auth:
  mode: keys
  adminKeyHash: "${hashKey(KEYS.admin)}"
  keys:
    - { id: open, tenant: acme, hash: "${hashKey(KEYS.open)}" }
    - { id: limited, tenant: acme, hash: "${hashKey(KEYS.limited)}", models: [chat], limits: { requestsPerMinute: 3 } }
    - { id: tokens, tenant: beta, hash: "${hashKey(KEYS.tokens)}", limits: { tokensPerMinute: 60 } }
    - { id: single, tenant: beta, hash: "${hashKey(KEYS.single)}", limits: { concurrent: 1 } }
    - { id: budget, tenant: beta, hash: "${hashKey(KEYS.budget)}", limits: { dailyBudgetUsd: 0.001 } }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main, price: { inputPerMTok: 1000, outputPerMTok: 1000 } }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
  other: { groups: [{ deployments: [oa-main] }] }
`);

const client = (apiKey: string) => new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey, maxRetries: 0 });
const ask = (apiKey: string, model = 'chat', extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client(apiKey).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
/** Requests the gateway refused before calling any provider, as /metrics counts them. */
const refused = async () =>
  valueOf(parsePrometheus(await (await fetch(`${h.gateway.url}/metrics`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).text()), 'llm_gateway_requests_total', { alias: 'chat', outcome: 'refused' });
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as APIError);

describe('keys', () => {
  it('401 without a key or with a wrong one, in OpenAI shape; x-api-key works too', async () => {
    const missing = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { type: 'authentication_error', code: 'missing_api_key' } });
    const wrong = await failure(ask('gw-not-a-key'));
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    const viaHeader = await fetch(`${h.gateway.url}/v1/models`, { headers: { 'x-api-key': KEYS.open } });
    expect(viaHeader.status).toBe(200);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('403 for a model the key may not use, and /v1/models lists only what it may', async () => {
    expect(await failure(ask(KEYS.limited, 'other'))).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const ids: string[] = [];
    for await (const m of client(KEYS.limited).models.list()) ids.push(m.id);
    expect(ids).toEqual(['chat']);
  });

  it('/admin needs the admin key and shows each key with its spend', async () => {
    expect((await fetch(`${h.gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${KEYS.open}` } })).status).toBe(401);
    const res = await fetch(`${h.gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
    const body = (await res.json()) as { data: Array<{ id: string; tenant: string; spend_usd: { today: number } }> };
    expect(body.data.map((k) => k.id)).toEqual(['open', 'limited', 'tokens', 'single', 'budget']);
    expect(JSON.stringify(body)).not.toContain(KEYS.open);
  });
});

describe('limits', () => {
  it('requests per minute: the 4th request in a minute is a 429 with Retry-After, counted as refused', async () => {
    for (let i = 0; i < 3; i++) await ask(KEYS.limited);
    const refusedBefore = await refused();
    const err = await failure(ask(KEYS.limited));
    await expect.poll(refused).toBe(refusedBefore + 1);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err!.code).toBe('rate_limit_exceeded');
    expect(Number(err!.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(h.fake.requests).toHaveLength(3);
  });

  it('tokens per minute: the estimate is charged at admission and corrected to the real usage afterwards', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'delay', ms: 400 });
    const first = ask(KEYS.tokens, 'chat', { max_tokens: 50 }); // ~55 tokens estimated, of 60 a minute
    await until(() => h.fake.requests.length === 1);
    const second = await failure(ask(KEYS.tokens, 'chat', { max_tokens: 50 }));
    expect(second).toBeInstanceOf(OpenAI.RateLimitError);
    expect(second!.code).toBe('tokens_limit_exceeded');
    await first; // used only a handful of tokens: the rest is refunded
    await until(async () => (await failure(ask(KEYS.tokens, 'chat', { max_tokens: 50 }))) === undefined);
  });

  it('concurrent requests: a second one while the first is in flight is refused, and allowed after', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'delay', ms: 400 });
    const first = ask(KEYS.single);
    await until(() => h.fake.requests.length === 1);
    const second = await failure(ask(KEYS.single));
    expect(second).toBeInstanceOf(OpenAI.RateLimitError);
    expect(second!.code).toBe('concurrency_limit_exceeded');
    await first;
    await until(async () => (await failure(ask(KEYS.single))) === undefined);
  });

  it('spend budget: the answer that crosses it is served, the next request is refused until tomorrow', async () => {
    const { response } = await client(KEYS.budget).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const cost = Number(response.headers.get('x-gateway-cost-usd'));
    expect(cost).toBeGreaterThan(0.001);
    await until(async () => {
      const err = await failure(ask(KEYS.budget));
      return err instanceof OpenAI.RateLimitError && err.code === 'budget_exceeded';
    });
  });
});

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
