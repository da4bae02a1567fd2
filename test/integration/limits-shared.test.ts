/**
 * Two gateway instances on one Redis limit store share their keys' limits; refusals come in the protocol the
 * client speaks (OpenAI for /v1/chat/completions, Anthropic for /v1/messages).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { startHarness, type Harness } from '../support/harness.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

const KEY = 'gw-shared-limit-key-0123456789abcdef012345';
let redis: RedisServer;
let one: Harness;
let two: Harness;

const yaml = (url: string) => `
server: { host: 127.0.0.1 }
durable: { enabled: false }
auth:
  store: { kind: redis, url: "${url}", prefix: "shared-test:" }
  keys: [{ id: shared, tenant: t, hash: "${hashKey(KEY)}", limits: { requestsPerMinute: 3 } }]
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: k }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;

beforeAll(async () => {
  redis = await startRedis();
  one = await startHarness(yaml(redis.url));
  two = await startHarness(yaml(redis.url));
});
afterAll(async () => {
  await one?.close();
  await two?.close();
  await redis?.stop();
});

const chat = (h: Harness, key = KEY) =>
  fetch(`${h.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
const messages = (h: Harness, key = KEY) =>
  fetch(`${h.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('limits shared through Redis', () => {
  it('counts requests on both instances against one limit, and refuses in each protocol’s shape', async () => {
    expect((await chat(one)).status).toBe(200);
    expect((await messages(two)).status).toBe(200);
    expect((await chat(two)).status).toBe(200);

    const openai = await chat(one);
    expect(openai.status).toBe(429);
    expect(Number(openai.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await openai.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });

    const anthropic = await messages(two);
    expect(anthropic.status).toBe(429);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });

    const unauthenticated = await messages(one, 'gw-wrong');
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(one.fake.requests.length + two.fake.requests.length).toBe(3);
  });
});
