/** The state behind per-key limits, shared by every gateway instance that uses the same store. */
export interface TakeResult {
  allowed: boolean;
  /** Units still free in the window after this call. */
  remaining: number;
  /** When not allowed: ms until `cost` units would fit (0 when allowed; `windowMs` if `cost` > `limit`, which never fits). */
  retryAfterMs: number;
}

export interface LimitStore {
  /**
   * Admits `cost` units against `limit` per sliding `windowMs` for `key`, atomically; a refusal consumes nothing.
   * Algorithm: sliding log (every admission is logged with its time; usage is the sum logged in the last windowMs),
   * exact where GCRA and sliding-window counters let up to 2x the limit through in some windows.
   */
  take(key: string, cost: number, limit: number, windowMs: number): Promise<TakeResult>;
  /**
   * Records `cost` units in the window whatever the limit (usage found out after admission: tokens beyond the
   * estimate). The window may go past its limit; later takes then wait until it drains.
   */
  record(key: string, cost: number, windowMs: number): Promise<void>;
  /** Gives back units charged earlier (an estimate larger than the real use); usage never goes below zero. */
  refund(key: string, cost: number, windowMs: number): Promise<void>;
  /** A concurrency slot; a lease expires after ttlMs so a crashed instance cannot hold slots forever. */
  acquire(key: string, limit: number, ttlMs: number): Promise<{ ok: boolean; lease?: string }>;
  release(key: string, lease: string): Promise<void>;
  /** Adds spend (USD) to a bucket that expires ttlMs after its first spend; returns the new total. */
  addSpend(bucket: string, usd: number, ttlMs: number): Promise<number>;
  getSpend(bucket: string): Promise<number>;
  /**
   * The idempotent charge, in one atomic step: the first call for `chargeId` marks it (for onceTtlMs) and adds
   * `usd` to every bucket (each expiring ttlMs after its first spend) and returns true; any later call with the
   * same id, from any instance sharing the store, changes nothing and returns false. `buckets` may be empty (no
   * key to charge: the charge is still marked once).
   */
  addSpendOnce(chargeId: string, onceTtlMs: number, usd: number, buckets: readonly { bucket: string; ttlMs: number }[]): Promise<boolean>;
  close(): Promise<void>;
}

/*
 * Both stores check arguments the same way, so a bad value fails loudly in tests against the memory store
 * instead of turning into NaN arithmetic (memory) or a Lua error (Redis) in production.
 */
export function units(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  return v;
}

/** Whole milliseconds, because Redis expiries are. */
export function duration(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a finite number of ms > 0, got ${v}`);
  return Math.ceil(v);
}

export function finite(name: string, v: number): number {
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number, got ${v}`);
  return v;
}
