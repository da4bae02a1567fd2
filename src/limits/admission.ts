/**
 * Per-key limits, checked before anything costs money: daily and monthly spend budgets, concurrent requests,
 * requests per minute and tokens per minute. Tokens are taken at admission from the estimate (input +
 * max output × n, computed by the caller) and corrected when the real usage is known: below the estimate the
 * difference is refunded, above it the overage is always recorded, even past the limit, so requests that ask
 * for little and use a lot still count (later requests wait). Spend is not part of settlement: the ledger
 * charges it once per request (src/ledger). A refusal is a 429 with Retry-After; nothing is taken for it.
 */
import type { Principal } from '../auth/keys.js';
import type { HttpError } from '../protocol/errors.js';
import { budgetRefusal, spendBuckets, tooMany } from './budget.js';
import type { LimitStore } from './types.js';

const MINUTE = 60_000;

export interface Settlement {
  /** Tokens actually used (input + output), when known. */
  tokens?: number;
}

export type Settle = (s: Settlement) => Promise<void>;

export class Admission {
  constructor(
    private readonly store: LimitStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  spendBuckets(keyId: string, now = this.clock()): { day: string; month: string } {
    return spendBuckets(keyId, now);
  }

  spend(bucket: string): Promise<number> {
    return this.store.getSpend(bucket);
  }

  /** The 429 a key gets once a spend budget is used up; undefined while it has budget left. */
  budgetRefusal(p: Pick<Principal, 'keyId' | 'limits'>): Promise<HttpError | undefined> {
    return budgetRefusal(this.store, p, this.clock());
  }

  /** Admits the request or throws a 429; the returned settle function must run once, when the request ends. */
  async admit(p: Principal, estimatedTokens: number): Promise<Settle> {
    const { limits } = p;
    const refusal = await this.budgetRefusal(p);
    if (refusal) throw refusal;

    const undo: Array<() => Promise<void>> = [];
    const rollback = async () => {
      for (const u of undo.reverse()) await u();
    };
    // A single request larger than the whole window is admitted alone (taking the full window), not refused forever.
    const taken = limits.tokensPerMinute !== undefined ? Math.min(Math.max(1, estimatedTokens), limits.tokensPerMinute) : 0;
    let release: (() => Promise<void>) | undefined;
    try {
      if (limits.concurrent !== undefined) {
        const slot = await this.store.acquire(`conc:${p.keyId}`, limits.concurrent, 10 * MINUTE);
        if (!slot.ok) throw tooMany(`At most ${limits.concurrent} concurrent requests for this key`, 'concurrency_limit_exceeded', 1000);
        release = () => this.store.release(`conc:${p.keyId}`, slot.lease!);
        undo.push(release);
      }
      if (limits.requestsPerMinute !== undefined) {
        const r = await this.store.take(`rpm:${p.keyId}`, 1, limits.requestsPerMinute, MINUTE);
        if (!r.allowed) throw tooMany(`Rate limit of ${limits.requestsPerMinute} requests per minute reached`, 'rate_limit_exceeded', r.retryAfterMs);
        undo.push(() => this.store.refund(`rpm:${p.keyId}`, 1, MINUTE));
      }
      if (limits.tokensPerMinute !== undefined) {
        const r = await this.store.take(`tpm:${p.keyId}`, taken, limits.tokensPerMinute, MINUTE);
        if (!r.allowed) throw tooMany(`Rate limit of ${limits.tokensPerMinute} tokens per minute reached`, 'tokens_limit_exceeded', r.retryAfterMs);
      }
    } catch (err) {
      await rollback();
      throw err;
    }

    let settled = false;
    return async (s: Settlement) => {
      if (settled) return;
      settled = true;
      await release?.();
      if (taken > 0 && s.tokens !== undefined) {
        if (s.tokens < taken) await this.store.refund(`tpm:${p.keyId}`, taken - s.tokens, MINUTE);
        else if (s.tokens > taken) await this.store.record(`tpm:${p.keyId}`, s.tokens - taken, MINUTE);
      }
    };
  }
}
