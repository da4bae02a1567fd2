import { describe, expect, it } from 'vitest';
import { breakerSchema, type BreakerConfig } from '../../src/config/health-schema.js';
import { admit, cooldownFor, initialBreaker, record, view, type BreakerOutcome, type BreakerState } from '../../src/decision/breaker.js';
import type { ErrorKind } from '../../src/providers/errors.js';

const cfg: BreakerConfig = breakerSchema.parse({});
const ok: BreakerOutcome = { type: 'success' };
const fail = (kind: ErrorKind = 'server', retryAfterMs?: number): BreakerOutcome => ({ type: 'failure', kind, ...(retryAfterMs !== undefined && { retryAfterMs }) });

function run(outcomes: BreakerOutcome[], at = 0, c: BreakerConfig = cfg, start: BreakerState = initialBreaker()): BreakerState {
  return outcomes.reduce((s, o) => record(s, o, at, c), start);
}

/** Trips the breaker at `at` with consecutive server errors. */
const opened = (at = 0, c: BreakerConfig = cfg, retryAfterMs?: number) =>
  run([...Array(c.consecutiveFailures - 1).fill(fail()), fail('server', retryAfterMs)], at, c);

describe('breaker: opening', () => {
  it('opens on consecutive failures, and a success in between resets the streak', () => {
    const four = run(Array(4).fill(fail()));
    expect(four.phase).toBe('closed');
    expect(run([ok, fail()], 0, cfg, four).phase).toBe('closed');
    expect(run([fail()], 0, cfg, four).phase).toBe('open');
    expect(run([ok, fail()], 0, cfg, four).consecutiveFailures).toBe(1);
  });

  it('opens on the failure rate once minRequests is reached, not before', () => {
    const c = { ...cfg, consecutiveFailures: 100 };
    // alternating: rate 0.5 from the start, but 9 requests are too few to judge
    const nine = run([fail(), ok, fail(), ok, fail(), ok, fail(), ok, ok], 0, c);
    expect(nine.phase).toBe('closed');
    expect(view(nine, 0, c)).toMatchObject({ requests: 9, failures: 4, failureRate: 4 / 9 });
    const ten = run([fail()], 0, c, nine);
    expect(ten.phase).toBe('open');
    expect(ten.reason).toMatch(/5\/10 failed/);
  });

  it('stays closed below the threshold', () => {
    const c = { ...cfg, consecutiveFailures: 100 };
    const s = run([fail(), ok, ok, fail(), ok, ok, fail(), ok, ok, fail(), ok, ok], 0, c);
    expect(s.phase).toBe('closed');
  });

  it.each<ErrorKind>(['bad_request', 'content_filter', 'context_length', 'auth', 'permission', 'not_found'])('ignores %s: it is not the provider’s health', (kind) => {
    const s = run(Array(50).fill(fail(kind)));
    expect(s.phase).toBe('closed');
    expect(view(s, 0, cfg)).toMatchObject({ requests: 0, failures: 0, consecutiveFailures: 0 });
    // and it does not break a streak of real failures either
    expect(run([fail(), fail(), fail(), fail(), fail(kind), fail()]).phase).toBe('open');
  });

  it.each<ErrorKind>(['rate_limited', 'overloaded', 'timeout', 'connection', 'server'])('counts %s', (kind) => {
    expect(run(Array(5).fill(fail(kind))).phase).toBe('open');
  });

  it('forgets failures once the window rolls past them', () => {
    const c = { ...cfg, consecutiveFailures: 100 };
    const early = run([fail(), fail(), fail(), fail(), fail(), ok, ok, ok, ok], 0, c); // 5/9
    // within the window, one more failure makes 6/10: open
    expect(record(early, fail(), 30_000, c).phase).toBe('open');
    // a whole window later the nine are gone: 1/1 is below minRequests
    const later = record(early, fail(), 60_000, c);
    expect(later.phase).toBe('closed');
    expect(view(later, 60_000, c)).toMatchObject({ requests: 1, failures: 1 });
    expect(later.buckets.length).toBe(1);
  });

  it('keeps at most `buckets` buckets however long it runs', () => {
    const c = { ...cfg, consecutiveFailures: 1_000_000 };
    let s = initialBreaker();
    for (let t = 0; t < 600_000; t += 500) s = record(s, t % 1500 === 1000 ? fail('timeout') : ok, t, c);
    expect(s.buckets.length).toBeLessThanOrEqual(c.buckets);
    expect(s.phase).toBe('closed');
    expect(view(s, 600_000, c).failureRate).toBeCloseTo(1 / 3, 1);
  });
});

