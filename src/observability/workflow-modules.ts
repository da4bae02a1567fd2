/**
 * Workflow interceptor modules: they run inside the workflow sandbox, so they must be bundled with the
 * workflows. A worker that bundles its own code gets them through `interceptors.workflowModules`; a prebuilt
 * bundle must be built with them (`bundleWorkflowCode({ workflowInterceptorModules })`), or its workflows go
 * uncounted (metrics) and untraced. Resolving a path loads nothing, so this module is free with tracing off.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** Counts request workflows as they start and end (durable-workflow-interceptors.ts). Always bundled. */
export const DURABLE_METRICS_WORKFLOW_MODULE = fileURLToPath(new URL('./durable-workflow-interceptors.ts', import.meta.url));

/** The sandbox half of Temporal's OpenTelemetry interceptors. Bundled only with tracing on. */
export const TRACING_WORKFLOW_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

export function workflowInterceptorModules(opts: { tracing: boolean }): string[] {
  return opts.tracing ? [DURABLE_METRICS_WORKFLOW_MODULE, TRACING_WORKFLOW_MODULE] : [DURABLE_METRICS_WORKFLOW_MODULE];
}
