/**
 * Eager workflow start: a gateway that runs the worker too (role all) starts each durable request over the
 * worker's own connection, and the server hands the first workflow task straight back to that worker (the
 * history's WorkflowExecutionStarted says `eagerExecutionAccepted`). A gateway without a local worker (role
 * gateway, the worker elsewhere) starts the plain way, and its requests run all the same.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Client } from '@temporalio/client';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { durableYaml, useDurableHarness } from '../support/durable-harness.js';
import { withTestDefaults } from '../support/harness.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-eager-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;

const h = useDurableHarness(yaml);

const chat = (content: string) => JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }] });

async function durableCall(url: string, content: string): Promise<{ status: number; id: string | null; text: string }> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gateway-durable': 'true' }, body: chat(content) });
  const body = (await res.json()) as { choices?: Array<{ message: { content: string } }> };
  return { status: res.status, id: res.headers.get('x-gateway-request-id'), text: body.choices?.[0]?.message.content ?? '' };
}

/** What the first event of the request's history says about its start. */
async function startedEagerly(temporal: Client, id: string): Promise<boolean> {
  const history = await temporal.workflow.getHandle(id).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  expect(started).toBeTruthy();
  return started!.eagerExecutionAccepted === true;
}

describe('eager workflow start', () => {
  it('role all: the sync durable call and the submitted request start eagerly on the local worker', async () => {
    const sync = await durableCall(h.gateway.url, 'eager sync');
    expect(sync).toMatchObject({ status: 200, text: 'Echo: eager sync' });
    expect(sync.id).toMatch(/^req-/);
    expect(await startedEagerly(h.temporal, sync.id!)).toBe(true);

    const res = await fetch(`${h.gateway.url}/v1/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('eager submit') });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=20s`)).json();
    expect(done).toMatchObject({ status: 'succeeded' });
    expect(await startedEagerly(h.temporal, id)).toBe(true);
  });

  describe('role gateway with the worker in another role', () => {
    const running: RunningGateway[] = [];
    afterAll(async () => {
      for (const g of running.reverse()) await g.close();
    });

    it('starts the plain way and the request still runs', async () => {
      const taskQueue = `test-${randomUUID()}`;
      const config = parseConfig(withTestDefaults(durableYaml(yaml, taskQueue)).replaceAll('{{FAKE}}', h.fake.url), 'eager-split', {});
      const common = { logger: createLogger('silent'), temporalAddress: inject('temporalAddress') };
      running.push(await startGateway(config, { ...common, role: 'worker', worker: { workflowBundle: { codePath: inject('workflowBundlePath') } } }));
      const gateway = await startGateway(config, { ...common, role: 'gateway', port: 0 });
      running.push(gateway);

      const call = await durableCall(gateway.url, 'plain start');
      expect(call).toMatchObject({ status: 200, text: 'Echo: plain start' });
      expect(await startedEagerly(h.temporal, call.id!)).toBe(false);
    });
  });
});
