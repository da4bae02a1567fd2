/**
 * Crash tests with real processes: the worker is killed with SIGKILL while 20 requests sit inside the fake
 * provider, and the HTTP gateway is restarted. Nothing may be lost and nothing answered twice.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { parseConfig } from '../../src/config/load.js';
import { TemporalLink, temporalTarget } from '../../src/durable/connection.js';
import { DurableRequests } from '../../src/durable/requests.js';
import { installTemporalRuntime } from '../../src/durable/worker.js';
import { durableMetricsSinks } from '../../src/observability/durable-metrics.js';
import { withTestDefaults } from '../support/harness.js';
import { freePort } from '../../src/durable/dev-server.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { GatewayProcesses, until } from '../support/gateway-processes.js';

const N = 20;
let fake: FakeProvider;
let configPath: string;
let port: number;
let taskQueue: string;
const procs = new GatewayProcesses(() => configPath);

const base = () => `http://127.0.0.1:${port}`;

beforeAll(async () => {
  fake = await startFakeProvider();
  port = await freePort();
  taskQueue = `crash-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-crash-'));
  configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    `
server: { host: 127.0.0.1, port: ${port} }
logging: { level: info }
auth: { mode: none }
durable: { temporal: { taskQueue: ${taskQueue} }, heartbeatTimeoutMs: 2000 }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-crash-test }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
defaults: { fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 50 } } }
`,
  );
});

afterAll(async () => {
  await procs.killAll();
  await fake?.close();
});

describe('crashes', () => {
  it('a worker killed with 20 requests in flight loses none; a restarted gateway still serves their results', async () => {
    const worker1 = await procs.start('worker');
    let gateway = await procs.start('gateway');
    fake.scriptFor('gpt-main', ...Array.from({ length: N }, () => ({ kind: 'hold' as const })));

    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${base()}/v1/requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `crash ${i}` }] }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await until(() => fake.held === N, 30_000, `${N} held provider calls`);

    await procs.stop(worker1, 'SIGKILL');
    await procs.start('worker');

    const results = await Promise.all(
      ids.map(async (id) => {
        for (;;) {
          const body = (await (await fetch(`${base()}/v1/requests/${id}?wait=20s`)).json()) as any;
          if (body.status !== 'running' && body.status !== 'queued') return body;
        }
      }),
    );
    results.forEach((r, i) => {
      expect(r.status).toBe('succeeded');
      expect(r.result.choices[0].message.content).toBe(`Echo: crash ${i}`);
      // The killed attempt is labelled as a lost worker (not a provider timeout), and the call ran again on the
      // same deployment: no fallback, and the request's outcome says why it took a second call.
      expect(r.attempts.map((a: any) => a.outcome)).toEqual(['worker_lost', 'ok']);
      expect(r.attempts[0].kind).toBeUndefined();
      expect(r.attempts.map((a: any) => a.deployment)).toEqual(['oa-main', 'oa-main']);
      expect(r.outcome).toBe('worker_lost');
    });
    // 20 calls held by the dead worker, 20 retried by the new one: nothing was called a third time.
    expect(fake.requests.filter((r) => r.model === 'gpt-main')).toHaveLength(2 * N);

    // Exactly one completed run per request.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const client = new Client({ connection });
    let completed = 0;
    for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
      expect(ids).toContain(wf.workflowId);
      expect(wf.status.name).toBe('COMPLETED');
      completed++;
    }
    expect(completed).toBe(N);
    await connection.close();

    await procs.stop(gateway, 'SIGTERM');
    gateway = await procs.start('gateway');
    for (const [i, id] of ids.entries()) {
      const body = (await (await fetch(`${base()}/v1/requests/${id}`)).json()) as any;
      expect(body.status).toBe('succeeded');
      expect(body.result.choices[0].message.content).toBe(`Echo: crash ${i}`);
    }
  }, 120_000);
});

describe('a call whose workers keep dying', () => {
  it('past Temporal\'s own retries: labelled worker_lost and run again on the same deployment, not switched to the next', async () => {
    // Three tries of the call never heartbeat nor return: to the server exactly a worker that died mid-call
    // (heartbeat timeout), more often than the activity's crash headroom absorbs. Then the real activity runs.
    const taskQueue = `lost-${randomUUID()}`;
    const config = parseConfig(
      withTestDefaults(`
server: { host: 127.0.0.1 }
durable: { temporal: { taskQueue: ${taskQueue} }, heartbeatTimeoutMs: 1000 }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-crash-test }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  oa-backup: { provider: oa, model: gpt-backup }
models:
  chat: { groups: [{ deployments: [oa-main, oa-backup] }] }
defaults: { fallback: { attemptsPerDeployment: 1, backoff: { baseMs: 10, capMs: 50 } } }
`),
      'worker-lost',
      {},
    );
    const activities = createActivities(config);
    let dead = 0;
    let other = '';
    const seenBefore = fake.requests.length;
    const dying: Array<Promise<unknown>> = [];
    installTemporalRuntime();
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      sinks: durableMetricsSinks(undefined),
      activities: {
        ...activities,
        callProvider: (input: Parameters<typeof activities.callProvider>[0]) => {
          if (dead++ >= 3) return activities.callProvider(input);
          const silent = new Promise((resolve) => setTimeout(resolve, 3_000));
          dying.push(silent);
          return silent.then(() => {
            throw new Error('a dead worker never reports');
          });
        },
      },
    });
    const link = new TemporalLink(temporalTarget(config.durable, inject('temporalAddress')));
    try {
      await worker.runUntil(async () => {
        await link.whenConnected();
        const durable = new DurableRequests(link, config);
        const { result } = await durable.run(
          { model: 'chat', messages: [{ role: 'user', content: 'outlive the workers' }] },
          { tenant: 'default', requestId: `lost-${randomUUID()}` },
        );
        expect(result.completion.choices[0]!.message.content).toBe('Echo: outlive the workers');
        // the plan picks either deployment first; whichever it was answered, and the other was never asked
        const first = result.attempts[0]!.deployment;
        expect(result.deployment).toBe(first);
        expect(result.attempts.map((a) => [a.deployment, a.outcome])).toEqual([
          [first, 'worker_lost'],
          [first, 'ok'],
        ]);
        other = first === 'oa-main' ? 'gpt-backup' : 'gpt-main';
        expect(result.outcome).toBe('worker_lost');
        await Promise.all(dying);
      });
      expect(dead).toBe(4);
      expect(fake.requests.slice(seenBefore).filter((r) => r.model === other)).toHaveLength(0);
    } finally {
      await link.close();
      await connection.close();
    }
  }, 60_000);
});
