/**
 * Recent success rate and latency per deployment, for the status page, counted from the attempts of the
 * requests this gateway served. The health state (what routing reads) has the breaker, load and throughput
 * but counts only what the breaker counts; an operator's "success rate" is every call's result.
 */
import type { LatencyConfig } from '../config/health-schema.js';
import { LatencyWindow } from '../health/latency-window.js';
import type { FinishedRequest } from './request-record.js';

export interface DeploymentStat {
  /** Successful calls / calls within the window; null without calls. */
  successRate: number | null;
  calls: number;
  errors: number;
  latencyMs: { p50: number | null; p95: number | null };
}

interface Entry {
  /** 1 per successful call, 0 per failed one: the window's mean is the success rate. */
  results: LatencyWindow;
  latency: LatencyWindow;
}

export class DeploymentStats {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly window: LatencyConfig,
    private readonly now: () => number = Date.now,
  ) {}

  record(f: FinishedRequest): void {
    const now = this.now();
    for (const a of f.attempts) {
      if (a.outcome === 'skipped') continue;
      const e = this.entry(a.deployment);
      e.results.add(a.outcome === 'ok' ? 1 : 0, now);
      if (a.outcome === 'ok') e.latency.add(a.latencyMs, now);
    }
  }

  stat(deployment: string): DeploymentStat {
    const now = this.now();
    const e = this.entries.get(deployment);
    if (!e) return { successRate: null, calls: 0, errors: 0, latencyMs: { p50: null, p95: null } };
    const calls = e.results.count(now);
    const ok = e.results.sum(now);
    return {
      successRate: calls > 0 ? ok / calls : null,
      calls,
      errors: calls - ok,
      latencyMs: { p50: e.latency.quantile(0.5, now), p95: e.latency.quantile(0.95, now) },
    };
  }

  private entry(deployment: string): Entry {
    let e = this.entries.get(deployment);
    if (!e) {
      e = { results: new LatencyWindow(this.window), latency: new LatencyWindow(this.window) };
      this.entries.set(deployment, e);
    }
    return e;
  }
}
