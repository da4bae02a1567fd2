/**
 * `kill -9` of a running gateway (role all, embedded Temporal dev server on a file db), started the way a
 * user does it — `npm run gateway -- --config …` (npm → sh → tsx → node) — with 20 durable requests held
 * inside the fake provider; then the same command again, with no manual step. It must start (nothing of the
 * first run holds a port), leave no process of the first run behind, and answer all 20 exactly once.
 * Variant 1 kills the npm process (the top of the tree, what `kill -9 <npm pid>` does); variant 2 kills only
 * the gateway's node process (what the OOM killer picks).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../src/durable/dev-server.js';
import { readRecord } from '../../src/durable/run-file.js';
import { AesGcmPayloadCodec } from '../../src/durable/payload-codec.js';
import { devPayloadKeys } from '../../src/durable/payload-keys.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { LaunchedGateway } from '../support/launched-gateway.js';
import { until } from '../support/gateway-processes.js';

const N = 20;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeProvider();
});
afterEach(() => LaunchedGateway.killAll());
afterAll(async () => {
  LaunchedGateway.killAll();
  await fake?.close();
});

async function setup(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `gateway-crash-restart-${name}-`));
  const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const model = `gpt-${name}`;
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    `
dataDir: data
server: { host: 127.0.0.1, port: ${port} }
logging: { level: info }
auth: { mode: none }
durable: { temporal: { taskQueue: crash-restart-${name} }, devServer: { port: ${temporalPort}, uiPort: ${uiPort} }, heartbeatTimeoutMs: 2000 }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-crash-restart }
deployments:
  main: { provider: oa, model: ${model} }
models:
  chat: { groups: [{ deployments: [main] }] }
defaults: { fallback: { attemptsPerDeployment: 3, backoff: { baseMs: 10, capMs: 50 } } }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, GATEWAY_WORKFLOW_BUNDLE: inject('workflowBundlePath') };
  delete env.TEMPORAL_ADDRESS;
  // Exactly the user's command; the same again after the crash.
  const launch = () => LaunchedGateway.start('npm', ['run', '--silent', 'gateway', '--', '--config', configPath], { cwd: repo, env });
  return { dir, base: `http://127.0.0.1:${port}`, temporal: `127.0.0.1:${temporalPort}`, model, launch, runFile: join(dir, 'data', 'gateway.run.json') };
}

async function submitHeld(base: string, model: string, name: string): Promise<string[]> {
  fake.scriptFor(model, ...Array.from({ length: N }, () => ({ kind: 'hold' as const })));
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    const res = await fetch(`${base}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${name}-${i}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `${name} ${i}` }] }),
    });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await until(() => fake.held === N, 30_000, `${N} held provider calls`);
  return ids;
}

async function settled(base: string, id: string): Promise<any> {
  for (;;) {
    const body = (await (await fetch(`${base}/v1/requests/${id}?wait=20s`)).json()) as any;
    if (body.status !== 'running' && body.status !== 'queued') return body;
  }
}

async function crashAndRestart(name: string, victim: (first: LaunchedGateway, runFile: string) => number) {
  const t = await setup(name);
  const first = t.launch();
  await first.ready();
  const ids = await submitHeld(t.base, t.model, name);
  const firstRun = first.snapshot();
  // npm, sh, tsx, the gateway's node, the watchdog and the Temporal server.
  expect(firstRun.length).toBeGreaterThanOrEqual(6);

  process.kill(victim(first, t.runFile), 'SIGKILL');
  const t0 = Date.now();
  const second = t.launch();
  await second.ready();
  const restartMs = Date.now() - t0;

  // Nothing of the first run survives: not the npm tree, not its dev server, not its watchdog.
  await until(() => firstRun.every((ref) => !LaunchedGateway.survivors().some((s) => s.pid === ref.pid && s.startTime === ref.startTime)), 15_000, 'the first run to be gone');
  await first.closed;
  expect(second.output).not.toMatch(/address already in use|EADDRINUSE/);

  const results = await Promise.all(ids.map((id) => settled(t.base, id)));
  results.forEach((r, i) => {
    expect(r.status).toBe('succeeded');
    expect(r.result.choices[0].message.content).toBe(`Echo: ${name} ${i}`);
  });
  // The 20 held calls died with the first run and were never answered; every prompt was then answered once.
  const calls = fake.requests.filter((r) => r.model === t.model).map((r) => (r.body as any).messages.at(-1).content as string);
  expect(calls.slice(0, N).sort()).toEqual(ids.map((_, i) => `${name} ${i}`).sort());
  expect(calls.slice(N).sort()).toEqual(ids.map((_, i) => `${name} ${i}`).sort());

  // The same Idempotency-Key again returns the same request: the second run sees the first run's state.
  const again = await fetch(`${t.base}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `${name}-0` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `${name} 0` }] }),
  });
  expect(((await again.json()) as { id: string }).id).toBe(ids[0]);

  // One completed workflow per request, on the restarted dev server (same db file).
  const connection = await Connection.connect({ address: t.temporal });
  try {
    // the embedded dev server's payloads (memo included) are encrypted with the key generated into the data dir
    const client = new Client({ connection, dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(devPayloadKeys(join(t.dir, 'data')))] } });
    const done: string[] = [];
    for await (const wf of client.workflow.list({ query: `TaskQueue = 'crash-restart-${name}'` })) {
      expect(wf.status.name).toBe('COMPLETED');
      done.push(wf.workflowId);
    }
    expect(done.sort()).toEqual([...ids].sort());
  } finally {
    await connection.close();
  }

  // Ctrl-C stops the second run whole, and removes its run file.
  expect(await second.interrupt()).toBe(true);
  // interrupt() returns when the processes holding the gateway's output have exited; once (1 in ~6 full runs)
  // one more process of the tree was still seen at that instant. Whatever it is, it must be gone within the
  // watchdog's grace, and a failure names it.
  await until(() => LaunchedGateway.survivors().length === 0, 12_000, 'every process of the second run to exit').catch(() => undefined);
  expect(LaunchedGateway.describeSurvivors()).toEqual([]);
  expect(readRecord(t.runFile)).toBeUndefined();
  return restartMs;
}

describe('kill -9 of a running gateway, then the same command again', () => {
  it('kill -9 of the npm process: the next start cleans up and answers all 20 exactly once', async () => {
    const ms = await crashAndRestart('npm', (first) => first.pid);
    console.log(`restart after kill -9 of npm: listening in ${ms} ms`);
  }, 90_000);

  it('kill -9 of the gateway node process alone: its dev server goes with it, the next start answers all 20', async () => {
    const ms = await crashAndRestart('node', (_first, runFile) => {
      const owner = readRecord(runFile)?.owner;
      expect(owner?.argv.join(' ')).toMatch(/src\/main\.ts/);
      return owner!.pid;
    });
    console.log(`restart after kill -9 of the gateway node process: listening in ${ms} ms`);
  }, 90_000);
});
