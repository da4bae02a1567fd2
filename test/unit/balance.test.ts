import fc from 'fast-check';
import { mulberry32 } from '../../src/util/seeded-random.js';
import { describe, expect, it } from 'vitest';
import { routingPolicySchema, type RoutingPolicyInput } from '../../src/config/balance-schema.js';
import { DEFAULT_HEALTH, healthSchema } from '../../src/config/health-schema.js';
import { effectiveWeight, loadScores, orderGroup, weightedOrder, type BalanceContext, type BalanceMember } from '../../src/decision/balance.js';
import { weightedOrder as planWeightedOrder } from '../../src/decision/plan.js';
import { HealthState, type DeploymentSnapshot, type HealthSnapshot } from '../../src/health/health-state.js';

/** A seeded random, so every scenario is reproducible. */
const seeded = mulberry32;

type Lat = { p50: number; p95?: number; n?: number };

/** A deployment's snapshot: idle, closed, no samples unless given. */
function dep(p: Partial<Omit<DeploymentSnapshot, 'latencyPerTokenMs' | 'ttftMs' | 'latencyMs'>> & { perToken?: Lat; ttft?: Lat; total?: Lat } = {}): DeploymentSnapshot {
  const { perToken, ttft, total, ...rest } = p;
  const pct = (l?: Lat) => ({ p50: l?.p50 ?? null, p95: l ? (l.p95 ?? l.p50) : null });
  return {
    breaker: 'closed',
    allowed: true,
    inFlight: 0,
    queuedTokens: 0,
    latencyPerTokenMs: pct(perToken),
    ttftMs: pct(ttft),
    latencyMs: pct(total),
    tokensPerSecond: null,
    samples: { latency: total?.n ?? 0, perToken: perToken?.n ?? 0, ttft: ttft?.n ?? 0 },
    lastError: null,
    ...rest,
  };
}

const AT = 1_000_000;

function ctx(deployments: Record<string, DeploymentSnapshot>, policy: RoutingPolicyInput = {}, extra: Partial<BalanceContext> = {}): Omit<BalanceContext, 'random'> {
  const snapshot: HealthSnapshot = { at: AT, deployments };
  return {
    snapshot,
    deployments: extra.deployments ?? {},
    policy: routingPolicySchema.parse(policy),
    request: extra.request ?? { inputTokens: 100, maxOutputTokens: 500 },
    ...(extra.gatewayRegion !== undefined && { gatewayRegion: extra.gatewayRegion }),
  };
}

const members = (...names: Array<string | [string, number]>): BalanceMember[] =>
  names.map((n) => (typeof n === 'string' ? { deployment: n, weight: 1 } : { deployment: n[0], weight: n[1] }));

/** How often each deployment comes first over `runs` seeds. */
function firsts(m: BalanceMember[], c: Omit<BalanceContext, 'random'>, runs = 1000): Record<string, number> {
  const count: Record<string, number> = {};
  for (let s = 1; s <= runs; s++) {
    const first = orderGroup(m, { ...c, random: seeded(s) }).order[0]!;
    count[first] = (count[first] ?? 0) + 1;
  }
  return count;
}

describe('balance: weighted (the default)', () => {
  it('without health data draws exactly what planRoute drew before', () => {
    const m = members(['a', 3], ['b', 1], ['c', 2]);
    for (let s = 1; s <= 50; s++) {
      const got = orderGroup(m, { ...ctx({}), random: seeded(s) });
      expect(got.order).toEqual(planWeightedOrder(m, seeded(s)).map((x) => x.deployment));
      expect(got.order).toEqual(weightedOrder(m, seeded(s)).map((x) => x.deployment));
      expect(got.reason).toBe('weighted');
      expect(got.weights).toEqual({ a: 3, b: 1, c: 2 });
    }
  });
});

