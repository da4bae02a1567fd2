/**
 * The gateway's Prometheus metrics. One registry per gateway instance (not prom-client's global one), so
 * several gateways in one process (tests, the benchmark) each count only their own traffic.
 *
 * Fed from four places: every finished request (its trail: attempts, usage, route, cache), the ledger (cost, once
 * per charged request), a few
 * direct hooks (in-flight requests), and the durable worker (workflow started/completed/failed, through a
 * workflow interceptor and a sink: see durable-metrics.ts). Breaker state and per-deployment in-flight are
 * read from the live health state when Prometheus scrapes, so they are never stale.
 *
 * Labels are bounded: aliases, deployments and providers come from the config (an unknown model is refused
 * before it is counted), outcomes and error kinds from fixed lists. Tenants and request ids are not labels.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BreakerPhase } from '../decision/breaker.js';
import { fallbackTriggers, ttftOf, type FinishedRequest } from './request-record.js';

/** What the metrics need of the health state's view (src/health/health-state.ts `HealthState.view()`). */
export interface HealthViewLike {
  deployments: Record<string, { breaker: { state: BreakerPhase }; inFlight: number }>;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
export const BREAKER_VALUE: Record<BreakerPhase, number> = { closed: 0, half_open: 1, open: 2 };

const NONE = 'none';

/**
 * A metric's labelled children, made once per series and then found by one string key: prom-client otherwise
 * sorts and hashes the label object on every call, and a request touches about eight series. Label sets are
 * bounded (see above), so this grows only as far as the series do; nothing here resets the counted metrics.
 */
class Children<L extends string, C> {
  private readonly made = new Map<string, C>();
  constructor(private readonly metric: { labels(labels: Partial<Record<L, string>>): C }) {}

