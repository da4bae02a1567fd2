/**
 * The gateway against an unreliable Temporal, with real processes: a gateway (role gateway) and a worker
 * (role worker) pointed at this file's own dev server, which is stopped and started again on the same port
 * and database file. The fast path must not notice; durable calls must fail cleanly (503 + Retry-After, never
 * 500, never hang) and work again within seconds of Temporal's return.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '@temporalio/client';
import { freePort, startDevServer, type DevServer } from '../../src/durable/dev-server.js';
import { ensureTemporalCli } from '../../src/durable/temporal-cli.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { GatewayProcesses, until } from '../support/gateway-processes.js';

const OUTAGE_MS = 60_000;
/** No call may take longer than this, outage or not (a durable call normally takes ~50 ms here). */
const CALL_BOUND_MS = 15_000;
const RECOVERY_BOUND_MS = 3_000;

let fake: FakeProvider;
let cli: string;
let dir: string;
let configPath: string;
let port: number;
let temporalAddress: string;
let dev: DevServer | undefined;
const procs = new GatewayProcesses(
  () => configPath,
  () => ({ TEMPORAL_ADDRESS: temporalAddress }),
);

const base = () => `http://127.0.0.1:${port}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function writeConfig(): void {
  const taskQueue = `outage-${randomUUID()}`;
  configPath = join(dir, `gateway-${taskQueue}.yaml`);
  writeFileSync(
    configPath,
    `
server: { host: 127.0.0.1, port: ${port} }
logging: { level: info }
auth: { mode: none }
durable: { temporal: { taskQueue: ${taskQueue} }, heartbeatTimeoutMs: 2000 }
batches: { dir: ${join(dir, taskQueue, 'batches')} }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-outage-test }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  oa-held: { provider: oa, model: gpt-held }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
  held: { groups: [{ deployments: [oa-held] }] }
defaults: { fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 50 } } }
`,
  );
}

interface Sample {
  kind: 'fast' | 'durable';
  startedAt: number;
  endedAt: number;
  status: number | 'timeout' | 'network_error';
  retryAfter: string | null;
  requestId: string | null;
  body: any;
}

function chat(content: string, durable: boolean, idempotencyKey?: string, model = 'chat') {
  return fetch(`${base()}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(durable && { 'x-gateway-durable': 'true' }),
      ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
    },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    signal: AbortSignal.timeout(CALL_BOUND_MS),
  });
}

async function sample(kind: Sample['kind'], send: () => Promise<Response>): Promise<Sample> {
  const startedAt = performance.now();
  try {
    const res = await send();
    const body = await res.json().catch(() => null);
    return { kind, startedAt, endedAt: performance.now(), status: res.status, retryAfter: res.headers.get('retry-after'), requestId: res.headers.get('x-gateway-request-id'), body };
  } catch (err) {
    const status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network_error';
    return { kind, startedAt, endedAt: performance.now(), status, retryAfter: null, requestId: null, body: String(err) };
  }
}

/** Sequential calls until stopped: each one bounded, a short pause between them. */
function traffic(kind: Sample['kind'], samples: Sample[], stopped: () => boolean, pauseMs: number): Promise<void> {
  return (async () => {
    let i = 0;
    while (!stopped()) {
      const n = i++;
      samples.push(await sample(kind, () => chat(`${kind} ${n}`, kind === 'durable', kind === 'durable' ? randomUUID() : undefined)));
      await sleep(pauseMs);
    }
  })();
}

async function readyz(): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base()}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.json() };
}

function startTemporal(): Promise<DevServer> {
  const [, p] = temporalAddress.split(':');
  return startDevServer({ cli, port: Number(p), uiPort: false, dbFile: join(dir, 'temporal.db'), namespace: 'default' });
}

