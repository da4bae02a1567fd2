import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH, healthSchema } from '../../src/config/health-schema.js';
import { HealthState, type CallOutcome } from '../../src/health/health-state.js';

function setup(config = DEFAULT_HEALTH) {
  const clock = { t: 1_000_000 };
  const health = new HealthState({ config, now: () => clock.t, deployments: ['a', 'b'] });
  /** One complete call: begin, advance the clock by its latency, end. */
  const call = (deployment: string, outcome: CallOutcome) => {
    const h = health.begin(deployment);
    clock.t += outcome.latencyMs;
    health.end(h, outcome);
    return h;
  };
  return { clock, health, call };
}

describe('health config', () => {
  it('has defaults for everything', () => {
    expect(healthSchema.parse({})).toEqual({
      breaker: {
        failureRateThreshold: 0.5,
        minRequests: 10,
        windowMs: 60_000,
        buckets: 10,
        consecutiveFailures: 5,
        cooldownMs: 30_000,
        maxCooldownMs: 300_000,
        cooldownGrowth: 2,
        halfOpenProbes: 2,
        probeTimeoutMs: 120_000,
      },
      latency: { windowMs: 300_000, maxSamples: 1_000 },
      engine: { scrapeIntervalMs: 5_000, timeoutMs: 2_000, maxAgeMs: 15_000 },
    });
    expect(() => healthSchema.parse({ engine: { scrapeIntervalMs: 1_000, timeoutMs: 2_000 } })).toThrow(/timeoutMs/);
    expect(() => healthSchema.parse({ engine: { scrapeIntervalMs: 10_000, maxAgeMs: 5_000 } })).toThrow(/maxAgeMs/);
    expect(healthSchema.parse({ breaker: { minRequests: 3 } }).breaker.minRequests).toBe(3);
    expect(() => healthSchema.parse({ breaker: { nope: 1 } })).toThrow();
  });
});

describe('health state: in-flight', () => {
  it('counts calls between begin and end, once per handle', () => {
    const { health } = setup();
    const h1 = health.begin('a');
    const h2 = health.begin('a');
    health.begin('b');
    expect(health.snapshot().deployments.a!.inFlight).toBe(2);
    expect(health.snapshot().deployments.b!.inFlight).toBe(1);
    health.end(h1, { ok: true, latencyMs: 10 });
    health.end(h1, { ok: true, latencyMs: 10 }); // a second end is ignored
    expect(health.snapshot().deployments.a!.inFlight).toBe(1);
    expect(health.snapshot().deployments.a!.samples.latency).toBe(1);
    health.end(h2, { ok: false, latencyMs: 5 }); // aborted by the client: no verdict
    expect(health.snapshot().deployments.a).toMatchObject({ inFlight: 0, lastError: null, breaker: 'closed' });
  });

  it('lists configured deployments before any call and others once called', () => {
    const { health } = setup();
    expect(Object.keys(health.snapshot().deployments)).toEqual(['a', 'b']);
    expect(health.snapshot().deployments.a).toMatchObject({ breaker: 'closed', allowed: true, inFlight: 0, tokensPerSecond: null, latencyMs: { p50: null, p95: null } });
    health.begin('c');
    expect(Object.keys(health.snapshot().deployments)).toEqual(['a', 'b', 'c']);
  });
});

describe('health state: queued tokens', () => {
  it('a call queues its tokens on the deployment until it ends, once', () => {
    const { health } = setup();
    const h1 = health.begin('a', { queuedTokens: 1_500 });
    const h2 = health.begin('a', { queuedTokens: 700 });
    health.begin('b');
    expect(h1.queuedTokens).toBe(1_500);
    expect(health.snapshot().deployments.a).toMatchObject({ inFlight: 2, queuedTokens: 2_200 });
    expect(health.snapshot().deployments.b).toMatchObject({ inFlight: 1, queuedTokens: 0 });
    health.end(h1, { ok: true, latencyMs: 10 });
    health.end(h1, { ok: true, latencyMs: 10 });
    expect(health.snapshot().deployments.a).toMatchObject({ inFlight: 1, queuedTokens: 700 });
    health.end(h2, { ok: false, kind: 'server', latencyMs: 10 });
    expect(health.snapshot().deployments.a).toMatchObject({ inFlight: 0, queuedTokens: 0 });
  });

  it('nonsense token counts count as none; a call the breaker refuses queues nothing', () => {
    const { health, call } = setup();
    for (const n of [NaN, -5, Infinity]) health.begin('b', { queuedTokens: n });
    expect(health.snapshot().deployments.b!.queuedTokens).toBe(0);
    for (let i = 0; i < 5; i++) call('a', { ok: false, kind: 'server', latencyMs: 10 });
    const refused = health.begin('a', { queuedTokens: 900 });
    expect(refused).toMatchObject({ allowed: false, queuedTokens: 0 });
    expect(health.snapshot().deployments.a!.queuedTokens).toBe(0);
  });
});

