/**
 * Admission's token settlement: the estimate is taken up front, refunded down to the real use, and real use
 * beyond it is always recorded in the window — even past the limit — so a request that asked for little and
 * used a lot (no max_tokens, n > 1) still makes the next ones wait.
 */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/keys.js';
import { Admission } from '../../src/limits/admission.js';
import { MemoryLimitStore } from '../../src/limits/memory-store.js';

let now = 1_764_000_000_000;
const clock = () => now;
const principal = (limits: Principal['limits']): Principal => ({ keyId: 'k1', tenant: 'acme', limits });

async function refusalOf(p: Promise<unknown>): Promise<{ status: number; code: string; retryAfterS: number } | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    const e = err as { status: number; body(): { error: { code: string } }; headers: Record<string, string> };
    return { status: e.status, code: e.body().error.code, retryAfterS: Number(e.headers['retry-after']) };
  }
}

describe('tokens per minute', () => {
  it('records output beyond the estimate even when the window is full: the next request waits', async () => {
    const store = new MemoryLimitStore({ now: clock });
    const admission = new Admission(store, () => new Date(now));
    const p = principal({ tokensPerMinute: 100 });
    const settle = await admission.admit(p, 30); // asked for 30 (no max_tokens: input only)
    await settle({ tokens: 150 }); // and used 150: 50 over the whole limit
    expect(await refusalOf(admission.admit(p, 1))).toMatchObject({ status: 429, code: 'tokens_limit_exceeded' });
    now += 60_001;
    await (await admission.admit(p, 1))({ tokens: 1 });
  });

  it('an estimate of input + max_tokens × n larger than the window is admitted alone, and its overage recorded', async () => {
    const store = new MemoryLimitStore({ now: clock });
    const admission = new Admission(store, () => new Date(now));
    const p = principal({ tokensPerMinute: 1000 });
    // n = 4 choices of max_tokens 300, 50 input: 1250 estimated, the whole window taken
    const settle = await admission.admit(p, 50 + 300 * 4);
    expect(await refusalOf(admission.admit(p, 10))).toMatchObject({ status: 429, code: 'tokens_limit_exceeded' });
    now += 30_000;
    await settle({ tokens: 1250 }); // the answer arrives 30 s later: 250 beyond what admission took
    now += 30_001;
    // the 1000 taken at admission have left the window; the 250 recorded at the answer have not
    const refused = await refusalOf(admission.admit(p, 800));
    expect(refused).toMatchObject({ status: 429, code: 'tokens_limit_exceeded' });
    expect(refused!.retryAfterS).toBeGreaterThanOrEqual(29);
    await (await admission.admit(p, 750))({ tokens: 750 });
  });

  it('refunds an estimate larger than the use, so the freed tokens admit the next request', async () => {
    const store = new MemoryLimitStore({ now: clock });
    const admission = new Admission(store, () => new Date(now));
    const p = principal({ tokensPerMinute: 100 });
    const settle = await admission.admit(p, 90);
    expect(await refusalOf(admission.admit(p, 20))).toMatchObject({ code: 'tokens_limit_exceeded' });
    await settle({ tokens: 40 });
    await (await admission.admit(p, 60))({ tokens: 60 });
    expect(await refusalOf(admission.admit(p, 1))).toMatchObject({ code: 'tokens_limit_exceeded' });
  });

  it('settling frees the concurrency slot and runs once; settlement never adds spend (the ledger does)', async () => {
    const store = new MemoryLimitStore({ now: clock });
    const admission = new Admission(store, () => new Date(now));
    const p = principal({ concurrent: 1, tokensPerMinute: 1000, dailyBudgetUsd: 1 });
    const settle = await admission.admit(p, 10);
    expect(await refusalOf(admission.admit(p, 10))).toMatchObject({ code: 'concurrency_limit_exceeded' });
    await settle({ tokens: 500 });
    await settle({ tokens: 500 }); // a second settle changes nothing
    const next = await admission.admit(p, 490);
    expect(await refusalOf(admission.admit(p, 10))).toMatchObject({ code: 'concurrency_limit_exceeded' });
    await next({ tokens: 490 });
    const b = admission.spendBuckets('k1', new Date(now));
    expect(await admission.spend(b.day)).toBe(0);
  });
});
