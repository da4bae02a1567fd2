/**
 * A batch survives its worker being killed with SIGKILL mid-batch: the gateway and the worker run as separate
 * processes (as in production), the worker dies while 8 lines sit inside the fake provider, a new worker takes
 * over, and every line is answered exactly once in the output. The provider sees the 8 lines that were in
 * flight twice (their calls died with the worker) and every other line once: answered lines are not re-run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/durable/dev-server.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { GatewayProcesses, until } from '../support/gateway-processes.js';

const LINES = 40;
const ANSWERED_BEFORE_KILL = 12;
const IN_FLIGHT = 8;

let fake: FakeProvider;
let configPath: string;
let port: number;
const procs = new GatewayProcesses(() => configPath);

beforeAll(async () => {
  fake = await startFakeProvider();
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gateway-batch-crash-'));
  configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    `
server: { host: 127.0.0.1, port: ${port} }
logging: { level: info }
auth: { mode: none }
durable: { temporal: { taskQueue: batch-crash-${randomUUID()} }, heartbeatTimeoutMs: 2000 }
batches: { dir: "${join(dir, 'files')}", linesPerChunk: 4, maxConcurrentLines: ${IN_FLIGHT} }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: sk-batch-crash }
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

const textOf = (body: any): string => body.messages.at(-1).content;

describe('a batch and a crashing worker', () => {
  it('a worker killed mid-batch loses no line and answers none twice', async () => {
    const worker1 = await procs.start('worker');
    await procs.start('gateway');
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
    fake.scriptFor(
      'gpt-main',
      ...Array.from({ length: ANSWERED_BEFORE_KILL }, () => ({ kind: 'reply' as const })),
      ...Array.from({ length: IN_FLIGHT }, () => ({ kind: 'hold' as const })),
    );

    const lines = Array.from({ length: LINES }, (_, i) => ({
      custom_id: `line-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'chat', messages: [{ role: 'user', content: `crash line ${i}` }] },
    }));
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n')), 'crash.jsonl'), purpose: 'batch' });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    // Every slot is held: the 12 answered lines are stored, the 8 held ones are not.
    await until(() => fake.held === IN_FLIGHT, 30_000, `${IN_FLIGHT} held lines`);
    const before = fake.requests.map((r) => textOf(r.body));
    expect(before).toHaveLength(ANSWERED_BEFORE_KILL + IN_FLIGHT);
    const heldLines = new Set(before.slice(ANSWERED_BEFORE_KILL));

    await procs.stop(worker1, 'SIGKILL');
    await procs.start('worker');

    let done = await openai.batches.retrieve(batch.id);
    await until(
      async () => {
        done = await openai.batches.retrieve(batch.id);
        return ['completed', 'failed', 'cancelled', 'expired'].includes(done.status);
      },
      90_000,
      'the batch to finish',
    );
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
    expect(done.error_file_id ?? null).toBeNull();

    const output = (await (await openai.files.content(done.output_file_id!)).text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    // Exactly one output line per input line, in input order, each with its own answer.
    expect(output.map((o) => o.custom_id)).toEqual(lines.map((l) => l.custom_id));
    output.forEach((o, i) => {
      expect(o.response.status_code).toBe(200);
      expect(o.response.body.choices[0].message.content).toBe(`Echo: crash line ${i}`);
    });

    // The provider saw each held line twice (the dead worker's call, then the new one) and every other line once.
    const calls = new Map<string, number>();
    for (const r of fake.requests) calls.set(textOf(r.body), (calls.get(textOf(r.body)) ?? 0) + 1);
    for (const l of lines) {
      const text = (l.body.messages[0] as { content: string }).content;
      expect([text, calls.get(text)]).toEqual([text, heldLines.has(text) ? 2 : 1]);
    }
    expect(fake.requests).toHaveLength(LINES + IN_FLIGHT);
  }, 150_000);
});
