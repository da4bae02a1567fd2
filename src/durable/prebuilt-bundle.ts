/**
 * The workflow bundles `npm run build` writes next to the compiled program (dist/), one per tracing setting:
 * workflow interceptor modules are baked into a bundle, so a bundle without the tracing interceptors would
 * leave a tracing worker's workflows untraced, and one with them would call span sinks a non-tracing worker
 * never registers. A compiled worker picks the right one itself and starts without webpack.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workflowBundleFileName(tracing: boolean): string {
  return tracing ? 'workflow-bundle.tracing.js' : 'workflow-bundle.js';
}

/**
 * Run from source (tsx) there is no prebuilt bundle: one left in dist/ may be older than the source being run,
 * so the worker bundles the source itself. Run compiled (dist/src/durable/ → dist/) the bundle must be there:
 * dist/ has no TypeScript to bundle from.
 */
export function prebuiltWorkflowBundle(tracing: boolean, moduleUrl: string = import.meta.url): { codePath: string } | undefined {
  if (!moduleUrl.endsWith('.js')) return undefined;
  const codePath = fileURLToPath(new URL(`../../${workflowBundleFileName(tracing)}`, moduleUrl));
  if (!existsSync(codePath)) throw new Error(`the prebuilt workflow bundle ${codePath} is missing: run \`npm run build\``);
  return { codePath };
}