describe('balance: latency strategy', () => {
  const latency = { strategy: 'latency' } as const;

  it('avoids the slow deployment', () => {
    const c = ctx({ a: dep({ perToken: { p50: 40, n: 20 } }), b: dep({ perToken: { p50: 10, n: 20 } }), c: dep({ perToken: { p50: 25, n: 20 } }) }, latency);
    for (let s = 1; s <= 200; s++) {
      const r = orderGroup(members('a', 'b', 'c'), { ...c, random: seeded(s) });
      // slowest last even where feedback and weights would say otherwise
      expect(r.order).toEqual(['b', 'c', 'a']);
    }
    expect(orderGroup(members('a', 'b', 'c'), { ...c, random: seeded(1) }).reason).toMatch(/^latency: b first, best per_token p50 10 ms\/token, 1 within 20%/);
  });

  it('uses the chosen metric and statistic', () => {
    // a streams its first token sooner, b finishes sooner per token; p95 reverses the ttft ranking
    const snaps = {
      a: dep({ perToken: { p50: 30, n: 20 }, ttft: { p50: 100, p95: 900, n: 20 } }),
      b: dep({ perToken: { p50: 10, n: 20 }, ttft: { p50: 300, p95: 400, n: 20 } }),
    };
    const first = (policy: RoutingPolicyInput) => orderGroup(members('a', 'b'), { ...ctx(snaps, policy), random: seeded(7) }).order[0];
    expect(first({ strategy: 'latency', latency: { metric: 'per_token' } })).toBe('b');
    expect(first({ strategy: 'latency', latency: { metric: 'ttft' } })).toBe('a');
    expect(first({ strategy: 'latency', latency: { metric: 'ttft', stat: 'p95' } })).toBe('b');
  });

  it('within the tolerance the less loaded goes first; equal loads share the traffic by weight', () => {
    const snaps = { a: dep({ perToken: { p50: 10, n: 20 } }), b: dep({ perToken: { p50: 11, n: 20 } }) };
    expect(firsts(members('a', 'b'), ctx(snaps, latency))).toSatisfy((f: Record<string, number>) => f.a! > 400 && f.b! > 400);
    expect(firsts(members('a', ['b', 3]), ctx(snaps, latency))).toSatisfy((f: Record<string, number>) => f.b! > 650 && f.b! < 850);
    const busyA = { ...snaps, a: dep({ perToken: { p50: 10, n: 20 }, inFlight: 4 }) };
    expect(firsts(members('a', 'b'), ctx(busyA, latency))).toEqual({ b: 1000 });
    // outside a tighter tolerance b is simply slower
    expect(firsts(members('a', 'b'), ctx(busyA, { strategy: 'latency', latency: { tolerance: 0.05 } }))).toEqual({ a: 1000 });
  });

  it('deployments with too few samples are explored now and then, otherwise come before the slow ones', () => {
    const snaps = { fast: dep({ perToken: { p50: 10, n: 20 } }), slow: dep({ perToken: { p50: 50, n: 20 } }), fresh: dep({ perToken: { p50: 5, n: 2 } }) };
    const c = ctx(snaps, latency);
    let explored = 0;
    for (let s = 1; s <= 2000; s++) {
      const r = orderGroup(members('fast', 'slow', 'fresh'), { ...c, random: seeded(s) });
      if (r.order[0] === 'fresh') {
        explored++;
        expect(r.order).toEqual(['fresh', 'fast', 'slow']);
        expect(r.reason).toMatch(/exploring fresh/);
      } else expect(r.order).toEqual(['fast', 'fresh', 'slow']);
    }
    expect(explored / 2000).toBeGreaterThan(0.07);
    expect(explored / 2000).toBeLessThan(0.13);
    expect(firsts(members('fast', 'slow', 'fresh'), ctx(snaps, { strategy: 'latency', latency: { explore: 0 } }))).toEqual({ fast: 1000 });
  });

  it('without any measured deployment falls back to the weighted draw', () => {
    const r = orderGroup(members('a', 'b'), { ...ctx({ a: dep({ perToken: { p50: 3, n: 1 } }) }, latency), random: seeded(3) });
    expect(r.reason).toBe('latency: no per_token data yet, weighted');
    expect(r.order.sort()).toEqual(['a', 'b']);
  });
});

