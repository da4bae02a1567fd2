/**
 * The settle stage: once the exchange is over and the pipeline has finished (a stream's last attempt is
 * priced only at its end), the key's token window is corrected to the real use and the request is charged,
 * once, under its charge id. Work a worker executes (durable requests) is charged there, not here. A charge
 * that fails is retried as a charge — the provider is never called again for it.
 */
import type { Logger } from 'pino';
import type { Attempt } from '../decision/attempt.js';
import type { Settle } from '../limits/admission.js';
import type { ChargeInput, Ledger } from '../ledger/ledger.js';
import type { Reply } from './reply.js';
import type { Trail } from './trail.js';

/** Tokens the upstream reported for all of the request's calls (stages, judges, retries), when any did. */
export function tokensUsed(attempts: readonly Attempt[]): number | undefined {
  let total: number | undefined;
  for (const a of attempts) {
    if (a.inputTokens === undefined && a.outputTokens === undefined) continue;
    total = (total ?? 0) + (a.inputTokens ?? 0) + (a.outputTokens ?? 0);
  }
  return total;
}

const CHARGE_RETRIES_MS = [100, 500, 2_000, 5_000, 15_000];

/** Charges, retrying a failing store a few times in the background; a charge still failing after that is logged with its amount. */
export async function chargeWithRetry(ledger: Ledger, charge: ChargeInput, logger: Logger, delays = CHARGE_RETRIES_MS): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await ledger.charge(charge);
      return;
    } catch (err) {
      if (i >= delays.length) {
        logger.error({ err, chargeId: charge.chargeId, keyId: charge.keyId, attempts: charge.attempts.length }, 'charging a request failed; its cost is not in the budget');
        return;
      }
      await new Promise((r) => setTimeout(r, delays[i]).unref());
    }
  }
}

export interface SettleFacts {
  trail: Trail;
  admission?: Settle;
  /** Absent when another layer charges (a worker, for durable work). */
  charge?: Omit<ChargeInput, 'attempts'>;
  ledger?: Ledger;
  logger: Logger;
}

export async function settleRequest(f: SettleFacts): Promise<void> {
  const attempts = f.trail.attempts ?? [];
  try {
    await f.admission?.({ tokens: tokensUsed(attempts) });
  } catch (err) {
    f.logger.error({ err }, 'settling a request against its limits failed');
  }
  if (f.charge && f.ledger && attempts.length > 0) await chargeWithRetry(f.ledger, { ...f.charge, attempts }, f.logger);
}

/**
 * Settles once both are over: the exchange with the client (answered, or it left) and the pipeline's run (a
 * stream's last attempt is priced only at its end). The request log waits for `trail.settled`.
 */
export function settleWhenOver(reply: Reply, run: Promise<unknown>, f: SettleFacts): void {
  const exchangeOver = new Promise<void>((resolve) => reply.onDone(resolve));
  f.trail.settled = Promise.allSettled([run, exchangeOver]).then(() => settleRequest(f));
}
