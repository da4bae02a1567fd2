/**
 * The in-process limit store (one gateway instance). Same algorithms and semantics as the Redis store, so
 * the contract suite holds for both: sliding logs for windows, leases with expiries for slots, spend
 * buckets that expire a fixed time after their first spend. Expired state is swept, so memory stays bounded.
 */
import { randomUUID } from 'node:crypto';
import { duration, finite, units, type LimitStore, type TakeResult } from './types.js';

interface Log {
  /** Oldest first; `at` never decreases, so expiry only ever trims the front. */
  entries: { at: number; units: number }[];
  /** Sum of `entries[].units`, kept so a take costs O(expired) rather than O(log length). */
  used: number;
  windowMs: number;
}

export interface MemoryLimitStoreOptions {
  /** Injectable so tests are deterministic. */
  now?: () => number;
  sweepEveryMs?: number;
}

export class MemoryLimitStore implements LimitStore {
  private readonly logs = new Map<string, Log>();
  private readonly slots = new Map<string, Map<string, number>>();
  private readonly spend = new Map<string, { total: number; expires: number }>();
  /** chargeId → expiry of its mark. */
  private readonly charges = new Map<string, number>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: MemoryLimitStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), opts.sweepEveryMs ?? 60_000);
    this.sweeper.unref();
  }

  private live(key: string, windowMs: number): Log {
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = { entries: [], used: 0, windowMs }));
    log.windowMs = windowMs;
    const cutoff = this.now() - windowMs;
    let drop = 0;
    while (drop < log.entries.length && log.entries[drop]!.at <= cutoff) log.used -= log.entries[drop++]!.units;
    if (drop > 0) log.entries.splice(0, drop);
    if (log.entries.length === 0) log.used = 0; // float costs can leave dust behind; an empty log is exactly 0
    return log;
  }

  async take(key: string, cost: number, limit: number, windowMs: number): Promise<TakeResult> {
    units('cost', cost);
    units('limit', limit);
    windowMs = duration('windowMs', windowMs);
    const log = this.live(key, windowMs);
    if (log.used + cost <= limit) {
      if (cost > 0) log.entries.push({ at: this.now(), units: cost });
      log.used += cost;
      return { allowed: true, remaining: limit - log.used, retryAfterMs: 0 };
    }
    return { allowed: false, remaining: Math.max(0, limit - log.used), retryAfterMs: this.retryAfter(log, cost, limit) };
  }

  /** The oldest entries leave the window first: wait until enough of them have. */
  private retryAfter(log: Log, cost: number, limit: number): number {
    if (cost > limit) return log.windowMs;
    let left = log.used;
    for (const e of log.entries) {
      left -= e.units;
      if (left + cost <= limit) return Math.max(1, e.at + log.windowMs - this.now());
    }
    return log.windowMs;
  }

  async record(key: string, cost: number, windowMs: number): Promise<void> {
    units('cost', cost);
    const log = this.live(key, duration('windowMs', windowMs));
    if (cost > 0) log.entries.push({ at: this.now(), units: cost });
    log.used += cost;
  }

  async refund(key: string, cost: number, windowMs: number): Promise<void> {
    units('cost', cost);
    const log = this.live(key, duration('windowMs', windowMs));
    // Oldest first: the units kept then stay in the window at least as long as the refunded request's own
    // would have, so a refund can never let more than the limit through in any window (newest-first could).
    while (cost > 0 && log.entries.length > 0) {
      const e = log.entries[0]!;
      const back = Math.min(e.units, cost);
      e.units -= back;
      log.used -= back;
      cost -= back;
      if (e.units <= 0) log.entries.shift();
    }
    if (log.entries.length === 0) log.used = 0;
  }

  async acquire(key: string, limit: number, ttlMs: number): Promise<{ ok: boolean; lease?: string }> {
    units('limit', limit);
    ttlMs = duration('ttlMs', ttlMs);
    let leases = this.slots.get(key);
    if (!leases) this.slots.set(key, (leases = new Map()));
    const now = this.now();
    for (const [id, expires] of leases) if (expires <= now) leases.delete(id);
    if (leases.size >= limit) return { ok: false };
    const lease = randomUUID();
    leases.set(lease, now + ttlMs);
    return { ok: true, lease };
  }

  async release(key: string, lease: string): Promise<void> {
    this.slots.get(key)?.delete(lease);
  }

  async addSpend(bucket: string, usd: number, ttlMs: number): Promise<number> {
    finite('usd', usd);
    ttlMs = duration('ttlMs', ttlMs);
    const now = this.now();
    const current = this.spend.get(bucket);
    const s = current && current.expires > now ? current : { total: 0, expires: now + ttlMs };
    s.total += usd;
    this.spend.set(bucket, s);
    return s.total;
  }

  async addSpendOnce(chargeId: string, onceTtlMs: number, usd: number, buckets: readonly { bucket: string; ttlMs: number }[]): Promise<boolean> {
    finite('usd', usd);
    onceTtlMs = duration('onceTtlMs', onceTtlMs);
    for (const b of buckets) duration('ttlMs', b.ttlMs);
    const now = this.now();
    if ((this.charges.get(chargeId) ?? -Infinity) > now) return false;
    this.charges.set(chargeId, now + onceTtlMs);
    // No await between the mark and the adds: nothing else runs in between, which is what makes it atomic here.
    for (const b of buckets) {
      const current = this.spend.get(b.bucket);
      const s = current && current.expires > now ? current : { total: 0, expires: now + Math.ceil(b.ttlMs) };
      s.total += usd;
      this.spend.set(b.bucket, s);
    }
    return true;
  }

  async getSpend(bucket: string): Promise<number> {
    const s = this.spend.get(bucket);
    return s && s.expires > this.now() ? s.total : 0;
  }

  /** Forgets expired state; runs on a timer, public so tests can run it on their own clock. */
  sweep(): void {
    const now = this.now();
    for (const [key, log] of this.logs) if ((log.entries.at(-1)?.at ?? -Infinity) <= now - log.windowMs) this.logs.delete(key);
    for (const [key, leases] of this.slots) {
      for (const [id, expires] of leases) if (expires <= now) leases.delete(id);
      if (leases.size === 0) this.slots.delete(key);
    }
    for (const [bucket, s] of this.spend) if (s.expires <= now) this.spend.delete(bucket);
    for (const [id, expires] of this.charges) if (expires <= now) this.charges.delete(id);
  }

  /** Keys held (windows + slot sets + spend buckets + charge marks), to show that sweeping bounds memory. */
  size(): number {
    return this.logs.size + this.slots.size + this.spend.size + this.charges.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
