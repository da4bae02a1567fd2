/**
 * A deploy with requests in flight: 20 durable requests start on version N workers (today's workflows) and are
 * held upstream; the N workers stop, version N+1 workers start (test/support/upgrade-workflows: the real modules
 * with a patched change to the chain), the upstream is released, and every request completes with its own
 * answer, answered and charged once. A request started after the deploy takes N+1's new path. The negative
 * control: N's in-flight history does not replay on the same change shipped without patched().
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { workflowInterceptorModules } from '../../src/observability/workflow-modules.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { durableYaml } from '../support/durable-harness.js';
import { withTestDefaults } from '../support/harness.js';
import { replayFailures, replayOptions } from '../support/replay-guard.js';
import { until } from '../support/until.js';
import { UPGRADE_PATCH, type GatedResult } from '../support/upgrade-workflows/index.js';

const REQUESTS = 20;
const VARIANT = fileURLToPath(new URL('../support/upgrade-workflows/index.ts', import.meta.url));

let fake: FakeProvider;
let config: GatewayConfig;
let gateway: RunningGateway;
let temporal: Client;
let nextBundle: string;
const workers: RunningGateway[] = [];

beforeAll(async () => {
  fake = await startFakeProvider();
  const yaml = durableYaml(
    `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upgrade-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 20 } }
`,
    `upgrade-${Date.now()}`,
  );
  config = parseConfig(withTestDefaults(yaml).replaceAll('{{FAKE}}', fake.url), 'upgrade', {});
  const address = inject('temporalAddress');
  const [bundle] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: VARIANT, workflowInterceptorModules: workflowInterceptorModules({ tracing: false }), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } }),
    startGateway(config, { role: 'gateway', port: 0, logger: createLogger('silent'), temporalAddress: address }).then((g) => (gateway = g)),
  ]);
  nextBundle = join(mkdtempSync(join(tmpdir(), 'gateway-upgrade-')), 'workflows.js');
  writeFileSync(nextBundle, bundle.code);
  temporal = new Client({ connection: await Connection.connect({ address }) });
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.close().catch(() => undefined);
  await gateway?.close();
  await temporal?.connection.close();
  await fake?.close();
});

const startWorkers = async (codePath: string) => {
  const w = await startGateway(config, { role: 'worker', logger: createLogger('silent'), temporalAddress: inject('temporalAddress'), worker: { workflowBundle: { codePath } } });
  workers.push(w);
  return w;
};

async function submit(prompt: string): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: prompt }] }) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

type Event = proto.api.history.v1.IHistoryEvent;
const markers = (events: Event[]) =>
  events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => (JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!).toString()) as { id: string }).id);
const completedCharges = (events: Event[]) => {
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeRequest').map((e) => String(e.eventId)));
  const asActivity = events.filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? ''))).length;
  // since the planned-input-local-charge patch the charge is a local activity: its marker holds the activity type
  const asLocal = events.filter((e) => {
    const m = e.markerRecordedEventAttributes;
    return m?.markerName === 'core_local_activity' && !m.failure && Buffer.from(m.details?.data?.payloads?.[0]?.data ?? []).toString().includes('"chargeRequest"');
  }).length;
  return asActivity + asLocal;
};

describe('a deploy with durable requests in flight', () => {
  it('20 requests held on version N finish on version N+1 (patched change), each answered and charged once', async () => {
    const prompts = Array.from({ length: REQUESTS }, (_, i) => `upgrade request number ${i}`);
    fake.scriptFor('gpt-main', ...prompts.map(() => ({ kind: 'hold' as const })));
    const versionN = await startWorkers(inject('workflowBundlePath'));
    const ids = await Promise.all(prompts.map(submit));
    await until('every call to be held upstream on version N', () => (fake.held === REQUESTS ? true : undefined));
    const inFlight = await temporal.workflow.getHandle(ids[0]!).fetchHistory();

    await versionN.close();
    // Calls cut by the shutdown are retried by Temporal on the next worker; hold those too until the release.
    fake.scriptFor('gpt-main', ...prompts.map(() => ({ kind: 'hold' as const })));
    await startWorkers(nextBundle);
    await until('the calls to be held again, on version N+1', () => (fake.held === REQUESTS ? true : undefined));
    fake.release();

    const results = (await Promise.all(ids.map((id) => temporal.workflow.getHandle(id).result()))) as GatedResult[];
    expect(results.map((r) => r.completion.choices[0]!.message.content)).toEqual(prompts.map((p) => `Echo: ${p}`));
    for (const [i, id] of ids.entries()) {
      const events = (await temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
      // N's path to the end: no marker of the new change, no gate; one answer, one charge
      expect(markers(events)).not.toContain(UPGRADE_PATCH);
      expect(results[i]!.qualityGate).toBeUndefined();
      expect(results[i]!.attempts.filter((a) => a.outcome === 'ok')).toHaveLength(1);
      expect(completedCharges(events)).toBe(1);
    }
    // upstream: the call version N's shutdown cut (never answered), then the one answered after the release
    const calls = fake.requests.filter((r) => r.model === 'gpt-main');
    for (const p of prompts) expect(calls.filter((r) => JSON.stringify(r.body).includes(`"${p}"`)).length, p).toBe(2);

    // after the deploy, new requests take N+1's path
    const fresh = await submit('a request after the deploy');
    const gated = (await temporal.workflow.getHandle(fresh).result()) as GatedResult;
    expect(gated.qualityGate).toBe('pass');
    expect(markers((await temporal.workflow.getHandle(fresh).fetchHistory()).events ?? [])).toContain(UPGRADE_PATCH);

    // the negative control: the change without patched() cannot take over N's requests
    const unpatched = JSON.parse(historyToJSON(inFlight)) as { events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType: { name: string } } }> };
    unpatched.events[0]!.workflowExecutionStartedEventAttributes!.workflowType.name = 'requestWorkflowUnpatched';
    expect(await replayFailures([{ workflowId: 'in-flight-on-N', history: inFlight }], replayOptions(nextBundle))).toEqual([]);
    expect((await replayFailures([{ workflowId: 'in-flight-on-N', history: unpatched }], replayOptions(nextBundle)))[0]).toMatch(/[Nn]ondetermin/);
  }, 90_000);
});
