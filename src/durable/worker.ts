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
    ...withoutBundledModules(opts.observe ?? { sinks: durableMetricsSinks(undefined), interceptors: { workflowModules: workflowInterceptorModules({ tracing: false }) } }, !!opts.workflowBundle),
  };
  const worker = await Worker.create(workerOptions);
  if (opts.workflowBundle) opts.logger?.info({ codePath: opts.workflowBundle.codePath }, 'workflow bundle: prebuilt, loaded from file');
  else opts.logger?.info({ workflowsPath: WORKFLOWS_PATH }, 'workflow bundle: bundled from the workflow source with webpack');
  return { worker, connection };
}

/** A prebuilt bundle carries its workflow interceptor modules already; passing them again only makes the SDK warn. */
function withoutBundledModules(observe: Pick<WorkerOptions, 'sinks' | 'interceptors'>, prebuilt: boolean): Pick<WorkerOptions, 'sinks' | 'interceptors'> {
  if (!prebuilt || !observe.interceptors) return observe;
  const { workflowModules: _bundled, ...interceptors } = observe.interceptors;
  return { ...observe, interceptors };
}

export interface SupervisedWorker {
  /** Resolves after the first try to start, whether it is polling or keeps trying in the background. */
  readonly firstAttempt: Promise<void>;
  isRunning(): boolean;
  stop(): Promise<void>;
}

/**
 * A worker that outlives Temporal's absence: it connects (and reconnects after the worker stops with an error)
 * with back-off from `backoffMs[0]` doubling to `backoffMs[1]`, so a worker process can start before its cluster.
 * While connected, the SDK's core retries its polls itself, forever, backing off up to 10 s.
 */
export function superviseWorker(
  config: GatewayConfig,
  target: TemporalTarget,
  opts: GatewayWorkerOptions & { backoffMs?: [number, number] } = {},
): SupervisedWorker {
  const log = opts.logger;
  const [first, cap] = opts.backoffMs ?? [250, 2_000];
  let stopping = false;
  let current: Worker | undefined;
  let wake: (() => void) | undefined;
  let markFirst!: () => void;
  const firstAttempt = new Promise<void>((resolve) => (markFirst = resolve));

  const loop = (async () => {
    let delay = first;
    let failures = 0;
    while (!stopping) {
      let connection: NativeConnection | undefined;
      try {
        ({ worker: current, connection } = await createGatewayWorker(config, target, opts));
        if (stopping) break;
        const running = current.run();
        markFirst();
        if (failures > 0) log?.info({ address: target.address, taskQueue: target.taskQueue }, 'durable worker connected and polling');
        failures = 0;
        delay = first;
        await running;
        if (!stopping) log?.error('durable worker stopped by itself; starting it again');
      } catch (err) {
        if (stopping) break;
        if (failures === 0) log?.warn({ address: target.address, err: String(err) }, 'durable worker cannot start (Temporal unreachable?); retrying in the background');
        failures++;
      } finally {
        current = undefined;
        await connection?.close().catch(() => undefined);
        markFirst();
      }
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      delay = Math.min(cap, delay * 2);
    }
  })();

  return {
    firstAttempt,
    isRunning: () => current?.getState() === 'RUNNING',
    async stop() {
      stopping = true;
      wake?.();
      if (current && current.getState() === 'RUNNING') current.shutdown();
      await loop;
    },
  };
}
