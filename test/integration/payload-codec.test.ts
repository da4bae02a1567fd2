/**
 * Encrypted durable payloads against the real dev server: a sync durable chat, `POST /v1/requests` and a batch
 * each carry a prompt and an answer with unique markers; the raw bytes of every run's history (as the server
 * stores and serves them) hold neither marker, nor its base64 — while decoding the same history with the
 * gateway's keys finds them, so the check looks where the text would be. The codec endpoint for the Temporal UI
 * decodes those payloads for the admin key only, with CORS for the UI's origin.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { hashKey } from '../../src/auth/keys.js';
import { AesGcmPayloadCodec } from '../../src/durable/payload-codec.js';
import { newPayloadKeyEntry, parsePayloadKeys, PAYLOAD_KEYS_ENV } from '../../src/durable/payload-keys.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { until } from '../support/until.js';

const KEY = 'key-codec-tenant';
const ADMIN = 'admin-codec-key';
const UI_ORIGIN = 'http://127.0.0.1:8233';
const dir = mkdtempSync(join(tmpdir(), 'gateway-codec-batches-'));
const KEYS = `${newPayloadKeyEntry('k2')},${newPayloadKeyEntry('k1')}`;

const yaml = `
auth:
  adminKeyHash: "${hashKey(ADMIN)}"
  keys:
    - { id: codec, tenant: acme, hash: "${hashKey(KEY)}" }
batches: { dir: "${dir}", linesPerChunk: 2 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-codec-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;

let h: DurableHarness;
let client: OpenAI;
let saved: string | undefined;
const codec = new AesGcmPayloadCodec(parsePayloadKeys(KEYS));

beforeAll(async () => {
  saved = process.env[PAYLOAD_KEYS_ENV];
  process.env[PAYLOAD_KEYS_ENV] = KEYS;
  h = await startDurableHarness(yaml);
  client = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
}, 60_000);
afterAll(async () => {
  await h?.close();
  if (saved === undefined) delete process.env[PAYLOAD_KEYS_ENV];
  else process.env[PAYLOAD_KEYS_ENV] = saved;
});

const marker = (what: string) => `${what}-${randomUUID()}`;

/** Every run of the workflow (a batch continues as new), each history as the raw protobuf bytes the server sends. */
async function rawHistories(temporalClient: Client, workflowId: string): Promise<{ bytes: Buffer; history: temporal.api.history.v1.IHistory }[]> {
  const runs: string[] = [];
  // the raw service call: the SDK's list would decode the (encrypted) memo with a client that has no keys
  const listed = await temporalClient.workflowService.listWorkflowExecutions({ namespace: 'default', query: `WorkflowId = '${workflowId}'` });
  for (const wf of listed.executions ?? []) runs.push(wf.execution!.runId!);
  expect(runs.length).toBeGreaterThan(0);
  const out = [];
  for (const runId of runs) {
    const events: temporal.api.history.v1.IHistoryEvent[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await temporalClient.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId, runId }, nextPageToken });
      events.push(...(page.history?.events ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    const history = { events };
    out.push({ bytes: Buffer.from(temporal.api.history.v1.History.encode(history).finish()), history });
  }
  return out;
}

/** The marker, and its base64 at each of the three alignments it can take inside a longer base64 text. */
function forms(text: string): Buffer[] {
  const b64 = [0, 1, 2].map((shift) => {
    const enc = Buffer.from('x'.repeat(shift) + text).toString('base64');
    return enc.slice(shift === 0 ? 0 : 4, -4);
  });
  return [Buffer.from(text), ...b64.map((s) => Buffer.from(s))];
}

/** Every payload anywhere in a history event (found by shape: an object with metadata and data). */
function payloadsIn(node: unknown, out: Payload[] = []): Payload[] {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return out;
  const o = node as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && o.data instanceof Uint8Array) out.push(o as Payload);
  for (const v of Object.values(o)) payloadsIn(v, out);
  return out;
}

async function decodedText(history: temporal.api.history.v1.IHistory): Promise<string> {
  const payloads = await codec.decode(payloadsIn(history));
  return payloads.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
}

/** Asserts no secret is in the raw history; returns the history's payloads decoded with the gateway's keys. */
async function expectSealed(workflowId: string, secrets: string[]): Promise<string> {
  const histories = await rawHistories(h.temporal, workflowId);
  let decoded = '';
  for (const { bytes, history } of histories) {
    for (const secret of secrets) for (const form of forms(secret)) expect(bytes.includes(form), `${secret} (as ${form}) in raw history of ${workflowId}`).toBe(false);
    decoded += await decodedText(history);
  }
  return decoded;
}

