/**
 * How deployments inside one group of an alias are ordered: the `routing` block under `models.<alias>`,
 * and the gateway's own region (`gatewayRegionSchema`, a field of `server`).
 *
 *   models:
 *     chat:
 *       routing:
 *         strategy: least-loaded          # weighted (default) | least-loaded | latency
 *         latency: { metric: ttft, stat: p95, tolerance: 0.2 }
 *         region: { prefer: local, saturation: { waiting: 8 } }
 *
 * Every field has a default, so an alias without the block routes as before (weighted, with latency
 * feedback). The decision itself is `orderGroup` in src/decision/balance.ts.
 */
import { z } from 'zod';

export const ROUTING_STRATEGIES = ['weighted', 'least-loaded', 'latency'] as const;
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];

export const LATENCY_METRICS = ['ttft', 'per_token', 'total'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

export const latencyPolicySchema = z.strictObject({
  /** ttft: time to first token (streams); per_token: total latency / output tokens; total: whole call. */
  metric: z.enum(LATENCY_METRICS).default('per_token'),
  stat: z.enum(['p50', 'p95']).default('p50'),
  /**
   * Deployments within this fraction of the fastest count as equally fast (0.2: up to 20% slower); among
   * them the least loaded goes first. Without it every request would pile onto one deployment.
   */
  tolerance: z.number().min(0).max(10).default(0.2),
  /** Fewer samples than this in the latency window: the deployment's speed is unknown, not slow. */
  minSamples: z.number().int().min(1).default(5),
  /**
   * Chance that a deployment with too few samples is tried first, so it gathers samples instead of
   * being starved by the ones already measured.
   */
  explore: z.number().min(0).max(1).default(0.1),
});

/**
 * Latency feedback on weights: a deployment whose per-token latency (p50) is well above the group's best
 * loses weight smoothly, down to a floor, and gets it back as its window fills with faster calls again.
 */
export const feedbackPolicySchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** No penalty up to this much slower than the best (0.25: 25% slower is still full weight). */
    slack: z.number().min(0).max(10).default(0.25),
    /** How fast the weight falls beyond the slack: weight × (allowed / observed)^exponent. */
    exponent: z.number().gt(0).max(8).default(2),
    /** Lowest weight multiplier: above zero, so a slow deployment still gets calls that show its recovery. */
    floor: z.number().gt(0).max(1).default(0.1),
    /** Samples a deployment needs before its latency counts, for it and as the group's best. */
    minSamples: z.number().int().min(1).default(5),
  });

export const saturationSchema = z.strictObject({
  /** This gateway's calls in flight to one deployment; absent: no limit by count. */
  inFlight: z.number().int().positive().optional(),
  /** vLLM `num_requests_waiting` at or above this (fresh data only). */
  waiting: z.number().int().min(0).default(8),
  /** vLLM KV-cache use (0..1) at or above this (fresh data only). */
  kvCacheUsage: z.number().gt(0).max(1).default(0.95),
});

export const regionPolicySchema = z.strictObject({
  /** local: deployments in the gateway's region first, spilling elsewhere when they are saturated or down. */
  prefer: z.enum(['local', 'any']).default('local'),
  /** A saturated deployment is tried after every unsaturated one, whatever its region. */
  saturation: saturationSchema.prefault({}),
});

export const routingPolicySchema = z.strictObject({
  strategy: z.enum(ROUTING_STRATEGIES).default('weighted'),
  latency: latencyPolicySchema.prefault({}),
  feedback: feedbackPolicySchema.prefault({}),
  region: regionPolicySchema.prefault({}),
});

/**
 * `server.gatewayRegion`: where this gateway instance runs, matched against deployments' `region`.
 * Absent: no region preference at all.
 */
export const gatewayRegionSchema = z.string().min(1).optional();

export type LatencyPolicy = z.output<typeof latencyPolicySchema>;
export type FeedbackPolicy = z.output<typeof feedbackPolicySchema>;
export type SaturationPolicy = z.output<typeof saturationSchema>;
export type RegionPolicy = z.output<typeof regionPolicySchema>;
export type RoutingPolicy = z.output<typeof routingPolicySchema>;
export type RoutingPolicyInput = z.input<typeof routingPolicySchema>;

export const DEFAULT_ROUTING_POLICY: RoutingPolicy = routingPolicySchema.parse({});
