/**
 * Everything observability needs per gateway instance, made once at start from the `observability` block:
 * the metrics registry, the per-deployment counters behind the status page, and tracing (only when enabled:
 * its module, and so the OpenTelemetry SDK, is imported only then).
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { WorkerOptions } from '@temporalio/worker';
import { DEFAULT_OBSERVABILITY, type ObservabilityConfig } from '../config/observability-schema.js';
import type { GatewayConfig } from '../config/types.js';
import { DEFAULT_HEALTH } from '../config/health-schema.js';
import type { Attempt } from '../decision/attempt.js';
import { DeploymentStats } from './deployment-stats.js';
import { durableMetricsSinks } from './durable-metrics.js';
import { GatewayMetrics } from './metrics.js';
import type { Tracing } from './tracing.js';
import { workflowInterceptorModules } from './workflow-modules.js';

export interface ObservabilityOptions {
  /** Tests: an in-memory span exporter instead of OTLP (tracing must still be enabled in the config). */
  spanExporter?: SpanExporter;
}

export class Observability {
  /** The Temporal UI, for links from the status page (set once the dev server, if any, is up). */
  temporalUiUrl?: string;

  private constructor(
    readonly config: ObservabilityConfig,
    readonly logBodies: boolean,
    readonly metrics: GatewayMetrics | undefined,
    readonly stats: DeploymentStats,
    readonly tracing: Tracing | undefined,
  ) {}

  static async create(config: GatewayConfig, opts: ObservabilityOptions = {}): Promise<Observability> {
    const cfg = config.observability ?? DEFAULT_OBSERVABILITY;
    const metrics = cfg.metrics.enabled ? new GatewayMetrics({ processMetrics: cfg.metrics.processMetrics }) : undefined;
    const stats = new DeploymentStats((config.health ?? DEFAULT_HEALTH).latency);
    let tracing: Tracing | undefined;
    if (cfg.tracing.enabled) {
      const { Tracing } = await import('./tracing.js');
      tracing = new Tracing(cfg.tracing, { exporter: opts.spanExporter });
    }
    return new Observability(cfg, !!config.logging.bodies, metrics, stats, tracing);
  }

  /** ExecutorDeps.onAttempt with tracing's attempt spans added (unchanged when tracing is off). */
  onAttempt(inner?: (a: Attempt) => void): ((a: Attempt) => void) | undefined {
    const tracing = this.tracing;
    if (!tracing) return inner;
    return inner
      ? (a) => {
          inner(a);
          tracing.onAttempt(a);
        }
      : tracing.onAttempt;
  }

  /** What the durable worker adds: the lifecycle-counting sink, and with tracing its interceptors and span sink. */
  workerOptions(): Pick<WorkerOptions, 'sinks' | 'interceptors'> {
    return {
      sinks: { ...durableMetricsSinks(this.metrics), ...this.tracing?.workflowSinks() },
      interceptors: {
        activity: this.tracing?.workerInterceptors().activity ?? [],
        // used only when the worker bundles the workflows itself (a prebuilt bundle has its modules already)
        workflowModules: workflowInterceptorModules({ tracing: !!this.tracing }),
      },
    };
  }

  async close(): Promise<void> {
    await this.tracing?.shutdown();
  }
}
