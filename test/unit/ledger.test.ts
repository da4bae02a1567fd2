/**
 * The ledger: attempts priced in one place, a request charged once by its chargeId — repeated, concurrent, or
 * retried after a store error — with one log record and one count in the cost metric per charge.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyRegistry, hashKey } from '../../src/auth/keys.js';
import type { AuthConfig } from '../../src/config/types.js';
import type { Attempt } from '../../src/decision/attempt.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { costOfAttempts, priceAttempt } from '../../src/ledger/price.js';
import { spendBuckets } from '../../src/limits/budget.js';
import { MemoryLimitStore } from '../../src/limits/memory-store.js';
import type { LimitStore } from '../../src/limits/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';

const NOW = new Date('2026-11-25T10:00:00Z');
const PRICE = { inputPerMTok: 2.5, outputPerMTok: 10 };

const attempt = (over: Partial<Attempt>): Attempt => ({
  deployment: 'oa-main',
  provider: 'oa',
  alias: 'chat',
  stage: 'primary',
  attempt: 1,
  outcome: 'ok',
  latencyMs: 10,
  ...over,
});

/** A 429 (no usage), then another deployment answers with 1000 in / 200 out. */
function pricedTrail(): Attempt[] {
  const failed = attempt({ outcome: 'error', kind: 'rate_limited', status: 429 });
  priceAttempt(failed, undefined, PRICE);
  const answered = attempt({ deployment: 'an-main', provider: 'an', stage: 'switch' });
  priceAttempt(answered, { prompt_tokens: 1000, completion_tokens: 200 }, PRICE);
  return [failed, answered];
}
const TRAIL_COST = (1000 * 2.5 + 200 * 10) / 1e6; // 0.0045

function keys(dailyBudgetUsd?: number): KeyRegistry {
  const auth = { mode: 'keys', keys: [{ id: 'k1', tenant: 'acme', hash: hashKey('secret-k1'), limits: { ...(dailyBudgetUsd !== undefined && { dailyBudgetUsd }) } }] };
  return new KeyRegistry(auth as unknown as AuthConfig);
}

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('info', dest), charges: () => lines.filter((l) => l.msg === 'charge') };
}

async function costMetric(m: GatewayMetrics, labels: Record<string, string> = {}): Promise<number> {
  return valueOf(parsePrometheus((await m.render()).body), 'llm_gateway_cost_usd_total', labels);
}

/** A store whose charge step fails the first `failures` times, before anything is written (a Redis timeout). */
class FlakyStore extends MemoryLimitStore {
  calls = 0;
  constructor(private failures: number) {
    super({ now: () => NOW.getTime() });
  }
  override async addSpendOnce(...args: Parameters<LimitStore['addSpendOnce']>): Promise<boolean> {
    this.calls++;
    if (this.failures-- > 0) throw new Error('store unavailable');
    return super.addSpendOnce(...args);
  }
}

describe('priceAttempt / costOfAttempts', () => {
  it('puts usage and cost on the attempt; no usage costs nothing; no price keeps the tokens at $0', () => {
    const [failed, answered] = pricedTrail() as [Attempt, Attempt];
    expect(failed).toMatchObject({ costUsd: 0 });
    expect(failed.inputTokens).toBeUndefined();
    expect(answered).toMatchObject({ inputTokens: 1000, outputTokens: 200 });
    expect(answered.costUsd).toBeCloseTo(TRAIL_COST, 15);
    const free = attempt({});
    priceAttempt(free, { prompt_tokens: 5, completion_tokens: 7 }, undefined);
    expect(free).toMatchObject({ costUsd: 0, inputTokens: 5, outputTokens: 7 });
  });

  it('a request costs the sum of its attempts (every stage, judge and hedge leg is one)', () => {
    const stage = attempt({});
    priceAttempt(stage, { prompt_tokens: 100, completion_tokens: 10 }, PRICE);
    const judge = attempt({ deployment: 'judge' });
    priceAttempt(judge, { prompt_tokens: 300, completion_tokens: 1 }, PRICE);
    const cancelledHedge = attempt({ outcome: 'cancelled', hedge: true });
    priceAttempt(cancelledHedge, null, PRICE);
    expect(costOfAttempts([stage, judge, cancelledHedge])).toBeCloseTo((100 * 2.5 + 10 * 10 + 300 * 2.5 + 1 * 10) / 1e6, 15);
    expect(costOfAttempts([])).toBe(0);
  });
});

