/**
 * Admission comes first: a request its key may not make (no key, a model the key may not use, requests or
 * tokens per minute used up) is refused before the gateway does any work for it — no semantic-route embedding
 * (a paid upstream call with a provider embedder: counted here at the fake provider), no tokenizer run
 * (counted by wrapping the real o200k counter), no cache or planning. The same request from a key that may
 * make it does both, so the counters are known to see the work.
 */
import { describe, expect, it, vi } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import * as tokens from '../../src/decision/tokens.js';
import { useHarness } from '../support/harness.js';

vi.mock('../../src/decision/tokens.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/decision/tokens.js')>();
  return { ...real, countInputTokens: vi.fn(real.countInputTokens) };
});

const KEYS = { once: 'gw-test-admit-once', narrow: 'gw-test-admit-narrow', tokens: 'gw-test-admit-tokens' };
const h = useHarness(`
server: { host: 127.0.0.1 }
durable: { enabled: false }
auth:
  keys:
    - { id: once, tenant: acme, hash: "${hashKey(KEYS.once)}", limits: { requestsPerMinute: 1 } }
    - { id: narrow, tenant: acme, hash: "${hashKey(KEYS.narrow)}", models: [plain] }
    - { id: tokens, tenant: acme, hash: "${hashKey(KEYS.tokens)}", limits: { tokensPerMinute: 50 } }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-admit-first }
deployments:
  general: { provider: oa, model: gpt-main }
  coder: { provider: oa, model: gpt-code }
models:
  plain: { groups: [{ deployments: [general] }] }
  routed:
    groups: [{ deployments: [general] }]
    # a token rule whose threshold is within reach of the estimate: the real tokenizer decides it
    rules: [{ name: long, when: { minInputTokens: 8 }, use: [coder] }]
    semantic:
      embedder: { kind: provider, provider: oa, model: text-embedding-3-small, dimension: 8 }
      threshold: 0.99
      routes:
        - { name: code, examples: ["fix this python function", "my build fails"], use: [coder] }
`);

const embeddingCalls = () => h.fake.requests.filter((r) => r.kind === 'embeddings').length;
const tokenizerRuns = () => vi.mocked(tokens.countInputTokens).mock.calls.length;
const CONTENT = 'please fix this python function now';

async function chat(key: string | undefined, model = 'routed', extra: Record<string, unknown> = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) };
  return fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model, messages: [{ role: 'user', content: CONTENT }], ...extra }) });
}

async function messages(key: string, model = 'routed') {
  return fetch(`${h.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: CONTENT }] }),
  });
}

describe('admission before any work', () => {
  it('an admitted request embeds for semantic routing and runs the tokenizer; the same request refused does neither', async () => {
    const [embedded, counted] = [embeddingCalls(), tokenizerRuns()];
    expect((await chat(KEYS.once)).status).toBe(200);
    expect(embeddingCalls()).toBe(embedded + 1);
    expect(tokenizerRuns()).toBeGreaterThan(counted);

    const [embeddedBefore, countedBefore] = [embeddingCalls(), tokenizerRuns()];
    const refused = await chat(KEYS.once);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as any).error.code).toBe('rate_limit_exceeded');
    expect((await messages(KEYS.once)).status).toBe(429);
    expect(embeddingCalls()).toBe(embeddedBefore);
    expect(tokenizerRuns()).toBe(countedBefore);
  });

  it('no key, a wrong key, or a model the key may not use: 401 / 403 with no embedding and no tokenizer run', async () => {
    const [embedded, counted] = [embeddingCalls(), tokenizerRuns()];
    expect((await chat(undefined)).status).toBe(401);
    expect((await chat('gw-not-a-key')).status).toBe(401);
    const forbidden = await chat(KEYS.narrow);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as any).error.code).toBe('model_not_allowed');
    expect((await messages(KEYS.narrow)).status).toBe(403);
    expect(embeddingCalls()).toBe(embedded);
    expect(tokenizerRuns()).toBe(counted);
    expect(h.fake.requests.filter((r) => r.kind === 'chat')).toHaveLength(0);
  });

  it('tokens per minute used up: 429 before any embedding or tokenizer run', async () => {
    expect((await chat(KEYS.tokens, 'routed', { max_tokens: 40 })).status).toBe(200);
    const [embedded, counted] = [embeddingCalls(), tokenizerRuns()];
    // this one needs the whole minute (its estimate is capped at the limit): refused whatever the first used
    const refused = await chat(KEYS.tokens, 'routed', { max_tokens: 45 });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as any).error.code).toBe('tokens_limit_exceeded');
    expect(embeddingCalls()).toBe(embedded);
    expect(tokenizerRuns()).toBe(counted);
  });
});
