/**
 * The durable path's worker: request workflows plus the activities that call providers. Workflow code is
 * bundled once (webpack, by the SDK); tests pass a prebuilt bundle so each worker starts in a second.
 */
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type LogMetadata, type WorkerOptions } from '@temporalio/worker';
import type { Logger as PinoLogger } from 'pino';
import { createActivities } from '../../activities/index.js';
import { createBatchActivities } from '../../activities/batch.js';
import type { GatewayConfig } from '../config/types.js';
import type { SemanticCache } from '../cache/semantic-cache.js';
import type { HealthState } from '../health/health-state.js';
import type { SemanticIndex } from '../routing/semantic-index.js';
import type { SpendLedger } from '../limits/spend-ledger.js';
import type { TemporalTarget } from './connection.js';
import { durableMetricsSinks } from '../observability/durable-metrics.js';
import { workflowInterceptorModules } from '../observability/workflow-modules.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;

/** Expected events the SDK logs as warnings: a failed provider call is already in the request's own log record. */
const ROUTINE = new Set(['Activity failed', 'Activity completed as failed']);

/** Temporal's SDK logs go through the gateway's pino logger (JSON, same redaction); one install per process. */
export function installTemporalRuntime(logger?: PinoLogger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  if (!logger) {
    Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' } } } });
    return;
  }
  const child = logger.child({ component: 'temporal' });
  const levels = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const pinoLevel = ROUTINE.has(message) ? 'debug' : levels[level];
    child[pinoLevel](meta ?? {}, message);
  };
  Runtime.install({
    logger: new DefaultLogger('INFO', ({ level, message, meta }) => log(level, message, meta)),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' } } },
  });
}

export interface GatewayWorkerOptions {
  /** A prebuilt bundle (from bundleWorkflowCode); without it the worker bundles WORKFLOWS_PATH itself. */
  workflowBundle?: { codePath: string };
  /** Concurrent provider calls per worker; each mostly waits on the network. */
  maxConcurrentActivities?: number;
  logger?: PinoLogger;
  /** The process's live health state, shared with the fast path when both run in one process. */
  health?: HealthState;
  /** Sinks and interceptors of metrics and tracing (Observability.workerOptions); without it workflows are counted nowhere. */
  observe?: Pick<WorkerOptions, 'sinks' | 'interceptors'>;
  /** The semantic cache the catch-all asks (shared with the fast path when both run in one process). */
  cache?: SemanticCache;
  /** Semantic routes for the route activity. */
  semantic?: SemanticIndex;
  /** Charges the spend of batch lines and submitted requests to the key that sent them. */
  spend?: SpendLedger;
}

export async function createGatewayWorker(
  config: GatewayConfig,
  target: TemporalTarget,
  opts: GatewayWorkerOptions = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  installTemporalRuntime(opts.logger);
  const connection = await NativeConnection.connect({ address: target.address, tls: target.tls, apiKey: target.apiKey });
  const workerOptions: WorkerOptions = {
    connection,
    namespace: target.namespace,
    taskQueue: target.taskQueue,
    activities: { ...createActivities(config, { health: opts.health, cache: opts.cache, semantic: opts.semantic, spend: opts.spend }), ...createBatchActivities(config, { health: opts.health, semantic: opts.semantic, spend: opts.spend }) },
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    // the workflow-side interceptors call these sinks, so they are registered even with nothing to count
    ...(opts.observe ?? { sinks: durableMetricsSinks(undefined), interceptors: { workflowModules: workflowInterceptorModules({ tracing: false }) } }),
  };
  const worker = await Worker.create(workerOptions);
  return { worker, connection };
}
