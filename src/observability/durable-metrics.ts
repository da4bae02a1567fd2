/**
 * The durable path's counters, kept by the worker: a workflow starts and ends on a worker, whichever
 * gateway submitted it and whether or not anyone waits for its result, so the worker is the one place that
 * sees every start and every end exactly once (sinks are skipped on replay). With role `all` the worker and the
 * HTTP server share one registry and /metrics shows both; a worker-only process serves its own (see
 * metrics-server.ts). A worker that dies after counting a start but before the server recorded its workflow
 * task may count that start again on the worker that takes over (rare).
 */
import type { InjectedSinks } from '@temporalio/worker';
import type { GatewayMetricsSinks } from './durable-workflow-interceptors.js';
import type { GatewayMetrics } from './metrics.js';

/** The worker side of the sink; without metrics the calls are dropped (the workflow code is the same either way). */
export function durableMetricsSinks(metrics: GatewayMetrics | undefined): InjectedSinks<GatewayMetricsSinks> {
  return {
    gatewayMetrics: {
      started: { fn: (_info, alias) => metrics?.durable.started(alias), callDuringReplay: false },
      completed: { fn: (_info, alias, outcome) => metrics?.durable.completed(alias, outcome), callDuringReplay: false },
      failed: { fn: (_info, alias, reason) => metrics?.durable.failed(alias, reason), callDuringReplay: false },
    },
  };
}
