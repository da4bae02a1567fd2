/**
 * What a cascade needs to know about its stages from the routing config, resolved where the config lives
 * (the fast path, or the durable path's route activity) so the cascade driver itself never reads config.
 */
import type { CascadeConfig } from '../config/cascade-schema.js';
import type { RoutingConfig } from '../config/types.js';
import { aliasPool } from './capability.js';

/**
 * Stage aliases to ask for logprobs: those whose every reachable deployment has the `logprobs` capability.
 * Every, not any: asking for logprobs makes the plan skip deployments without them, and a cascade stage
 * should keep its full failover chain rather than lose it for a confidence signal. Empty when no logprobs
 * evaluator is configured.
 */
export function logprobsStages(cfg: RoutingConfig, cascade: CascadeConfig): string[] {
  if (!cascade.evaluators.some((e) => e.type === 'logprobs')) return [];
  return cascade.stages.filter((alias) => {
    const pool = aliasPool(cfg, alias);
    return pool.length > 0 && pool.every((d) => cfg.deployments[d]?.capabilities.includes('logprobs'));
  });
}
