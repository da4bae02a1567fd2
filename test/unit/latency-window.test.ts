import { describe, expect, it } from 'vitest';
import { LatencyWindow } from '../../src/health/latency-window.js';

const fill = (w: LatencyWindow, values: number[], at = 0) => values.forEach((v) => w.add(v, at));

describe('latency window: quantiles', () => {
  it('nearest rank on known data', () => {
    const w = new LatencyWindow({ windowMs: 1_000, maxSamples: 1_000 });
    // 1..100 shuffled: the p-th percentile by nearest rank is exactly p
    const values = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    fill(w, values);
    expect(w.quantile(0.5, 0)).toBe(50);
    expect(w.quantile(0.95, 0)).toBe(95);
    expect(w.quantile(0.07, 0)).toBe(7); // 0.07 × 100 is 7.000000000000001 in floating point
    expect(w.quantile(0.99, 0)).toBe(99);
    expect(w.quantile(1, 0)).toBe(100);
    expect(w.quantile(0, 0)).toBe(1);
    expect(w.count(0)).toBe(100);
    expect(w.mean(0)).toBe(50.5);
    expect(w.sum(0)).toBe(5050);
  });

  it('small samples: the worked example of the nearest-rank method', () => {
    const w = new LatencyWindow({ windowMs: 1_000, maxSamples: 10 });
    fill(w, [15, 20, 35, 40, 50]);
    expect([0.05, 0.3, 0.4, 0.5, 1].map((q) => w.quantile(q, 0))).toEqual([15, 20, 20, 35, 50]);
    expect(w.quantile(0.95, 0)).toBe(50);
  });

  it('is empty-safe and rejects nonsense', () => {
    const w = new LatencyWindow({ windowMs: 1_000, maxSamples: 10 });
    expect(w.quantile(0.5, 0)).toBeNull();
    expect(w.mean(0)).toBeNull();
    expect(w.count(0)).toBe(0);
    expect(w.sum(0)).toBe(0);
    expect(() => w.quantile(1.5, 0)).toThrow(RangeError);
    expect(() => w.add(Number.NaN, 0)).toThrow(RangeError);
    expect(() => new LatencyWindow({ windowMs: 0, maxSamples: 10 })).toThrow(RangeError);
  });
});

describe('latency window: eviction', () => {
  it('by age: a sample lives while now - at < windowMs', () => {
    const w = new LatencyWindow({ windowMs: 1_000, maxSamples: 100 });
    w.add(100, 0);
    w.add(200, 500);
    w.add(300, 900);
    expect(w.count(999)).toBe(3);
    expect(w.count(1_000)).toBe(2);
    expect(w.quantile(0.5, 1_000)).toBe(200);
    expect(w.mean(1_499)).toBe(250);
    expect(w.count(1_500)).toBe(1);
    expect(w.quantile(0.95, 1_500)).toBe(300);
    expect(w.count(1_900)).toBe(0);
    expect(w.quantile(0.5, 1_900)).toBeNull();
  });

  it('a true sliding window: each sample leaves at its own time, not with a bucket', () => {
    const w = new LatencyWindow({ windowMs: 100, maxSamples: 1_000 });
    for (let t = 0; t < 100; t++) w.add(t, t);
    for (let now = 100; now < 200; now += 7) {
      // live: now - 99 ≤ t ≤ 99
      expect(w.count(now)).toBe(199 - now);
      expect(w.quantile(0, now)).toBe(now - 99);
    }
  });

  it('by count: keeps the newest maxSamples', () => {
    const w = new LatencyWindow({ windowMs: 1_000_000, maxSamples: 3 });
    fill(w, [1, 2, 3, 4, 5], 0);
    expect(w.count(0)).toBe(3);
    expect(w.quantile(0, 0)).toBe(3);
    expect(w.sum(0)).toBe(12);
  });

  it('a clock stepping back does not keep stale samples alive or lose new ones', () => {
    const w = new LatencyWindow({ windowMs: 1_000, maxSamples: 10 });
    w.add(1, 5_000);
    w.add(2, 4_000); // stamped as 5000
    expect(w.count(5_999)).toBe(2);
    expect(w.count(6_000)).toBe(0);
  });

  it('cached statistics follow additions', () => {
    const w = new LatencyWindow({ windowMs: 1_000, maxSamples: 10 });
    fill(w, [10, 20]);
    expect(w.quantile(1, 0)).toBe(20);
    w.add(30, 1);
    expect(w.quantile(1, 1)).toBe(30);
    expect(w.mean(1)).toBe(20);
  });
});

describe('LatencyWindow kept incrementally', () => {
  it('agrees with a brute-force window through many evictions and compactions', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const w = new LatencyWindow({ windowMs: 500, maxSamples: 150 });
    const all: Array<{ v: number; at: number }> = [];
    let now = 0;
    for (let i = 0; i < 5_000; i++) {
      now += Math.floor(rand() * 10);
      const v = Math.round(rand() * 1000) / 10;
      w.add(v, now);
      all.push({ v, at: now });
      if (i % 97 === 0) {
        const live = all.filter((s) => now - s.at < 500).slice(-150).map((s) => s.v).sort((a, b) => a - b);
        expect(w.count(now)).toBe(live.length);
        expect(w.quantile(0.5, now)).toBe(live[Math.max(1, Math.ceil(0.5 * live.length)) - 1]);
        expect(w.quantile(0.95, now)).toBe(live[Math.max(1, Math.ceil(0.95 * live.length)) - 1]);
        expect(w.sum(now)).toBeCloseTo(live.reduce((a, b) => a + b, 0), 6);
      }
    }
  });

  it('a sums-only window counts and sums but has no quantiles', () => {
    const w = new LatencyWindow({ windowMs: 100, maxSamples: 3, sumOnly: true });
    fill(w, [1, 2, 3, 4]);
    expect(w.count(0)).toBe(3);
    expect(w.sum(0)).toBe(9);
    expect(w.mean(0)).toBe(3);
    expect(() => w.quantile(0.5, 0)).toThrow(/sums only/);
    expect(w.count(100)).toBe(0);
    expect(w.sum(100)).toBe(0);
  });
});