describe('balance: least-loaded (power of two choices)', () => {
  const p2c = { strategy: 'least-loaded' } as const;

  it('avoids the loaded deployment', () => {
    const c = ctx({ a: dep({ inFlight: 12, queuedTokens: 12_000 }), b: dep({ inFlight: 1, queuedTokens: 800 }), c: dep({ inFlight: 2, queuedTokens: 1500 }) }, p2c);
    for (let s = 1; s <= 300; s++) {
      const r = orderGroup(members('a', 'b', 'c'), { ...c, random: seeded(s) });
      // a loses every comparison it is drawn into, so it is never first and always last
      expect(r.order[2]).toBe('a');
    }
    expect(orderGroup(members('a', 'b'), { ...c, random: seeded(1) }).reason).toMatch(/^least-loaded: b \(load [\d.]+\) over a \([\d.]+\)$/);
  });

  it('counts queued tokens against observed throughput: the same calls drain slower on a slow deployment', () => {
    const c = ctx({ slow: dep({ inFlight: 2, queuedTokens: 4_000, tokensPerSecond: 20 }), quick: dep({ inFlight: 2, queuedTokens: 4_000, tokensPerSecond: 200 }) }, p2c);
    expect(firsts(members('slow', 'quick'), c)).toEqual({ quick: 1000 });
  });

  it('reads fresh vLLM queues; an idle group shares by weight', () => {
    const engine = (waiting: number, running: number, kvCacheUsage: number) => ({ waiting, running, kvCacheUsage, at: AT - 1000, stale: false });
    const busy = ctx({ a: dep({ engine: engine(4, 60, 0.9) }), b: dep({ engine: engine(0, 10, 0.3) }) }, p2c);
    expect(firsts(members('a', 'b'), busy)).toEqual({ b: 1000 });
    const idle = ctx({}, p2c);
    expect(firsts(members(['a', 3], 'b'), idle)).toSatisfy((f: Record<string, number>) => f.a! > 650 && f.a! < 850);
  });

  it('stale vLLM data is ignored, in the load score and for saturation', () => {
    const engine = (waiting: number, running: number, stale: boolean) => ({ waiting, running, kvCacheUsage: 0.99, at: AT - 60_000, stale });
    const m = members('a', 'b', 'c');
    const base = { b: dep({ engine: { ...engine(2, 10, false), kvCacheUsage: 0.4 } }), c: dep({ engine: { ...engine(6, 30, false), kvCacheUsage: 0.6 } }) };
    const unknown = loadScores(m, ctx({ ...base, a: dep() }, p2c));
    const stale = loadScores(m, ctx({ ...base, a: dep({ engine: engine(50, 200, true) }) }, p2c));
    const fresh = loadScores(m, ctx({ ...base, a: dep({ engine: engine(50, 200, false) }) }, p2c));
    expect(stale).toEqual(unknown);
    // unknown counts as the group average: between the light and the heavy one
    expect(unknown.a).toBeGreaterThan(unknown.b!);
    expect(unknown.a).toBeLessThan(unknown.c!);
    expect(fresh.a).toBeGreaterThan(fresh.c!);

    // fresh, a's 50 waiting would saturate it and send it last; stale, it is not judged
    const r1 = orderGroup(members('a', 'b'), { ...ctx({ a: dep({ engine: engine(50, 200, false) }), b: dep() }), random: seeded(1) });
    expect(r1.order).toEqual(['b', 'a']);
    expect(r1.reason).toMatch(/saturated: a \(waiting 50 >= 8\)/);
    expect(firsts(members('a', 'b'), ctx({ a: dep({ engine: engine(50, 200, true) }), b: dep() }))).toSatisfy((f: Record<string, number>) => f.a! > 400 && f.b! > 400);
  });
});

