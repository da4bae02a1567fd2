/**
 * The vector store contract on both stores (Qdrant: the run's real server, a collection per test), what only
 * the embedded store promises (its file), and what only the Qdrant store does (tenant index, per-tenant bound,
 * setup that survives races and outages).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { EmbeddedVectorStore } from '../../src/cache/embedded/store.js';
import { LOG_FILE } from '../../src/cache/embedded/append-log.js';
import { SemanticCache, type CachedAnswer } from '../../src/cache/semantic-cache.js';
import { cacheSchema } from '../../src/config/cache-schema.js';
import { OfflineEmbedder } from '../../src/embeddings/offline.js';
import { createLogger } from '../../src/observability/logger.js';
import { QdrantVectorStore, type QdrantStoreOptions } from '../../src/cache/qdrant-store.js';
import { freePort } from '../../src/durable/dev-server.js';
import { normalise } from '../../src/embeddings/types.js';
import { startQdrant, type QdrantServer } from '../support/qdrant-server.js';
import { sharedQdrantUrl } from '../support/shared-qdrant.js';
import { CONTRACT_DIMENSION, unit, vectorStoreContract } from '../support/vector-store-contract.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'cache-store-'));

vectorStoreContract('embedded store', (opts) => EmbeddedVectorStore.open({ dir: tempDir(), dimension: CONTRACT_DIMENSION, ...opts }));

const collections: string[] = [];
const collectionName = (purpose: string) => {
  const name = `${purpose}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  collections.push(name);
  return name;
};
// Tidy for a Qdrant that outlives the run (QDRANT_URL); the run's own server goes with its storage anyway.
afterAll(async () => {
  const url = inject('qdrantUrl');
  if (!url) return;
  const client = new QdrantClient({ url, apiKey: process.env.QDRANT_API_KEY, checkCompatibility: false });
  await Promise.allSettled(collections.map((c) => client.deleteCollection(c)));
});
const qdrantOptions = (extra: Partial<QdrantStoreOptions> = {}): QdrantStoreOptions => ({
  url: sharedQdrantUrl(),
  apiKey: process.env.QDRANT_API_KEY,
  collection: collectionName('contract'),
  dimension: CONTRACT_DIMENSION,
  ...extra,
});

vectorStoreContract('qdrant store', (opts) => QdrantVectorStore.open(qdrantOptions(opts)));

describe('qdrant store only', () => {
  const now = Date.now();
  const admin = () => new QdrantClient({ url: sharedQdrantUrl(), apiKey: process.env.QDRANT_API_KEY, checkCompatibility: false });
  const put = (s: QdrantVectorStore<{ text: string }>, id: string, tenant: string, createdAt: number) =>
    s.put({ id, partition: `p-${tenant}`, tenant, vector: unit(createdAt), createdAt, expiresAt: now + 60_000, payload: { text: id } });

  it('indexes the tenant as its tenant key and builds HNSW per tenant only', async () => {
    const opts = qdrantOptions();
    await (await QdrantVectorStore.open(opts)).close();
    const info = await admin().getCollection(opts.collection);
    expect(info.payload_schema.tenant).toMatchObject({ data_type: 'keyword', params: { type: 'keyword', is_tenant: true } });
    expect(Object.keys(info.payload_schema).sort()).toEqual(['createdAt', 'expiresAt', 'partition', 'tenant']);
    expect(info.config.hnsw_config).toMatchObject({ m: 0, payload_m: 16 });
  });

  it("keeps each tenant's newest entries within maxEntriesPerTenant, other tenants untouched", async () => {
    const s = await QdrantVectorStore.open<{ text: string }>(qdrantOptions({ maxEntriesPerTenant: 3 }));
    for (let i = 0; i < 5; i++) await put(s, `a${i}`, 'tenant-a', now + i);
    for (let i = 0; i < 2; i++) await put(s, `b${i}`, 'tenant-b', now + i);
    const present = async (ids: string[]) => (await Promise.all(ids.map((k) => s.get(k, now)))).map((e) => e !== undefined);
    expect(await present(['a0', 'a1', 'a2', 'a3', 'a4'])).toEqual([false, false, true, true, true]);
    expect(await present(['b0', 'b1'])).toEqual([true, true]);
  });

  it('lets gateways that start together set up one collection (the loser of the race is fine)', async () => {
    const opts = qdrantOptions();
    const stores = await Promise.all([1, 2, 3].map(() => QdrantVectorStore.open<{ text: string }>(opts)));
    expect(stores.map((s) => s.setupError)).toEqual([undefined, undefined, undefined]);
    await put(stores[0]!, 'shared', 'tenant-a', now);
    expect((await stores[2]!.get('shared', now))?.payload.text).toBe('shared');
  });

  it('refuses a collection made with another dimension', async () => {
    const opts = qdrantOptions();
    await (await QdrantVectorStore.open(opts)).close();
    await expect(QdrantVectorStore.open({ ...opts, dimension: CONTRACT_DIMENSION * 2 })).rejects.toThrow(new RegExp(`dimension ${CONTRACT_DIMENSION}, got one of dimension ${CONTRACT_DIMENSION * 2}`));
  });

  it('sets the collection up again when Qdrant lost it', async () => {
    const opts = qdrantOptions();
    const s = await QdrantVectorStore.open<{ text: string }>(opts);
    await admin().deleteCollection(opts.collection);
    // The first call after the loss fails (the collection is gone); the next one recreates it.
    await expect(put(s, 'lost', 'tenant-a', now)).rejects.toMatchObject({ status: 404 });
    await put(s, 'back', 'tenant-a', now);
    expect((await s.get('back', now))?.payload.text).toBe('back');
  });

  it('under a semantic cache: a dead Qdrant makes lookups bypass, one request trying it per back-off, and ping throw', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const embedder = new OfflineEmbedder();
    const store = await QdrantVectorStore.open<CachedAnswer>({ url, collection: collectionName('dead'), dimension: embedder.dimension, timeoutMs: 500 });
    let now = 1_000_000;
    const cache = new SemanticCache(cacheSchema.parse({ enabled: true, storeBackoffMs: 1_000 }), store, embedder, { logger: createLogger('silent'), now: () => now });
    const calls = vi.spyOn(store, 'get');
    const ask = () => cache.ticket({ model: 'chat', messages: [{ role: 'user', content: 'Is anyone there?' }] }, 't1', { noCache: false, noStore: false });
    const tickets = [ask(), ask(), ask()];
    for (const t of tickets) expect(await cache.lookup(t)).toBeUndefined();
    expect(tickets.map((t) => t.unavailable)).toEqual([true, true, true]);
    expect(calls).toHaveBeenCalledTimes(1);
    expect(await cache.store(ask(), { id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] })).toBe('store unavailable');
    now += 1_000;
    // when the back-off ends, one request tries the store; those alongside it keep bypassing
    const after = [ask(), ask(), ask()];
    expect(await Promise.all(after.map((t) => cache.lookup(t)))).toEqual([undefined, undefined, undefined]);
    expect(after.map((t) => t.unavailable)).toEqual([true, true, true]);
    expect(calls).toHaveBeenCalledTimes(2);
    await expect(cache.ping()).rejects.toThrow();
    await cache.close();
  });

  describe('a Qdrant that is down at start', () => {
    let server: QdrantServer | undefined;
    afterAll(async () => {
      await server?.stop();
    });

    it('opens anyway, fails fast while it is down, and serves once it is up', async () => {
      const port = await freePort();
      const s = await QdrantVectorStore.open<{ text: string }>({ url: `http://127.0.0.1:${port}`, collection: collectionName('late'), dimension: CONTRACT_DIMENSION, timeoutMs: 500 });
      expect(s.setupError).toBeDefined();
      const t0 = Date.now();
      await expect(s.ping()).rejects.toThrow();
      await expect(s.get('x', now)).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(2_000);
      server = await startQdrant({ httpPort: port });
      await s.ping();
      await put(s, 'late', 'tenant-a', now);
      expect((await s.get('late', now))?.payload.text).toBe('late');
    });
  });
});

describe('embedded store on disk', () => {
  const now = Date.now();
  const put = (s: EmbeddedVectorStore<{ text: string }>, id: string, v: Float32Array, text: string, expiresAt = now + 60_000) =>
    s.put({ id, partition: 'p', tenant: 't', vector: v, createdAt: now, expiresAt, payload: { text } });

  it('keeps its entries across a restart, deletions included', async () => {
    const dir = tempDir();
    const a = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    await put(a, 'one', unit(0), 'first');
    await put(a, 'two', unit(1), 'second');
    await put(a, 'one', unit(2), 'first, replaced');
    await a.delete('two');
    await a.close();
    const b = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    expect(b.size).toBe(1);
    expect((await b.get('one', now))?.payload.text).toBe('first, replaced');
    expect(await b.get('two', now)).toBeUndefined();
    expect((await b.search({ partition: 'p', tenant: 't', vector: unit(2), minScore: 0.9, expiresAfter: now }))[0]?.entry.id).toBe('one');
    await b.close();
  });

  it('drops a torn last record, cuts it off the file, and keeps everything before it', async () => {
    const dir = tempDir();
    const a = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    await put(a, 'kept', unit(0), 'kept');
    await put(a, 'torn', unit(1), 'torn');
    await a.close();
    const file = join(dir, LOG_FILE);
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 20)); // a crash in the middle of the last write
    const b = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    expect(b.replay.truncatedBytes).toBeGreaterThan(0);
    expect((await b.get('kept', now))?.payload.text).toBe('kept');
    expect(await b.get('torn', now)).toBeUndefined();
    await put(b, 'after', unit(3), 'written after the repair');
    await b.close();
    const c = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    expect(c.replay).toMatchObject({ skipped: 0, truncatedBytes: 0 });
    expect((await c.get('after', now))?.payload.text).toBe('written after the repair');
    expect(c.size).toBe(2);
    await c.close();
  });

  it('skips a damaged line in the middle instead of losing the rest', async () => {
    const dir = tempDir();
    const a = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    await put(a, 'damaged', unit(0), 'damaged');
    await put(a, 'after', unit(1), 'after');
    await a.close();
    const file = join(dir, LOG_FILE);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.slice(0, 30); // header, then the damaged record, then a good one
    writeFileSync(file, lines.join('\n'));
    const b = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    expect(b.replay).toMatchObject({ skipped: 1, truncatedBytes: 0 });
    expect(await b.get('damaged', now)).toBeUndefined();
    expect((await b.get('after', now))?.payload.text).toBe('after');
    await b.close();
  });

  it('refuses to open a directory written with another dimension', async () => {
    const dir = tempDir();
    await (await EmbeddedVectorStore.open({ dir, dimension: CONTRACT_DIMENSION })).close();
    await expect(EmbeddedVectorStore.open({ dir, dimension: 16 })).rejects.toThrow(new RegExp(`dimension ${CONTRACT_DIMENSION}, got one of dimension 16`));
  });

  it('rewrites the file without dead records once they dominate', async () => {
    const dir = tempDir();
    const s = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    for (let i = 0; i < 1_200; i++) await put(s, `e${i}`, unit(i), `entry ${i}`, i < 1_150 ? now + 10 : now + 60_000);
    const before = statSync(join(dir, LOG_FILE)).size;
    expect(await s.purgeExpired(now + 10)).toBe(1_150);
    const after = statSync(join(dir, LOG_FILE)).size;
    expect(after).toBeLessThan(before / 10);
    await s.close();
    const again = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    expect(again.size).toBe(50);
    expect((await again.get('e1199', now))?.payload.text).toBe('entry 1199');
    await again.close();
  });

  it('evicts the oldest entries beyond maxEntries', async () => {
    const s = await EmbeddedVectorStore.open<{ text: string }>({ dir: tempDir(), dimension: CONTRACT_DIMENSION, maxEntries: 3 });
    for (let i = 0; i < 5; i++) await put(s, `e${i}`, unit(i), `entry ${i}`);
    expect(s.size).toBe(3);
    expect(await s.get('e0', now)).toBeUndefined();
    expect(await s.get('e4', now)).toBeDefined();
    await s.close();
  });

  it("at its memory bound, evicts the oldest of the tenant holding the most, not the store's oldest", async () => {
    const s = await EmbeddedVectorStore.open<{ text: string }>({ dir: tempDir(), dimension: CONTRACT_DIMENSION, maxEntries: 4, maxEntriesPerTenant: 100 });
    const putAs = (id: string, tenant: string, i: number) =>
      s.put({ id, partition: `p-${tenant}`, tenant, vector: unit(i), createdAt: now + i, expiresAt: now + 60_000, payload: { text: id } });
    await putAs('b0', 'tenant-b', 0);
    await putAs('b1', 'tenant-b', 1);
    for (let i = 0; i < 5; i++) await putAs(`a${i}`, 'tenant-a', 10 + i);
    const present = async (ids: string[]) => (await Promise.all(ids.map((k) => s.get(k, now)))).map((e) => e !== undefined);
    expect(await present(['b0', 'b1'])).toEqual([true, true]);
    expect(await present(['a0', 'a1', 'a2', 'a3', 'a4'])).toEqual([false, false, false, true, true]);
    expect([s.size, s.sizeOf('tenant-a'), s.sizeOf('tenant-b')]).toEqual([4, 2, 2]);
    await s.close();
  });

  it('applies a quota lowered since the file was written when it opens, in memory and in the file', async () => {
    const dir = tempDir();
    const s = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    for (let i = 0; i < 5; i++) await s.put({ id: `a${i}`, partition: 'p', tenant: 'tenant-a', vector: unit(i), createdAt: now + i, expiresAt: now + 60_000, payload: { text: `a${i}` } });
    await s.put({ id: 'b0', partition: 'q', tenant: 'tenant-b', vector: unit(9), createdAt: now + 9, expiresAt: now + 60_000, payload: { text: 'b0' } });
    await s.close();
    const lowered = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION, maxEntriesPerTenant: 2 });
    expect([lowered.sizeOf('tenant-a'), lowered.sizeOf('tenant-b')]).toEqual([2, 1]);
    expect(await lowered.get('a2', now)).toBeUndefined();
    await lowered.close();
    const again = await EmbeddedVectorStore.open<{ text: string }>({ dir, dimension: CONTRACT_DIMENSION });
    expect(again.size).toBe(3);
    await again.close();
  });

  it('finds in a large partition (signature prefilter) what an exhaustive scan finds', async () => {
    const dim = 64;
    const s = await EmbeddedVectorStore.open<{ i: number }>({ dir: tempDir(), dimension: dim });
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    const vecs: Float32Array[] = [];
    for (let i = 0; i < 5_000; i++) {
      const v = normalise(Float32Array.from({ length: dim }, rand));
      vecs.push(v);
      await s.put({ id: `e${i}`, partition: 'big', tenant: 't', vector: v, createdAt: now, expiresAt: now + 60_000, payload: { i } });
    }
    let agree = 0;
    for (let q = 0; q < 100; q++) {
      // a query near a stored vector (cosine ≈ 0.9), the way a paraphrase sits near its original
      const base = vecs[q * 37]!;
      const noise = normalise(Float32Array.from({ length: dim }, rand));
      const query = normalise(Float32Array.from(base, (x, j) => x + 0.48 * noise[j]!));
      const fast = await s.search({ partition: 'big', tenant: 't', vector: query, minScore: 0.8, expiresAfter: now });
      const exact = await s.search({ partition: 'big', tenant: 't', vector: query, minScore: 0.8, expiresAfter: now, exhaustive: true });
      expect(exact[0]?.entry.id).toBe(`e${q * 37}`);
      if (fast[0]?.entry.id === exact[0]?.entry.id) agree++;
    }
    expect(agree).toBe(100);
    await s.close();
  });
});