describe('durable payloads in Temporal history', () => {
  it('a sync durable chat: neither prompt nor answer is readable in history, decoding with the keys finds both', async () => {
    const prompt = marker('prompt-sync');
    const answer = marker('answer-sync');
    h.fake.script({ kind: 'reply', text: answer });
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: prompt }] }, { headers: { 'x-gateway-durable': 'true' } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(answer);
    const id = response.headers.get('x-gateway-request-id')!;
    expect(id).toBeTruthy();
    const decoded = await expectSealed(id, [prompt, answer]);
    expect(decoded).toContain(prompt);
    expect(decoded).toContain(answer);
  });

  it('POST /v1/requests: the same, read back in clear through the gateway', async () => {
    const prompt = marker('prompt-async');
    const answer = marker('answer-async');
    h.fake.script({ kind: 'reply', text: answer });
    const submit = await fetch(`${h.gateway.url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: prompt }] }),
    });
    expect(submit.status).toBe(202);
    const { id } = (await submit.json()) as { id: string };
    const view = (await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=20s`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as {
      status: string;
      result: { choices: { message: { content: string } }[] };
    };
    expect(view.status).toBe('succeeded');
    expect(view.result.choices[0]!.message.content).toBe(answer);
    const decoded = await expectSealed(id, [prompt, answer]);
    expect(decoded).toContain(prompt);
    expect(decoded).toContain(answer);
  });

  it('a batch: no line prompt nor answer in any run of its history', async () => {
    const prompts = [marker('prompt-batch-a'), marker('prompt-batch-b'), marker('prompt-batch-c')];
    const answers = prompts.map((p) => p.replace('prompt', 'answer'));
    h.fake.script(...answers.map((text) => ({ kind: 'reply' as const, text })));
    const jsonl = prompts.map((p, i) => JSON.stringify({ custom_id: `l${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: p }] } })).join('\n');
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'codec.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await until('the batch to complete', async () => {
      const b = await client.batches.retrieve(batch.id);
      return b.status === 'completed' ? b : undefined;
    });
    const output = await (await client.files.content(done.output_file_id!)).text();
    for (const a of answers) expect(output).toContain(a);
    await expectSealed(batch.id, [...prompts, ...answers]);
  });
});

describe('the codec endpoint for the Temporal UI', () => {
  async function encryptedInputOf(prompt: string): Promise<Payload> {
    h.fake.script({ kind: 'reply', text: 'ok' });
    const { response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: prompt }] }, { headers: { 'x-gateway-durable': 'true' } })
      .withResponse();
    const [run] = await rawHistories(h.temporal, response.headers.get('x-gateway-request-id')!);
    const started = run!.history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!;
    return started.workflowExecutionStartedEventAttributes!.input!.payloads![0]! as Payload;
  }
  const asJson = (p: Payload) => ({
    payloads: [{ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p.data!).toString('base64') }],
  });

  it('decodes a history payload for the admin key, answering CORS for the UI origin with credentials', async () => {
    const prompt = marker('prompt-codec');
    const input = await encryptedInputOf(prompt);
    expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const preflight = await fetch(`${h.gateway.url}/admin/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
    const res = await fetch(`${h.gateway.url}/admin/codec/decode`, {
      method: 'POST',
      headers: { origin: UI_ORIGIN, 'content-type': 'application/json', 'x-namespace': 'default', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify(asJson(input)),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const decoded = { metadata: Object.fromEntries(Object.entries(body.payloads[0]!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(body.payloads[0]!.data, 'base64') };
    expect(Buffer.from(decoded.metadata.encoding!).toString()).toBe('json/plain');
    expect(JSON.stringify(defaultPayloadConverter.fromPayload(decoded))).toContain(prompt);
  });

  it('refuses a tenant key, and no key, and gives other origins no CORS', async () => {
    const input = await encryptedInputOf(marker('prompt-refused'));
    for (const authorization of [`Bearer ${KEY}`, undefined]) {
      const res = await fetch(`${h.gateway.url}/admin/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
        body: JSON.stringify(asJson(input)),
      });
      expect(res.status).toBe(401);
      expect(JSON.stringify(await res.json())).not.toContain('prompt-refused');
    }
    const other = await fetch(`${h.gateway.url}/admin/codec/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('round-trips encode then decode, and answers 400 for a body that is not { payloads }', async () => {
    const plain = defaultPayloadConverter.toPayload({ hello: 'world' })!;
    const post = (path: string, body: unknown) =>
      fetch(`${h.gateway.url}/admin/codec/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
    const enc = (await (await post('encode', asJson(plain))).json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(enc.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(enc.payloads[0]!.metadata['encryption-key-id']!, 'base64').toString()).toBe('k2');
    const dec = (await (await post('decode', enc)).json()) as { payloads: { data: string }[] };
    expect(Buffer.from(dec.payloads[0]!.data, 'base64').toString()).toBe('{"hello":"world"}');
    const bad = await post('decode', { nope: 1 });
    expect(bad.status).toBe(400);
  });
});