describe('health state: engine numbers', () => {
  it('appear once set, and turn stale after maxAgeMs', () => {
    const config = healthSchema.parse({ engine: { scrapeIntervalMs: 1_000, timeoutMs: 500, maxAgeMs: 3_000 } });
    const { health, clock } = setup(config);
    expect(health.snapshot().deployments.a!.engine).toBeUndefined();
    expect('engine' in health.snapshot().deployments.a!).toBe(false);
    const at = clock.t;
    health.setEngineStats('a', { waiting: 3, running: 12, kvCacheUsage: 0.4 }, at);
    expect(health.snapshot().deployments.a!.engine).toEqual({ waiting: 3, running: 12, kvCacheUsage: 0.4, at, stale: false });
    expect(health.snapshot(at + 3_000).deployments.a!.engine!.stale).toBe(false);
    expect(health.snapshot(at + 3_001).deployments.a!.engine).toEqual({ waiting: 3, running: 12, kvCacheUsage: 0.4, at, stale: true });
    // a fresh reading makes it current again; an older one arriving late does not overwrite it
    health.setEngineStats('a', { waiting: 0, running: 1, kvCacheUsage: null }, at + 4_000);
    health.setEngineStats('a', { waiting: 9, running: 9, kvCacheUsage: 0.9 }, at + 3_500);
    expect(health.snapshot(at + 4_000).deployments.a!.engine).toEqual({ waiting: 0, running: 1, kvCacheUsage: null, at: at + 4_000, stale: false });
    expect(health.view(at + 4_000).deployments.a!.engine).toMatchObject({ waiting: 0, stale: false });
    expect(health.snapshot().deployments.b!.engine).toBeUndefined();
  });
});

describe('health state: snapshot numbers', () => {
  it('latency, per-token latency, TTFT and throughput from scripted calls', () => {
    const { health, call, clock } = setup();
    // ten successful streams: latency 100..1000 ms, 10 output tokens each, TTFT 10..100 ms
    for (let i = 1; i <= 10; i++) call('a', { ok: true, latencyMs: i * 100, ttftMs: i * 10, outputTokens: 10 });
    // a fast failure must not make the deployment look fast
    call('a', { ok: false, kind: 'server', latencyMs: 1 });
    const a = health.snapshot().deployments.a!;
    expect(a.latencyMs).toEqual({ p50: 500, p95: 1000 });
    expect(a.latencyPerTokenMs).toEqual({ p50: 50, p95: 100 });
    expect(a.ttftMs).toEqual({ p50: 50, p95: 100 });
    // 100 tokens over 5.5 s of generation
    expect(a.tokensPerSecond).toBeCloseTo(100 / 5.5, 10);
    expect(a.samples).toEqual({ latency: 10, perToken: 10, ttft: 10 });
    expect(a.lastError).toEqual({ kind: 'server', at: clock.t });
    expect(health.snapshot().deployments.b!.samples.latency).toBe(0);
  });

  it('TTFT counts for a stream that broke after its first token; latency does not', () => {
    const { health, call } = setup();
    call('a', { ok: false, kind: 'connection', latencyMs: 400, ttftMs: 40, outputTokens: 3 });
    expect(health.snapshot().deployments.a).toMatchObject({ ttftMs: { p50: 40 }, samples: { latency: 0, perToken: 0, ttft: 1 }, tokensPerSecond: null });
  });

  it('samples leave the snapshot with the latency window', () => {
    const config = healthSchema.parse({ latency: { windowMs: 10_000 } });
    const { health, call, clock } = setup(config);
    call('a', { ok: true, latencyMs: 200, outputTokens: 4 });
    expect(health.snapshot().deployments.a!.samples.latency).toBe(1);
    expect(health.snapshot(clock.t + 10_000).deployments.a).toMatchObject({ samples: { latency: 0 }, latencyMs: { p50: null }, tokensPerSecond: null });
  });

  it('snapshot and view are plain, serialisable data', () => {
    const { health, call } = setup();
    call('a', { ok: true, latencyMs: 120, ttftMs: 30, outputTokens: 6 });
    call('b', { ok: false, kind: 'rate_limited', retryAfterMs: 1000, latencyMs: 3 });
    const snap = health.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(structuredClone(snap)).toEqual(snap);
    const v = health.view();
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
    expect(v.deployments.b!.breaker).toMatchObject({ state: 'closed', requests: 1, failures: 1, consecutiveFailures: 1 });
    expect(v.deployments.a!.meanLatencyMs).toBe(120);
  });
});

