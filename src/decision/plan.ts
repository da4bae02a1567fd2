/**
 * The fallback chain as data: an ordered list of steps (deployment × stage) the executors walk.
 * Pure and deterministic given its `random`, so the durable workflow can compute the same plan.
 */
import type { RoutingConfig } from '../config/types.js';
import type { FallbackPolicy } from '../config/schema.js';
import type { RequestTraits } from './traits.js';

export type Stage = 'primary' | 'switch' | 'downgrade';

export interface PlanStep {
  deployment: string;
  /** The alias whose group holds this deployment (differs from the requested alias after a downgrade). */
  alias: string;
  stage: Stage;
  group: number;
}

export interface Plan {
  alias: string;
  steps: PlanStep[];
  /** Per alias on the chain: its retry/backoff policy (a downgrade alias keeps its own). */
  policies: Record<string, FallbackPolicy>;
  /** Deployments left out because they lack a capability the request needs, with the reason. */
  skipped: Array<{ deployment: string; reason: string }>;
}

export class NoRouteError extends Error {
  constructor(
    readonly alias: string,
    readonly reason: 'unknown_model' | 'no_capable_deployment',
    message: string,
  ) {
    super(message);
    this.name = 'NoRouteError';
  }
}

/** Weighted random order without replacement (Efraimidis–Spirakis keys): heavier members tend to come first. */
export function weightedOrder<T extends { weight: number }>(members: readonly T[], random: () => number): T[] {
  return members
    .map((m) => ({ m, key: Math.pow(random() || Number.MIN_VALUE, 1 / m.weight) }))
    .sort((a, b) => b.key - a.key)
    .map((x) => x.m);
}

export function planRoute(cfg: RoutingConfig, alias: string, traits: RequestTraits, random: () => number): Plan {
  if (!cfg.models[alias]) {
    throw new NoRouteError(alias, 'unknown_model', `The model '${alias}' does not exist`);
  }
  const steps: PlanStep[] = [];
  const skipped: Plan['skipped'] = [];
  const policies: Plan['policies'] = {};
  const seen = new Set<string>();

  for (let current: string | undefined = alias, downgraded = false; current !== undefined; current = cfg.models[current]?.downgrade) {
    const entry = cfg.models[current]!;
    policies[current] = entry.fallback;
    entry.groups.forEach((group, gi) => {
      for (const member of weightedOrder(group, random)) {
        if (seen.has(member.deployment)) continue;
        const dep = cfg.deployments[member.deployment]!;
        const missing = traits.needs.filter((c) => !dep.capabilities.includes(c));
        if (missing.length > 0) {
          skipped.push({ deployment: member.deployment, reason: `lacks ${missing.join(', ')}` });
          continue;
        }
        seen.add(member.deployment);
        const stage: Stage = downgraded ? 'downgrade' : steps.length === 0 ? 'primary' : 'switch';
        steps.push({ deployment: member.deployment, alias: current!, stage, group: gi });
      }
    });
    downgraded = true;
  }
  if (steps.length === 0) {
    const why = skipped.map((s) => `${s.deployment} ${s.reason}`).join('; ');
    throw new NoRouteError(alias, 'no_capable_deployment', `No deployment of '${alias}' supports this request (${why})`);
  }
  return { alias, steps, policies, skipped };
}
