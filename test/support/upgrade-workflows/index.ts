/**
 * "Version N+1" of the workflows for the upgrade test: the real workflow modules, with one behavioural change to
 * the request chain behind `patched()`, the way a maintainer would ship it. New requests pause on a durable
 * timer before the chain (a command where version N has its route step) and have their answer checked by the
 * rules evaluator (a local activity), the verdict stamped on the result. Requests that started on version N
 * replay without the marker, so they keep N's commands and finish as N would.
 *
 * `requestWorkflowUnpatched` is the same change shipped without `patched()`: the negative control (a history of
 * version N does not replay on it).
 */
import { patched, proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { GatewayActivities } from '../../../activities/index.js';
import type { RulesEvaluatorConfig } from '../../../src/config/cascade-schema.js';
import type { DurableRequestInput, DurableResult } from '../../../src/durable/types.js';
import { requestWorkflow as released, type RequestWorkflowOptions } from '../../../workflows/request.js';

export { progressQuery } from '../../../workflows/request.js';
export { batchWorkflow, batchProgressQuery } from '../../../workflows/batch.js';

export const UPGRADE_PATCH = 'upgrade-test-quality-gate';

const { evaluateAnswer } = proxyLocalActivities<GatewayActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } });

const GATE: RulesEvaluatorConfig = { type: 'rules', empty: true, length: true, refusal: true, refusalPatterns: [], minChars: 1, json: true };

export type GatedResult = DurableResult & { qualityGate?: 'pass' | 'fail' };

async function withGate(input: DurableRequestInput, options: RequestWorkflowOptions): Promise<GatedResult> {
  await sleep(1);
  const result = await released(input, options);
  const verdicts = await evaluateAnswer({ request: input.request, completion: result.completion, evaluators: [GATE] });
  return { ...result, qualityGate: verdicts.every((v) => v.pass) ? 'pass' : 'fail' };
}

export async function requestWorkflow(input: DurableRequestInput, options: RequestWorkflowOptions): Promise<GatedResult> {
  // Read once, at the start (like charge-once-at-end): a workflow takes one version's path from start to end.
  return patched(UPGRADE_PATCH) ? withGate(input, options) : released(input, options);
}

export async function requestWorkflowUnpatched(input: DurableRequestInput, options: RequestWorkflowOptions): Promise<GatedResult> {
  return withGate(input, options);
}
