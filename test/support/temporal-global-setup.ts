/**
 * One real Temporal dev server (in memory, headless) and one workflow bundle for the whole test run;
 * test files connect to it with the address and bundle path provided here.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { freePort, startDevServer } from '../../src/durable/dev-server.js';
import { ensureTemporalCli } from '../../src/durable/temporal-cli.js';
import { WORKFLOWS_PATH } from '../../src/durable/worker.js';
import { workflowInterceptorModules } from '../../src/observability/workflow-modules.js';
import { qdrantForTests } from './qdrant-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    /** The run's Qdrant (see qdrant-server.ts); '' when none could be had, and qdrantUnavailable says why. */
    qdrantUrl: string;
    qdrantUnavailable: string;
  }
}

export default async function setup(project: TestProject) {
  const cli = ensureTemporalCli(process.cwd(), (m) => console.log(m));
  const [server, bundle, qdrant] = await Promise.all([
    freePort().then((port) => startDevServer({ cli, port, uiPort: false, namespace: 'default' })),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: workflowInterceptorModules({ tracing: false }), logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } }),
    // Only the tests that use Qdrant fail (with this message) when there is none, not the whole run.
    qdrantForTests().catch((err: Error) => err.message),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-bundle-'));
  const codePath = join(dir, 'workflows.js');
  writeFileSync(codePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', codePath);
  project.provide('qdrantUrl', typeof qdrant === 'string' ? '' : qdrant.url);
  project.provide('qdrantUnavailable', typeof qdrant === 'string' ? qdrant : '');
  return async () => {
    if (typeof qdrant !== 'string') await qdrant.stop();
    await server.stop();
  };
}
