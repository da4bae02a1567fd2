/**
 * The Batch API with the official `openai` SDK against the gateway (durable worker in-process, real Temporal
 * dev server, fake provider): upload, create, progress, output and error files in OpenAI's format, retries of
 * 429s inside a line, continue-as-new, cancel mid-batch, tenant isolation, bad files and bad lines.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError, toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { until } from '../support/until.js';

const KEY_A = 'key-acme-batches';
const KEY_B = 'key-globex-batches';
const KEY_LIMITED = 'key-acme-limited';
const dir = mkdtempSync(join(tmpdir(), 'gateway-batches-'));

const yaml = `
auth:
  keys:
    - { id: acme, tenant: acme, hash: "${hashKey(KEY_A)}" }
    - { id: globex, tenant: globex, hash: "${hashKey(KEY_B)}" }
    - { id: limited, tenant: acme, hash: "${hashKey(KEY_LIMITED)}", models: [strict] }
batches: { dir: "${dir}", linesPerChunk: 2, maxConcurrentLines: 4, linesPerRun: 6, maxFileSize: 64kb }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-batch-upstream-secret }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  oa-strict: { provider: oa, model: gpt-strict }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
  strict: { groups: [{ deployments: [oa-strict] }] }
defaults:
  fallback: { attemptsPerDeployment: 3, backoff: { baseMs: 10, capMs: 50 } }
`;

let h: DurableHarness;
let acme: OpenAI;
let globex: OpenAI;
let limited: OpenAI;

beforeAll(async () => {
  h = await startDurableHarness(yaml);
  const client = (apiKey: string) => new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
  acme = client(KEY_A);
  globex = client(KEY_B);
  limited = client(KEY_LIMITED);
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.fake.reset());
afterEach(() => expect(h.fake.violations).toEqual([]));

interface Line {
  custom_id: string;
  method?: string;
  url?: string;
  body: unknown;
}

const line = (customId: string, content: string, model = 'chat'): Line => ({
  custom_id: customId,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model, messages: [{ role: 'user', content }] },
});

const jsonl = (lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

async function upload(client: OpenAI, text: string, name = 'input.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' });
}

async function submit(client: OpenAI, lines: unknown[]): Promise<Batch> {
  const file = await upload(client, jsonl(lines));
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);


const finished = (client: OpenAI, id: string) =>
  until(`batch ${id} to finish`, async () => {
    const b = await client.batches.retrieve(id);
    return TERMINAL.has(b.status) ? b : undefined;
  });

async function contentLines(client: OpenAI, fileId: string | null | undefined): Promise<any[]> {
  expect(fileId).toBeTruthy();
  const text = await (await client.files.content(fileId!)).text();
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

const userText = (body: any): string => body.messages.at(-1).content;

describe('batches through the openai SDK', () => {
  it('runs every line through the chain: outputs in input order, rejections in the error file, counts, continue-as-new', async () => {
    // The strict deployment rejects its line with a 400: an answer for the error file, not a retry.
    h.fake.scriptFor('gpt-strict', { kind: 'error', status: 400, message: 'strictly no' });
    const lines = [
      line('c1', 'one'),
      line('c2', 'two'),
      line('s1', 'rejected', 'strict'),
      line('c3', 'three'),
      line('c4', 'four'),
      line('c5', 'five'),
      line('c6', 'six'),
    ];
    const file = await upload(acme, jsonl(lines));
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl', bytes: Buffer.byteLength(jsonl(lines)) });
    const batch = await acme.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'nightly' } });
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', metadata: { job: 'nightly' }, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch.id).toMatch(/^batch_/);
    expect(batch.expires_at! - batch.created_at).toBe(24 * 3600);

    const done = await finished(acme, batch.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 7, completed: 6, failed: 1 });
    expect(done.in_progress_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.in_progress_at!);
    expect(done.usage?.output_tokens).toBeGreaterThan(0);

    const out = await contentLines(acme, done.output_file_id);
    expect(out.map((o) => o.custom_id)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    for (const o of out) {
      expect(o.id).toMatch(/^batch_req_/);
      expect(o.error).toBeNull();
      expect(o.response.status_code).toBe(200);
      expect(o.response.request_id).toBeTruthy();
      expect(o.response.body.object).toBe('chat.completion');
    }
    expect(out.map((o) => o.response.body.choices[0].message.content)).toEqual(['one', 'two', 'three', 'four', 'five', 'six'].map((t) => `Echo: ${t}`));

    const errors = await contentLines(acme, done.error_file_id);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ custom_id: 's1', error: null, response: { status_code: 400 } });
    expect(errors[0].response.body.error.message).toContain('strictly no');

    // Each line reached the provider once (the 400 is not retried).
    const seen = h.fake.requests.filter((r) => r.kind === 'chat').map((r) => userText(r.body));
    expect(seen.sort()).toEqual(['five', 'four', 'one', 'rejected', 'six', 'three', 'two']);

    // 7 lines with 6 lines per workflow run: the batch continued as new once.
    const runs: string[] = [];
    for await (const wf of h.temporal.workflow.list({ query: `WorkflowId = '${batch.id}'` })) runs.push(wf.runId);
    expect(runs.length).toBe(2);

    // Output files are files too: listed, retrievable, not usable as batch input.
    const listed = [];
    for await (const f of acme.files.list()) listed.push(f.id);
    expect(listed).toEqual(expect.arrayContaining([batch.input_file_id, done.output_file_id, done.error_file_id]));
    const output = await acme.files.retrieve(done.output_file_id!);
    expect(output).toMatchObject({ object: 'file', purpose: 'batch_output', status: 'processed' });
    const page = await acme.batches.list({ limit: 100 });
    expect(page.data.map((b) => b.id)).toContain(batch.id);
    await expect(acme.batches.cancel(batch.id)).rejects.toMatchObject({ status: 409, error: { code: 'batch_not_cancellable' } });
  });

  it('retries a 429 inside the line and reports progress while it runs', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 429, retryAfterMs: 20 }, { kind: 'hold' });
    const batch = await submit(acme, [line('r1', 'rate limited'), line('r2', 'held')]);
    await until('the held line', async () => (h.fake.held === 1 ? true : undefined));
    const running = await acme.batches.retrieve(batch.id);
    expect(running.status).toBe('in_progress');
    expect(running.request_counts?.total).toBe(2);
    h.fake.release();
    const done = await finished(acme, batch.id);
    expect(done.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    const texts = h.fake.requests.filter((r) => r.kind === 'chat').map((r) => userText(r.body));
    expect(texts.filter((t) => t === 'rate limited')).toHaveLength(2);
    expect(texts.filter((t) => t === 'held')).toHaveLength(1);
  });

  it('cancels mid-batch: lines in flight are aborted, nothing new starts, partial output is kept', async () => {
    // 4 lines in flight at most (2 chunks of 2): 6 lines answer, the next 4 are held, then the batch is cancelled.
    h.fake.scriptFor('gpt-main', ...Array.from({ length: 6 }, () => ({ kind: 'reply' as const })), ...Array.from({ length: 4 }, () => ({ kind: 'hold' as const })));
    const lines = Array.from({ length: 30 }, (_, i) => line(`k${i}`, `line ${i}`));
    const batch = await submit(acme, lines);
    await until('4 held lines', async () => (h.fake.held === 4 ? true : undefined));
    expect(h.fake.requests).toHaveLength(10);

    const cancelling = await acme.batches.cancel(batch.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).toBeGreaterThan(0);
    const done = await finished(acme, batch.id);
    expect(done.status).toBe('cancelled');
    expect(done.cancelled_at).toBeGreaterThanOrEqual(done.cancelling_at!);
    expect(done.request_counts).toEqual({ total: 30, completed: 6, failed: 0 });
    expect(h.fake.held).toBe(0);
    expect(h.fake.requests).toHaveLength(10);

    const out = await contentLines(acme, done.output_file_id);
    expect(out).toHaveLength(6);
    const errors = await contentLines(acme, done.error_file_id);
    expect(errors).toHaveLength(24);
    for (const e of errors) expect(e).toMatchObject({ response: null, error: { code: 'batch_cancelled' } });
    // Every input line is accounted for exactly once across the two files.
    expect([...out, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());

    // Cancelling again is harmless.
    expect((await acme.batches.cancel(batch.id)).status).toBe('cancelled');
  });

  it('fails a batch whose lines are wrong, naming every bad line like OpenAI does', async () => {
    const batch = await submit(acme, [
      line('ok', 'fine'),
      '{not json',
      line('ok', 'duplicate id'),
      { ...line('m', 'x'), method: 'GET' },
      { ...line('u', 'x'), url: '/v1/embeddings' },
      { custom_id: 'b', method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'wizard', content: 'x' }] } },
      line('nm', 'x', 'no-such-model'),
      { method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: 'x' }] } },
    ]);
    const done = await finished(acme, batch.id);
    expect(done.status).toBe('failed');
    expect(done.failed_at).toBeGreaterThan(0);
    expect(done.errors?.data?.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'duplicate_custom_id', 'custom_id'],
      [4, 'invalid_value', 'method'],
      [5, 'invalid_url', 'url'],
      [6, 'invalid_request', 'body.messages[0].role'],
      [7, 'model_not_found', 'body.model'],
      [8, 'missing_required_parameter', 'custom_id'],
    ]);
    expect(done.output_file_id ?? null).toBeNull();
    expect(h.fake.requests).toHaveLength(0);
  });

  it('fails a batch that uses a model the key may not use', async () => {
    const batch = await submit(limited, [line('a', 'allowed', 'strict'), line('b', 'not allowed', 'chat')]);
    const done = await finished(limited, batch.id);
    expect(done.status).toBe('failed');
    expect(done.errors?.data).toEqual([{ code: 'model_not_allowed', line: 2, param: 'body.model', message: "This API key may not use the model 'chat'." }]);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('keeps files and batches to their tenant: another key gets 404s and empty lists', async () => {
    const batch = await submit(acme, [line('t1', 'tenant line')]);
    const fileId = batch.input_file_id;
    await expect(globex.files.retrieve(fileId)).rejects.toMatchObject({ status: 404 });
    await expect(globex.files.content(fileId)).rejects.toMatchObject({ status: 404 });
    await expect(globex.files.delete(fileId)).rejects.toMatchObject({ status: 404 });
    await expect(globex.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
    await expect(globex.batches.cancel(batch.id)).rejects.toMatchObject({ status: 404 });
    await expect(globex.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({
      status: 404,
      error: { code: 'file_not_found' },
    });
    const files = [];
    for await (const f of globex.files.list()) files.push(f.id);
    expect(files).not.toContain(fileId);
    expect((await globex.batches.list()).data.map((b) => b.id)).not.toContain(batch.id);

    const done = await finished(acme, batch.id);
    expect(done.status).toBe('completed');
    await expect(globex.files.content(done.output_file_id!)).rejects.toMatchObject({ status: 404 });
    // The owner still sees it all, and may delete the input once the batch is done.
    expect((await acme.files.delete(fileId)).deleted).toBe(true);
    await expect(acme.files.retrieve(fileId)).rejects.toMatchObject({ status: 404 });
  });

  it('answers bad uploads and bad batch requests with OpenAI-shaped 4xx errors', async () => {
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e as APIError;
      }
      throw new Error('expected an error');
    };
    const file = async (text: string | Buffer, purpose: string) =>
      acme.files.create({ file: await toFile(typeof text === 'string' ? Buffer.from(text) : text, 'x.jsonl'), purpose: purpose as 'batch' });

    let e = await err(file(jsonl([line('a', 'x')]), 'fine-tune'));
    expect([e.status, e.code, e.param]).toEqual([400, 'invalid_value', 'purpose']);
    e = await err(file('', 'batch'));
    expect([e.status, e.code]).toEqual([400, 'empty_file']);
    e = await err(file(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), 'batch'));
    expect([e.status, e.code]).toEqual([400, 'invalid_encoding']);
    e = await err(file('x'.repeat(70 * 1024), 'batch'));
    expect([e.status, e.code]).toEqual([413, 'file_too_large']);
    const json = await fetch(`${h.gateway.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    expect(((await json.json()) as any).error.type).toBe('invalid_request_error');

    const good = await upload(acme, jsonl([line('a', 'x')]));
    e = await err(acme.batches.create({ input_file_id: 'file-000000000000000000000000', endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect([e.status, e.code, e.param]).toEqual([404, 'file_not_found', 'input_file_id']);
    e = await err(acme.batches.create({ input_file_id: good.id, endpoint: '/v1/embeddings', completion_window: '24h' }));
    expect([e.status, e.code, e.param]).toEqual([400, 'invalid_value', 'endpoint']);
    e = await err(acme.batches.create({ input_file_id: good.id, endpoint: '/v1/chat/completions', completion_window: '48h' as '24h' }));
    expect([e.status, e.param]).toEqual([400, 'completion_window']);
    e = await err(acme.batches.create({ endpoint: '/v1/chat/completions', completion_window: '24h' } as never));
    expect([e.status, e.param]).toEqual([400, 'input_file_id']);
    e = await err(acme.batches.retrieve('batch_nope'));
    expect([e.status, e.code]).toEqual([404, 'batch_not_found']);
  });
});
