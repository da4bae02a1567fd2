/**
 * The `health` block: when a deployment's circuit breaker opens and how long it stays out, how much
 * latency history routing looks at, and how often inference engines (vLLM) are asked for their load.
 * Every field has a default, so `health: {}` (or no block) is complete.
 */
import { z } from 'zod';

export const breakerSchema = z
  .strictObject({
    /** Opens when failures / requests within the window reach this, given at least minRequests. */
    failureRateThreshold: z.number().gt(0).max(1).default(0.5),
    /** Too few requests say nothing about a rate: a single failure must not open the breaker. */
    minRequests: z.number().int().min(1).default(10),
    windowMs: z.number().int().positive().default(60_000),
    /** The window is kept as this many time buckets, so memory stays constant whatever the traffic. */
    buckets: z.number().int().min(1).max(600).default(10),
    /** Opens after this many health failures in a row, whatever the rate (catches low-traffic outages). */
    consecutiveFailures: z.number().int().min(1).default(5),
    /** First cool-down; each re-open before a successful probe multiplies it by cooldownGrowth. */
    cooldownMs: z.number().int().min(0).default(30_000),
    maxCooldownMs: z.number().int().min(0).default(300_000),
    cooldownGrowth: z.number().min(1).default(2),
    /** Calls let through at once after the cool-down to test the deployment. */
    halfOpenProbes: z.number().int().min(1).default(2),
    /**
     * A probe that never reports back (its caller crashed) would hold its slot forever; after this long
     * the half-open trial starts over and late answers from the old one are ignored.
     */
    probeTimeoutMs: z.number().int().positive().default(120_000),
  })
  .refine((b) => b.maxCooldownMs >= b.cooldownMs, { path: ['maxCooldownMs'], message: 'must be at least cooldownMs' });

export const latencySchema = z.strictObject({
  /** Samples older than this are forgotten. */
  windowMs: z.number().int().positive().default(300_000),
  /** Per deployment and metric; the oldest samples go first when a busy deployment exceeds it. */
  maxSamples: z.number().int().min(1).max(100_000).default(1_000),
});

/** Scraping `/metrics` of deployments with `engine: vllm` (src/health/vllm-metrics.ts). */
export const engineStatsSchema = z
  .strictObject({
    scrapeIntervalMs: z.number().int().min(100).default(5_000),
    /** A scrape slower than this is abandoned: no update, so the last numbers age towards stale. */
    timeoutMs: z.number().int().min(50).default(2_000),
    /**
     * Engine numbers older than this are stale: routing treats them as unknown rather than trusting a queue
     * length from a server that stopped answering. Default: three missed scrapes.
     */
    maxAgeMs: z.number().int().positive().default(15_000),
  })
  .refine((e) => e.timeoutMs <= e.scrapeIntervalMs, { path: ['timeoutMs'], message: 'must not exceed scrapeIntervalMs' })
  .refine((e) => e.maxAgeMs >= e.scrapeIntervalMs, { path: ['maxAgeMs'], message: 'must be at least scrapeIntervalMs' });

export const healthSchema = z.strictObject({
  breaker: breakerSchema.prefault({}),
  latency: latencySchema.prefault({}),
  engine: engineStatsSchema.prefault({}),
});

export type BreakerConfig = z.output<typeof breakerSchema>;
export type LatencyConfig = z.output<typeof latencySchema>;
export type EngineStatsConfig = z.output<typeof engineStatsSchema>;
export type HealthConfig = z.output<typeof healthSchema>;
export type HealthConfigInput = z.input<typeof healthSchema>;

export const DEFAULT_HEALTH: HealthConfig = healthSchema.parse({});
