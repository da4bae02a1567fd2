/**
 * The durable benchmark's baseline: the least a workflow can be on this dev server, one activity that returns a
 * small object at once. Bundled for the benchmark's own worker (bench/lib/baseline-worker.ts), never the gateway's.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface BaselineActivities {
  answer(n: number): Promise<{ ok: true; n: number; text: string }>;
}

const { answer } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '30 seconds' });

export async function baselineWorkflow(n: number): Promise<{ ok: true; n: number; text: string }> {
  return answer(n);
}
