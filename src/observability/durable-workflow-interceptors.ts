/**
 * Workflow code (bundled into the workflow sandbox): counts request workflows as they start and end, through
 * the `gatewayMetrics` sink (durable-metrics.ts), so the worker that runs a workflow counts it whether or not
 * any client waits for its answer. Nothing is reported while a workflow replays, so a workflow evicted from
 * the cache and replayed is not counted again. Imports only @temporalio/workflow: it runs in the sandbox.
 */
import { ApplicationFailure, isCancellation, proxySinks, workflowInfo, type Sinks, type WorkflowInterceptors } from '@temporalio/workflow';

export interface GatewayMetricsSinks extends Sinks {
  gatewayMetrics: {
    started(alias: string): void;
    completed(alias: string, outcome: string): void;
    failed(alias: string, reason: string): void;
  };
}

const REQUEST_WORKFLOW = 'requestWorkflow';

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [
    {
      async execute(input, next) {
        if (workflowInfo().workflowType !== REQUEST_WORKFLOW) return next(input);
        // Replays were counted when they first ran (and a replay-only worker, as in history tests, has no sink).
        const live = () => !workflowInfo().unsafe.isReplaying;
        const { gatewayMetrics } = proxySinks<GatewayMetricsSinks>();
        const alias = String((input.args[0] as { request?: { model?: unknown } } | undefined)?.request?.model ?? 'unknown');
        if (live()) gatewayMetrics.started(alias);
        try {
          const result = await next(input);
          if (live()) gatewayMetrics.completed(alias, String((result as { outcome?: unknown } | undefined)?.outcome ?? 'success'));
          return result;
        } catch (err) {
          const reason = isCancellation(err) ? 'cancelled' : err instanceof ApplicationFailure ? (err.type ?? 'ApplicationFailure') : ((err as Error)?.name ?? 'error');
          if (live()) gatewayMetrics.failed(alias, reason);
          throw err;
        }
      },
    },
  ],
});
