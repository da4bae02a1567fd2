/**
 * The semantic cache through the gateway's HTTP API, in front of the fake provider: hits in every form a client
 * can ask for, what is never stored, the per-request header, tenants, a restart, and the catch-all.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { startHarness, type Harness } from '../support/harness.js';

const cacheDir = () => mkdtempSync(join(tmpdir(), 'gateway-cache-'));

const yaml = (dir: string, extra = '') => `
server: { host: 127.0.0.1 }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  chat: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }] }
  strict: { groups: [{ deployments: [oa-main] }] }
  preset:
    groups: [{ deployments: [oa-main] }]
    fallback: { catchAll: { presetAnswer: "Busy, try later." } }
defaults:
  fallback: { attemptsPerDeployment: 1 }
cache:
  enabled: true
  store: { kind: embedded, dir: "${dir}" }
  threshold: 0.85
  thresholds: { strict: 1.5 }
  catchAllThreshold: 0.5
${extra}`;

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function post(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'chat', messages: [{ role: 'user', content }], ...extra });
const upstreamCalls = (h: Harness) => h.fake.requests.filter((r) => r.kind === 'chat').length;

/** Stores happen after the answer is sent; a repeat of the request shows when it landed. */
async function untilCached(h: Harness, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  for (let i = 0; i < 50; i++) {
    const r = await post(h, '/v1/chat/completions', body, { ...headers, 'x-gateway-cache': 'no-store' });
    if (r.headers.get('x-gateway-cache') === 'hit') return r;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the answer was never cached');
}

describe('semantic cache on the fast path', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(yaml(cacheDir()));
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => h.fake.reset());

  it('answers a repeat from the exact tier and a paraphrase from the semantic tier, without calling upstream', async () => {
    const first = await post(h, '/v1/chat/completions', ask('How can I reset my password?'));
    expect(first.status).toBe(200);
    expect(first.headers.get('x-gateway-cache')).toBe('miss');
    await untilCached(h, ask('How can I reset my password?'));
    const calls = upstreamCalls(h);

    const repeat = await post(h, '/v1/chat/completions', ask('How can I reset my password?'));
    expect(repeat.headers.get('x-gateway-cache')).toBe('hit');
    expect(repeat.headers.get('x-gateway-cache-similarity')).toBe('1.0000');
    expect(repeat.body.choices[0].message.content).toBe(first.body.choices[0].message.content);
    expect(repeat.body.id).not.toBe(first.body.id);
    expect(repeat.headers.get('x-gateway-attempts')).toBe('0');

    const paraphrase = await post(h, '/v1/chat/completions', ask('how do i reset my passwords'));
    expect(paraphrase.headers.get('x-gateway-cache')).toBe('hit');
    const similarity = Number(paraphrase.headers.get('x-gateway-cache-similarity'));
    expect(similarity).toBeGreaterThanOrEqual(0.85);
    expect(similarity).toBeLessThan(1);
    expect(paraphrase.body.choices[0].message.content).toBe('Echo: How can I reset my password?');
    expect(upstreamCalls(h)).toBe(calls);
  });

  it('misses on a near miss (another number), on another alias, and with another system prompt or temperature', async () => {
    await post(h, '/v1/chat/completions', ask('What is 15% of 80?'));
    await untilCached(h, ask('What is 15% of 80?'));
    for (const body of [
      ask('What is 15% of 90?'),
      { ...ask('What is 15% of 80?'), model: 'preset' },
      { ...ask('What is 15% of 80?'), messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'What is 15% of 80?' }] },
      ask('What is 15% of 80?', { temperature: 0.2 }),
      ask('What is 15% of 80?', { max_tokens: 50 }),
    ]) {
      const r = await post(h, '/v1/chat/completions', body);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-gateway-cache'), JSON.stringify(body)).toBe('miss');
    }
  });

  it('serves a hit as a stream when the client asks for one, and in Anthropic shape on /v1/messages', async () => {
    await post(h, '/v1/chat/completions', ask('Name a primary colour.'));
    await untilCached(h, ask('Name a primary colour.'));
    const calls = upstreamCalls(h);

    const streamed = await post(h, '/v1/chat/completions', ask('Name a primary colour.', { stream: true, stream_options: { include_usage: true } }));
    expect(streamed.headers.get('x-gateway-cache')).toBe('hit');
    expect(streamed.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = streamed.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Echo: Name a primary colour.');
    expect(chunks.some((c) => c.usage)).toBe(true);

    const anthropic = await post(h, '/v1/messages', { model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'Name a primary colour.' }] });
    // max_tokens is part of the key: Anthropic clients always send it, so this is a different request
    expect(anthropic.headers.get('x-gateway-cache')).toBe('miss');
    await untilCachedMessages(h);
    const again = await post(h, '/v1/messages', { model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'name a primary colour' }], stream: true });
    expect(again.headers.get('x-gateway-cache')).toBe('hit');
    expect(again.text).toContain('event: message_start');
    expect(again.text).toContain('"text_delta"');
    expect(again.text).toContain('event: message_stop');
    const json = await post(h, '/v1/messages', { model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'Name a primary colour.' }] });
    expect(json.headers.get('x-gateway-cache')).toBe('hit');
    expect(json.body).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Echo: Name a primary colour.' }] });
    expect(upstreamCalls(h)).toBe(calls + 1);
  });

  async function untilCachedMessages(h: Harness) {
    for (let i = 0; i < 50; i++) {
      const r = await post(h, '/v1/messages', { model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'Name a primary colour.' }] }, { 'x-gateway-cache': 'no-store' });
      if (r.headers.get('x-gateway-cache') === 'hit') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('never cached');
  }

  it('stores streamed answers only when the stream reached its end', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'midstream-error', afterChunks: 2, text: 'one two three four five' });
    const cut = await post(h, '/v1/chat/completions', ask('Tell me a long story.', { stream: true }));
    expect(cut.text).toContain('stream_interrupted');
    const whole = await post(h, '/v1/chat/completions', ask('Tell me a long story.', { stream: true }));
    expect(whole.headers.get('x-gateway-cache')).toBe('miss');
    expect(whole.text).toContain('[DONE]');
    const hit = await untilCached(h, ask('Tell me a long story.'));
    expect(hit.body.choices[0].message.content).toBe('Echo: Tell me a long story.');
  });

  it('never stores errors, truncated answers or tool calls', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
    expect((await post(h, '/v1/chat/completions', ask('Is the service up?'))).status).toBe(503);
    expect((await post(h, '/v1/chat/completions', ask('Is the service up?'))).headers.get('x-gateway-cache')).toBe('miss');

    h.fake.scriptFor('gpt-main', { kind: 'reply', text: 'cut short', finishReason: 'length' });
    await post(h, '/v1/chat/completions', ask('Write an essay.'));
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const toolCall = await post(h, '/v1/chat/completions', ask('What is the weather in Paris?', { tools }));
    expect(toolCall.body.choices[0].finish_reason).toBe('tool_calls');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await post(h, '/v1/chat/completions', ask('Write an essay.'))).headers.get('x-gateway-cache')).toBe('miss');
    expect((await post(h, '/v1/chat/completions', ask('What is the weather in Paris?', { tools }))).headers.get('x-gateway-cache')).toBe('miss');
  });

  it('follows x-gateway-cache: no-store, no-cache and ttl', async () => {
    await post(h, '/v1/chat/completions', ask('Spell banana.'), { 'x-gateway-cache': 'no-store' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await post(h, '/v1/chat/completions', ask('Spell banana.'))).headers.get('x-gateway-cache')).toBe('miss');
    await untilCached(h, ask('Spell banana.'));
    const calls = upstreamCalls(h);
    const fresh = await post(h, '/v1/chat/completions', ask('Spell banana.'), { 'x-gateway-cache': 'no-cache' });
    expect(fresh.headers.get('x-gateway-cache')).toBe('miss');
    expect(upstreamCalls(h)).toBe(calls + 1);

    await post(h, '/v1/chat/completions', ask('Spell cherry.'), { 'x-gateway-cache': 'ttl=1' });
    await untilCached(h, ask('Spell cherry.'));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await post(h, '/v1/chat/completions', ask('Spell cherry.'), { 'x-gateway-cache': 'no-store' })).headers.get('x-gateway-cache')).toBe('miss');

    const bad = await post(h, '/v1/chat/completions', ask('x'), { 'x-gateway-cache': 'ttl=soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('x-gateway-cache');
  });

  it('bypasses the cache above the maximum temperature, and the semantic tier for an alias set above 1', async () => {
    const hot = await post(h, '/v1/chat/completions', ask('Invent a word.', { temperature: 1.5 }));
    expect(hot.headers.get('x-gateway-cache')).toBe('bypass');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await post(h, '/v1/chat/completions', ask('Invent a word.', { temperature: 1.5 }))).headers.get('x-gateway-cache')).toBe('bypass');
    expect(upstreamCalls(h)).toBe(2);

    const strict = { model: 'strict', messages: [{ role: 'user', content: 'How can I reset my password?' }] };
    await post(h, '/v1/chat/completions', strict);
    await untilCached(h, strict);
    const paraphrase = await post(h, '/v1/chat/completions', { ...strict, messages: [{ role: 'user', content: 'how do i reset my passwords' }] });
    expect(paraphrase.headers.get('x-gateway-cache')).toBe('miss');
  });

  it('catch-all: serves a stale close answer, marked, when every provider fails — JSON and stream', async () => {
    await post(h, '/v1/chat/completions', ask('What are the opening hours of the museum?'));
    await untilCached(h, ask('What are the opening hours of the museum?'));
    for (const stream of [false, true]) {
      h.fake.scriptFor('gpt-main', { kind: 'error', status: 503 });
      h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
      // a looser question than any fresh hit would accept (the catch-all threshold is lower)
      const r = await post(h, '/v1/chat/completions', ask('when does the museum open', { stream }));
      expect(r.status).toBe(200);
      expect(r.headers.get('x-gateway-cache')).toBe('stale');
      expect(r.headers.get('x-gateway-fallback')).toBe('catch_all');
      expect(Number(r.headers.get('x-gateway-cache-similarity'))).toBeLessThan(0.85);
      const content = stream
        ? r.text
            .split('\n\n')
            .filter((e) => e.startsWith('data: {'))
            .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '')
            .join('')
        : r.body.choices[0].message.content;
      expect(content).toBe('Echo: What are the opening hours of the museum?');
    }
  });

  it('catch-all: the preset answer, then the busy error, when the cache has nothing close', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 503 }, { kind: 'error', status: 503 });
    const preset = await post(h, '/v1/chat/completions', { model: 'preset', messages: [{ role: 'user', content: 'Something never asked before' }] });
    expect(preset.body.choices[0].message.content).toBe('Busy, try later.');
    expect(preset.headers.get('x-gateway-cache')).toBe('miss');
    h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
    const busy = await post(h, '/v1/chat/completions', ask('Another question nobody asked'));
    expect(busy.status).toBe(503);
  });
});

