import { describe, expect, it } from 'vitest';
import { Readiness } from '../../src/health/readiness.js';

describe('readiness', () => {
  it('is ready only when every check passes, and names the failing one', async () => {
    const r = new Readiness([
      { name: 'temporal', run: async () => 'ok' },
      { name: 'cache', run: async () => Promise.reject(new Error('store down')) },
    ]);
    const report = await r.report();
    expect(report.status).toBe('not_ready');
    expect(report.checks.temporal).toMatchObject({ ok: true, detail: 'ok' });
    expect(report.checks.cache).toMatchObject({ ok: false, error: 'store down' });
    expect((await new Readiness([{ name: 'a', run: async () => undefined }]).report()).status).toBe('ready');
  });

  it('fails a check that does not answer within its deadline', async () => {
    const r = new Readiness([{ name: 'slow', run: () => new Promise(() => {}) }], { timeoutMs: 50 });
    const started = performance.now();
    const report = await r.report();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(report.checks.slow).toMatchObject({ ok: false, error: 'no answer in 50 ms' });
  });

  it('reuses a report for cacheMs, shared by concurrent probes, then checks again', async () => {
    let runs = 0;
    let now = 0;
    const r = new Readiness([{ name: 'n', run: async () => void runs++ }], { cacheMs: 1_000, now: () => now });
    await Promise.all([r.report(), r.report(), r.report()]);
    expect(runs).toBe(1);
    now = 999;
    await r.report();
    expect(runs).toBe(1);
    now = 1_000;
    await r.report();
    expect(runs).toBe(2);
  });
});
