/** Only what a plan's steps need of the config, so workflow history stays small and holds no provider settings. */
import type { RoutingConfig } from '../config/types.js';
import type { Plan } from '../decision/plan.js';

export function routingSlice(config: RoutingConfig, plan: Plan): RoutingConfig {
  const deployments: RoutingConfig['deployments'] = {};
  for (const s of plan.steps) deployments[s.deployment] = config.deployments[s.deployment]!;
  const models: RoutingConfig['models'] = {};
  for (const alias of Object.keys(plan.policies)) models[alias] = config.models[alias]!;
  return { deployments, models };
}
