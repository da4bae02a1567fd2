/**
 * The one charge per request. Whichever layer executed the request (the fast path's settle stage, the durable
 * worker at the end of a workflow, a batch chunk per line) calls `charge` with a chargeId that names the request;
 * the first call adds the cost of its attempts to the key's budgets, writes one `charge` log record and feeds the
 * cost metric; every later call with the same id (a retried activity, a retried chunk, another instance sharing
 * the store) does nothing. Mark and spend are one atomic store step, so a store error before it leaves nothing
 * charged and a retry charges once.
 *
 * Without keys (auth none) there is no limit store: the ledger keeps its marks in an in-memory store of its own
 * (still logged and metered, no budget).
 */
import type { Logger } from 'pino';
import type { KeyRegistry } from '../auth/keys.js';
import type { Attempt } from '../decision/attempt.js';
import { budgetRefusal, chargeBuckets } from '../limits/budget.js';
import { MemoryLimitStore } from '../limits/memory-store.js';
import type { LimitStore } from '../limits/types.js';
import type { HttpError } from '../protocol/errors.js';
import { costOfAttempts } from './price.js';

export type ChargePath = 'fast' | 'durable' | 'batch';

export interface ChargeInput {
  chargeId: string;
  keyId?: string;
  tenant?: string;
  alias: string;
  path: ChargePath;
  attempts: readonly Attempt[];
}

/** Where the charge's cost is counted (GatewayMetrics.charged), once per priced attempt. */
export interface CostSink {
  charged(labels: { alias: string; deployment: string; provider: string }, usd: number): void;
}

export interface LedgerOptions {
  /** The limit store budgets live in; omitted (auth none): a private in-memory one, only for the marks. */
  store?: LimitStore;
  keys?: KeyRegistry;
  logger?: Pick<Logger, 'info'>;
  metrics?: CostSink;
  clock?: () => Date;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * How long a charge stays marked: longer than anything that could repeat it, and no longer, since every mark
 * is held in the store (at 1000 fast requests/s, two minutes of marks is 120k keys). A fast-path charge is
 * repeated only by its own settle stage's retries (under 25 s); a workflow's charge activity and a batch chunk
 * are retried by Temporal for as long as the run lives (batches: days).
 */
const ONCE_TTL_MS: Record<ChargePath, number> = { fast: 2 * MINUTE, durable: 8 * DAY, batch: 8 * DAY };

export class Ledger {
  private readonly store: LimitStore;
  private readonly ownStore?: MemoryLimitStore;
  private readonly clock: () => Date;

  constructor(private readonly opts: LedgerOptions = {}) {
    if (opts.store) this.store = opts.store;
    else this.store = this.ownStore = new MemoryLimitStore();
    this.clock = opts.clock ?? (() => new Date());
  }

  async charge(c: ChargeInput): Promise<{ costUsd: number; charged: boolean }> {
    const costUsd = costOfAttempts(c.attempts);
    // Only keys the registry knows have budgets (a key removed from the config since is still logged).
    const budgeted = c.keyId !== undefined && this.opts.store !== undefined && this.opts.keys?.byId(c.keyId) !== undefined;
    const buckets = budgeted && costUsd > 0 ? chargeBuckets(c.keyId!, this.clock()) : [];
    const charged = await this.store.addSpendOnce(c.chargeId, ONCE_TTL_MS[c.path], costUsd, buckets);
    if (!charged) return { costUsd, charged: false };
    for (const a of c.attempts) {
      if (a.costUsd) this.opts.metrics?.charged({ alias: c.alias, deployment: a.deployment, provider: a.provider }, a.costUsd);
    }
    this.opts.logger?.info(
      {
        chargeId: c.chargeId,
        keyId: c.keyId,
        tenant: c.tenant,
        alias: c.alias,
        path: c.path,
        costUsd,
        attempts: c.attempts.map((a) => ({
          deployment: a.deployment,
          provider: a.provider,
          attempt: a.attempt,
          outcome: a.outcome,
          costUsd: a.costUsd ?? 0,
          inputTokens: a.inputTokens,
          outputTokens: a.outputTokens,
        })),
      },
      'charge',
    );
    return { costUsd, charged: true };
  }

  /** The budget refusal for this key right now, if its budget is spent (unknown keys have no budget here). */
  async refusal(keyId: string): Promise<HttpError | undefined> {
    const principal = this.opts.keys?.byId(keyId);
    if (!principal || !this.opts.store) return undefined;
    return budgetRefusal(this.opts.store, principal, this.clock());
  }

  async close(): Promise<void> {
    await this.ownStore?.close();
  }
}
