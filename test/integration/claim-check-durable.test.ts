/**
 * A 4 MB body on both paths, against the real dev server: the fast path answers it (the fake echoes it back),
 * and the durable path (sync `x-gateway-durable` and `POST /v1/requests`) answers it too — its request body and
 * its answer (scripted at 300 KB, over the 64 KiB threshold) ride in history as claim-check references, so
 * every run's history stays small. Without the claim check the same request fails on the durable path
 * (Temporal refuses a payload over its ~2 MB limit).
 *
 * The durable answers are scripted rather than echoed: the durable call streams from the provider, and the
 * in-process fake would spend tens of seconds framing a 4 MB echo as 800,000 SSE events on the worker's own
 * event loop — a cost of the fake, not of the gateway, and no model answers 4 MB.
 *
 * Prints the largest history measured (bytes of the protobuf the server serves).
 */
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { until } from '../support/until.js';

const dataDir = mkdtempSync(join(tmpdir(), 'gateway-claim-check-'));
const yaml = `
dataDir: "${dataDir}"
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-claim-check }
deployments:
  oa-main: { provider: oa, model: gpt-main, contextWindow: 2000000 }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;

/** Bound on any one run's history: the references and the attempt records, never the bodies. */
const HISTORY_BOUND_BYTES = 256 * 1024;
/** About 4 MB of prompt: under the 4 MiB body limit once wrapped in JSON. */
const PROMPT_CHARS = 4_000_000;

let h: DurableHarness;
beforeAll(async () => {
  h = await startDurableHarness(yaml);
}, 60_000);
afterAll(async () => h?.close());

function bigPrompt(marker: string): string {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  const parts: string[] = [marker];
  let n = marker.length;
  for (let i = 0; n < PROMPT_CHARS; i++) {
    const w = words[i % words.length]!;
    parts.push(w);
    n += w.length + 1;
  }
  return parts.join(' ');
}

async function historyBytes(client: Client, workflowId: string): Promise<number[]> {
  const listed = await client.workflowService.listWorkflowExecutions({ namespace: 'default', query: `WorkflowId = '${workflowId}'` });
  const sizes: number[] = [];
  for (const wf of listed.executions ?? []) {
    const events: temporal.api.history.v1.IHistoryEvent[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId, runId: wf.execution!.runId! }, nextPageToken });
      events.push(...(page.history?.events ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    sizes.push(temporal.api.history.v1.History.encode({ events }).finish().length);
  }
  expect(sizes.length).toBeGreaterThan(0);
  return sizes;
}

/** A scripted answer of about 300 KB starting with the marker. */
function bigAnswer(marker: string): string {
  return `${marker} ${'the answer goes on '.repeat(16_000)}`;
}
const ANSWER_CHARS = bigAnswer('').length;

function blobBytes(): number {
  const dir = join(dataDir, 'claim-check');
  let total = 0;
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else total += s.size;
    }
  };
  walk(dir);
  return total;
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer client-key', ...headers }, body: JSON.stringify(body) });

describe('a 4 MB body', () => {
  const largest: number[] = [];
  afterAll(() => {
    if (largest.length > 0) console.log(`claim-check: largest request history ${Math.max(...largest)} bytes (bound ${HISTORY_BOUND_BYTES}); runs measured ${largest.length}`);
  });

  it('is answered on the fast path', async () => {
    const marker = `fast-${randomUUID()}`;
    const res = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: bigPrompt(marker) }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content.startsWith(`Echo: ${marker}`)).toBe(true);
    expect(body.choices[0]!.message.content.length).toBeGreaterThan(PROMPT_CHARS);
  }, 60_000);

  it('is answered on the durable path (sync), with the body and the answer outside history', async () => {
    const marker = `sync-${randomUUID()}`;
    h.fake.scriptFor('gpt-main', { kind: 'reply', text: bigAnswer(marker) });
    const before = blobBytes();
    const res = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: bigPrompt(marker) }] }, { 'x-gateway-durable': 'true' });
    const text = await res.text();
    expect(res.status, text.slice(0, 500)).toBe(200);
    const body = JSON.parse(text) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toBe(bigAnswer(marker));
    expect(h.fake.requests.at(-1)!.body).toMatchObject({ messages: [{ content: expect.stringMatching(new RegExp(`^${marker} `)) }] });
    const workflowId = res.headers.get('x-gateway-request-id');
    expect(workflowId).toBeTruthy();
    const sizes = await historyBytes(h.temporal, workflowId!);
    largest.push(...sizes);
    for (const s of sizes) expect(s).toBeLessThan(HISTORY_BOUND_BYTES);
    // the body and the answer went to the blob store
    expect(blobBytes() - before).toBeGreaterThan(PROMPT_CHARS + ANSWER_CHARS);
  }, 120_000);

  it('is answered on the durable path (POST /v1/requests, fetched later)', async () => {
    const marker = `async-${randomUUID()}`;
    h.fake.scriptFor('gpt-main', { kind: 'reply', text: bigAnswer(marker) });
    const res = await post('/v1/requests', { model: 'chat', messages: [{ role: 'user', content: bigPrompt(marker) }] });
    const submitted = (await res.json()) as { id: string };
    expect(res.status, JSON.stringify(submitted).slice(0, 500)).toBe(202);
    type Fetched = { status: string; result?: { choices: { message: { content: string } }[] } | null };
    const done = await until('the durable request to end', async () => {
      const got = await fetch(`${h.gateway.url}/v1/requests/${submitted.id}`, { headers: { authorization: 'Bearer client-key' } });
      const body = (await got.json()) as Fetched;
      return body.status === 'queued' || body.status === 'running' ? undefined : body;
    }, 90_000, 250);
    expect(done.status, JSON.stringify(done).slice(0, 500)).toBe('succeeded');
    expect(done.result!.choices[0]!.message.content).toBe(bigAnswer(marker));
    const sizes = await historyBytes(h.temporal, submitted.id);
    largest.push(...sizes);
    for (const s of sizes) expect(s).toBeLessThan(HISTORY_BOUND_BYTES);
  }, 120_000);
});
