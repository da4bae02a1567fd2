import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTING_POLICY, routingPolicySchema } from '../../src/config/balance-schema.js';
import { applyRouteHint, parseRouteHint } from '../../src/decision/route-hints.js';

describe('x-gateway-route', () => {
  it('absent or blank: no hint', () => {
    for (const v of [undefined, '', '   ', []]) expect(parseRouteHint(v)).toEqual({ ok: true, hint: null });
  });

  it('names a strategy, case-insensitively', () => {
    expect(parseRouteHint('fastest')).toEqual({ ok: true, hint: { strategy: 'latency' } });
    expect(parseRouteHint(' Latency ')).toEqual({ ok: true, hint: { strategy: 'latency' } });
    expect(parseRouteHint('least-loaded')).toEqual({ ok: true, hint: { strategy: 'least-loaded' } });
    expect(parseRouteHint(['weighted'])).toEqual({ ok: true, hint: { strategy: 'weighted' } });
  });

  it('fastest takes metric, stat and tolerance', () => {
    expect(parseRouteHint('fastest; metric=ttft; stat=P95; tolerance=0.1')).toEqual({
      ok: true,
      hint: { strategy: 'latency', latency: { metric: 'ttft', stat: 'p95', tolerance: 0.1 } },
    });
    expect(parseRouteHint('fastest;metric=total;')).toEqual({ ok: true, hint: { strategy: 'latency', latency: { metric: 'total' } } });
  });

  it('refuses what it does not know, with a short message', () => {
    const error = (v: string | string[]) => {
      const r = parseRouteHint(v);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.error;
    };
    expect(error('cheapest')).toMatch(/^Invalid x-gateway-route header: unknown directive 'cheapest' \(expected one of fastest, latency, least-loaded, weighted\)$/);
    expect(error('fastest; metric=speed')).toMatch(/metric must be one of ttft, per_token, total/);
    expect(error('fastest; stat=p99')).toMatch(/stat must be one of p50, p95/);
    for (const t of ['tolerance=-1', 'tolerance=abc', 'tolerance=', 'tolerance=11']) expect(error(`fastest; ${t}`)).toMatch(/tolerance must be a number from 0 to 10/);
    expect(error('fastest; color=red')).toMatch(/unknown parameter 'color'/);
    expect(error('least-loaded; metric=ttft')).toMatch(/'least-loaded' takes no parameters/);
    expect(error('fastest, weighted')).toMatch(/takes one directive, got 2/);
    expect(error(['fastest', 'weighted'])).toMatch(/takes one directive, got 2/);
    expect(error('x'.repeat(500)).length).toBeLessThan(200);
  });

  it('applies over the alias policy without touching the rest of it', () => {
    const policy = routingPolicySchema.parse({ strategy: 'least-loaded', latency: { metric: 'ttft', tolerance: 0.3 }, region: { prefer: 'any' } });
    const r = parseRouteHint('fastest; stat=p95');
    if (!r.ok) throw new Error(r.error);
    expect(applyRouteHint(policy, r.hint)).toEqual({ ...policy, strategy: 'latency', latency: { ...policy.latency, stat: 'p95' } });
    expect(applyRouteHint(policy, null)).toBe(policy);
    expect(DEFAULT_ROUTING_POLICY.latency.stat).toBe('p50'); // the default was not mutated
  });
});
