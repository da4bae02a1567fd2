/**
 * The fallback chain as data: an ordered list of steps (deployment × stage) the executors walk.
 *
 * Built in layers, each explained in `route.reason`:
 * 1. an override chosen by what the request is: a semantic route (decided before planning, since embedding the
 *    prompt is I/O) or else the alias's capability rules (token count, task tags, needs);
 * 2. the alias's groups and downgrade chain, each group ordered by the in-group strategy (`orderGroup`);
 * 3. filters: deployments lacking a needed capability, whose provider type cannot carry a feature the request
 *    uses (n > 1, audio, a file kind: src/providers/features.ts), or whose context window cannot hold it;
 * 4. deployments whose circuit breaker refuses calls go last, so the chain reaches them only when nothing
 *    healthier is left (the executor still checks the breaker at call time).
 *
 * Pure and deterministic given its `random` and health snapshot, so the durable path's route activity and the
 * fast path compute plans the same way.
 */
import type { AliasConfig, GroupMember, RoutingConfig } from '../config/types.js';
import type { FallbackPolicy } from '../config/schema.js';
import type { HealthSnapshot } from '../health/health-state.js';
import { DEFAULT_ROUTING_POLICY } from '../config/balance-schema.js';
import { orderGroup } from './balance.js';
import { aliasPool, applyCapabilityRules, type RuleMatch } from './capability.js';
import { applyRouteHint, type RouteHint } from './route-hints.js';
import { tokenFactor } from './token-estimates.js';
import type { RequestTraits } from './traits.js';
import { featureGaps, unsupportedEverywhere, type FeatureGap } from './feature-filter.js';
import { ownValue } from '../util/own-value.js';

export type Stage = 'primary' | 'switch' | 'downgrade';

export interface PlanStep {
  deployment: string;
  /** The alias whose group holds this deployment (differs from the requested alias after a downgrade). */
  alias: string;
  stage: Stage;
  group: number;
}

export interface RouteInfo {
  /** What chose the first steps: `semantic`, `capability` (a rule), or the in-group strategy's name. */
  strategy: string;
  /** The capability rule or semantic route that matched. */
  rule?: string;
  /** One line for logs, headers and the Temporal UI. */
  reason: string;
}

export interface Plan {
  alias: string;
  steps: PlanStep[];
  /** Per alias on the chain: its retry/backoff policy (a downgrade alias keeps its own). */
  policies: Record<string, FallbackPolicy>;
  /** Deployments left out because they lack a capability the request needs, with the reason. */
  skipped: Array<{ deployment: string; reason: string }>;
  route: RouteInfo;
}

export type NoRouteReason = 'unknown_model' | 'no_capable_deployment' | 'unsupported_parameter';

export class NoRouteError extends Error {
  constructor(
    readonly alias: string,
    /** The client-facing error code. */
    readonly reason: NoRouteReason,
    message: string,
    /** The request field to blame (OpenAI's error `param`); absent: the model itself. */
    readonly param?: string,
  ) {
    super(message);
    this.name = 'NoRouteError';
  }
}

/** How one group's members are ordered; the default is weighted random. */
export interface GroupOrder {
  order: GroupMember[];
  strategy: string;
  reason?: string;
}
export type GroupOrderer = (members: readonly GroupMember[], alias: AliasConfig, traits: RequestTraits, random: () => number) => GroupOrder;

export interface RouteContext {
  /** Live health: breakers, load, latency. Without it, no health-based ordering. */
  snapshot?: HealthSnapshot;
  /** A semantic route's decision (see semantic routing); takes precedence over capability rules. */
  semantic?: RuleMatch;
  /** A client's `x-gateway-route` hint (e.g. fastest), laid over each alias's routing policy. */
  hint?: RouteHint | null;
  /** Where this gateway runs, for region preference. */
  gatewayRegion?: string;
  /** Replaces the in-group ordering (tests); by default the alias's routing policy over the snapshot. */
  orderGroup?: GroupOrderer;
}

/** Weighted random order without replacement (Efraimidis–Spirakis keys): heavier members tend to come first. */
export function weightedOrder<T extends { weight: number }>(members: readonly T[], random: () => number): T[] {
  return members
    .map((m) => ({ m, key: Math.pow(random() || Number.MIN_VALUE, 1 / m.weight) }))
    .sort((a, b) => b.key - a.key)
    .map((x) => x.m);
}

const weighted: GroupOrderer = (members, _alias, _traits, random) => ({ order: weightedOrder(members, random), strategy: 'weighted' });

/** The alias's routing policy (weighted, least-loaded, latency; feedback; region) over the health snapshot. */
function balanced(cfg: RoutingConfig, ctx: RouteContext): GroupOrderer {
  const snapshot = ctx.snapshot!;
  return (members, alias, traits, random) => {
    if (members.length === 1) return { order: [...members], strategy: 'single' };
    const policy = applyRouteHint(alias.routing ?? DEFAULT_ROUTING_POLICY, ctx.hint ?? null);
    const r = orderGroup(members, {
      snapshot,
      deployments: cfg.deployments,
      policy,
      request: { inputTokens: traits.inputTokens ?? traits.estimatedInputTokens, maxOutputTokens: traits.maxOutputTokens ?? 0 },
      ...(ctx.gatewayRegion !== undefined && { gatewayRegion: ctx.gatewayRegion }),
      random,
    });
    const byName = new Map(members.map((m) => [m.deployment, m]));
    return { order: r.order.map((d) => byName.get(d)!), strategy: r.strategy, reason: r.reason };
  };
}

