/**
 * The baseline's worker, its own process as the gateway's worker is (`node --import tsx baseline-worker.ts
 * <address> <taskQueue>`): the baseline workflow, its one activity, the gateway worker's concurrency settings.
 * Prints `{"url": ...}` once polling (what bench/lib/fake.ts waits for), and stops on SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../../src/durable/worker.js';
import type { BaselineActivities } from './baseline-workflow.js';

const [address, taskQueue] = process.argv.slice(2);
if (!address || !taskQueue) throw new Error('usage: baseline-worker.ts <address> <taskQueue>');
Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' } } } });
const bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./baseline-workflow.ts', import.meta.url)), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } });
const activities: BaselineActivities = { answer: async (n) => ({ ok: true, n, text: 'Echo: baseline' }) };
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({ connection, namespace: 'default', taskQueue, workflowBundle: bundle, activities, ...WORKER_TUNING });
process.once('SIGTERM', () => worker.shutdown());
process.once('SIGINT', () => worker.shutdown());
const running = worker.run();
console.log(JSON.stringify({ url: `temporal://${address}/${taskQueue}` }));
await running;
await connection.close();
