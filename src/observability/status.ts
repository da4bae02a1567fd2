/**
 * The document behind the live status page (`/status.json`): per deployment its breaker, success rate,
 * latency percentiles, throughput, load and weight; and the latest durable requests with links into the
 * Temporal UI. Built from the health state routing reads plus this gateway's own per-deployment counters.
 */
import type { GatewayConfig } from '../config/types.js';
import type { BreakerPhase } from '../decision/breaker.js';
import type { DeploymentStats } from './deployment-stats.js';

interface Percentiles {
  p50: number | null;
  p95: number | null;
}

/** What the status page reads of `HealthState.view()`. */
export interface HealthViewForStatus {
  deployments: Record<
    string,
    {
      breaker: { state: BreakerPhase; reason: string | null; until: number | null };
      inFlight: number;
      latencyMs: Percentiles;
      ttftMs: Percentiles;
      tokensPerSecond: number | null;
      samples: { latency: number };
      /** Present if routing adjusts weights at run time. */
      weight?: number;
    }
  >;
}

export interface RecentDurable {
  id: string;
  runId: string;
  status: string;
  alias: string;
  outcome: string | null;
  deployment: string | null;
  startedAt: string;
  closedAt: string | null;
}

export interface StatusDeployment {
  name: string;
  provider: string;
  model: string;
  tier: number;
  weight: number;
  breaker: BreakerPhase | 'unknown';
  breakerReason: string | null;
  /** While open: when the cool-down ends (ISO time). */
  breakerUntil: string | null;
  successRate: number | null;
  calls: number;
  errors: number;
  latencyMs: Percentiles;
  ttftMs: Percentiles;
  tokensPerSecond: number | null;
  inFlight: number;
}

export interface StatusDocument {
  at: string;
  deployments: StatusDeployment[];
  durable: {
    enabled: boolean;
    uiUrl: string | null;
    recent: Array<RecentDurable & { url: string | null }>;
    /** Set when Temporal could not be asked (the rest of the page still works). */
    error?: string;
  };
}

export interface StatusSources {
  config: GatewayConfig;
  stats: DeploymentStats;
  health?: () => HealthViewForStatus | undefined;
  /** The latest durable requests; absent when the durable path is off on this process. */
  recentDurable?: (limit: number) => Promise<RecentDurable[]>;
  uiUrl?: string;
}

const NO_PERCENTILES: Percentiles = { p50: null, p95: null };

export function workflowUrl(uiUrl: string, namespace: string, id: string, runId: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(id)}/${encodeURIComponent(runId)}/history`;
}

export async function statusDocument(src: StatusSources, now = Date.now()): Promise<StatusDocument> {
  const view = src.health?.();
  const deployments = Object.values(src.config.deployments).map((d): StatusDeployment => {
    const h = view?.deployments[d.name];
    const own = src.stats.stat(d.name);
    return {
      name: d.name,
      provider: d.provider,
      model: d.model,
      tier: d.tier,
      weight: h?.weight ?? d.weight,
      breaker: h?.breaker.state ?? 'unknown',
      breakerReason: h?.breaker.reason ?? null,
      breakerUntil: h?.breaker.until ? new Date(h.breaker.until).toISOString() : null,
      successRate: own.successRate,
      calls: own.calls,
      errors: own.errors,
      // the health state also sees the worker's calls (role all): preferred when it has samples
      latencyMs: h && h.samples.latency > 0 ? h.latencyMs : own.latencyMs,
      ttftMs: h?.ttftMs ?? NO_PERCENTILES,
      tokensPerSecond: h?.tokensPerSecond ?? null,
      inFlight: h?.inFlight ?? 0,
    };
  });
  const limit = src.config.observability.statusPage.recentDurable;
  const durable: StatusDocument['durable'] = { enabled: !!src.recentDurable, uiUrl: src.uiUrl ?? null, recent: [] };
  if (src.recentDurable && limit > 0) {
    try {
      const ns = src.config.durable.temporal.namespace;
      durable.recent = (await src.recentDurable(limit)).map((r) => ({ ...r, url: src.uiUrl ? workflowUrl(src.uiUrl, ns, r.id, r.runId) : null }));
    } catch (err) {
      durable.error = `could not list durable requests: ${(err as Error).message}`;
    }
  }
  return { at: new Date(now).toISOString(), deployments, durable };
}
