/** The cache's rules: request keys and partitions, the header, what may be stored, and the cache over a real store. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CACHE_THRESHOLD_DEFAULTS, cacheSchema, cacheThresholds, DEFAULT_CACHE_THRESHOLD } from '../../src/config/cache-schema.js';
import { parseConfig } from '../../src/config/load.js';
import { EmbeddedVectorStore } from '../../src/cache/embedded/store.js';
import { guardOf } from '../../src/cache/guard.js';
import { bypassReason, parseCacheControl, refuseToStore } from '../../src/cache/policy.js';
import { canonicalJson, requestKey, type KeyScope } from '../../src/cache/request-key.js';
import { SemanticCache, type CachedAnswer } from '../../src/cache/semantic-cache.js';
import { OfflineEmbedder } from '../../src/embeddings/offline.js';
import type { Embedder } from '../../src/embeddings/types.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletion } from '../../src/protocol/chat-response.js';

const scope: KeyScope = { tenant: 't1', alias: 'chat', embedderId: 'e1', embed: 'last_user' };
const req = (over: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'chat', messages: [{ role: 'user', content: 'What is the capital of France?' }], ...over });

const answer = (text: string, over: Partial<ChatCompletion['choices'][number]> = {}): ChatCompletion => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', ...over }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});

describe('request keys', () => {
  const base = requestKey(req(), scope);

  it('ignores key order and delivery fields (stream, user, metadata), and spells max tokens one way', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
    const same = requestKey(req({ stream: true, stream_options: { include_usage: true }, user: 'u-1', metadata: { x: 'y' } }), scope);
    expect(same).toEqual(base);
    expect(requestKey(req({ max_tokens: 10 }), scope)).toEqual(requestKey(req({ max_completion_tokens: 10 }), scope));
  });

  it('puts tenant, alias, embedder, system prompt, earlier turns, tools and every sampling parameter in the partition', () => {
    const tools = [{ type: 'function' as const, function: { name: 'f', parameters: {} } }];
    const variants: Array<[string, ChatRequest, Partial<KeyScope>]> = [
      ['tenant', req(), { tenant: 't2' }],
      ['alias', req(), { alias: 'other' }],
      ['embedder', req(), { embedderId: 'e2' }],
      ['system prompt', req({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the capital of France?' }] }), {}],
      [
        'earlier turns',
        req({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'What is the capital of France?' }] }),
        {},
      ],
      ['tools', req({ tools }), {}],
      ['tool_choice', req({ tools, tool_choice: 'required' }), {}],
      ['response_format', req({ response_format: { type: 'json_object' } }), {}],
      ['temperature', req({ temperature: 0.3 }), {}],
      ['top_p', req({ top_p: 0.5 }), {}],
      ['seed', req({ seed: 7 }), {}],
      ['n', req({ n: 2 }), {}],
      ['stop', req({ stop: ['\n'] }), {}],
      ['max tokens', req({ max_tokens: 99 }), {}],
      ['logprobs', req({ logprobs: true }), {}],
      ['an unknown parameter', req({ reasoning_effort: 'high' } as Partial<ChatRequest>), {}],
      ['an image next to the text', req({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is the capital of France?' }, { type: 'image_url', image_url: { url: 'https://x/1.png' } }] }] }), {}],
    ];
    const partitions = new Set([base.partition]);
    for (const [name, r, s] of variants) {
      const k = requestKey(r, { ...scope, ...s });
      expect(k.partition, name).toBeDefined();
      expect(k.partition, name).not.toBe(base.partition);
      // an exact match needs no embedder: only the partition depends on it
      if (name !== 'embedder') expect(k.exact, name).not.toBe(base.exact);
      partitions.add(k.partition);
    }
    expect(partitions.size).toBe(variants.length + 1);
  });

  it('embeds the last user turn by default, every user turn with all_user', () => {
    const convo = req({ messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: [{ type: 'text', text: 'second' }] }] });
    expect(requestKey(convo, scope).text).toBe('second');
    expect(requestKey(convo, { ...scope, embed: 'all_user' }).text).toBe('first\nsecond');
    // with all_user, an earlier user turn is compared by similarity rather than hashed into the partition
    const reworded = req({ messages: [{ role: 'user', content: 'FIRST' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'second' }] });
    expect(requestKey(reworded, { ...scope, embed: 'all_user' }).partition).toBe(requestKey(convo, { ...scope, embed: 'all_user' }).partition);
    expect(requestKey(reworded, scope).partition).not.toBe(requestKey(convo, scope).partition);
  });

  it('gives agent turns (a tool result last) the exact tier only', () => {
    const agent = req({
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      ],
    });
    const k = requestKey(agent, scope);
    expect(k.partition).toBeUndefined();
    expect(k.text).toBeUndefined();
    expect(k.exact).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('cache config', () => {
  const base = `auth: { mode: none }
providers: { oa: { type: openai, baseUrl: "http://127.0.0.1:1/v1", apiKey: k } }
deployments: { d: { provider: oa, model: m } }
models: { chat: { groups: [{ deployments: [d] }] } }
`;
  it('is off by default, with the calibrated threshold, and names bad fields by path', () => {
    const off = parseConfig(base, 't', {}).cache!;
    expect(off).toMatchObject({ enabled: false, store: { kind: 'embedded', dir: '.data/cache' }, embedder: { kind: 'offline' } });
    // Unset thresholds resolve per embedder: the hashed one keeps its own calibration, a real model gets its own.
    expect(cacheThresholds(off, 'offline-hash-v1/256').threshold).toBe(DEFAULT_CACHE_THRESHOLD);
    expect(cacheThresholds(off, 'local:all-MiniLM-L6-v2/384')).toEqual(CACHE_THRESHOLD_DEFAULTS.model);
    expect(cacheThresholds(off, 'local:all-MiniLM-L6-v2-int8/384')).toEqual(CACHE_THRESHOLD_DEFAULTS.modelInt8);
    const on = parseConfig(`${base}cache: { enabled: true, store: { kind: qdrant, url: "http://q:6333" }, thresholds: { chat: 0.97 } }`, 't', {}).cache!;
    expect(on.store).toEqual({ kind: 'qdrant', url: 'http://q:6333', collection: 'gateway_cache', distance: 'cosine', timeoutMs: 1000, maxEntriesPerTenant: 100000 });
    expect(on.thresholds).toEqual({ chat: 0.97 });
    expect(() => parseConfig(`${base}cache: { store: { kind: qdrant } }`, 't', {})).toThrow(/cache\.store\.url/);
    expect(() => parseConfig(`${base}cache: { threshold: 3 }`, 't', {})).toThrow(/cache\.threshold/);
    expect(() => parseConfig(`${base}cache: { embedder: { kind: provider, provider: oa } }`, 't', {})).toThrow(/cache\.embedder\.model/);
  });
});

describe('cache rules', () => {
  it('parses x-gateway-cache directives and rejects unknown ones', () => {
    expect(parseCacheControl(undefined)).toEqual({ noCache: false, noStore: false });
    expect(parseCacheControl('no-cache, ttl=60')).toEqual({ noCache: true, noStore: false, ttlSeconds: 60 });
    expect(parseCacheControl('NO-STORE')).toEqual({ noCache: false, noStore: true });
    expect(() => parseCacheControl('ttl=0')).toThrow(/positive whole number/);
    expect(() => parseCacheControl('max-age=5')).toThrow(/unknown directive 'max-age=5'/);
  });

  it('bypasses above the maximum temperature, counting an unset temperature as 1', () => {
    expect(bypassReason(req({ temperature: 0.7 }), 0.8)).toBeUndefined();
    expect(bypassReason(req({ temperature: 0.9 }), 0.8)).toMatch(/temperature 0.9/);
    expect(bypassReason(req(), 0.8)).toMatch(/temperature 1/);
    expect(bypassReason(req(), 1)).toBeUndefined();
  });

  it('stores only whole, clean, unrejected answers; tool calls only when configured', () => {
    expect(refuseToStore(answer('Paris'), {}, false)).toBeUndefined();
    expect(refuseToStore(answer('Paris'), { rejected: true }, false)).toMatch(/rejected/);
    expect(refuseToStore(answer('Paris'), { incomplete: true }, false)).toMatch(/incomplete/);
    expect(refuseToStore(answer('Par', { finish_reason: 'length' }), {}, false)).toMatch(/length/);
    expect(refuseToStore(answer('', { finish_reason: 'content_filter' }), {}, false)).toMatch(/content_filter/);
    expect(refuseToStore(answer(''), {}, false)).toMatch(/empty/);
    expect(refuseToStore({ ...answer(''), choices: [] }, {}, false)).toMatch(/no choices/);
    const tool = answer('', { finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] } });
    expect(refuseToStore(tool, {}, false)).toMatch(/tool calls/);
    expect(refuseToStore(tool, {}, true)).toBeUndefined();
  });

  it('guards numbers and negation', () => {
    expect(guardOf('What is 15% of 80?')).not.toBe(guardOf('What is 15% of 90?'));
    expect(guardOf('What is fifteen percent of 80')).not.toBe(guardOf('What is 15% of 80?'));
    expect(guardOf('Is it safe?')).not.toBe(guardOf("Isn't it safe?"));
    expect(guardOf('How do I reset my password?')).toBe(guardOf('how can i reset the password'));
  });
});

describe('SemanticCache', () => {
  const logger = createLogger('silent');
  const open = async (config: Record<string, unknown> = {}, embedder: Embedder = new OfflineEmbedder()) => {
    let now = 1_000_000;
    const store = await EmbeddedVectorStore.open<CachedAnswer>({ dir: mkdtempSync(join(tmpdir(), 'cache-policy-')), dimension: embedder.dimension });
    const cache = new SemanticCache(cacheSchema.parse({ enabled: true, ...config }), store, embedder, { logger, now: () => now });
    return { cache, advance: (ms: number) => (now += ms) };
  };
  const none = { noCache: false, noStore: false };
  const text = (q: string) => req({ messages: [{ role: 'user', content: q }] });

  it('hits exact, then semantic above the threshold, and respects the per-alias override and the tenant', async () => {
    const { cache } = await open({ threshold: 0.85, thresholds: { picky: 0.95 } });
    expect(await cache.store(cache.ticket(text('How can I reset my password?'), 't1', none), answer('Use the link.'))).toBeUndefined();
    const exact = await cache.lookup(cache.ticket(text('How can I reset my password?'), 't1', none));
    expect(exact).toMatchObject({ tier: 'exact', similarity: 1, stale: false });
    expect(exact!.completion.choices[0]!.message.content).toBe('Use the link.');
    expect(exact!.completion.id).not.toBe('chatcmpl-1');
    const para = await cache.lookup(cache.ticket(text('how do i reset my passwords'), 't1', none));
    expect(para?.tier).toBe('semantic');
    expect(para!.similarity).toBeGreaterThan(0.85);
    expect(await cache.lookup(cache.ticket(text('how do i reset my passwords'), 't1', none)).then((h) => h?.similarity)).toBeLessThan(1);
    expect(await cache.lookup(cache.ticket(text('how do i reset my passwords'), 't2', none))).toBeUndefined();
    // a paraphrase scoring about 0.90: above the default threshold, below the picky alias's
    const dinner = text('What is a simple dinner recipe?');
    const reworded = text('What is an easy recipe for dinner?');
    await cache.store(cache.ticket(dinner, 't1', none), answer('Pasta.'));
    await cache.store(cache.ticket({ ...dinner, model: 'picky' }, 't1', none), answer('Pasta.'));
    expect((await cache.lookup(cache.ticket(reworded, 't1', none)))?.tier).toBe('semantic');
    expect(await cache.lookup(cache.ticket({ ...reworded, model: 'picky' }, 't1', none))).toBeUndefined();
    await cache.close();
  });

  it('refuses a semantic hit whose numbers differ, however similar', async () => {
    const { cache } = await open({ threshold: 0.1 });
    await cache.store(cache.ticket(text('Convert 100 dollars to euros'), 't1', none), answer('92 euros'));
    expect(await cache.lookup(cache.ticket(text('Convert 100 dollars to euros please'), 't1', none))).toBeDefined();
    expect(await cache.lookup(cache.ticket(text('Convert 200 dollars to euros'), 't1', none))).toBeUndefined();
    await cache.close();
  });

  it('expires after the TTL (or the ttl directive), while the catch-all may still serve it, marked stale', async () => {
    const { cache, advance } = await open({ ttlSeconds: 60, staleSeconds: 600, catchAllThreshold: 0.3 });
    await cache.store(cache.ticket(text('What time does the museum open?'), 't1', none), answer('At nine.'));
    await cache.store(cache.ticket(text('Short lived question'), 't1', { ...none, ttlSeconds: 5 }), answer('brief'));
    advance(6_000);
    expect(await cache.lookup(cache.ticket(text('Short lived question'), 't1', none))).toBeUndefined();
    expect(await cache.lookup(cache.ticket(text('What time does the museum open?'), 't1', none))).toBeDefined();
    advance(60_000);
    expect(await cache.lookup(cache.ticket(text('What time does the museum open?'), 't1', none))).toBeUndefined();
    const stale = await cache.lookupStale(cache.ticket(text('when does the museum open'), 't1', none));
    expect(stale).toMatchObject({ stale: true, tier: 'semantic' });
    expect(stale!.similarity).toBeLessThan(0.9);
    advance(600_000);
    expect(await cache.lookupStale(cache.ticket(text('What time does the museum open?'), 't1', none))).toBeUndefined();
    await cache.close();
  });

  it('obeys no-cache, no-store, bypass and the evaluator flag', async () => {
    const { cache } = await open({ maxTemperature: 0.5 });
    const q = { ...text('Define entropy.'), temperature: 0 };
    expect(await cache.store(cache.ticket(q, 't1', { ...none, noStore: true }), answer('x'))).toBe('no-store');
    expect(await cache.store(cache.ticket(q, 't1', none), answer('x'), { rejected: true })).toMatch(/rejected/);
    expect(await cache.store(cache.ticket({ ...q, temperature: 0.9 }, 't1', none), answer('x'))).toMatch(/temperature/);
    expect(await cache.lookup(cache.ticket(q, 't1', none))).toBeUndefined();
    expect(await cache.store(cache.ticket(q, 't1', none), answer('x'))).toBeUndefined();
    expect(await cache.lookup(cache.ticket(q, 't1', { ...none, noCache: true }))).toBeUndefined();
    expect(await cache.lookupStale(cache.ticket(q, 't1', { ...none, noCache: true }))).toBeUndefined();
    expect(await cache.lookup(cache.ticket(q, 't1', none))).toBeDefined();
    await cache.close();
  });

  it('keeps agent turns for the exact tier only, and treats a failing embedder as a miss', async () => {
    let fail = false;
    const inner = new OfflineEmbedder();
    const flaky: Embedder = { id: 'flaky', dimension: inner.dimension, embed: (t, s) => (fail ? Promise.reject(new Error('embedder down')) : inner.embed(t, s)) };
    const { cache } = await open({}, flaky);
    const agent = req({
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      ],
    });
    await cache.store(cache.ticket(agent, 't1', none), answer('It is sunny.'));
    expect((await cache.lookup(cache.ticket(agent, 't1', none)))?.tier).toBe('exact');
    fail = true;
    expect(await cache.lookup(cache.ticket(text('anything'), 't1', none))).toBeUndefined();
    // the answer is still kept for the exact tier when the embedder is down
    expect(await cache.store(cache.ticket(text('anything'), 't1', none), answer('y'))).toBeUndefined();
    expect((await cache.lookup(cache.ticket(text('anything'), 't1', none)))?.tier).toBe('exact');
    await cache.close();
  });

  it('refuses a store whose dimension is not the embedder’s', async () => {
    const store = await EmbeddedVectorStore.open<CachedAnswer>({ dir: mkdtempSync(join(tmpdir(), 'cache-policy-')), dimension: 64 });
    expect(() => new SemanticCache(cacheSchema.parse({}), store, new OfflineEmbedder(), { logger })).toThrow(/dimension 64 but the embedder offline-hash-v1\/256 makes 256/);
    await store.close();
  });
});
