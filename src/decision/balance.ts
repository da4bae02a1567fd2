/**
 * The order of deployments inside one group of an alias, from a health snapshot. Pure: no clock, no I/O,
 * randomness only through `random`, so the durable workflow can compute the same order on replay.
 *
 * Meant to replace `weightedOrder(group, random)` in planRoute, once per group:
 *
 *   const { order, strategy, reason, weights } = orderGroup(group, {
 *     snapshot: health.snapshot(),               // workflow: a snapshot an activity returned
 *     deployments: cfg.deployments,
 *     policy: applyRouteHint(alias.routing ?? DEFAULT_ROUTING_POLICY, hint),
 *     request: { inputTokens, maxOutputTokens },
 *     gatewayRegion: cfg.server.gatewayRegion,
 *     random,
 *   });
 *
 * `order` is a permutation of the members (duplicates kept). `reason` is one short ASCII line (so it fits an
 * HTTP header) for logs, headers and the Temporal UI. The steps, in turn:
 *
 * 1. Feedback (`effectiveWeight`): a deployment whose per-token latency p50 is well above the group's best
 *    loses weight smoothly, never below a floor, so it keeps getting the odd call that shows its recovery.
 * 2. Strategy over the deployments the breaker admits:
 *    - weighted: random order biased by (feedback-adjusted) weight, the same draw as weightedOrder.
 *    - least-loaded: power of two choices on a load score (in-flight calls, queued tokens over observed
 *      throughput = drain time, vLLM waiting + running and KV-cache use when fresh), per unit of weight.
 *    - latency: the fastest by the chosen metric and everything within `tolerance` of it, least loaded
 *      first; deployments with too few samples are tried first now and then (`explore`), else next.
 * 3. Tiers, stable within each: local-region and unsaturated, other unsaturated, saturated, breaker-refused
 *    (the executor skips those at call time; they stay in the plan for when the breaker has closed by then).
 *
 * Unknown data (no samples, no throughput yet, stale engine numbers) neither punishes nor rewards: in the
 * load score an unknown part counts as the group's average.
 */
import type { FeedbackPolicy, RoutingPolicy, RoutingStrategy, SaturationPolicy } from '../config/balance-schema.js';
import type { DeploymentConfig } from '../config/types.js';
import type { DeploymentSnapshot, HealthSnapshot, Percentiles } from '../health/health-state.js';

export interface BalanceMember {
  deployment: string;
  weight: number;
}

export interface BalanceRequest {
  inputTokens: number;
  /** The output budget (max_tokens, or the gateway's default for it). */
  maxOutputTokens: number;
}

export interface BalanceContext {
  snapshot: HealthSnapshot;
  /** Only `region` is read. */
  deployments: Readonly<Record<string, Pick<DeploymentConfig, 'region'>>>;
  policy: RoutingPolicy;
  request: BalanceRequest;
  /** Where this gateway runs; without it there is no region preference. */
  gatewayRegion?: string;
  random: () => number;
}

/** Named apart from plan.ts's GroupOrder (members, not names): adapt with a lookup by deployment name. */
export interface BalanceResult {
  order: string[];
  /** The strategy that ran (the policy's, after any client hint). */
  strategy: RoutingStrategy;
  reason: string;
  /** Weight per deployment after latency feedback. */
  weights?: Record<string, number>;
}

/** Latency differences below this are noise (in-process mocks, clock granularity), not a slower deployment. */
const NOISE_MS = 1;

/**
 * The feedback rule. `observed` is the deployment's per-token latency p50 and its sample count; `bestP50`
 * the group's lowest such p50 (among deployments with enough samples). Up to (1 + slack) × best: full
 * weight; beyond: weight × (allowed / observed)^exponent, never below weight × floor. Continuous, so weights
 * slide rather than jump, and a recovering deployment climbs back as its window fills with faster calls.
 */
export function effectiveWeight(
  weight: number,
  observed: { p50: number | null; samples: number } | undefined,
  bestP50: number | null,
  fb: FeedbackPolicy,
): number {
  if (!fb.enabled || !observed || observed.p50 === null || observed.samples < fb.minSamples || bestP50 === null) return weight;
  const allowed = Math.max(bestP50, NOISE_MS) * (1 + fb.slack);
  if (observed.p50 <= allowed) return weight;
  return weight * Math.max(fb.floor, Math.pow(allowed / observed.p50, fb.exponent));
}

/** Weighted random order without replacement (Efraimidis–Spirakis keys): the same draw as plan.ts's. */
export function weightedOrder<T extends { weight: number }>(members: readonly T[], random: () => number): T[] {
  return members
    .map((m) => ({ m, key: Math.pow(random() || Number.MIN_VALUE, 1 / m.weight) }))
    .sort((a, b) => b.key - a.key)
    .map((x) => x.m);
}

