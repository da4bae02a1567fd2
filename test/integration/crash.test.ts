/**
 * Crash tests with real processes: the worker is killed with SIGKILL while 20 requests sit inside the fake
 * provider, and the HTTP gateway is restarted. Nothing may be lost and nothing answered twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../src/durable/dev-server.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

const N = 20;
let fake: FakeProvider;
let configPath: string;
let port: number;
let taskQueue: string;
const children = new Set<ChildProcess>();

/** Starts `src/main.ts` in a role and resolves once its start-up log line appears. */
async function startProcess(role: 'worker' | 'gateway'): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', role, '--config', configPath], {
    env: { ...process.env, GATEWAY_WORKFLOW_BUNDLE: inject('workflowBundlePath'), TEMPORAL_ADDRESS: inject('temporalAddress') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const ready = role === 'worker' ? 'worker running' : 'gateway listening';
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${role} exited (${code}) before it was ready:\n${output}`)));
  });
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await gone;
}

const base = () => `http://127.0.0.1:${port}`;

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
  for (const c of children) await stop(c, 'SIGKILL');
  await fake?.close();
});

describe('crashes', () => {
  it('a worker killed with 20 requests in flight loses none; a restarted gateway still serves their results', async () => {
    const worker1 = await startProcess('worker');
    let gateway = await startProcess('gateway');
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

    await stop(worker1, 'SIGKILL');
    await startProcess('worker');

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
      // The killed attempt shows up as a timeout, then the new worker's call answered.
      expect(r.attempts.map((a: any) => a.outcome)).toEqual(['error', 'ok']);
      expect(r.attempts[0].kind).toBe('timeout');
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

    await stop(gateway, 'SIGTERM');
    gateway = await startProcess('gateway');
    for (const [i, id] of ids.entries()) {
      const body = (await (await fetch(`${base()}/v1/requests/${id}`)).json()) as any;
      expect(body.status).toBe('succeeded');
      expect(body.result.choices[0].message.content).toBe(`Echo: crash ${i}`);
    }
  }, 120_000);
});
