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
import type { StreamLog } from '../streams/stream-log.js';
import { Ledger } from '../ledger/ledger.js';
import type { Pacer } from '../limits/pace.js';
import { Connection } from '@temporalio/client';
import { CLIENT_CHANNEL_ARGS, dataConverterOf, type TemporalTarget } from './connection.js';
import { durableMetricsSinks } from '../observability/durable-metrics.js';
import { workflowInterceptorModules } from '../observability/workflow-modules.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Concurrency of the gateway's worker (the durable benchmark's baseline worker uses the same, so the two compare
 * like for like). Provider calls mostly wait on the network; the limits are far above what one process runs.
 */
export const WORKER_TUNING = {
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentLocalActivityExecutions: 200,
  maxConcurrentWorkflowTaskExecutions: 100,
} satisfies Partial<WorkerOptions>;

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
  /**
   * Charges durable requests (once each, at the end of the workflow) and batch lines to the key that sent them.
   * Without it the worker keeps a ledger of its own: charges logged, no budgets, no metric.
   */
  ledger?: Ledger;
  /** Live durable streams: where provider calls publish their chunks (src/streams). */
  streamLog?: StreamLog;
  /** Admits each batch line against its key's rpm, tpm and concurrency, waiting for capacity (the gateway's limit store). */
  pacer?: Pacer;
}