/** When Temporal first answers an RPC: the moment it is back, as a client polling every 25 ms sees it. */
async function firstAnswer(address: string, boundMs: number): Promise<number> {
  const end = performance.now() + boundMs;
  while (performance.now() < end) {
    try {
      const conn = await Connection.connect({ address, connectTimeout: 250 });
      try {
        await conn.workflowService.getSystemInfo({});
        return performance.now();
      } finally {
        await conn.close();
      }
    } catch {
      await sleep(25);
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${boundMs} ms`);
}

function describeSamples(samples: Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(`${s.kind} ${s.status}`, (counts.get(`${s.kind} ${s.status}`) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k}: ${v}`).join(', ');
}

beforeAll(async () => {
  fake = await startFakeProvider();
  cli = ensureTemporalCli(process.cwd());
  dir = mkdtempSync(join(tmpdir(), 'gateway-outage-'));
});

afterEach(async () => {
  await procs.killAll();
  await dev?.stop();
  dev = undefined;
  fake.release();
});

afterAll(async () => {
  await procs.killAll();
  await dev?.stop();
  await fake?.close();
});

describe('a Temporal outage', () => {
  it(`under traffic, ${OUTAGE_MS / 1000} s: the fast path never fails, durable calls answer 503 + Retry-After, and work again within ${RECOVERY_BOUND_MS / 1000} s`, async () => {
    port = await freePort();
    temporalAddress = `127.0.0.1:${await freePort()}`;
    writeConfig();
    dev = await startTemporal();
    const worker = await procs.start('worker');
    const gateway = await procs.start('gateway');

    const samples: Sample[] = [];
    let stop = false;
    const loops = [traffic('fast', samples, () => stop, 20), traffic('durable', samples, () => stop, 50), traffic('durable', samples, () => stop, 50)];
    try {
      await until(() => samples.filter((s) => s.kind === 'durable' && s.status === 200).length >= 10, 30_000, 'durable calls answering before the outage');
      expect((await readyz()).status).toBe(200);

      // A durable call in flight when Temporal goes: its outcome is unknown to the gateway, so it must hear 503
      // with the request id, not 500; the same Idempotency-Key later finds the same request.
      fake.scriptFor('gpt-held', { kind: 'hold' });
      const heldKey = `held-${randomUUID()}`;
      const held = sample('durable', () => chat('held across the outage', true, heldKey, 'held'));
      await until(() => fake.held === 1, 15_000, 'the held provider call');

      const downAt = performance.now();
      await dev.stop();
      dev = undefined;

      const lost = await held;
      expect(lost.status, JSON.stringify(lost.body)).toBe(503);
      expect(lost.retryAfter).toBe('2');
      expect(lost.body.error.code).toBe('durable_unavailable');
      const heldId = lost.requestId;
      expect(heldId).toMatch(/^req-/);
      expect(lost.body.error.message).toContain(heldId);

      await sleep(5_000);
      const notReady = await readyz();
      expect(notReady.status).toBe(503);
      expect(notReady.body.checks.temporal.ok).toBe(false);
      expect((await fetch(`${base()}/healthz`)).status).toBe(200);

      await sleep(Math.max(0, OUTAGE_MS - (performance.now() - downAt)));
      const answered = firstAnswer(temporalAddress, 60_000);
      // Nothing can answer before the server is started again; after that the gateway may reconnect before this
      // test's own probe notices (upAt), so "during the outage" ends here.
      const restartAt = performance.now();
      dev = await startTemporal();
      const upAt = await answered;
      fake.release();

      await until(() => samples.some((s) => s.kind === 'durable' && s.status === 200 && s.endedAt > upAt), 30_000, 'a durable call answering after Temporal is back');
      const firstOk = samples.find((s) => s.kind === 'durable' && s.status === 200 && s.endedAt > upAt)!;
      const recoveryMs = firstOk.endedAt - upAt;
      console.log(`durable path back ${recoveryMs.toFixed(0)} ms after Temporal was (outage ${((upAt - downAt) / 1000).toFixed(1)} s)`);
      const around = samples.filter((x) => x.kind === 'durable' && x.endedAt > upAt - 500).slice(0, 12);
      console.log(`durable calls around the return (start..end ms from it): ${around.map((x) => `${(x.startedAt - upAt).toFixed(0)}..${(x.endedAt - upAt).toFixed(0)} ${x.status}`).join(', ')}`);
      // Traffic goes on for a while after the recovery: it must stay recovered.
      await sleep(8_000);
      stop = true;
      await Promise.all(loops);

      console.log(`samples: ${describeSamples(samples)}`);
      const fast = samples.filter((s) => s.kind === 'fast');
      const durable = samples.filter((s) => s.kind === 'durable');
      expect(fast.length).toBeGreaterThan(100);
      expect(fast.filter((s) => s.status !== 200), 'fast-path calls that failed').toEqual([]);
      for (const s of durable) {
        expect([200, 503], JSON.stringify(s.body)).toContain(s.status);
        if (s.status === 503) {
          expect(s.retryAfter).toBe('2');
          expect(s.body.error).toMatchObject({ type: 'service_unavailable', code: 'durable_unavailable' });
        }
      }
      const during = durable.filter((s) => s.startedAt > downAt + 1_000 && s.endedAt < restartAt);
      expect(during.length).toBeGreaterThan(20);
      expect(during.every((s) => s.status === 503)).toBe(true);
      expect(recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
      const after = durable.filter((s) => s.startedAt > firstOk.endedAt);
      expect(after.length).toBeGreaterThan(10);
      expect(after.filter((s) => s.status !== 200), 'durable calls failing after the recovery').toEqual([]);

      // Both processes outlived the outage: nobody restarted them.
      expect(worker.exitCode).toBeNull();
      expect(gateway.exitCode).toBeNull();
      expect((await readyz()).status).toBe(200);

      const again = await sample('durable', () => chat('held across the outage', true, heldKey, 'held'));
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      expect(again.body.choices[0].message.content).toBe('Echo: held across the outage');
      // the repeat found the request the lost call had started, not a new one
      expect(again.requestId).toBe(heldId);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
  }, 180_000);

  it('a gateway and a worker started while Temporal is down serve the fast path, answer durable calls 503, and work once Temporal is up', async () => {
    port = await freePort();
    temporalAddress = `127.0.0.1:${await freePort()}`;
    writeConfig();
    const startedAt = performance.now();
    await procs.start('worker');
    await procs.start('gateway');
    const startMs = performance.now() - startedAt;
    console.log(`worker and gateway started without Temporal in ${startMs.toFixed(0)} ms`);
    expect(startMs).toBeLessThan(20_000);

    const fast = await chat('fast while down', false);
    expect(fast.status).toBe(200);
    expect(((await fast.json()) as any).choices[0].message.content).toBe('Echo: fast while down');

    const durable = await chat('durable while down', true);
    expect(durable.status).toBe(503);
    expect(durable.headers.get('retry-after')).toBe('2');
    expect(((await durable.json()) as any).error).toMatchObject({ type: 'service_unavailable', code: 'durable_unavailable' });

    const messages = await fetch(`${base()}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gateway-durable': 'true' },
      body: JSON.stringify({ model: 'chat', max_tokens: 32, messages: [{ role: 'user', content: 'anthropic while down' }] }),
    });
    expect(messages.status).toBe(503);
    expect(messages.headers.get('retry-after')).toBe('2');
    expect(await messages.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });

    const submit = await fetch(`${base()}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'submitted while down' }] }),
    });
    expect(submit.status).toBe(503);
    expect(submit.headers.get('retry-after')).toBe('2');
    await submit.arrayBuffer();
    const lookup = await fetch(`${base()}/v1/requests/req-${randomUUID()}`);
    expect(lookup.status).toBe(503);
    await lookup.arrayBuffer();

    // Files live in the gateway's own store: served without Temporal. A batch needs a workflow: 503.
    const form = new FormData();
    form.append('purpose', 'batch');
    const line = { custom_id: 'l1', method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: 'batched' }] } };
    form.append('file', new Blob([`${JSON.stringify(line)}\n`]), 'lines.jsonl');
    const upload = await fetch(`${base()}/v1/files`, { method: 'POST', body: form });
    expect(upload.status).toBe(200);
    const file = (await upload.json()) as { id: string };
    const batch = await fetch(`${base()}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
    });
    expect(batch.status).toBe(503);
    expect(batch.headers.get('retry-after')).toBe('2');
    await batch.arrayBuffer();
    const batches = (await (await fetch(`${base()}/v1/batches`)).json()) as { data: unknown[] };
    expect(batches.data).toEqual([]);

    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('not_ready');
    expect(down.body.checks.temporal.ok).toBe(false);
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);

    dev = await startTemporal();
    const upAt = performance.now();
    let answered: Response | undefined;
    await until(
      async () => {
        const res = await chat('durable once up', true);
        if (res.status === 200) answered = res;
        else await res.arrayBuffer();
        return res.status === 200;
      },
      30_000,
      'a durable call answering once Temporal is up',
    );
    console.log(`durable path answering ${(performance.now() - upAt).toFixed(0)} ms after Temporal came up`);
    expect(((await answered!.json()) as any).choices[0].message.content).toBe('Echo: durable once up');
    await until(async () => (await readyz()).status === 200, 30_000, '/readyz to report ready');
    const ready = await readyz();
    expect(ready.body.checks.temporal.ok).toBe(true);
    expect(ready.body.checks.workers.ok).toBe(true);
  }, 120_000);
});
