/**
 * What routing currently makes of each deployment, for operators: the health view plus the weight each one
 * carries after latency feedback. A deployment in several groups gets its weight in each, per alias; the
 * deployment-level `weight` is the one of its first group (the usual case is one group per deployment).
 */
import { DEFAULT_ROUTING_POLICY } from '../config/balance-schema.js';
import type { RoutingConfig } from '../config/types.js';
import { orderGroup } from '../decision/balance.js';
import type { DeploymentView, HealthState, HealthView } from './health-state.js';

export interface GroupWeights {
  deployment: string;
  /** From config. */
  configured: number;
  /** After feedback: lower while the deployment is slower than its group's best. */
  effective: number;
}

export interface RoutingView extends HealthView {
  deployments: Record<string, DeploymentView & { weight?: number }>;
  aliases: Record<string, GroupWeights[][]>;
}

export function routingView(health: HealthState, cfg: RoutingConfig, now?: number): RoutingView {
  const view = health.view(now);
  const snapshot = health.snapshot(now);
  const aliases: RoutingView['aliases'] = {};
  const first: Record<string, number> = {};
  for (const [name, alias] of Object.entries(cfg.models)) {
    aliases[name] = alias.groups.map((group) => {
      // only the weights are read: the draw itself does not matter here
      const { weights = {} } = orderGroup(group, {
        snapshot,
        deployments: cfg.deployments,
        policy: alias.routing ?? DEFAULT_ROUTING_POLICY,
        request: { inputTokens: 0, maxOutputTokens: 0 },
        random: () => 0.5,
      });
      return group.map((m) => {
        const effective = weights[m.deployment] ?? m.weight;
        first[m.deployment] ??= effective;
        return { deployment: m.deployment, configured: m.weight, effective };
      });
    });
  }
  const deployments: RoutingView['deployments'] = {};
  for (const [name, d] of Object.entries(view.deployments)) deployments[name] = first[name] === undefined ? d : { ...d, weight: first[name] };
  return { ...view, deployments, aliases };
}
