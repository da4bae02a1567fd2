/**
 * The side of one HTTP process forked by the cluster primary (primary.ts): which role its slot runs, telling
 * the primary it is serving, and /metrics answered for all processes (each process keeps its own counters;
 * the primary gathers them from every ready process and sums them with prom-client's aggregator).
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { Counter } from 'prom-client';
import type { GatewayMetrics } from '../observability/metrics.js';

/** Set by the primary for each child: the role of its slot (`all` for the one owning the worker, else `gateway`). */
export const CLUSTER_ROLE_ENV = 'GATEWAY_CLUSTER_ROLE';
/** Set for gateway slots beside an owner that runs the embedded dev server: they use its data dir's payload key. */
export const SHARED_DEV_SERVER_ENV = 'GATEWAY_CLUSTER_SHARED_DEV_SERVER';

export type ClusterMessage =
  | { type: 'gateway:ready'; temporalAddress?: string }
  | { type: 'gateway:metrics-req'; id: number }
  | { type: 'gateway:metrics-reply'; id: number; contentType?: string; body?: string; error?: string }
  | { type: 'gateway:metrics-collect'; id: number }
  | { type: 'gateway:metrics-json'; id: number; metrics: object[] };

export function isClusterChild(): boolean {
  return cluster.isWorker;
}

/** The role this child's slot runs; undefined outside a cluster. */
export function clusterChildRole(env: NodeJS.ProcessEnv = process.env): 'all' | 'gateway' | undefined {
  if (!cluster.isWorker) return undefined;
  const role = env[CLUSTER_ROLE_ENV];
  return role === 'all' || role === 'gateway' ? role : undefined;
}

/** This child gateway talks to the embedded dev server its sibling owns (so it shares the dev payload key). */
export function sharesEmbeddedDevServer(env: NodeJS.ProcessEnv = process.env): boolean {
  return cluster.isWorker && env[SHARED_DEV_SERVER_ENV] === '1';
}

export function reportReady(info: { temporalAddress?: string }): void {
  if (cluster.isWorker) process.send?.({ type: 'gateway:ready', temporalAddress: info.temporalAddress } satisfies ClusterMessage);
}

/**
 * In a cluster child: answers the primary's collection requests from this process's registry, counts the
 * connections this process accepted (by pid, so the spread across processes is visible), and makes
 * `render()` (the /metrics routes) return the sum over all processes.
 */
export function joinClusterMetrics(metrics: GatewayMetrics, server?: Server): void {
  if (!cluster.isWorker) return;
  const connections = new Counter({
    name: 'llm_gateway_process_connections_total',
    help: 'HTTP connections accepted on the main port, by the process (pid) that accepted them (server.processes > 1)',
    labelNames: ['pid'],
    registers: [metrics.registry],
  });
  const pid = String(process.pid);
  connections.inc({ pid }, 0);
  server?.on('connection', () => connections.inc({ pid }));
  const pending = new Map<number, (m: Extract<ClusterMessage, { type: 'gateway:metrics-reply' }>) => void>();
  let nextId = 0;
  process.on('message', (msg: ClusterMessage) => {
    if (msg?.type === 'gateway:metrics-collect') {
      void metrics.registry.getMetricsAsJSON().then((json) => process.send?.({ type: 'gateway:metrics-json', id: msg.id, metrics: json } satisfies ClusterMessage));
    } else if (msg?.type === 'gateway:metrics-reply') {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  const own = metrics.render.bind(metrics);
  // One scrape must see the whole port: round-robin hands each scrape to any process.
  metrics.render = () =>
    new Promise((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(own()); // the primary did not answer: this process's own view beats none
      }, 5_000);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.body === undefined || !reply.contentType) resolve(own());
        else resolve({ contentType: reply.contentType, body: reply.body });
      });
      process.send?.({ type: 'gateway:metrics-req', id } satisfies ClusterMessage);
    });
}
