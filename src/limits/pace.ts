/**
 * Admission for work nobody waits on at the door (batch lines): instead of a 429, the line waits until its
 * key has capacity again (requests and tokens per minute, concurrency), so a limited key's batch runs at the
 * key's limit, not past it and not failed by it. The same counters as the key's synchronous requests are
 * taken, so both share one limit. A spent budget is not waited for: that refusal stands.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Principal } from '../auth/keys.js';
import type { Admission, Settle } from './admission.js';
import { LimitRefusal } from './budget.js';

/** Waits of a paced admission stay in this range: short enough to notice freed capacity, long enough not to spin. */
const MIN_WAIT_MS = 25;
const MAX_WAIT_MS = 5_000;

export interface PacerOptions {
  /** How a wait is spent (tests pass one that moves a fake clock); rejects when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const realSleep = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal });

export class Pacer {
  constructor(
    private readonly admission: Admission,
    /** The key's current limits by its id (batch records carry the id, never the key). */
    private readonly principalOf: (keyId: string) => Principal | undefined,
    private readonly opts: PacerOptions = {},
  ) {}

  /**
   * Resolves once the key's limits admit `tokens` more (its settle then runs once, when the work ends), or
   * with undefined when the key has no such limits; throws the budget's 429, or the signal's reason on abort.
   */
  async admit(keyId: string, tokens: number, signal: AbortSignal): Promise<Settle | undefined> {
    const principal = this.principalOf(keyId);
    if (!principal) return undefined;
    const { requestsPerMinute, tokensPerMinute, concurrent } = principal.limits;
    if (requestsPerMinute === undefined && tokensPerMinute === undefined && concurrent === undefined) return undefined;
    for (;;) {
      signal.throwIfAborted();
      try {
        return await this.admission.admit(principal, tokens);
      } catch (err) {
        if (!(err instanceof LimitRefusal) || !err.passes) throw err;
        const ms = Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, err.retryAfterMs));
        await (this.opts.sleep ?? realSleep)(ms, signal);
      }
    }
  }
}