const NO_RULES: RuleMatch = { reason: 'no rules' };

interface Candidate {
  deployment: string;
  alias: string;
  group: number;
  downgrade: boolean;
}

export function planRoute(cfg: RoutingConfig, alias: string, traits: RequestTraits, random: () => number, ctx: RouteContext = {}): Plan {
  const model = ownValue(cfg.models, alias);
  if (!model) throw new NoRouteError(alias, 'unknown_model', `The model '${alias}' does not exist`);
  const order = ctx.orderGroup ?? (ctx.snapshot ? balanced(cfg, ctx) : weighted);
  const inputTokens = traits.inputTokens ?? traits.estimatedInputTokens;
  const candidates: Candidate[] = [];
  const policies: Plan['policies'] = { [alias]: model.fallback };
  const strategies = new Set<string>();
  const orderNotes: string[] = [];

  const walk = (start: string, downgradeFromStart: boolean) => {
    const visited = new Set<string>();
    for (let current: string | undefined = start, downgraded = downgradeFromStart; current !== undefined && !visited.has(current); current = cfg.models[current]?.downgrade) {
      visited.add(current);
      const entry = cfg.models[current]!;
      policies[current] ??= entry.fallback;
      entry.groups.forEach((group, gi) => {
        const ordered = order(group, entry, traits, random);
        strategies.add(ordered.strategy);
        if (ordered.reason && group.length > 1) orderNotes.push(ordered.reason);
        for (const m of ordered.order) candidates.push({ deployment: m.deployment, alias: current!, group: gi, downgrade: downgraded });
      });
      downgraded = true;
    }
  };

  const match: RuleMatch = ctx.semantic?.rule
    ? ctx.semantic
    : model.rules.length === 0
      ? NO_RULES
      : applyCapabilityRules(model.rules, { tags: traits.tags ?? [], inputTokens, maxOutputTokens: traits.maxOutputTokens, needs: traits.needs }, cfg.deployments, aliasPool(cfg, alias));
  if (match.alias) walk(match.alias, false);
  else if (match.deployments) match.deployments.forEach((d) => candidates.push({ deployment: d, alias, group: -1, downgrade: false }));
  if (!match.rule || match.mode !== 'only') walk(alias, false);

  const steps: PlanStep[] = [];
  const skipped: Plan['skipped'] = [];
  // Every candidate's gaps, to tell whether a feature has any taker at all; and those that decided a skip.
  const gaps: FeatureGap[] = [];
  const decisive: FeatureGap[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c.deployment)) continue;
    seen.add(c.deployment);
    const dep = cfg.deployments[c.deployment]!;
    const cannot = featureGaps(dep, traits.features);
    gaps.push(...cannot);
    const missing = traits.needs.filter((n) => !dep.capabilities.includes(n));
    if (missing.length > 0) {
      skipped.push({ deployment: c.deployment, reason: `lacks ${missing.join(', ')}` });
      continue;
    }
    if (cannot.length > 0) {
      decisive.push(...cannot);
      skipped.push({ deployment: c.deployment, reason: cannot.map((g) => `cannot carry ${g.label} (${g.why})`).join('; ') });
      continue;
    }
    const needed = Math.ceil(inputTokens * tokenFactor(dep.providerType, dep.model)) + (traits.maxOutputTokens ?? 0);
    if (needed > dep.contextWindow) {
      skipped.push({ deployment: c.deployment, reason: `needs ~${needed} tokens, context window is ${dep.contextWindow}` });
      continue;
    }
    steps.push({ deployment: c.deployment, alias: c.alias, stage: c.downgrade ? 'downgrade' : 'switch', group: c.group });
  }

  // Refused by their breaker: last, in their original order.
  const refused = (s: PlanStep) => ctx.snapshot?.deployments[s.deployment]?.allowed === false;
  const open = steps.filter(refused);
  const ordered = open.length > 0 ? [...steps.filter((s) => !refused(s)), ...open] : steps;
  if (ordered[0] && ordered[0].stage === 'switch') ordered[0] = { ...ordered[0], stage: 'primary' };

  if (ordered.length === 0) {
    const blocking = unsupportedEverywhere(gaps, seen.size);
    if (blocking) {
      throw new NoRouteError(alias, 'unsupported_parameter', `${blocking.label} is not supported by any deployment of '${alias}' (${blocking.why})`, blocking.param);
    }
    if (decisive.length > 0) {
      const why = skipped.map((s) => `${s.deployment} ${s.reason}`).join('; ');
      throw new NoRouteError(alias, 'unsupported_parameter', `No deployment of '${alias}' supports this request (${why})`, decisive[0]!.param);
    }
    const why = skipped.map((s) => `${s.deployment} ${s.reason}`).join('; ');
    throw new NoRouteError(alias, 'no_capable_deployment', `No deployment of '${alias}' supports this request (${why})`);
  }
  strategies.delete('single');
  const strategy = match.rule ? (ctx.semantic?.rule ? 'semantic' : 'capability') : [...strategies].join('+') || 'weighted';
  const notes = [match.rule ? match.reason : undefined, ...orderNotes, open.length > 0 ? `breaker open: ${open.map((s) => s.deployment).join(', ')} tried last` : undefined];
  return {
    alias,
    steps: ordered,
    policies,
    skipped,
    route: { strategy, ...(match.rule && { rule: match.rule.replace(/^semantic:/, '') }), reason: notes.filter(Boolean).join('; ') || strategy },
  };
}