export async function createGatewayWorker(
  config: GatewayConfig,
  target: TemporalTarget,
  opts: GatewayWorkerOptions = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  installTemporalRuntime(opts.logger);
  const connection = await NativeConnection.connect({ address: target.address, tls: target.tls, apiKey: target.apiKey });
  const ledger = opts.ledger ?? new Ledger({ logger: opts.logger });
  const workerOptions: WorkerOptions = {
    connection,
    namespace: target.namespace,
    taskQueue: target.taskQueue,
    // codecs run in the worker, outside the sandbox: a prebuilt bundle needs nothing of its own for them
    dataConverter: dataConverterOf(target),
    activities: { ...createActivities(config, { health: opts.health, cache: opts.cache, semantic: opts.semantic, ledger, streamLog: opts.streamLog }), ...createBatchActivities(config, { health: opts.health, semantic: opts.semantic, ledger, pacer: opts.pacer, logger: opts.logger }) },
    ...WORKER_TUNING,
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? WORKER_TUNING.maxConcurrentActivityTaskExecutions,
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
  /** The running worker's own connection: a client over it starts workflows eagerly on this worker (eager-start.ts). */
  connection(): NativeConnection | undefined;
  stop(): Promise<void>;
}

export interface SuperviseOptions extends GatewayWorkerOptions {
  /** Pause between tries to start while Temporal is unreachable: doubles from the first value to the last. */
  backoffMs?: [number, number];
  /** How often Temporal is probed for an outage, and how long an outage must last for a fresh worker on return. */
  probeEveryMs?: number;
  replaceAfterOutageMs?: number;
}

interface Generation {
  worker: Worker;
  connection: NativeConnection;
  running: Promise<void>;
}

/**
 * A worker that outlives Temporal's absence. It starts (and starts again after it stopped with an error) with
 * bounded back-off, so a worker process can start before its cluster. While connected, the SDK core retries
 * polls by itself, forever, but backs off up to 10 s: after an outage the worker would take up to ~10 s to
 * notice Temporal is back. So a probe watches Temporal, and when it returns after an outage longer than the
 * heartbeat timeout, a fresh worker (polling at once) takes over and the old one is shut down. Longer than the
 * heartbeat timeout, because by then the server has timed out every call the old worker had in flight.
 */
export function superviseWorker(config: GatewayConfig, target: TemporalTarget, opts: SuperviseOptions = {}): SupervisedWorker {
  const log = opts.logger;
  const [first, cap] = opts.backoffMs ?? [250, 2_000];
  const replaceAfterMs = opts.replaceAfterOutageMs ?? config.durable.heartbeatTimeoutMs;
  let stopping = false;
  let current: Generation | undefined;
  let replacing: Promise<void> | undefined;
  let starting: Promise<void> | undefined;
  let markFirst!: () => void;
  const firstAttempt = new Promise<void>((resolve) => (markFirst = resolve));
  const pause = pauses();

  async function launch(): Promise<Generation> {
    const { worker, connection } = await createGatewayWorker(config, target, opts);
    const gen: Generation = { worker, connection, running: Promise.resolve() };
    gen.running = worker.run().then(
      () => ended(gen),
      (err) => ended(gen, err),
    );
    return gen;
  }

  /** A worker that stops without being asked to is started again. */
  function ended(gen: Generation, err?: unknown): void {
    void gen.connection.close().catch(() => undefined);
    if (stopping || gen !== current) return;
    log?.error({ err }, 'durable worker stopped by itself; starting it again');
    current = undefined;
    starting = startLoop();
  }

  /** A new generation, unless stop() came while it was starting (then it is shut down again). */
  async function launchUnlessStopping(): Promise<Generation | undefined> {
    const gen = await launch();
    if (!stopping) return gen;
    gen.worker.shutdown();
    await gen.running;
    return undefined;
  }

  async function startLoop(): Promise<void> {
    let delay = first;
    for (let failures = 0; !stopping; failures++) {
      try {
        const gen = await launchUnlessStopping();
        if (!gen) return;
        current = gen;
        if (failures > 0) log?.info({ address: target.address, taskQueue: target.taskQueue }, 'durable worker connected and polling');
        return;
      } catch (err) {
        if (failures === 0) log?.warn({ address: target.address, err: String(err) }, 'durable worker cannot start (Temporal unreachable?); retrying in the background');
      } finally {
        markFirst();
      }
      await pause.wait(delay);
      delay = Math.min(cap, delay * 2);
    }
  }

  async function replace(outageMs: number): Promise<void> {
    const old = current;
    if (!old || stopping) return;
    try {
      const fresh = await launchUnlessStopping();
      if (!fresh) return;
      current = fresh;
      log?.info({ outageMs: Math.round(outageMs) }, 'Temporal is back after an outage: a fresh durable worker took over');
    } catch (err) {
      log?.warn({ err: String(err) }, 'could not start a fresh durable worker after the outage; the old one recovers by itself');
      return;
    }
    if (old.worker.getState() === 'RUNNING') old.worker.shutdown();
    await old.running;
  }

  const probe = Connection.lazy({
    address: target.address,
    tls: target.tls,
    apiKey: target.apiKey,
    // a probe reconnects quickly: its only job is to see Temporal return
    channelArgs: { ...CLIENT_CHANNEL_ARGS, 'grpc.max_reconnect_backoff_ms': 250 },
    interceptors: [],
  });
  const probeEvery = opts.probeEveryMs ?? 250;
  const watching = (async () => {
    let downSince: number | undefined;
    while (!stopping) {
      const at = performance.now();
      try {
        await probe.withDeadline(Date.now() + 1_000, () => probe.workflowService.getSystemInfo({}));
        if (downSince !== undefined && at - downSince >= replaceAfterMs && current) {
          replacing = replace(at - downSince);
          await replacing;
        }
        downSince = undefined;
      } catch {
        downSince ??= at;
      }
      await pause.wait(probeEvery);
    }
  })();

  starting = startLoop();
  return {
    firstAttempt,
    isRunning: () => current?.worker.getState() === 'RUNNING',
    connection: () => (current?.worker.getState() === 'RUNNING' ? current.connection : undefined),
    async stop() {
      stopping = true;
      pause.wakeAll();
      await watching;
      await replacing;
      await starting;
      const gen = current;
      current = undefined;
      if (gen) {
        if (gen.worker.getState() === 'RUNNING') gen.worker.shutdown();
        await gen.running;
      }
      await probe.close();
    },
  };
}

/** Sleeps that stop() can cut short. */
function pauses() {
  const waking = new Set<() => void>();
  return {
    wait(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waking.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        waking.add(done);
      });
    },
    wakeAll(): void {
      for (const w of [...waking]) w();
    },
  };
}