describe('breaker: cool-down', () => {
  it('refuses calls until the cool-down ends', () => {
    const s = opened(1_000);
    expect(s.until).toBe(1_000 + cfg.cooldownMs);
    const early = admit(s, 1_000 + cfg.cooldownMs - 1, cfg);
    expect(early).toMatchObject({ allowed: false, retryAt: 1_000 + cfg.cooldownMs });
    expect(view(s, 2_000, cfg)).toMatchObject({ state: 'open', opens: 1, until: 1_000 + cfg.cooldownMs });
  });

  it('honours a Retry-After longer than the cool-down', () => {
    const s = opened(0, cfg, 90_000);
    expect(s.until).toBe(90_000);
    expect(admit(s, 89_999, cfg).allowed).toBe(false);
    expect(admit(s, 90_000, cfg).allowed).toBe(true);
  });

  it('does not shorten the cool-down for a short Retry-After', () => {
    expect(opened(0, cfg, 1_000).until).toBe(cfg.cooldownMs);
  });

  it('grows the cool-down for repeated opens, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => cooldownFor(n, cfg))).toEqual([30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
    expect(cooldownFor(6, cfg, 400_000)).toBe(400_000);
  });
});

describe('breaker: half-open', () => {
  const afterCooldown = cfg.cooldownMs;

  it('admits at most halfOpenProbes probes at once', () => {
    let s = opened(0);
    const a = admit(s, afterCooldown, cfg);
    const b = admit(a.state, afterCooldown, cfg);
    const c = admit(b.state, afterCooldown, cfg);
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false]);
    expect(a.probe).toBe(1);
    expect(c.state.phase).toBe('half_open');
    expect(c.state.probesInFlight).toBe(2);
    // a probe released without a verdict frees its slot
    s = record(c.state, { type: 'released', probe: a.probe }, afterCooldown + 5, cfg);
    expect(s.phase).toBe('half_open');
    expect(admit(s, afterCooldown + 5, cfg).allowed).toBe(true);
  });

  it('a neutral error on a probe only frees the slot', () => {
    const a = admit(opened(0), afterCooldown, cfg);
    const s = record(a.state, { type: 'failure', kind: 'bad_request', probe: a.probe }, afterCooldown, cfg);
    expect(s).toMatchObject({ phase: 'half_open', probesInFlight: 0 });
  });

  it('a probe success closes and resets the counts', () => {
    const a = admit(opened(0), afterCooldown, cfg);
    const s = record(a.state, { type: 'success', probe: a.probe }, afterCooldown + 100, cfg);
    expect(s.phase).toBe('closed');
    expect(view(s, afterCooldown + 100, cfg)).toMatchObject({ state: 'closed', requests: 0, failures: 0, consecutiveFailures: 0, opens: 1 });
    // the streak is reset: the next open starts from the base cool-down again
    const again = run(Array(5).fill(fail()), 40_000, cfg, s);
    expect(again.until).toBe(40_000 + cfg.cooldownMs);
  });

  it('a probe failure re-opens for longer', () => {
    const a = admit(opened(0), afterCooldown, cfg);
    const s = record(a.state, { type: 'failure', kind: 'overloaded', probe: a.probe }, afterCooldown + 10, cfg);
    expect(s.phase).toBe('open');
    expect(s.until).toBe(afterCooldown + 10 + 2 * cfg.cooldownMs);
    expect(s.reason).toMatch(/probe failed: overloaded/);
    // and again: longer still
    const b = admit(s, s.until!, cfg);
    const t = record(b.state, { type: 'failure', kind: 'timeout', probe: b.probe }, s.until!, cfg);
    expect(t.until! - s.until!).toBe(4 * cfg.cooldownMs);
    expect(t.opens).toBe(3);
  });

  it('ignores outcomes that are not probes of the current trial', () => {
    const a = admit(opened(0), afterCooldown, cfg);
    // a call admitted before the breaker opened finally fails: no verdict on the trial
    expect(record(a.state, fail(), afterCooldown + 1, cfg)).toBe(a.state);
    expect(record(a.state, ok, afterCooldown + 1, cfg)).toBe(a.state);
    // while open, nothing moves it
    const open = opened(0);
    expect(record(open, ok, 10, cfg)).toBe(open);
  });

  it('starts a new trial when probes never report back', () => {
    const a = admit(opened(0), afterCooldown, cfg);
    const b = admit(a.state, afterCooldown, cfg);
    expect(admit(b.state, afterCooldown + cfg.probeTimeoutMs - 1, cfg).allowed).toBe(false);
    const c = admit(b.state, afterCooldown + cfg.probeTimeoutMs, cfg);
    expect(c.allowed).toBe(true);
    expect(c.probe).toBe(2);
    // the lost probe's late answer belongs to the old trial
    expect(record(c.state, { type: 'success', probe: a.probe }, afterCooldown + cfg.probeTimeoutMs, cfg).phase).toBe('half_open');
  });

  it('view reports an expired cool-down as half-open', () => {
    expect(view(opened(0), afterCooldown, cfg)).toMatchObject({ state: 'half_open', until: null });
  });
});

describe('breaker: state is plain data', () => {
  it('survives a JSON round trip and is never mutated', () => {
    const s = opened(0);
    const frozen = JSON.parse(JSON.stringify(s)) as BreakerState;
    expect(frozen).toEqual(s);
    const a = admit(frozen, cfg.cooldownMs, cfg);
    expect(frozen).toEqual(s);
    expect(a.state).not.toBe(frozen);
  });

  it('config rejects a cap below the base cool-down', () => {
    expect(() => breakerSchema.parse({ cooldownMs: 10_000, maxCooldownMs: 5_000 })).toThrow(/maxCooldownMs|at least/);
  });
});