interface View {
  name: string;
  /** After feedback. */
  weight: number;
  factor: number;
  snap: DeploymentSnapshot | undefined;
  allowed: boolean;
  /** The engine's numbers when fresh. */
  engine: { waiting: number; running: number; kvCacheUsage: number | null } | null;
  local: boolean;
  saturated: string | null;
  load: number;
}

export function orderGroup(members: readonly BalanceMember[], ctx: BalanceContext): BalanceResult {
  const { policy } = ctx;
  const views = describe(members, ctx);
  const usable = views.filter((v) => v.allowed);

  const picked =
    policy.strategy === 'least-loaded'
      ? powerOfTwo(usable, ctx.random)
      : policy.strategy === 'latency'
        ? fastest(usable, ctx)
        : { order: weightedOrder(usable, ctx.random), reason: 'weighted' };

  const regionActive = policy.region.prefer === 'local' && ctx.gatewayRegion !== undefined && views.some((v) => v.local);
  const free = picked.order.filter((v) => !v.saturated);
  const localFree = regionActive ? free.filter((v) => v.local) : [];
  const otherFree = regionActive ? free.filter((v) => !v.local) : free;
  const saturated = picked.order.filter((v) => v.saturated);
  const refused = views.filter((v) => !v.allowed);
  const order = [...localFree, ...otherFree, ...saturated, ...refused];

  const notes = [picked.reason];
  const slowed = views.filter((v) => v.factor < 1);
  if (slowed.length > 0) notes.push(`slow, weight cut: ${slowed.map((v) => `${v.name} x${fmt(v.factor)}`).join(', ')}`);
  if (regionActive) {
    const region = ctx.gatewayRegion!;
    if (localFree.length > 0) notes.push(`${region} first`);
    else {
      const down = views.filter((v) => v.local).map((v) => `${v.name} ${v.allowed ? 'saturated' : 'breaker open'}`);
      notes.push(`spill from ${region} (${down.join(', ')})`);
    }
  }
  if (saturated.length > 0) notes.push(`saturated: ${saturated.map((v) => `${v.name} ${v.saturated}`).join(', ')}`);
  if (refused.length > 0) notes.push(`breaker open: ${refused.map((v) => v.name).join(', ')}`);

  const weights: Record<string, number> = {};
  for (const v of views) weights[v.name] = v.weight;
  return { order: order.map((v) => v.name), strategy: policy.strategy, reason: notes.join('; '), weights };
}

/**
 * The load score per deployment as least-loaded sees it (lower is lighter; 1 per part is the group's
 * average, divided by the feedback-adjusted weight). For logs and tests.
 */
export function loadScores(members: readonly BalanceMember[], ctx: Omit<BalanceContext, 'random'>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of describe(members, ctx)) out[v.name] = v.load;
  return out;
}

function describe(members: readonly BalanceMember[], ctx: Omit<BalanceContext, 'random'>): View[] {
  const { snapshot, policy } = ctx;
  const fb = policy.feedback;
  const perToken = (name: string) => {
    const s = snapshot.deployments[name];
    return s && { p50: s.latencyPerTokenMs.p50, samples: s.samples.perToken };
  };
  // the best among deployments the breaker admits: a shut-out deployment's old, fast samples would cut
  // every other one down to the floor and erase the differences between them
  let best: number | null = null;
  for (const m of members) {
    if (snapshot.deployments[m.deployment]?.allowed === false) continue;
    const o = perToken(m.deployment);
    if (o && o.p50 !== null && o.samples >= fb.minSamples && (best === null || o.p50 < best)) best = o.p50;
  }

  const views: View[] = members.map((m) => {
    const snap = snapshot.deployments[m.deployment];
    const weight = effectiveWeight(m.weight, perToken(m.deployment), best, fb);
    const engine = snap?.engine && !snap.engine.stale ? snap.engine : null;
    const region = ctx.deployments[m.deployment]?.region;
    return {
      name: m.deployment,
      weight,
      factor: m.weight > 0 ? weight / m.weight : 1,
      snap,
      allowed: snap?.allowed ?? true,
      engine,
      local: ctx.gatewayRegion !== undefined && region === ctx.gatewayRegion,
      saturated: saturation(snap, engine, policy.region.saturation),
      load: 0,
    };
  });
  scoreLoads(views, ctx.request);
  return views;
}

function saturation(snap: DeploymentSnapshot | undefined, engine: View['engine'], s: SaturationPolicy): string | null {
  if (s.inFlight !== undefined && snap && snap.inFlight >= s.inFlight) return `(in flight ${snap.inFlight} >= ${s.inFlight})`;
  if (engine && engine.waiting >= s.waiting) return `(waiting ${engine.waiting} >= ${s.waiting})`;
  if (engine && engine.kvCacheUsage !== null && engine.kvCacheUsage >= s.kvCacheUsage) {
    return `(kv cache ${fmt(engine.kvCacheUsage * 100)}% >= ${fmt(s.kvCacheUsage * 100)}%)`;
  }
  return null;
}

