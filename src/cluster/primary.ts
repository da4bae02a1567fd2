/**
 * `server.processes > 1`: this process forks N HTTP processes sharing the port (node:cluster; on Linux the
 * primary accepts and hands connections round-robin) and serves no request itself. Slot 0 runs the role asked
 * for; with role `all` and the durable path on, only slot 0 runs the Temporal worker (and the embedded dev
 * server with its run file and watchdog): the other slots run role `gateway` against slot 0's Temporal
 * address, so one process owns the data dir's dev server as with one process. A crashed child is forked
 * again with back-off; a slot that fails to start three times in a row stops everything (exit 1). SIGTERM or
 * SIGINT drain the gateway slots first, then slot 0 (its worker and dev server last).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { launcherChain, watchLaunchers } from '../durable/own-processes.js';
import { CLUSTER_ROLE_ENV, SHARED_DEV_SERVER_ENV, type ClusterMessage } from './child.js';

export interface PrimaryOptions {
  processes: number;
  role: 'all' | 'gateway';
  /** durable.enabled: slot 0 then owns the worker and the others follow its Temporal address. */
  durable: boolean;
  /** Role all without a Temporal address: slot 0 embeds the dev server. */
  embedsTemporal: boolean;
  logger: Logger;
  /** How long children get to drain on SIGTERM before they are killed. */
  drainMs?: number;
}

const START_ATTEMPTS = 3;
const MAX_BACKOFF_MS = 10_000;

interface Slot {
  index: number;
  worker?: Worker;
  ready: boolean;
  failedStarts: number;
  /** Exits after being ready, within the last minute: the back-off grows with them. */
  recentCrashes: number[];
}

export async function runPrimary(opts: PrimaryOptions): Promise<void> {
  const { logger } = opts;
  const slots: Slot[] = Array.from({ length: opts.processes }, (_, index) => ({ index, ready: false, failedStarts: 0, recentCrashes: [] }));
  const ownsWorker = opts.role === 'all' && opts.durable;
  let ownerAddress: string | undefined;
  let stopping = false;

  const envFor = (slot: Slot): Record<string, string> => {
    if (!ownsWorker || slot.index === 0) return { [CLUSTER_ROLE_ENV]: opts.role };
    return { [CLUSTER_ROLE_ENV]: 'gateway', ...(ownerAddress && { TEMPORAL_ADDRESS: ownerAddress }), ...(opts.embedsTemporal && { [SHARED_DEV_SERVER_ENV]: '1' }) };
  };

  const fork = (slot: Slot) => {
    if (stopping) return;
    slot.ready = false;
    const worker = cluster.fork(envFor(slot));
    slot.worker = worker;
    worker.on('message', (msg: ClusterMessage) => onMessage(slot, worker, msg));
    worker.once('exit', (code, signal) => onExit(slot, worker, code, signal));
  };

  const onMessage = (slot: Slot, worker: Worker, msg: ClusterMessage) => {
    if (msg?.type === 'gateway:ready') {
      slot.ready = true;
      slot.failedStarts = 0;
      logger.info({ slot: slot.index, pid: worker.process.pid }, 'gateway process ready');
      if (ownsWorker && slot.index === 0) {
        const moved = ownerAddress !== undefined && msg.temporalAddress !== ownerAddress;
        ownerAddress = msg.temporalAddress;
        // the others were started against the old address: they follow the new one by restarting
        if (moved) for (const s of slots.slice(1)) s.worker?.process.kill('SIGTERM');
        for (const s of slots.slice(1)) if (!s.worker) fork(s);
      }
    } else if (msg?.type === 'gateway:metrics-req') {
      void aggregateMetrics(slots).then(
        (m) => worker.send({ type: 'gateway:metrics-reply', id: msg.id, ...m } satisfies ClusterMessage),
        (err: Error) => worker.send({ type: 'gateway:metrics-reply', id: msg.id, error: err.message } satisfies ClusterMessage),
      );
    }
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker === worker) slot.worker = undefined;
    if (stopping) return;
    const wasReady = slot.ready;
    slot.ready = false;
    if (!wasReady) slot.failedStarts++;
    if (slot.failedStarts >= START_ATTEMPTS) {
      logger.error({ slot: slot.index, code, signal }, `a gateway process failed to start ${START_ATTEMPTS} times in a row: stopping`);
      void stop('children cannot start', 1);
      return;
    }
    const now = Date.now();
    if (wasReady) slot.recentCrashes = [...slot.recentCrashes.filter((t) => now - t < 60_000), now];
    const attempts = wasReady ? slot.recentCrashes.length : slot.failedStarts;
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** (attempts - 1));
    logger.warn({ slot: slot.index, pid: worker.process.pid, code, signal, restartInMs: delay }, 'gateway process exited: starting it again');
    setTimeout(() => fork(slot), delay).unref();
  };

  const stop = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down the gateway processes');
    // the HTTP-only slots drain first, so slot 0's worker (and dev server) finish what they still run
    for (const group of [slots.slice(1), slots.slice(0, 1)]) await Promise.all(group.map((s) => stopChild(s.worker, opts.drainMs ?? 30_000)));
    process.exit(exitCode);
  };

  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  watchLaunchers(launcherChain(), (gone) => {
    logger.warn({ launcher: gone.pid }, 'the process that started the gateway is gone');
    void stop('launcher gone');
  });
  logger.info({ processes: opts.processes, role: opts.role }, 'starting gateway processes');
  // With a worker to own, slot 0 starts first: the others need its Temporal address.
  for (const slot of ownsWorker ? slots.slice(0, 1) : slots) fork(slot);
}

function stopChild(worker: Worker | undefined, drainMs: number): Promise<void> {
  if (!worker || worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => worker.process.kill('SIGKILL'), drainMs);
    worker.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    worker.process.kill('SIGTERM');
  });
}

let collectId = 0;

/** Every ready process's registry, summed (counters and histograms add; prom-client's aggregation rules). */
async function aggregateMetrics(slots: Slot[]): Promise<{ contentType: string; body: string }> {
  const id = ++collectId;
  const ready = slots.filter((s) => s.ready && s.worker && !s.worker.isDead()).map((s) => s.worker!);
  const parts = await Promise.all(ready.map((w) => collectFrom(w, id)));
  const registry = AggregatorRegistry.aggregate(parts.filter((p): p is object[] => p !== undefined));
  return { contentType: registry.contentType, body: await registry.metrics() };
}

function collectFrom(worker: Worker, id: number): Promise<object[] | undefined> {
  return new Promise((resolve) => {
    const done = (value: object[] | undefined) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(value);
    };
    const onMessage = (msg: ClusterMessage) => {
      if (msg?.type === 'gateway:metrics-json' && msg.id === id) done(msg.metrics);
    };
    // a process busy starting or stopping is left out of this scrape rather than holding it
    const timer = setTimeout(() => done(undefined), 2_000);
    worker.on('message', onMessage);
    worker.send({ type: 'gateway:metrics-collect', id } satisfies ClusterMessage);
  });
}
