/**
 * Prebuilds the workflow bundles a compiled worker loads (`workflowBundle: { codePath }`), so it starts without
 * webpack: one without and one with the tracing interceptors (src/durable/prebuilt-bundle.ts says why two).
 * Bundled from the TypeScript source, as the tests' bundle is: the SDK's bundler compiles it with swc, and it is
 * the same source tsc compiles into dist/ in the same build.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleFileName } from '../src/durable/prebuilt-bundle.js';
import { WORKFLOWS_PATH } from '../src/durable/worker.js';
import { workflowInterceptorModules } from '../src/observability/workflow-modules.js';

const quiet = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };

export async function buildWorkflowBundles(outDir: string): Promise<string[]> {
  const written: string[] = [];
  // One after the other: webpack is CPU-bound, running both at once gains nothing on a small machine.
  for (const tracing of [false, true]) {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: workflowInterceptorModules({ tracing }), logger: quiet });
    const path = join(outDir, workflowBundleFileName(tracing));
    writeFileSync(path, code);
    written.push(path);
  }
  return written;
}
