/**
 * The `observability` block: the Prometheus endpoint, OpenTelemetry tracing and the live status page.
 * Every field has a default, so `observability: {}` (or no block) is complete: metrics and the status page
 * on, tracing off (and then no tracing SDK is even loaded).
 */
import { z } from 'zod';

const routePath = z.string().regex(/^\/[\w./-]*$/, 'an absolute URL path, e.g. /metrics');

export const observabilitySchema = z.strictObject({
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      path: routePath.default('/metrics'),
      /** A worker-only process (`--role worker`) has no HTTP server; with this port it serves its metrics there. */
      workerPort: z.number().int().min(0).max(65535).optional(),
      /** Node process metrics (CPU, memory, event-loop lag, GC) next to the gateway's own. */
      processMetrics: z.boolean().default(true),
    })
    .prefault({}),
  tracing: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** OTLP over HTTP, e.g. http://otel-collector:4318/v1/traces (the collector's default when absent). */
      otlpEndpoint: z.url({ protocol: /^https?$/ }).optional(),
      /** Extra headers for the exporter (e.g. an ingest key, written as ${ENV_VAR}). */
      otlpHeaders: z.record(z.string(), z.string()).default({}),
      serviceName: z.string().min(1).default('llm-gateway'),
      /** Share of requests traced (parent-based: a traced caller's decision is kept). */
      sampleRatio: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
  statusPage: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How many recent durable requests the page lists (read from Temporal's visibility). */
      recentDurable: z.number().int().min(0).max(100).default(20),
    })
    .prefault({}),
});

export type ObservabilityConfig = z.output<typeof observabilitySchema>;
export const DEFAULT_OBSERVABILITY: ObservabilityConfig = observabilitySchema.parse({});
