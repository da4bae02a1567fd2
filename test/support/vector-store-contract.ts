/**
 * What every VectorStore must do, run against each implementation (the embedded store and a real Qdrant, both
 * always). `make` is called once per test and should give each test its own directory or collection, with the
 * bounds it is given; partitions and tenants are random per test as well, so runs against a shared server do
 * not collide.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalise } from '../../src/embeddings/types.js';
import type { StoredEntry, VectorStore } from '../../src/cache/vector-store.js';

/** The real model's width (all-MiniLM-L6-v2), so the stores are exercised at the size they hold in production. */
export const CONTRACT_DIMENSION = 384;

/** A unit vector pointing mostly along axis `axis`, tilted towards axis+1 by `tilt`. */
export function unit(axis: number, tilt = 0): Float32Array {
  const v = new Float32Array(CONTRACT_DIMENSION);
  v[axis % CONTRACT_DIMENSION] = 1;
  v[(axis + 1) % CONTRACT_DIMENSION] = tilt;
  return normalise(v);
}

type Payload = { text: string; n?: number };

/** What a test may ask of the store it gets. */
export interface ContractStoreOptions {
  maxEntriesPerTenant?: number;
}

export function vectorStoreContract(name: string, make: (opts?: ContractStoreOptions) => Promise<VectorStore<Payload>>): void {
  describe(name, () => {
    const now = Date.now();
    const later = now + 3_600_000;
    // One tenant for the suite's entries; the isolation test brings a second one.
    const tenant = `t-${randomUUID()}`;
    const entry = (partition: string, id: string, vector: Float32Array, payload: Payload, expiresAt = later, owner = tenant): StoredEntry<Payload> => ({
      id,
      partition,
      tenant: owner,
      vector,
      createdAt: now,
      expiresAt,
      payload,
    });
    const withStore = async (fn: (s: VectorStore<Payload>) => Promise<void>, opts?: ContractStoreOptions) => {
      const s = await make(opts);
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };
    const id = () => randomUUID().replaceAll('-', '');

    it('gets an entry by id with its payload, and nothing for an unknown id', () =>
      withStore(async (s) => {
        const p = `p-${id()}`;
        const k = id();
        await s.put(entry(p, k, unit(0), { text: 'hello', n: 3 }));
        const got = await s.get(k, now);
        expect(got).toMatchObject({ id: k, partition: p, tenant, payload: { text: 'hello', n: 3 }, expiresAt: later });
        expect(await s.get(id(), now)).toBeUndefined();
      }));

    it('finds the most similar entry above the threshold, best first, within the partition only', () =>
      withStore(async (s) => {
        const p = `p-${id()}`;
        const other = `p-${id()}`;
        const [near, far, elsewhere] = [id(), id(), id()];
        await s.put(entry(p, near, unit(0, 0.1), { text: 'near' }));
        await s.put(entry(p, far, unit(0, 0.9), { text: 'far' }));
        await s.put(entry(other, elsewhere, unit(0), { text: 'other partition, exact match' }));
        const hits = await s.search({ tenant, partition: p, vector: unit(0), minScore: 0.5, expiresAfter: now, limit: 5 });
        expect(hits.map((h) => h.entry.payload.text)).toEqual(['near', 'far']);
        expect(hits[0]!.score).toBeCloseTo(1 / Math.sqrt(1.01), 4);
        expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
        const strict = await s.search({ tenant, partition: p, vector: unit(0), minScore: 0.9, expiresAfter: now, limit: 5 });
        expect(strict.map((h) => h.entry.id)).toEqual([near]);
        expect(await s.search({ tenant, partition: p, vector: unit(4), minScore: 0.5, expiresAfter: now })).toEqual([]);
        expect(await s.search({ tenant, partition: `p-${id()}`, vector: unit(0), minScore: -1, expiresAfter: now })).toEqual([]);
        const one = await s.search({ tenant, partition: p, vector: unit(0), minScore: 0, expiresAfter: now });
        expect(one).toHaveLength(1);
        const exhaustive = await s.search({ tenant, partition: p, vector: unit(0), minScore: 0.5, expiresAfter: now, exhaustive: true });
        expect(exhaustive.map((h) => h.entry.id)).toEqual([near]);
      }));

    it('hides entries that expired at the instant asked about, and purges them', () =>
      withStore(async (s) => {
        const p = `p-${id()}`;
        const [old, fresh] = [id(), id()];
        await s.put(entry(p, old, unit(1), { text: 'old' }, now + 1_000));
        await s.put(entry(p, fresh, unit(1, 0.2), { text: 'fresh' }, now + 10_000));
        expect((await s.search({ tenant, partition: p, vector: unit(1), minScore: 0.5, expiresAfter: now })).map((h) => h.entry.id)).toEqual([old]);
        expect(await s.get(old, now + 1_000)).toBeUndefined();
        expect((await s.search({ tenant, partition: p, vector: unit(1), minScore: 0.5, expiresAfter: now + 1_000 })).map((h) => h.entry.id)).toEqual([fresh]);
        const purged = await s.purgeExpired(now + 5_000);
        if (purged !== -1) expect(purged).toBeGreaterThanOrEqual(1);
        expect(await s.get(old, now)).toBeUndefined();
        expect(await s.get(fresh, now)).toBeDefined();
      }));

    it('replaces an entry put again under the same id, and deletes', () =>
      withStore(async (s) => {
        const p = `p-${id()}`;
        const k = id();
        await s.put(entry(p, k, unit(2), { text: 'v1' }));
        await s.put(entry(p, k, unit(3), { text: 'v2' }));
        expect((await s.get(k, now))?.payload.text).toBe('v2');
        expect(await s.search({ tenant, partition: p, vector: unit(2), minScore: 0.5, expiresAfter: now })).toEqual([]);
        expect((await s.search({ tenant, partition: p, vector: unit(3), minScore: 0.5, expiresAfter: now }))[0]?.entry.payload.text).toBe('v2');
        await s.delete(k);
        expect(await s.get(k, now)).toBeUndefined();
        expect(await s.search({ tenant, partition: p, vector: unit(3), minScore: 0.5, expiresAfter: now })).toEqual([]);
        await s.delete(id()); // deleting what is not there is fine
      }));

    it("never returns another tenant's entry, even in a partition of the same name", () =>
      withStore(async (s) => {
        const p = `p-${id()}`;
        const other = `t-${id()}`;
        const [mine, theirs] = [id(), id()];
        await s.put(entry(p, theirs, unit(5), { text: 'theirs' }, later, other));
        await s.put(entry(p, mine, unit(5, 0.3), { text: 'mine' }));
        const q = { partition: p, vector: unit(5), minScore: 0.5, expiresAfter: now, limit: 5 };
        expect((await s.search({ ...q, tenant })).map((h) => h.entry.payload.text)).toEqual(['mine']);
        expect((await s.search({ ...q, tenant: other, exhaustive: true })).map((h) => h.entry.payload.text)).toEqual(['theirs']);
        expect((await s.get(theirs, now))?.tenant).toBe(other);
      }));

    it("keeps each tenant within its quota by evicting that tenant's oldest, never another tenant's entries", () =>
      withStore(
        async (s) => {
          const other = `t-${id()}`;
          const p = `p-${id()}`;
          const theirs = [id(), id()];
          const mine = [id(), id(), id(), id(), id()];
          const at = (i: number) => ({ createdAt: now + i });
          // the other tenant writes first: its entries are the oldest in the store
          for (const [i, k] of theirs.entries()) await s.put({ ...entry(`p-${id()}`, k, unit(10 + i), { text: `theirs ${i}` }, later, other), ...at(i) });
          for (const [i, k] of mine.entries()) await s.put({ ...entry(p, k, unit(20 + i), { text: `mine ${i}` }), ...at(10 + i) });
          const present = async (ids: string[]) => (await Promise.all(ids.map((k) => s.get(k, now)))).map((e) => e !== undefined);
          expect(await present(mine)).toEqual([false, false, true, true, true]);
          expect(await present(theirs)).toEqual([true, true]);
          const oldest = await s.search({ tenant, partition: p, vector: unit(20), minScore: 0.99, expiresAfter: now, exhaustive: true });
          expect(oldest).toEqual([]);
          // a tenant's own quota is not spent by another's writes
          await s.put({ ...entry(`p-${id()}`, id(), unit(30), { text: 'theirs again' }, later, other), ...at(20) });
          expect(await present([...theirs, ...mine.slice(2)])).toEqual([true, true, true, true, true]);
        },
        { maxEntriesPerTenant: 3 },
      ));

    it('answers a ping while it can serve', () => withStore((s) => s.ping()));

    it('refuses vectors of another dimension with a clear error', () =>
      withStore(async (s) => {
        expect(s.dimension).toBe(CONTRACT_DIMENSION);
        const wrong = normalise(new Float32Array(CONTRACT_DIMENSION + 1).fill(1));
        await expect(s.put(entry(`p-${id()}`, id(), wrong, { text: 'x' }))).rejects.toThrow(/dimension/);
        await expect(s.search({ tenant, partition: 'p', vector: wrong, minScore: 0, expiresAfter: now })).rejects.toThrow(/dimension/);
      }));
  });
}
