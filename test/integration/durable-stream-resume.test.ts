/**
 * Live durable streams across real processes sharing Redis (valkey): two gateway processes and a separate
 * worker. A gateway killed (-9) mid-stream: the client reconnects to the other one with Last-Event-ID and gets
 * the rest, no token lost or repeated. A worker killed mid-stream: the call runs again on a new worker, and the
 * client is told in-band before it receives the new answer from its start. Prints the timings.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../src/durable/dev-server.js';
import { compareIds } from '../../src/streams/stream-log.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { GatewayProcesses, until } from '../support/gateway-processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { openAIText, openStream } from '../support/sse-client.js';

let fake: FakeProvider;
let redis: RedisServer;
const ports: number[] = [];
const paths: string[] = [];
const worker = new GatewayProcesses(() => paths[0]!);
const gatewayA = new GatewayProcesses(() => paths[1]!);
const gatewayB = new GatewayProcesses(() => paths[2]!);
let temporal: Connection;
let workerProc: ChildProcess;
let gatewayAProc: ChildProcess;

const WORDS = Array.from({ length: 60 }, (_, i) => `t${i}`);
const TEXT = WORDS.join(' ');
const TEXT2 = WORDS.map((w) => `${w}b`).join(' ');
const url = (i: number) => `http://127.0.0.1:${ports[i]}`;

beforeAll(async () => {
  [fake, redis] = await Promise.all([startFakeProvider(), startRedis()]);
  const taskQueue = `stream-resume-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-stream-'));
  for (const name of ['worker', 'a', 'b']) {
    const port = await freePort();
    ports.push(port);
    const path = join(dir, `${name}.yaml`);
    paths.push(path);
    writeFileSync(
      path,
      `
server: { host: 127.0.0.1, port: ${port} }
logging: { level: info }
auth: { mode: none }
durable:
  temporal: { taskQueue: ${taskQueue} }
  heartbeatTimeoutMs: 2000
  streamLog: { kind: redis, url: "${redis.url}", retentionSeconds: 120 }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-stream-resume }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
defaults: { fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 50 } } }
`,
    );
  }
  temporal = await Connection.connect({ address: inject('temporalAddress') });
  [workerProc, gatewayAProc] = await Promise.all([worker.start('worker'), gatewayA.start('gateway'), gatewayB.start('gateway')]);
}, 120_000);

afterAll(async () => {
  for (const p of [worker, gatewayA, gatewayB]) await p.killAll();
  await temporal?.close();
  await fake?.close();
  await redis?.stop();
});

const streamVia = (base: string) =>
  openStream(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-durable': 'true' },
    body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'a long story' }] }),
  });

describe('a durable stream outlives its processes', () => {
  it('gateway killed -9 mid-stream: the other gateway resumes after Last-Event-ID, nothing lost or repeated', async () => {
    fake.scriptFor('gpt-main', { kind: 'reply', text: TEXT, tokenDelayMs: 50 });
    const t0 = performance.now();
    const first = await streamVia(url(1));
    expect(first.status).toBe(200);
    const id = first.headers.get('x-gateway-request-id')!;
    await until(() => openAIText(first.events).split(' ').length >= 15, 20_000, '15 words through gateway A');
    const tKill = performance.now();
    await gatewayA.stop(gatewayAProc, 'SIGKILL');
    await first.done;
    const seen = first.events.filter((e) => e.id);
    const lastId = seen.at(-1)!.id!;
    const tReconnect = performance.now();
    const rest = await openStream(`${url(2)}/v1/requests/${id}/stream`, { headers: { 'last-event-id': lastId } });
    expect(rest.status).toBe(200);
    await until(() => rest.events.length > 0, 20_000, 'the first resumed event');
    const tFirstResumed = performance.now();
    await rest.done;
    const tEnd = performance.now();

    expect(openAIText(seen) + openAIText(rest.events)).toBe(TEXT);
    expect(rest.events.at(-1)!.data).toBe('[DONE]');
    const ids = [...seen, ...rest.events].map((e) => e.id!);
    for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
    expect(rest.events.some((e) => e.event === 'gateway.restart')).toBe(false);
    console.log(
      `[stream-resume] gateway kill: ${openAIText(seen).split(' ').length} words before the kill at ${Math.round(tKill - t0)} ms; ` +
        `reconnect to the first resumed event ${Math.round(tFirstResumed - tReconnect)} ms; ` +
        `${openAIText(rest.events).split(' ').length} words after; whole stream ${Math.round(tEnd - t0)} ms (upstream alone ~${WORDS.length * 50} ms)`,
    );
    // the killed gateway is replaced for the next test
    gatewayAProc = await gatewayA.start('gateway');
  }, 90_000);

  it('worker killed -9 mid-stream: the client is told in-band, then gets the re-run answer from its start', async () => {
    fake.scriptFor('gpt-main', { kind: 'reply', text: TEXT, tokenDelayMs: 50 }, { kind: 'reply', text: TEXT2, tokenDelayMs: 10 });
    const t0 = performance.now();
    const s = await streamVia(url(2));
    const id = s.headers.get('x-gateway-request-id')!;
    await until(() => openAIText(s.events).split(' ').length >= 10, 20_000, '10 words');
    const tKill = performance.now();
    await worker.stop(workerProc, 'SIGKILL');
    workerProc = await worker.start('worker');
    await until(() => s.events.some((e) => e.event === 'gateway.restart'), 30_000, 'the restart notice');
    const tRestart = performance.now();
    await s.done;
    const tEnd = performance.now();

    const at = s.events.findIndex((e) => e.event === 'gateway.restart');
    const before = openAIText(s.events.slice(0, at));
    expect(TEXT.startsWith(before)).toBe(true);
    expect(before.split(' ').length).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(s.events[at]!.data)['gateway.restart']).toMatchObject({ reason: 'worker_lost', answer: 2 });
    expect(openAIText(s.events.slice(at + 1))).toBe(TEXT2); // the whole re-run, from its first token
    expect(s.events.at(-1)!.data).toBe('[DONE]');

    // the request's story: the lost call with the chunks it had streamed, then the answering one
    const handle = new Client({ connection: temporal }).workflow.getHandle(id);
    const result = (await handle.result()) as { attempts: Array<{ outcome: string; chunks?: number; streamEnd?: string }> };
    expect(result.attempts.map((a) => a.outcome)).toEqual(['worker_lost', 'ok']);
    expect(result.attempts[0]!.chunks).toBeGreaterThan(0);
    const details = JSON.stringify(await handle.query('__temporal_workflow_metadata'));
    expect(details).toContain(`cut after ${result.attempts[0]!.chunks} chunks: worker lost`);
    expect(details).toContain(`ok · streamed ${result.attempts[1]!.chunks} chunks · ended: stop`);
    console.log(
      `[stream-resume] worker kill at ${Math.round(tKill - t0)} ms after ${before.split(' ').length} words; ` +
        `restart notice ${Math.round(tRestart - tKill)} ms after the kill (heartbeat timeout 2000 ms); whole stream ${Math.round(tEnd - t0)} ms`,
    );
  }, 90_000);
});
