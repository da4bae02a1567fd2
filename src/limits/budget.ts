/**
 * Spend budgets per key: the calendar buckets spend is added to, and the 429 once one is used up. Shared by
 * admission (refuses before anything costs money) and the ledger (adds what was spent), so both name the same
 * buckets.
 */
import type { Principal } from '../auth/keys.js';
import { HttpError } from '../protocol/errors.js';
import type { LimitStore } from './types.js';

const DAY = 86_400_000;

export interface SpendBucket {
  bucket: string;
  /** A calendar bucket outlives its period a little, so a late read of a just-ended day still sees it. */
  ttlMs: number;
}

/** A 429 of the key's own limits, with the exact wait (the Retry-After header is in whole seconds). */
export class LimitRefusal extends HttpError {
  constructor(
    message: string,
    code: string,
    readonly retryAfterMs: number,
  ) {
    super(429, message, 'rate_limit_error', code, null, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
  }

  /** Capacity comes back within a minute (requests, tokens, concurrency); a spent budget only with the next day or month. */
  get passes(): boolean {
    return this.code !== 'budget_exceeded';
  }
}

export function tooMany(message: string, code: string, retryAfterMs: number): LimitRefusal {
  return new LimitRefusal(message, code, retryAfterMs);
}

export function spendBuckets(keyId: string, now: Date): { day: string; month: string } {
  return { day: `spend:d:${now.toISOString().slice(0, 10)}:${keyId}`, month: `spend:m:${now.toISOString().slice(0, 7)}:${keyId}` };
}

/** Where a charge made now goes: the key's day and month. */
export function chargeBuckets(keyId: string, now: Date): SpendBucket[] {
  const b = spendBuckets(keyId, now);
  return [
    { bucket: b.day, ttlMs: 2 * DAY },
    { bucket: b.month, ttlMs: 32 * DAY },
  ];
}

function msToNextDay(now: Date): number {
  return DAY - (now.getTime() % DAY);
}

function msToNextMonth(now: Date): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime();
}

/** The 429 a key gets once a spend budget is used up; undefined while it has budget left. */
export async function budgetRefusal(store: LimitStore, p: Pick<Principal, 'keyId' | 'limits'>, now: Date): Promise<HttpError | undefined> {
  const { limits } = p;
  const buckets = spendBuckets(p.keyId, now);
  if (limits.dailyBudgetUsd !== undefined && (await store.getSpend(buckets.day)) >= limits.dailyBudgetUsd) {
    return tooMany(`Daily budget of $${limits.dailyBudgetUsd} for this key is spent`, 'budget_exceeded', msToNextDay(now));
  }
  if (limits.monthlyBudgetUsd !== undefined && (await store.getSpend(buckets.month)) >= limits.monthlyBudgetUsd) {
    return tooMany(`Monthly budget of $${limits.monthlyBudgetUsd} for this key is spent`, 'budget_exceeded', msToNextMonth(now));
  }
  return undefined;
}
