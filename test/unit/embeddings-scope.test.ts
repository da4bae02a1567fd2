/**
 * The embedder's memo is scoped by tenant: a text one tenant sent is never a remembered (fast) vector for
 * another, so embedding time cannot tell a tenant what others asked. Within a tenant, the cache's lookup and
 * semantic routing of one request share one model run. Counted in model runs, not timed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedVectorStore } from '../../src/cache/embedded/store.js';
import { SemanticCache, type CachedAnswer } from '../../src/cache/semantic-cache.js';
import { cacheSchema } from '../../src/config/cache-schema.js';
import { semanticRoutingSchema } from '../../src/config/semantic-routing-schema.js';
import { LocalEmbedder } from '../../src/embeddings/local.js';
import { textKey } from '../../src/embeddings/lru.js';
import { OfflineEmbedder } from '../../src/embeddings/offline.js';
import type { EmbedOptions, Embedder } from '../../src/embeddings/types.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import { SemanticIndex } from '../../src/routing/semantic-index.js';
import { modelDirForTests } from '../support/model-dir.js';

/** Records the scope of every call. */
class RecordingEmbedder implements Embedder {
  readonly inner = new OfflineEmbedder();
  readonly id = this.inner.id;
  readonly dimension = this.inner.dimension;
  scopes: (string | undefined)[] = [];
  async embed(texts: readonly string[], signal?: AbortSignal, opts?: EmbedOptions): Promise<Float32Array[]> {
    for (const _ of texts) this.scopes.push(opts?.scope);
    return this.inner.embed(texts, signal);
  }
}

const ask = (content: string): ChatRequest => ({ model: 'chat', messages: [{ role: 'user', content }] });

describe('memo keys', () => {
  it('differ by scope, unambiguously, and the default scope is the empty one', () => {
    expect(textKey('hello', 'tenant-a')).not.toBe(textKey('hello', 'tenant-b'));
    expect(textKey('hello', 'tenant-a')).not.toBe(textKey('hello'));
    expect(textKey('hello')).toBe(textKey('hello', ''));
    // the scope's end is marked, so moving characters between scope and text changes the key
    expect(textKey('c', 'a:b')).not.toBe(textKey('b:c', 'a'));
    expect(textKey('hello', 'tenant-a')).toBe(textKey('hello', 'tenant-a'));
  });
});

describe('local embedder memo, scoped by tenant', () => {
  const dir = modelDirForTests();
  const e = new LocalEmbedder({ dir, threads: 1 });
  afterAll(() => e.close());

  it('runs the model once per text and tenant, and gives every tenant the same vector', async () => {
    await e.ready();
    const text = `scoped memo ${process.pid} ${Date.now()}`;
    const before = e.runs;
    const [a1] = await e.embed([text], undefined, { scope: 'tenant-a' });
    const [a2] = await e.embed([text], undefined, { scope: 'tenant-a' });
    expect(e.runs - before).toBe(1);
    const [b] = await e.embed([text], undefined, { scope: 'tenant-b' });
    expect(e.runs - before).toBe(2);
    const [unscoped] = await e.embed([text]);
    expect(e.runs - before).toBe(3);
    expect(Array.from(a2!)).toEqual(Array.from(a1!));
    expect(Array.from(b!)).toEqual(Array.from(a1!));
    expect(Array.from(unscoped!)).toEqual(Array.from(a1!));
  });

  it('shares a running embedding within a tenant only', async () => {
    const text = `in flight ${process.pid} ${Date.now()}`;
    const before = e.runs;
    await Promise.all([e.embed([text], undefined, { scope: 'tenant-a' }), e.embed([text], undefined, { scope: 'tenant-a' })]);
    expect(e.runs - before).toBe(1);
    const other = `in flight, two tenants ${process.pid} ${Date.now()}`;
    await Promise.all([e.embed([other], undefined, { scope: 'tenant-a' }), e.embed([other], undefined, { scope: 'tenant-b' })]);
    expect(e.runs - before).toBe(3);
  });

  it('lets the cache lookup and semantic routing of one request share one run', async () => {
    // what a request does: the cache begins its embedding (tenant scope), routing embeds the same text for the same tenant
    const text = `Why does my Python function return None? ${process.pid} ${Date.now()}`;
    const before = e.runs;
    const lookup = e.embed([text], undefined, { scope: 'tenant-a' });
    const routing = e.embed([text.trim().slice(0, 4000)], undefined, { scope: 'tenant-a' });
    const [[v1], [v2]] = await Promise.all([lookup, routing]);
    expect(e.runs - before).toBe(1);
    expect(Array.from(v2!)).toEqual(Array.from(v1!));
  });
});

describe('callers pass the tenant as the scope', () => {
  it('the semantic cache embeds in the ticket’s tenant, and a prefetch serves the lookup', async () => {
    const embedder = new RecordingEmbedder();
    const store = await EmbeddedVectorStore.open<CachedAnswer>({ dir: mkdtempSync(join(tmpdir(), 'embeddings-scope-')), dimension: embedder.dimension });
    const cache = new SemanticCache(cacheSchema.parse({ enabled: true }), store, embedder, { logger: createLogger('silent') });
    try {
      const none = { noCache: false, noStore: false };
      const t = cache.ticket(ask('How can I reset my password?'), 'tenant-a', none);
      cache.prefetch(t);
      expect(embedder.scopes).toEqual(['tenant-a']);
      await cache.lookup(t);
      expect(embedder.scopes).toEqual(['tenant-a']);
      await cache.lookup(cache.ticket(ask('How can I reset my password?'), 'tenant-b', none));
      expect(embedder.scopes).toEqual(['tenant-a', 'tenant-b']);
      // nothing to embed for a request the cache must not look up
      cache.prefetch(cache.ticket(ask('How can I reset my password?'), 'tenant-a', { ...none, noCache: true }));
      expect(embedder.scopes).toHaveLength(2);
    } finally {
      await cache.close();
    }
  });

  it('semantic routing embeds the request’s text in its tenant, and its examples in the shared scope', async () => {
    const embedder = new RecordingEmbedder();
    const semantic = semanticRoutingSchema.parse({
      routes: [
        { name: 'code', examples: ['Fix this TypeScript compile error', 'Write a SQL query'], use: { alias: 'coder' } },
        { name: 'chat', examples: ['Tell me a joke', 'How was your day?'], use: { alias: 'small' } },
      ],
    });
    const index = await SemanticIndex.build({ assistant: { semantic } }, { embedderFor: () => embedder });
    expect(new Set(embedder.scopes)).toEqual(new Set([undefined]));
    const examples = embedder.scopes.length;
    await index.classifyRequest('assistant', { model: 'assistant', messages: [{ role: 'user', content: 'Write a SQL query for me' }] }, undefined, 'tenant-a');
    expect(embedder.scopes.slice(examples)).toEqual(['tenant-a']);
  });
});