describe('Ledger.charge', () => {
  it('charges a chargeId once: budgets, the log record and the cost metric count the first call only', async () => {
    const store = new MemoryLimitStore({ now: () => NOW.getTime() });
    const metrics = new GatewayMetrics();
    const { logger, charges } = logSink();
    const ledger = new Ledger({ store, keys: keys(), logger, metrics, clock: () => NOW });
    const c = { chargeId: 'req-1', keyId: 'k1', tenant: 'acme', alias: 'chat', path: 'fast' as const, attempts: pricedTrail() };

    expect(await ledger.charge(c)).toEqual({ costUsd: TRAIL_COST, charged: true });
    expect(await ledger.charge(c)).toEqual({ costUsd: TRAIL_COST, charged: false });

    const b = spendBuckets('k1', NOW);
    expect(await store.getSpend(b.day)).toBe(TRAIL_COST);
    expect(await store.getSpend(b.month)).toBe(TRAIL_COST);
    expect(await costMetric(metrics)).toBe(TRAIL_COST);
    expect(await costMetric(metrics, { alias: 'chat', deployment: 'an-main', provider: 'an' })).toBe(TRAIL_COST);
    expect(charges()).toHaveLength(1);
    expect(charges()[0]).toMatchObject({ chargeId: 'req-1', keyId: 'k1', tenant: 'acme', alias: 'chat', path: 'fast', costUsd: TRAIL_COST });
    expect((charges()[0]!.attempts as Array<{ deployment: string; costUsd: number }>).map((a) => [a.deployment, a.costUsd])).toEqual([
      ['oa-main', 0],
      ['an-main', TRAIL_COST],
    ]);
    // another request of the same key is another charge
    expect((await ledger.charge({ ...c, chargeId: 'req-2' })).charged).toBe(true);
    expect(await store.getSpend(b.day)).toBeCloseTo(2 * TRAIL_COST, 15);
  });

  it('concurrent charges of one id (a retried activity racing its first try) count once', async () => {
    const store = new MemoryLimitStore({ now: () => NOW.getTime() });
    const metrics = new GatewayMetrics();
    const { logger, charges } = logSink();
    const ledger = new Ledger({ store, keys: keys(), logger, metrics, clock: () => NOW });
    const c = { chargeId: 'wf-1', keyId: 'k1', alias: 'chat', path: 'durable' as const, attempts: pricedTrail() };
    const results = await Promise.all(Array.from({ length: 10 }, () => ledger.charge(c)));
    expect(results.filter((r) => r.charged)).toHaveLength(1);
    expect(await store.getSpend(spendBuckets('k1', NOW).day)).toBe(TRAIL_COST);
    expect(await costMetric(metrics)).toBe(TRAIL_COST);
    expect(charges()).toHaveLength(1);
  });

  it('a store error charges nothing (no spend, log or metric); the retry charges exactly once', async () => {
    const store = new FlakyStore(1);
    const metrics = new GatewayMetrics();
    const { logger, charges } = logSink();
    const ledger = new Ledger({ store, keys: keys(), logger, metrics, clock: () => NOW });
    const c = { chargeId: 'batch:b1:3', keyId: 'k1', alias: 'chat', path: 'batch' as const, attempts: pricedTrail() };
    await expect(ledger.charge(c)).rejects.toThrow('store unavailable');
    expect(await store.getSpend(spendBuckets('k1', NOW).day)).toBe(0);
    expect(await costMetric(metrics)).toBe(0);
    expect(charges()).toHaveLength(0);

    expect((await ledger.charge(c)).charged).toBe(true);
    expect((await ledger.charge(c)).charged).toBe(false);
    expect(store.calls).toBe(3);
    expect(await store.getSpend(spendBuckets('k1', NOW).day)).toBe(TRAIL_COST);
    expect(await costMetric(metrics)).toBe(TRAIL_COST);
    expect(charges()).toHaveLength(1);
  });

  it('without keys (auth none) it still logs and meters once, with marks in memory of its own', async () => {
    const metrics = new GatewayMetrics();
    const { logger, charges } = logSink();
    const ledger = new Ledger({ logger, metrics });
    const c = { chargeId: 'req-9', alias: 'chat', path: 'fast' as const, attempts: pricedTrail() };
    expect(await ledger.charge(c)).toEqual({ costUsd: TRAIL_COST, charged: true });
    expect(await ledger.charge(c)).toEqual({ costUsd: TRAIL_COST, charged: false });
    expect(await costMetric(metrics)).toBe(TRAIL_COST);
    expect(charges()).toHaveLength(1);
    expect(await ledger.refusal('k1')).toBeUndefined();
    await ledger.close();
  });

  it('refuses a key once its budget is spent (charges are what spends it); unknown keys have no budget', async () => {
    const store = new MemoryLimitStore({ now: () => NOW.getTime() });
    const ledger = new Ledger({ store, keys: keys(0.008), clock: () => NOW });
    const c = { keyId: 'k1', alias: 'chat', path: 'durable' as const, attempts: pricedTrail() };
    await ledger.charge({ ...c, chargeId: 'a' });
    expect(await ledger.refusal('k1')).toBeUndefined(); // 0.0045 of 0.008
    await ledger.charge({ ...c, chargeId: 'a' }); // a repeat does not spend
    expect(await ledger.refusal('k1')).toBeUndefined();
    await ledger.charge({ ...c, chargeId: 'b' });
    expect(await ledger.refusal('k1')).toMatchObject({ status: 429, code: 'budget_exceeded' });
    expect(await ledger.refusal('nobody')).toBeUndefined();
  });
});
