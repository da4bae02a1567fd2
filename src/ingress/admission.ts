/**
 * Per-key limits, checked before anything costs money: daily and monthly spend budgets, concurrent requests,
 * requests per minute and tokens per minute. Tokens are charged at admission from the estimate (input +
 * requested output) and corrected when the real usage is known; spend is added when the answer's cost is.
 * A refusal is a 429 with Retry-After; nothing is charged for a refused request.
 */
import type { Request, Response } from 'express';
import type { Principal } from '../auth/keys.js';
import type { LimitStore } from '../limits/index.js';
import { HttpError } from '../protocol/errors.js';
import { principalOf } from './auth.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

export interface Settlement {
  /** Tokens actually used (input + output), when known. */
  tokens?: number;
  costUsd?: number;
}

function tooMany(message: string, code: string, retryAfterMs: number): HttpError {
  return new HttpError(429, message, 'rate_limit_error', code, null, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
}

function dayKey(now: Date): string {
  return now.toISOString().slice(0, 10);
}

function monthKey(now: Date): string {
  return now.toISOString().slice(0, 7);
}

function msToNextDay(now: Date): number {
  return DAY - (now.getTime() % DAY);
}

function msToNextMonth(now: Date): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime();
}

export class Admission {
  constructor(
    private readonly store: LimitStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  spendBuckets(keyId: string, now = this.clock()): { day: string; month: string } {
    return { day: `spend:d:${dayKey(now)}:${keyId}`, month: `spend:m:${monthKey(now)}:${keyId}` };
  }

  spend(bucket: string): Promise<number> {
    return this.store.getSpend(bucket);
  }

  /** The 429 a key gets once a spend budget is used up; undefined while it has budget left. */
  async budgetRefusal(p: Pick<Principal, 'keyId' | 'limits'>): Promise<HttpError | undefined> {
    const { limits } = p;
    const now = this.clock();
    const buckets = this.spendBuckets(p.keyId, now);
    if (limits.dailyBudgetUsd !== undefined && (await this.store.getSpend(buckets.day)) >= limits.dailyBudgetUsd) {
      return tooMany(`Daily budget of $${limits.dailyBudgetUsd} for this key is spent`, 'budget_exceeded', msToNextDay(now));
    }
    if (limits.monthlyBudgetUsd !== undefined && (await this.store.getSpend(buckets.month)) >= limits.monthlyBudgetUsd) {
      return tooMany(`Monthly budget of $${limits.monthlyBudgetUsd} for this key is spent`, 'budget_exceeded', msToNextMonth(now));
    }
    return undefined;
  }

  /** Adds spend to the key's day and month (also for work answered later, by a worker: batches, async requests). */
  async addSpend(keyId: string, costUsd: number): Promise<void> {
    if (!(costUsd > 0)) return;
    const buckets = this.spendBuckets(keyId);
    await this.store.addSpend(buckets.day, costUsd, 2 * DAY);
    await this.store.addSpend(buckets.month, costUsd, 32 * DAY);
  }

  /** Admits the request or throws a 429; the returned settle function must run once, when the response ends. */
  async admit(p: Principal, estimatedTokens: number): Promise<(s: Settlement) => Promise<void>> {
    const { limits } = p;
    const refusal = await this.budgetRefusal(p);
    if (refusal) throw refusal;

    const undo: Array<() => Promise<void>> = [];
    const rollback = async () => {
      for (const u of undo.reverse()) await u();
    };
    try {
      if (limits.concurrent !== undefined) {
        const slot = await this.store.acquire(`conc:${p.keyId}`, limits.concurrent, 10 * MINUTE);
        if (!slot.ok) throw tooMany(`At most ${limits.concurrent} concurrent requests for this key`, 'concurrency_limit_exceeded', 1000);
        undo.push(() => this.store.release(`conc:${p.keyId}`, slot.lease!));
      }
      if (limits.requestsPerMinute !== undefined) {
        const r = await this.store.take(`rpm:${p.keyId}`, 1, limits.requestsPerMinute, MINUTE);
        if (!r.allowed) throw tooMany(`Rate limit of ${limits.requestsPerMinute} requests per minute reached`, 'rate_limit_exceeded', r.retryAfterMs);
        undo.push(() => this.store.refund(`rpm:${p.keyId}`, 1, MINUTE));
      }
      if (limits.tokensPerMinute !== undefined) {
        const cost = Math.min(Math.max(1, estimatedTokens), limits.tokensPerMinute);
        const r = await this.store.take(`tpm:${p.keyId}`, cost, limits.tokensPerMinute, MINUTE);
        if (!r.allowed) throw tooMany(`Rate limit of ${limits.tokensPerMinute} tokens per minute reached`, 'tokens_limit_exceeded', r.retryAfterMs);
      }
    } catch (err) {
      await rollback();
      throw err;
    }

    const release = undo[0] && limits.concurrent !== undefined ? undo[0] : undefined;
    const charged = limits.tokensPerMinute !== undefined ? Math.min(Math.max(1, estimatedTokens), limits.tokensPerMinute) : 0;
    let settled = false;
    return async (s: Settlement) => {
      if (settled) return;
      settled = true;
      await release?.();
      if (charged > 0 && s.tokens !== undefined) {
        // Over-use beyond the estimate is charged best-effort (a full window cannot take more).
        if (s.tokens < charged) await this.store.refund(`tpm:${p.keyId}`, charged - s.tokens, MINUTE);
        else if (s.tokens > charged) await this.store.take(`tpm:${p.keyId}`, s.tokens - charged, limits.tokensPerMinute!, MINUTE);
      }
      if (s.costUsd) await this.addSpend(p.keyId, s.costUsd);
    };
  }
}

const settlements = new WeakMap<Response, Settlement>();

/** Handlers report what the answer used; the settlement runs when the response closes. */
export function reportUsage(res: Response, s: Settlement): void {
  settlements.set(res, { ...settlements.get(res), ...s });
}

/** Admits the request for its key, and settles when the response is done, however it ends. */
export async function admitRequest(admission: Admission | undefined, req: Request, res: Response, estimatedTokens: number, onError: (err: unknown) => void): Promise<void> {
  if (!admission) return;
  const settle = await admission.admit(principalOf(req), estimatedTokens);
  const run = () => void settle(settlements.get(res) ?? {}).catch(onError);
  // The client may have left while the store answered: then 'close' has fired already.
  if (res.destroyed || res.writableFinished) run();
  else res.once('close', run);
}