describe('balance: regions', () => {
  const deployments = { euA: { region: 'eu' }, euB: { region: 'eu' }, us: { region: 'us' }, global: {} };
  const m = members('euA', ['us', 10], 'global', 'euB');
  const engine = (waiting: number) => ({ waiting, running: 20, kvCacheUsage: 0.5, at: AT, stale: false });

  it('prefers the gateway region whatever the weights', () => {
    const c = ctx({}, {}, { deployments, gatewayRegion: 'eu' });
    for (let s = 1; s <= 200; s++) {
      const r = orderGroup(m, { ...c, random: seeded(s) });
      expect(r.order.slice(0, 2).sort()).toEqual(['euA', 'euB']);
      expect(r.reason).toBe('weighted; eu first');
    }
  });

  it('spills to other regions when the local ones are saturated or their breaker is open', () => {
    const c = ctx({ euA: dep({ engine: engine(12) }), euB: dep({ breaker: 'open', allowed: false }) }, {}, { deployments, gatewayRegion: 'eu' });
    for (let s = 1; s <= 200; s++) {
      const r = orderGroup(m, { ...c, random: seeded(s) });
      expect(r.order.slice(0, 2).sort()).toEqual(['global', 'us']);
      expect(r.order.slice(2)).toEqual(['euA', 'euB']);
    }
    expect(orderGroup(m, { ...c, random: seeded(1) }).reason).toMatch(/spill from eu \(euA saturated, euB breaker open\); saturated: euA \(waiting 12 >= 8\); breaker open: euB/);

    // saturation by this gateway's own in-flight calls, when a limit is configured
    const byCount = ctx({ euA: dep({ inFlight: 3 }), euB: dep({ inFlight: 5 }) }, { region: { saturation: { inFlight: 3 } } }, { deployments, gatewayRegion: 'eu' });
    expect(orderGroup(m, { ...byCount, random: seeded(2) }).order.slice(2).sort()).toEqual(['euA', 'euB']);
  });

  it('prefer: any, or no gateway region, leaves regions out of it', () => {
    const any = firsts(m, ctx({}, { region: { prefer: 'any' } }, { deployments, gatewayRegion: 'eu' }));
    const none = firsts(m, ctx({}, {}, { deployments }));
    for (const f of [any, none]) expect(f.us).toBeGreaterThan(700);
  });
});

describe('balance: latency feedback on weights', () => {
  const fb = routingPolicySchema.parse({}).feedback;

  it('effectiveWeight: full weight within the slack, a smooth fall beyond it, a floor, unknown untouched', () => {
    const w = (p50: number | null, samples = 20, best: number | null = 10) => effectiveWeight(2, { p50, samples }, best, fb);
    expect(w(10)).toBe(2);
    expect(w(12.5)).toBe(2);
    expect(w(20)).toBeCloseTo(2 * (12.5 / 20) ** 2, 12);
    expect(w(20.01)).toBeLessThan(w(20));
    expect(w(12.6)).toBeGreaterThan(1.95); // continuous at the edge of the slack
    expect(w(1_000)).toBe(2 * fb.floor);
    expect(w(100, 4)).toBe(2); // too few samples
    expect(w(null)).toBe(2);
    expect(w(100, 20, null)).toBe(2);
    expect(effectiveWeight(2, undefined, 10, fb)).toBe(2);
    expect(effectiveWeight(2, { p50: 100, samples: 20 }, 10, { ...fb, enabled: false })).toBe(2);
  });

  it('a deployment whose latency degrades loses weight, and regains it when it recovers', () => {
    const config = healthSchema.parse({ latency: { windowMs: 60_000 } });
    const clock = { t: AT };
    const health = new HealthState({ config, now: () => clock.t, deployments: ['a', 'b'] });
    const call = (d: string, latencyMs: number) => {
      const h = health.begin(d, { queuedTokens: 600 });
      health.end(h, { ok: true, latencyMs, outputTokens: 100 });
      clock.t += 100;
    };
    const m = members('a', 'b');
    const order = () => orderGroup(m, { ...ctx({}), snapshot: health.snapshot(), random: seeded(1) });

    for (let i = 0; i < 20; i++) (call('a', 1_000), call('b', 1_000)); // both 10 ms/token
    expect(order().weights).toEqual({ a: 1, b: 1 });

    for (let i = 0; i < 40; i++) (call('a', 1_000), call('b', 2_500)); // b degrades to 25 ms/token
    const degraded = order();
    expect(degraded.weights).toEqual({ a: 1, b: (12.5 / 25) ** 2 });
    expect(degraded.reason).toBe('weighted; slow, weight cut: b x0.25');
    const share = firsts(m, { ...ctx({}), snapshot: health.snapshot() }, 2000);
    expect(share.b! / 2000).toBeGreaterThan(0.15); // 0.25 / 1.25 expected
    expect(share.b! / 2000).toBeLessThan(0.25);

    for (let i = 0; i < 100; i++) (call('a', 1_000), call('b', 10_000)); // then to 100 ms/token
    expect(order().weights!.b).toBe(0.1); // the floor: still probed now and then

    clock.t += 60_000; // the slow calls leave the window...
    for (let i = 0; i < 20; i++) (call('a', 1_000), call('b', 1_100)); // ...and b answers at 11 ms/token again
    expect(order().weights).toEqual({ a: 1, b: 1 });
  });
});