describe('health state: breaker integration', () => {
  it('five consecutive 500s shut the deployment out; after the cool-down one probe at a time goes through', () => {
    const config = healthSchema.parse({ breaker: { halfOpenProbes: 1 } });
    const { health, call, clock } = setup(config);
    for (let i = 0; i < 5; i++) call('a', { ok: false, kind: 'server', latencyMs: 10 });
    const openedAt = clock.t;
    expect(health.snapshot().deployments.a).toMatchObject({ breaker: 'open', allowed: false });
    expect(health.snapshot().deployments.b).toMatchObject({ breaker: 'closed', allowed: true });

    const refused = health.begin('a');
    expect(refused).toMatchObject({ allowed: false, retryAt: openedAt + 30_000 });
    expect(health.snapshot().deployments.a!.inFlight).toBe(0);
    health.end(refused, { ok: true, latencyMs: 1 }); // harmless
    expect(health.snapshot().deployments.a!.samples.latency).toBe(0);

    clock.t = openedAt + 30_000;
    // the snapshot peeks without taking the probe slot
    expect(health.snapshot().deployments.a).toMatchObject({ breaker: 'half_open', allowed: true });
    const probe = health.begin('a');
    expect(probe.allowed).toBe(true);
    expect(probe.probe).toBeDefined();
    expect(health.begin('a').allowed).toBe(false);
    expect(health.snapshot().deployments.a).toMatchObject({ breaker: 'half_open', allowed: false, inFlight: 1 });

    clock.t += 200;
    health.end(probe, { ok: true, latencyMs: 200, outputTokens: 20 });
    expect(health.snapshot().deployments.a).toMatchObject({ breaker: 'closed', allowed: true, inFlight: 0 });
    expect(health.view().deployments.a!.breaker).toMatchObject({ state: 'closed', opens: 1, consecutiveFailures: 0 });
  });

  it('a failed probe re-opens for longer, honouring Retry-After', () => {
    const { health, call, clock } = setup();
    for (let i = 0; i < 5; i++) call('a', { ok: false, kind: 'overloaded', latencyMs: 10 });
    clock.t += 30_000;
    const probe = health.begin('a');
    health.end(probe, { ok: false, kind: 'rate_limited', retryAfterMs: 120_000, latencyMs: 5 });
    expect(health.view().deployments.a!.breaker).toMatchObject({ state: 'open', opens: 2, until: clock.t + 120_000 });
    expect(health.snapshot().deployments.a!.lastError).toEqual({ kind: 'rate_limited', at: clock.t });
  });

  it('4xx answers never open the breaker', () => {
    const { health, call } = setup();
    for (let i = 0; i < 20; i++) call('a', { ok: false, kind: i % 2 ? 'bad_request' : 'context_length', latencyMs: 10 });
    expect(health.snapshot().deployments.a).toMatchObject({ breaker: 'closed', allowed: true, lastError: { kind: 'bad_request' } });
  });
});