  of(labels: Record<L, string>): C {
    let key = '';
    for (const k in labels) key += `${labels[k]}\u0001`;
    let child = this.made.get(key);
    if (!child) this.made.set(key, (child = this.metric.labels(labels)));
    return child;
  }
}

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop, GC) in the same registry. */
  processMetrics?: boolean;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private healthView?: () => HealthViewLike | undefined;

  private readonly requests = new Counter({
    name: 'llm_gateway_requests_total',
    help: 'Requests served, by alias, answering deployment and provider (none when nobody answered), mode (fast, durable, submit) and outcome',
    labelNames: ['alias', 'deployment', 'provider', 'mode', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly attempts = new Counter({
    name: 'llm_gateway_attempts_total',
    help: 'Upstream calls, by deployment, result (ok, error, skipped by an open breaker) and error kind',
    labelNames: ['alias', 'deployment', 'provider', 'result', 'error_kind'] as const,
    registers: [this.registry],
  });
  private readonly requestDuration = new Histogram({
    name: 'llm_gateway_request_duration_seconds',
    help: 'Total time of a request, from arrival to the last byte of the answer',
    labelNames: ['alias', 'mode', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly upstreamDuration = new Histogram({
    name: 'llm_gateway_upstream_duration_seconds',
    help: 'Time of one upstream call (streams: until the first content), by deployment and result',
    labelNames: ['deployment', 'provider', 'result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: 'llm_gateway_time_to_first_token_seconds',
    help: 'Streams: time from the upstream call to its first content token, by deployment',
    labelNames: ['deployment', 'provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly overhead = new Histogram({
    name: 'llm_gateway_overhead_seconds',
    help: "The gateway's own time: total minus upstream time and backoff waits (streams: up to the first byte)",
    labelNames: ['alias', 'mode'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'llm_gateway_tokens_total',
    help: 'Tokens the answering deployment reported, by direction (input, output)',
    labelNames: ['alias', 'deployment', 'provider', 'direction'] as const,
    registers: [this.registry],
  });
  private readonly cost = new Counter({
    name: 'llm_gateway_cost_usd_total',
    help: "USD charged, per attempt's deployment: each request's attempts priced by the deployment's prices and the usage reported, counted once when the ledger charges the request",
    labelNames: ['alias', 'deployment', 'provider'] as const,
    registers: [this.registry],
  });
  private readonly ruleHits = new Counter({
    name: 'llm_gateway_routing_rule_hits_total',
    help: 'Requests routed by a strategy, and the rule that matched (none for a strategy without rules)',
    labelNames: ['alias', 'strategy', 'rule'] as const,
    registers: [this.registry],
  });
  private readonly fallbacks = new Counter({
    name: 'llm_gateway_fallback_triggers_total',
    help: 'Failed attempts the chain recovered from, by what it did next (retry, switch, downgrade, catch_all) and the error kind',
    labelNames: ['alias', 'stage', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly cache = new Counter({
    name: 'llm_gateway_cache_requests_total',
    help: 'Semantic cache lookups by result (hit, miss, stale; bypass: not eligible, or the cache store unavailable)',
    labelNames: ['alias', 'result'] as const,
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({
    name: 'llm_gateway_requests_in_flight',
    help: 'Requests being served now, by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly durableStarted = new Counter({
    name: 'llm_gateway_durable_requests_started_total',
    help: 'Durable request workflows started (counted by the worker that runs them)',
    labelNames: ['alias'] as const,
    registers: [this.registry],
  });
  private readonly durableCompleted = new Counter({
    name: 'llm_gateway_durable_requests_completed_total',
    help: 'Durable request workflows that ended with an answer, by outcome (success, fallback, catch_all)',
    labelNames: ['alias', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly durableFailed = new Counter({
    name: 'llm_gateway_durable_requests_failed_total',
    help: 'Durable request workflows that ended without an answer, by reason (UpstreamRejected, ServiceBusy, NoRoute, cancelled, ...)',
    labelNames: ['alias', 'reason'] as const,
    registers: [this.registry],
  });

  constructor(opts: MetricsOptions = {}) {
    const metrics = this;
    new Gauge({
      name: 'llm_gateway_circuit_breaker_state',
      help: 'Circuit breaker of each deployment: 0 closed, 1 half-open, 2 open',
      labelNames: ['deployment'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [name, d] of Object.entries(metrics.healthView?.()?.deployments ?? {})) this.set({ deployment: name }, BREAKER_VALUE[d.breaker.state]);
      },
    });
    new Gauge({
      name: 'llm_gateway_deployment_in_flight',
      help: 'Upstream calls in progress, per deployment',
      labelNames: ['deployment'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [name, d] of Object.entries(metrics.healthView?.()?.deployments ?? {})) this.set({ deployment: name }, d.inFlight);
      },
    });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  private readonly requestsOf = new Children(this.requests);
  private readonly attemptsOf = new Children(this.attempts);
  private readonly requestDurationOf = new Children(this.requestDuration);
  private readonly overheadOf = new Children(this.overhead);
  private readonly upstreamDurationOf = new Children(this.upstreamDuration);
  private readonly ttftChildren = new Children(this.ttft);
  private readonly inFlightOf = new Children(this.inFlight);
  private readonly tokensOf = new Children(this.tokens);

  /** Where breaker states come from (the health state, created after the metrics). */
  readHealthFrom(view: () => HealthViewLike | undefined): void {
    this.healthView = view;
  }

  /** Counts a request as in flight until the returned function is called (once). */
  requestBegan(route: string): () => void {
    const gauge = this.inFlightOf.of({ route });
    gauge.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      gauge.dec();
    };
  }

  observe(r: FinishedRequest): void {
    const alias = r.alias;
    const deployment = r.deployment ?? NONE;
    const provider = r.provider ?? NONE;
    this.requestsOf.of({ alias, deployment, provider, mode: r.mode, outcome: r.outcome }).inc();
    this.requestDurationOf.of({ alias, mode: r.mode, outcome: r.outcome }).observe(r.totalMs / 1000);
    if (r.overheadMs !== undefined) this.overheadOf.of({ alias, mode: r.mode }).observe(r.overheadMs / 1000);
    for (const a of r.attempts) {
      const result = a.outcome;
      this.attemptsOf.of({ alias: a.alias, deployment: a.deployment, provider: a.provider, result, error_kind: result === 'error' ? (a.kind ?? 'unknown') : '' }).inc();
      if (result === 'skipped') continue;
      this.upstreamDurationOf.of({ deployment: a.deployment, provider: a.provider, result }).observe(a.latencyMs / 1000);
      const ttft = ttftOf(a, r.stream);
      if (ttft !== undefined) this.ttftChildren.of({ deployment: a.deployment, provider: a.provider }).observe(ttft / 1000);
    }
    for (const f of fallbackTriggers(r.attempts, r.outcome === 'catch_all')) this.fallbacks.inc({ alias, stage: f.stage, reason: f.reason });
    if (r.usage) {
      this.tokensOf.of({ alias, deployment, provider, direction: 'input' }).inc(r.usage.inputTokens);
      this.tokensOf.of({ alias, deployment, provider, direction: 'output' }).inc(r.usage.outputTokens);
    }
    if (r.route) this.ruleHits.inc({ alias, strategy: r.route.strategy, rule: r.route.rule ?? NONE });
    if (r.cache) this.cache.inc({ alias, result: r.cache });
  }

  /** Fed by the ledger (src/ledger/ledger.ts), once per charged request and priced attempt, not by request records. */
  charged(labels: { alias: string; deployment: string; provider: string }, usd: number): void {
    this.cost.inc(labels, usd);
  }

  durable = {
    started: (alias: string) => this.durableStarted.inc({ alias }),
    completed: (alias: string, outcome: string) => this.durableCompleted.inc({ alias, outcome }),
    failed: (alias: string, reason: string) => this.durableFailed.inc({ alias, reason }),
  };

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