describe('balance: breaker', () => {
  it('deployments the breaker refuses go last under every strategy', () => {
    const snaps = {
      a: dep({ breaker: 'open', allowed: false, perToken: { p50: 1, n: 50 } }),
      b: dep({ perToken: { p50: 30, n: 50 }, inFlight: 3 }),
      c: dep({ perToken: { p50: 20, n: 50 }, inFlight: 5 }),
      d: dep({ breaker: 'half_open', allowed: false }),
    };
    for (const strategy of ['weighted', 'least-loaded', 'latency'] as const) {
      for (let s = 1; s <= 100; s++) {
        const r = orderGroup(members(['a', 50], 'b', 'c', ['d', 50]), { ...ctx(snaps, { strategy }), random: seeded(s) });
        expect(r.order.slice(2)).toEqual(['a', 'd']);
        expect(r.strategy).toBe(strategy);
        // a's old, fast samples do not count as the group's best while it is shut out
        expect(r.weights).toEqual({ a: 50, b: (25 / 30) ** 2, c: 1, d: 50 });
        expect(r.reason).toMatch(/breaker open: a, d$/);
      }
    }
  });
});

describe('balance: properties', () => {
  const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
  const lat = fc.option(fc.record({ p50: fc.double({ min: 0, max: 500, noNaN: true }), n: fc.nat(30) }), { nil: undefined });
  const snapshot = fc.record({
    allowed: fc.boolean(),
    inFlight: fc.nat(20),
    queuedTokens: fc.nat(100_000),
    tokensPerSecond: fc.option(fc.double({ min: 0.1, max: 500, noNaN: true }), { nil: null }),
    perToken: lat,
    ttft: lat,
    total: lat,
    engine: fc.option(
      fc.record({ waiting: fc.nat(50), running: fc.nat(100), kvCacheUsage: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }), at: fc.constant(AT), stale: fc.boolean() }),
      { nil: undefined },
    ),
  });

  it('orderGroup returns a permutation of its members', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ deployment: name, weight: fc.double({ min: 0.01, max: 100, noNaN: true }) }), { minLength: 0, maxLength: 8 }),
        fc.dictionary(name, snapshot),
        fc.dictionary(name, fc.record({ region: fc.option(fc.constantFrom('eu', 'us'), { nil: undefined }) })),
        fc.constantFrom('weighted', 'least-loaded', 'latency'),
        fc.constantFrom('local', 'any'),
        fc.option(fc.constantFrom('eu', 'us'), { nil: undefined }),
        fc.integer(),
        (m, snaps, regions, strategy, prefer, gatewayRegion, seed) => {
          const deployments = Object.fromEntries(Object.entries(snaps).map(([k, s]) => [k, dep(s.engine ? s : { ...s, engine: undefined })]));
          const deps = Object.fromEntries(Object.entries(regions).map(([k, r]) => [k, r.region === undefined ? {} : { region: r.region }]));
          const c = ctx(deployments, { strategy, region: { prefer } }, { deployments: deps, ...(gatewayRegion !== undefined && { gatewayRegion }) });
          const r = orderGroup(m, { ...c, random: seeded(seed) });
          expect([...r.order].sort()).toEqual(m.map((x) => x.deployment).sort());
          expect(r.reason).toMatch(/^[\x20-\x7e]+$/); // one printable ASCII line: header-safe
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('balance: defaults', () => {
  it('an alias without a routing block gets weighted with feedback, local region first', () => {
    expect(routingPolicySchema.parse({})).toEqual({
      strategy: 'weighted',
      latency: { metric: 'per_token', stat: 'p50', tolerance: 0.2, minSamples: 5, explore: 0.1 },
      feedback: { enabled: true, slack: 0.25, exponent: 2, floor: 0.1, minSamples: 5 },
      region: { prefer: 'local', saturation: { waiting: 8, kvCacheUsage: 0.95 } },
    });
    expect(() => routingPolicySchema.parse({ strategy: 'fastest' })).toThrow();
    expect(() => routingPolicySchema.parse({ feedback: { floor: 0 } })).toThrow();
    expect(DEFAULT_HEALTH.engine).toEqual({ scrapeIntervalMs: 5_000, timeoutMs: 2_000, maxAgeMs: 15_000 });
  });
});
