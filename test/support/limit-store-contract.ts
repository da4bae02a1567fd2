/** One contract for every LimitStore: the memory store and the Redis store must behave the same. */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { LimitStore } from '../../src/limits/index.js';

export interface ContractTarget {
  /** A new store instance. */
  create(): Promise<LimitStore>;
  /** Lets time pass for the stores: a fake clock jumps, real time is slept (with a little slack). */
  elapse(ms: number): Promise<void>;
  /** True for a fake clock: timings are then asserted to the millisecond. */
  exact: boolean;
  /** True when separate instances share state (Redis), so races and sharing span two connections. */
  shared: boolean;
}

export function limitStoreContract(name: string, target: ContractTarget): void {
  describe(`${name}: limit store contract`, () => {
    const open: LimitStore[] = [];
    const store = async () => {
      const s = await target.create();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    const key = () => `test:${randomUUID()}`;
    const W = 500;

    it('admits up to the limit, refuses with a retry hint, and admits again once the hint has passed', async () => {
      const s = await store();
      const k = key();
      for (const remaining of [2, 1, 0]) expect(await s.take(k, 1, 3, W)).toEqual({ allowed: true, remaining, retryAfterMs: 0 });
      const refused = await s.take(k, 1, 3, W);
      expect(refused).toMatchObject({ allowed: false, remaining: 0 });
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(W);
      if (target.exact) {
        expect(refused.retryAfterMs).toBe(W);
        await target.elapse(refused.retryAfterMs - 1);
        expect((await s.take(k, 1, 3, W)).allowed).toBe(false);
        await target.elapse(1);
      } else {
        await target.elapse(refused.retryAfterMs);
      }
      expect(await s.take(k, 3, 3, W)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('slides: units leave the window one admission at a time, not all at a window boundary', async () => {
      const s = await store();
      const k = key();
      expect((await s.take(k, 2, 3, W)).allowed).toBe(true);
      await target.elapse(200);
      expect((await s.take(k, 1, 3, W)).allowed).toBe(true);
      const refused = await s.take(k, 1, 3, W);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(W - 200); // when the first 2 units leave, not the 3rd
      if (target.exact) expect(refused.retryAfterMs).toBe(W - 200);
      await target.elapse(refused.retryAfterMs);
      expect(await s.take(k, 2, 3, W)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await s.take(k, 1, 3, W)).allowed).toBe(false); // the 3rd unit is still in the window
    });

    it('counts cost, consumes nothing on refusal, and refuses a cost above the limit outright', async () => {
      const s = await store();
      const k = key();
      expect(await s.take(k, 7, 10, 60_000)).toMatchObject({ allowed: true, remaining: 3 });
      expect(await s.take(k, 5, 10, 60_000)).toMatchObject({ allowed: false, remaining: 3 });
      expect(await s.take(k, 11, 10, 60_000)).toEqual({ allowed: false, remaining: 3, retryAfterMs: 60_000 });
      expect(await s.take(k, 3, 10, 60_000)).toMatchObject({ allowed: true, remaining: 0 });
      expect(await s.take(k, 0, 10, 60_000)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('refunds units, never below zero usage', async () => {
      const s = await store();
      const k = key();
      await s.take(k, 4, 10, 60_000);
      await s.take(k, 6, 10, 60_000);
      await s.refund(k, 5, 60_000);
      expect(await s.take(k, 5, 10, 60_000)).toMatchObject({ allowed: true, remaining: 0 });
      await s.refund(k, 100, 60_000);
      expect(await s.take(k, 10, 10, 60_000)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await s.take(k, 1, 10, 60_000)).allowed).toBe(false);
      await s.refund(key(), 3, 60_000); // nothing to refund: no error, no negative usage
    });

    it('refunds from the oldest units, so the rest stay in the window at least as long as they should', async () => {
      const s = await store();
      const k = key();
      await s.take(k, 5, 10, W);
      await target.elapse(200);
      await s.take(k, 5, 10, W);
      await s.refund(k, 3, W); // leaves 2 units from the first take and all 5 of the second
      await target.elapse(W - 200);
      expect(await s.take(k, 5, 10, W)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await s.take(k, 1, 10, W)).allowed).toBe(false);
    });

    it('never admits more than the limit under concurrent takes', async () => {
      const stores = target.shared ? [await store(), await store()] : [await store()];
      const k = key();
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % stores.length]!.take(k, 1, 25, 60_000)));
      const admitted = results.filter((r) => r.allowed);
      expect(admitted).toHaveLength(25);
      expect(new Set(admitted.map((r) => r.remaining)).size).toBe(25); // each saw a distinct state
    });

    it('hands out concurrency slots up to the limit and takes them back on release', async () => {
      const s = await store();
      const k = key();
      const a = await s.acquire(k, 2, 60_000);
      const b = await s.acquire(k, 2, 60_000);
      expect(a.ok && b.ok && a.lease !== b.lease).toBe(true);
      expect(await s.acquire(k, 2, 60_000)).toEqual({ ok: false });
      await s.release(k, a.lease!);
      await s.release(k, a.lease!); // twice, or after expiry: harmless
      await s.release(k, 'no-such-lease');
      expect((await s.acquire(k, 2, 60_000)).ok).toBe(true);
      expect((await s.acquire(k, 2, 60_000)).ok).toBe(false);
    });

    it('expires a lease after its ttl, without dropping longer leases on the same key', async () => {
      const s = await store();
      const k = key();
      expect((await s.acquire(k, 2, 60_000)).ok).toBe(true);
      expect((await s.acquire(k, 2, 300)).ok).toBe(true); // a holder that then crashes
      expect((await s.acquire(k, 2, 60_000)).ok).toBe(false);
      await target.elapse(300);
      expect((await s.acquire(k, 2, 60_000)).ok).toBe(true);
      expect((await s.acquire(k, 2, 60_000)).ok).toBe(false); // the first lease is still held
    });

    it('adds spend per bucket, and forgets the bucket a fixed ttl after its first spend', async () => {
      const s = await store();
      const b = key();
      expect(await s.getSpend(b)).toBe(0);
      expect(await s.addSpend(b, 0.25, 400)).toBeCloseTo(0.25, 12);
      expect(await s.addSpend(b, 0.0000015, 400)).toBeCloseTo(0.2500015, 12);
      await target.elapse(200);
      expect(await s.addSpend(b, 1.5e-7, 400)).toBeCloseTo(0.25000165, 12); // does not extend the bucket
      expect(await s.getSpend(b)).toBeCloseTo(0.25000165, 12);
      expect(await s.getSpend(key())).toBe(0);
      await target.elapse(200);
      expect(await s.getSpend(b)).toBe(0);
      expect(await s.addSpend(b, 1, 400)).toBe(1);
    });

    it('records usage past the limit: later takes wait until it has left the window', async () => {
      const s = await store();
      const k = key();
      expect((await s.take(k, 8, 10, W)).allowed).toBe(true);
      await s.record(k, 7, W); // the answer used 7 more than its estimate, though only 2 were free
      const refused = await s.take(k, 1, 10, W);
      expect(refused).toMatchObject({ allowed: false, remaining: 0 });
      await s.refund(k, 5, W); // 15 - 5 = 10 used: still full
      expect((await s.take(k, 1, 10, W)).allowed).toBe(false);
      await s.refund(k, 1, W);
      expect(await s.take(k, 1, 10, W)).toMatchObject({ allowed: true, remaining: 0 });
      await target.elapse(W + 20);
      expect(await s.take(k, 10, 10, W)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('charges a chargeId once: one atomic mark and spend across every bucket, false on every repeat', async () => {
      const s = await store();
      const [id, day, month] = [key(), key(), key()];
      const buckets = [
        { bucket: day, ttlMs: 400 },
        { bucket: month, ttlMs: 60_000 },
      ];
      expect(await s.addSpendOnce(id, 60_000, 0.0000125, buckets)).toBe(true);
      expect(await s.addSpendOnce(id, 60_000, 0.0000125, buckets)).toBe(false);
      expect(await s.addSpendOnce(id, 60_000, 5, buckets)).toBe(false); // a repeat never changes the amount either
      expect(await s.getSpend(day)).toBe(0.0000125);
      expect(await s.getSpend(month)).toBe(0.0000125);
      expect(await s.addSpendOnce(key(), 60_000, 0.25, buckets)).toBe(true);
      expect(await s.getSpend(day)).toBeCloseTo(0.2500125, 12);
      await target.elapse(400);
      expect(await s.getSpend(day)).toBe(0); // each bucket keeps its own ttl
      expect(await s.getSpend(month)).toBeCloseTo(0.2500125, 12);
    });

    it('marks a charge with no bucket (no key to charge), and many concurrent charges of one id count once', async () => {
      const s = await store();
      const id = key();
      expect(await s.addSpendOnce(id, 60_000, 1, [])).toBe(true);
      expect(await s.addSpendOnce(id, 60_000, 1, [])).toBe(false);
      const [id2, b] = [key(), key()];
      const results = await Promise.all(Array.from({ length: 20 }, () => s.addSpendOnce(id2, 60_000, 0.5, [{ bucket: b, ttlMs: 60_000 }])));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await s.getSpend(b)).toBe(0.5);
    });

    it('forgets a charge mark after its ttl', async () => {
      const s = await store();
      const [id, b] = [key(), key()];
      expect(await s.addSpendOnce(id, 300, 1, [{ bucket: b, ttlMs: 60_000 }])).toBe(true);
      await target.elapse(300);
      expect(await s.addSpendOnce(id, 300, 1, [{ bucket: b, ttlMs: 60_000 }])).toBe(true);
      expect(await s.getSpend(b)).toBe(2);
    });

    it('keeps windows, slots and spend apart even under the same key', async () => {
      const s = await store();
      const k = key();
      expect((await s.take(k, 1, 1, 60_000)).allowed).toBe(true);
      expect((await s.acquire(k, 1, 60_000)).ok).toBe(true);
      expect(await s.addSpend(k, 2, 60_000)).toBe(2);
      expect((await s.take(k, 1, 1, 60_000)).allowed).toBe(false);
    });

    it('rejects nonsense arguments instead of computing with them', async () => {
      const s = await store();
      await expect(s.take(key(), Number.NaN, 1, 1000)).rejects.toThrow(RangeError);
      await expect(s.take(key(), -1, 1, 1000)).rejects.toThrow(RangeError);
      await expect(s.take(key(), 1, 1, 0)).rejects.toThrow(RangeError);
      await expect(s.acquire(key(), 1, Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
      await expect(s.addSpend(key(), Number.NaN, 1000)).rejects.toThrow(RangeError);
      await expect(s.record(key(), -1, 1000)).rejects.toThrow(RangeError);
      await expect(s.addSpendOnce(key(), 1000, Number.NaN, [])).rejects.toThrow(RangeError);
      await expect(s.addSpendOnce(key(), 0, 1, [])).rejects.toThrow(RangeError);
      await expect(s.addSpendOnce(key(), 1000, 1, [{ bucket: key(), ttlMs: -5 }])).rejects.toThrow(RangeError);
    });

    if (target.shared) {
      it('two instances share windows, slots and spend', async () => {
        const [s1, s2] = [await store(), await store()];
        const k = key();
        expect((await s1.take(k, 2, 3, 60_000)).allowed).toBe(true);
        expect(await s2.take(k, 2, 3, 60_000)).toMatchObject({ allowed: false, remaining: 1 });
        expect((await s2.take(k, 1, 3, 60_000)).allowed).toBe(true);
        await s2.refund(k, 3, 60_000);
        expect((await s1.take(k, 3, 3, 60_000)).allowed).toBe(true);

        const lease = await s1.acquire(k, 1, 60_000);
        expect((await s2.acquire(k, 1, 60_000)).ok).toBe(false);
        await s2.release(k, lease.lease!);
        expect((await s2.acquire(k, 1, 60_000)).ok).toBe(true);

        await s1.addSpend(k, 1.5, 60_000);
        expect(await s2.addSpend(k, 1, 60_000)).toBe(2.5);
        expect(await s1.getSpend(k)).toBe(2.5);

        // a charge retried on another instance (another worker) counts once
        const id = key();
        const [a1, a2] = await Promise.all([s1.addSpendOnce(id, 60_000, 0.5, [{ bucket: k, ttlMs: 60_000 }]), s2.addSpendOnce(id, 60_000, 0.5, [{ bucket: k, ttlMs: 60_000 }])]);
        expect([a1, a2].sort()).toEqual([false, true]);
        expect(await s1.getSpend(k)).toBe(3);
      });
    }
  });
}
