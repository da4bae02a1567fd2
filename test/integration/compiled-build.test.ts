/**
 * The production build, booted as production runs it: `npm run build` (or a dist/ newer than every build input),
 * then `node dist/main.js --role gateway` and `node dist/main.js --role worker` as two processes with a bare
 * environment (no tsx loader, no GATEWAY_WORKFLOW_BUNDLE), against the test run's Temporal dev server and the
 * fake provider; a sync, a streamed and two durable requests through them with the official `openai` client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureBuild } from '../../scripts/build-state.js';
import { freePort } from '../../src/durable/dev-server.js';
import { newPayloadKeyEntry } from '../../src/durable/payload-keys.js';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Both processes get the same payload keys, as a cluster deployment must give them. */
const PAYLOAD_KEYS = newPayloadKeyEntry('compiled');

interface Started {
  child: ChildProcess;
  output: () => string;
}

const started: Started[] = [];
let fake: FakeProvider;
let dir: string;
let port: number;
let gateway: Started;
let worker: Started;
let client: OpenAI;

/** Starts `node dist/main.js` in a role and resolves once it logs that it is up (or rejects with its output). */
async function startCompiled(role: 'gateway' | 'worker', configPath: string): Promise<Started> {
  // Only what a container would have: no NODE_OPTIONS (a loader there would run TypeScript), no bundle override.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), TEMPORAL_ADDRESS: inject('temporalAddress'), GATEWAY_PAYLOAD_KEYS: PAYLOAD_KEYS };
  const child = spawn(process.execPath, ['dist/main.js', '--role', role, '--config', configPath], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const proc: Started = { child, output: () => output };
  started.push(proc);
  const ready = role === 'worker' ? 'worker running' : 'gateway listening';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`compiled ${role} did not start within 60 s:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`compiled ${role} exited (${code}) before it was ready:\n${output}`));
    });
  });
  return proc;
}

async function stop(p: Started): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

beforeAll(async () => {
  ensureBuild(ROOT, (m) => console.log(`[compiled-build] ${m}`));
  fake = await startFakeProvider();
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'gateway-compiled-'));
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    `
server: { host: 127.0.0.1, port: ${port}, operator: { localWithoutKey: true } }
logging: { level: info }
auth: { mode: none }
durable: { temporal: { taskQueue: compiled-${randomUUID()} } }
batches: { dir: ${JSON.stringify(join(dir, 'files'))} }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-compiled-test }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`,
  );
  [worker, gateway] = await Promise.all([startCompiled('worker', configPath), startCompiled('gateway', configPath)]);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
}, 240_000);

afterAll(async () => {
  for (const p of started.reverse()) await stop(p);
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the compiled build', () => {
  it('runs on node alone: no tsx in either process, the worker on the prebuilt bundle (no webpack)', () => {
    for (const p of [gateway, worker]) {
      const cmdline = readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(1, 2)).toEqual(['dist/main.js']);
      expect(cmdline.join(' ')).not.toMatch(/tsx|--import|--loader/);
      expect(readFileSync(`/proc/${p.child.pid}/environ`, 'utf8')).not.toMatch(/NODE_OPTIONS|GATEWAY_WORKFLOW_BUNDLE/);
    }
    expect(worker.output()).toContain('workflow bundle: prebuilt, loaded from file');
    expect(worker.output()).toContain(join('dist', 'workflow-bundle.js'));
    expect(worker.output()).not.toContain('with webpack');
    expect(worker.output()).not.toContain('Workflow bundle created');
  });

  it('answers a sync request', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'sync hello' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: sync hello');
    expect(response.headers.get('x-gateway-deployment')).toBe('oa-main');
  });

  it('streams', async () => {
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'stream hello' }] });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      chunks++;
    }
    expect(text).toBe('Echo: stream hello');
    expect(chunks).toBeGreaterThan(1);
  });

  it('runs a durable request on the separate worker (x-gateway-durable)', async () => {
    const before = fake.requests.length;
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'durable hello' }] }, { headers: { 'x-gateway-durable': 'true' } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: durable hello');
    const id = response.headers.get('x-gateway-request-id');
    expect(id).toBeTruthy();
    expect(fake.requests.length).toBe(before + 1);
    // The gateway process runs no worker: the request workflow ran in the worker process.
    expect(gateway.output()).not.toContain('workflow bundle:');
    const status = (await (await fetch(`http://127.0.0.1:${port}/v1/requests/${id}`)).json()) as { status: string };
    expect(status.status).toBe('succeeded');
  });

  it('runs a submitted request (POST /v1/requests) to completion', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `compiled-${randomUUID()}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'submitted hello' }] }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = (await (await fetch(`http://127.0.0.1:${port}/v1/requests/${id}?wait=30s`)).json()) as {
      status: string;
      result?: { choices: Array<{ message: { content: string } }> };
    };
    expect(done.status).toBe('succeeded');
    expect(done.result?.choices[0]?.message.content).toBe('Echo: submitted hello');
  });

  it('encrypts durable payloads with GATEWAY_PAYLOAD_KEYS, in the gateway and the worker on the prebuilt bundle', async () => {
    const marker = `compiled-secret-${randomUUID()}`;
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: marker }] }, { headers: { 'x-gateway-durable': 'true' } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(`Echo: ${marker}`);
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const raw = await connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: response.headers.get('x-gateway-request-id')! } });
      const input = raw.history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');
      expect(Buffer.from(temporal.api.history.v1.History.encode(raw.history!).finish()).includes(marker)).toBe(false);
    } finally {
      await connection.close();
    }
  });

  it('serves the status page, an asset the build copies', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/status`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
  });
});