/**
 * Each part of the load is divided by the group's mean of that part, so parts in different units add up
 * and each weighs the same; a part a deployment does not know counts as the mean (1). The sum is divided
 * by the deployment's weight: a deployment with twice the weight is taken to have twice the capacity.
 */
function scoreLoads(views: View[], request: BalanceRequest): void {
  const incoming = Math.max(0, request.inputTokens) + Math.max(0, request.maxOutputTokens);
  const parts: Array<(v: View) => number | null> = [
    (v) => v.snap?.inFlight ?? 0,
    // seconds to work through what is queued there plus this request, at the speed its calls get
    (v) => (v.snap?.tokensPerSecond ? ((v.snap.queuedTokens ?? 0) + incoming) / v.snap.tokensPerSecond : null),
    (v) => (v.engine ? v.engine.waiting + v.engine.running : null),
    (v) => v.engine?.kvCacheUsage ?? null,
  ];
  for (const v of views) v.load = 0;
  for (const part of parts) {
    const values = views.map(part);
    const known = values.filter((x): x is number => x !== null);
    const mean = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 0;
    if (mean <= 0) continue;
    views.forEach((v, i) => (v.load += (values[i] ?? mean) / mean));
  }
  for (const v of views) v.load = v.weight > 0 ? v.load / v.weight : Infinity;
}

/** Power of two choices, repeated for the fallback order: two draws biased by weight, the lighter load wins. */
function powerOfTwo(views: readonly View[], random: () => number): { order: View[]; reason: string } {
  const pool = [...views];
  const order: View[] = [];
  let reason = 'least-loaded';
  while (pool.length > 1) {
    const ia = pickWeighted(pool, random);
    const a = pool.splice(ia, 1)[0]!;
    const ib = pickWeighted(pool, random);
    const b = pool[ib]!;
    // ties (an idle group) go to the first draw, which was already weighted
    const [win, lose] = b.load < a.load ? [b, a] : [a, b];
    if (order.length === 0) reason = `least-loaded: ${win.name} (load ${fmt(win.load)}) over ${lose.name} (${fmt(lose.load)})`;
    order.push(win);
    if (win === b) {
      pool.splice(ib, 1);
      pool.push(a);
    }
  }
  order.push(...pool);
  return { order, reason };
}

function pickWeighted(pool: readonly View[], random: () => number): number {
  const total = pool.reduce((s, v) => s + v.weight, 0);
  let r = random() * total;
  for (let i = 0; i < pool.length; i++) {
    r -= pool[i]!.weight;
    if (r < 0) return i;
  }
  return pool.length - 1;
}

const METRIC_FIELD = { ttft: ['ttftMs', 'ttft'], per_token: ['latencyPerTokenMs', 'perToken'], total: ['latencyMs', 'latency'] } as const;
const METRIC_UNIT = { ttft: 'ms ttft', per_token: 'ms/token', total: 'ms' } as const;

function fastest(views: readonly View[], ctx: BalanceContext): { order: View[]; reason: string } {
  const lp = ctx.policy.latency;
  const [field, count] = METRIC_FIELD[lp.metric];
  const measure = (v: View): number | null => {
    const s = v.snap;
    if (!s || s.samples[count] < lp.minSamples) return null;
    return (s[field] as Percentiles)[lp.stat];
  };
  const measured = views.map((v) => ({ v, value: measure(v), key: Math.pow(ctx.random() || Number.MIN_VALUE, 1 / v.weight) }));
  const explore = ctx.random() < lp.explore;
  const byKey = (a: { key: number }, b: { key: number }) => b.key - a.key;
  const unknown = measured.filter((m) => m.value === null).sort(byKey);
  const known = measured.filter((m): m is typeof m & { value: number } => m.value !== null);
  if (known.length === 0) {
    return { order: unknown.map((m) => m.v), reason: `latency: no ${lp.metric} data yet, weighted` };
  }
  const best = Math.min(...known.map((m) => m.value));
  const limit = Math.max(best, NOISE_MS) * (1 + lp.tolerance);
  // within the tolerance the least loaded goes first; equal loads in weighted random order
  const fast = known.filter((m) => m.value <= limit).sort((a, b) => a.v.load - b.v.load || byKey(a, b));
  const slow = known.filter((m) => m.value > limit).sort((a, b) => a.value - b.value);
  const stats = `best ${lp.metric} ${lp.stat} ${fmt(best)} ${METRIC_UNIT[lp.metric]}, ${fast.length} within ${fmt(lp.tolerance * 100)}%`;
  if (explore && unknown.length > 0) {
    const [probe, ...rest] = unknown;
    return { order: [probe!, ...fast, ...rest, ...slow].map((m) => m.v), reason: `latency: exploring ${probe!.v.name} (too few samples), ${stats}` };
  }
  return { order: [...fast, ...unknown, ...slow].map((m) => m.v), reason: `latency: ${fast[0]!.v.name} first, ${stats}` };
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Math.round(n * 100) / 100);
}