describe('semantic cache across restarts and tenants', () => {
  const A = 'gw-cache-tenant-a-key-aaaaaaaaaaaaaaaaaaaa';
  const B = 'gw-cache-tenant-b-key-bbbbbbbbbbbbbbbbbbbb';
  const keyed = (dir: string) => `
auth:
  keys:
    - { id: a, tenant: alpha, hash: "${hashKey(A)}" }
    - { id: b, tenant: bravo, hash: "${hashKey(B)}" }
${yaml(dir)}`;

  it('keeps answers across a restart of the gateway (embedded store on disk)', async () => {
    const dir = cacheDir();
    const first = await startHarness(yaml(dir));
    try {
      await post(first, '/v1/chat/completions', ask('Who wrote Hamlet?'));
      await untilCached(first, ask('Who wrote Hamlet?'));
    } finally {
      await first.close();
    }
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    const second = await startHarness(yaml(dir));
    try {
      const r = await post(second, '/v1/chat/completions', ask('who wrote hamlet'));
      expect(r.headers.get('x-gateway-cache')).toBe('hit');
      expect(r.body.choices[0].message.content).toBe('Echo: Who wrote Hamlet?');
      expect(upstreamCalls(second)).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('never serves one tenant an answer cached for another', async () => {
    const h = await startHarness(keyed(cacheDir()));
    try {
      const as = { authorization: `Bearer ${A}` };
      const bs = { authorization: `Bearer ${B}` };
      await post(h, '/v1/chat/completions', ask('What is our refund policy?'), as);
      await untilCached(h, ask('What is our refund policy?'), as);
      const other = await post(h, '/v1/chat/completions', ask('What is our refund policy?'), { ...bs, 'x-gateway-cache': 'no-store' });
      expect(other.headers.get('x-gateway-cache')).toBe('miss');
      // nor through the catch-all
      h.fake.scriptFor('gpt-main', { kind: 'error', status: 503 });
      h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
      expect((await post(h, '/v1/chat/completions', ask('What is our refund policy, exactly?'), bs)).status).toBe(503);
      // while tenant alpha still gets its own
      expect((await post(h, '/v1/chat/completions', ask('What is our refund policy?'), as)).headers.get('x-gateway-cache')).toBe('hit');
    } finally {
      await h.close();
    }
  });
});
