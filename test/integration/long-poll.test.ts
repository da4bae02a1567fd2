/**
 * Long-polls and submissions on the durable request API. `GET /v1/requests/{id}?wait=` is cut to
 * `server.longPollMaxMs`, and a client that disconnects ends the server's wait with it (the long-poll gauge,
 * `llm_gateway_requests_in_flight{route="/v1/requests/{id}?wait"}`, drops at once instead of when the wait is
 * up). `POST /v1/requests` takes a slot of the key's requests per minute and its tokens estimate when it is
 * submitted, like a synchronous request.
 */
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { useDurableHarness } from '../support/durable-harness.js';
import { operatorFetch, TEST_ADMIN_KEY_HASH } from '../support/operator.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';

const KEYS = { open: 'gw-test-longpoll-open', rpm: 'gw-test-longpoll-rpm', tpm: 'gw-test-longpoll-tpm' };
const MAX_WAIT_MS = 6_000;
const h = useDurableHarness(`
server: { host: 127.0.0.1, longPollMaxMs: ${MAX_WAIT_MS} }
auth:
  adminKeyHash: "${TEST_ADMIN_KEY_HASH}"
  keys:
    - { id: open, tenant: acme, hash: "${hashKey(KEYS.open)}" }
    - { id: rpm, tenant: acme, hash: "${hashKey(KEYS.rpm)}", limits: { requestsPerMinute: 2 } }
    - { id: tpm, tenant: acme, hash: "${hashKey(KEYS.tpm)}", limits: { tokensPerMinute: 100 } }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-long-poll }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`);

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'wait for me' }], ...extra });

async function submit(key: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.gateway.url}/v1/requests`, { method: 'POST', headers: auth(key), body: chat(extra) });
  return { status: res.status, body: await res.json() };
}

const waiting = async () => valueOf(parsePrometheus(await (await operatorFetch(`${h.gateway.url}/metrics`)).text()), 'llm_gateway_requests_in_flight', { route: '/v1/requests/{id}?wait' });

describe('long-polls', () => {
  it('are cut to server.longPollMaxMs: a 60 s wait on an unfinished request answers after the cap', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'hold' });
    const { body } = await submit(KEYS.open);
    await expect.poll(() => h.fake.held, { timeout: 15_000 }).toBe(1);
    const started = performance.now();
    const res = await fetch(`${h.gateway.url}/v1/requests/${body.id}?wait=60s`, { headers: auth(KEYS.open) });
    const ms = performance.now() - started;
    // not ended (the provider call is held): the view of a request still waiting for its answer
    expect(['queued', 'running']).toContain(((await res.json()) as any).status);
    expect(ms).toBeGreaterThanOrEqual(MAX_WAIT_MS - 500);
    expect(ms).toBeLessThan(MAX_WAIT_MS + 5_000);
    h.fake.release();
  }, 40_000);

  it('end on client disconnect: the server stops waiting as the client leaves, not when the wait is up', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'hold' });
    const { body } = await submit(KEYS.open);
    await expect.poll(() => h.fake.held, { timeout: 15_000 }).toBe(1);
    const client = new AbortController();
    const poll = fetch(`${h.gateway.url}/v1/requests/${body.id}?wait=60s`, { headers: auth(KEYS.open), signal: client.signal }).catch((e: Error) => e);
    await expect.poll(waiting, { timeout: 5_000 }).toBe(1);
    const left = performance.now();
    client.abort();
    expect(await poll).toBeInstanceOf(Error);
    await expect.poll(waiting, { timeout: 3_000, interval: 100 }).toBe(0);
    expect(performance.now() - left).toBeLessThan(MAX_WAIT_MS - 2_000);
    // the request itself runs on, and can still be read
    h.fake.release();
    const done = await fetch(`${h.gateway.url}/v1/requests/${body.id}?wait=5s`, { headers: auth(KEYS.open) });
    expect(((await done.json()) as any).status).toBe('succeeded');
  }, 40_000);
});

describe('POST /v1/requests and the key’s limits', () => {
  it('takes a requests-per-minute slot at submission: the third in a minute is a 429', async () => {
    expect((await submit(KEYS.rpm)).status).toBe(202);
    expect((await submit(KEYS.rpm)).status).toBe(202);
    const third = await submit(KEYS.rpm);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limit_exceeded');
  });

  it('takes its tokens estimate at submission: 60 asked for twice does not fit in 100 a minute', async () => {
    expect((await submit(KEYS.tpm, { max_tokens: 60 })).status).toBe(202);
    const second = await submit(KEYS.tpm, { max_tokens: 60 });
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('tokens_limit_exceeded');
  });
});
