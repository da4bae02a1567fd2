/**
 * An upstream that repeats what it received (some proxies and self-hosted servers do): its error texts and a
 * header carry the provider key it was sent and the prompt, and a prompt may carry the client's own key. None
 * of it may come back to a client, into a log line, into a durable request's attempts, into Temporal history
 * or into a batch's output and error files: on the fast path (sync and stream, OpenAI, Azure, Anthropic and
 * Gemini adapters), on the durable path, and in batches. The keys are chosen so no shape finds them: the
 * upstream keys only by their configured values, the client's key (pasted into its prompt) only by its hash.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogLines } from '../support/log-lines.js';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { until } from '../support/until.js';

const UPSTREAM = {
  openai: 'sk-proj-ECHO-openai-upstream-0123456789',
  azure: '0123456789abcdef0123456789abcdef', // Azure keys are 32 hex digits: no prefix to recognise
  anthropic: 'anthropic-upstream-unshaped-9876543210',
  gemini: 'gemini-upstream-unshaped-5555555555',
};
/** Not of the `gw-…` shape: the gateway knows it only by its hash (and while it is presented). */
const CLIENT = 'tenant-one-presented-key-0123456789';

const { lines: logLines, sink } = captureLogLines();

let h: DurableHarness;
let client: OpenAI;
const seen: string[] = [];
const batchDir = mkdtempSync(join(tmpdir(), 'secrets-echo-batches-'));

beforeAll(async () => {
  h = await startDurableHarness(
    `
auth:
  keys: [{ id: t1-key, tenant: t1, hash: "${hashKey(CLIENT)}" }]
batches: { dir: "${batchDir}", linesPerChunk: 2, maxConcurrentLines: 2 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: "${UPSTREAM.openai}" }
  az: { type: azure-openai, baseUrl: "{{FAKE}}", apiKey: "${UPSTREAM.azure}" }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: "${UPSTREAM.anthropic}" }
  gm: { type: gemini, baseUrl: "{{FAKE}}/v1beta", apiKey: "${UPSTREAM.gemini}" }
deployments:
  oa1: { provider: oa, model: gpt-echo }
  az1: { provider: az, model: azure-echo }
  an1: { provider: an, model: claude-echo }
  gm1: { provider: gm, model: gemini-echo }
models:
  openai: { groups: [{ deployments: [oa1] }] }
  azure: { groups: [{ deployments: [az1] }] }
  anthropic: { groups: [{ deployments: [an1] }] }
  gemini: { groups: [{ deployments: [gm1] }] }
  retried: { groups: [{ deployments: [oa1] }], fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 20 } } }
defaults: { fallback: { attemptsPerDeployment: 1 } }
`,
    { logger: createLogger('debug', sink) },
  );
  client = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: CLIENT, maxRetries: 0, timeout: 30_000 });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const MODEL_OF = { openai: 'gpt-echo', azure: 'azure-echo', anthropic: 'claude-echo', gemini: 'gemini-echo' } as const;
/** The client pastes its own key into the prompt; the upstream repeats the prompt in its error. */
const PROMPT = `please check my key ${CLIENT}`;
const echoError = (status = 400) => ({ kind: 'error' as const, status, echoCredentials: true });

async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT}`, 'x-gateway-cache': 'no-cache', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  seen.push(text, JSON.stringify([...res.headers]));
  return { status: res.status, text };
}

const chat = (model: string, stream = false) => ({ model, stream, messages: [{ role: 'user', content: PROMPT }] });

describe('an upstream that echoes credentials', () => {
  for (const alias of ['openai', 'azure', 'anthropic', 'gemini'] as const) {
    it(`${alias}: sync and stream errors reach the client scrubbed`, async () => {
      for (const stream of [false, true]) {
        h.fake.scriptFor(MODEL_OF[alias], echoError());
        const r = await call('/v1/chat/completions', chat(alias, stream));
        expect(r.status).toBe(400);
        // the echo did arrive (the message is passed through), with the key and the prompt's key scrubbed
        expect(r.text).toContain('received');
        expect(r.text).toContain('[redacted]');
        expect(r.text).toContain('please check my key');
      }
    });
  }

  it('mid-stream error events that echo the key (OpenAI, Anthropic), in a durable request\'s attempts', async () => {
    for (const alias of ['openai', 'anthropic'] as const) {
      // the durable call streams from the provider: the event arrives after content began
      h.fake.scriptFor(MODEL_OF[alias], { kind: 'midstream-error', afterChunks: 1, echoCredentials: true });
      const submitted = JSON.parse((await call('/v1/requests', chat(alias))).text) as { id: string };
      const view = await fetch(`${h.gateway.url}/v1/requests/${submitted.id}?wait=20s`, { headers: { authorization: `Bearer ${CLIENT}` } });
      const text = await view.text();
      seen.push(text);
      const attempts = (JSON.parse(text) as { attempts: Array<{ message?: string }> }).attempts;
      expect(attempts.some((a) => a.message?.includes('stream failed; received') && a.message.includes('[redacted]'))).toBe(true);
    }
  }, 60_000);

  it('an answer whose text echoes the upstream key: scrubbed on both paths, sync and stream', async () => {
    const echoed = { kind: 'reply' as const, text: `your credential is ${UPSTREAM.azure} as sent` };
    for (const [stream, headers] of [
      [false, {}],
      [true, {}],
      [false, { 'x-gateway-durable': 'true' }],
    ] as const) {
      h.fake.scriptFor('azure-echo', echoed);
      const r = await call('/v1/chat/completions', chat('azure', stream), headers);
      expect(r.status).toBe(200);
      expect(r.text).toContain(stream ? '[redacted]' : 'your credential is [redacted]');
      expect(r.text).not.toContain(UPSTREAM.azure);
    }
  }, 60_000);

  it('durable: the answer, GET /v1/requests/{id} and the attempts of a retried call', async () => {
    h.fake.scriptFor('gpt-echo', echoError());
    const answered = await call('/v1/chat/completions', chat('openai'), { 'x-gateway-durable': 'true' });
    expect(answered.status).toBe(400);
    expect(answered.text).toContain('[redacted]');

    // a 500 that echoes, retried on the same deployment: the failed activity attempt is in history
    h.fake.scriptFor('gpt-echo', echoError(500), { kind: 'reply', text: 'fine' });
    const submitted = JSON.parse((await call('/v1/requests', chat('retried'))).text) as { id: string };
    const view = await fetch(`${h.gateway.url}/v1/requests/${submitted.id}?wait=20s`, { headers: { authorization: `Bearer ${CLIENT}` } });
    const viewText = await view.text();
    seen.push(viewText);
    const parsed = JSON.parse(viewText) as { status: string; attempts: Array<{ outcome: string; message?: string }> };
    expect(parsed.status).toBe('succeeded');
    const failed = parsed.attempts.find((a) => a.outcome === 'error');
    expect(failed?.message).toContain('[redacted]');

    h.fake.scriptFor('claude-echo', echoError());
    const rejected = JSON.parse((await call('/v1/requests', chat('anthropic'))).text) as { id: string };
    const rejectedView = await fetch(`${h.gateway.url}/v1/requests/${rejected.id}?wait=20s`, { headers: { authorization: `Bearer ${CLIENT}` } });
    const rejectedText = await rejectedView.text();
    seen.push(rejectedText);
    expect(rejectedText).toContain('[redacted]');
  }, 60_000);

  it('batches: the error file of lines whose upstream echoed', async () => {
    h.fake.scriptFor('gpt-echo', echoError(), { kind: 'reply', text: 'ok' });
    const lines = ['a', 'b'].map((id) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: chat('openai') })).join('\n') + '\n';
    const file = await client.files.create({ file: await toFile(Buffer.from(lines), 'echo.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await until(`batch ${batch.id} to finish`, async () => {
      const b = await client.batches.retrieve(batch.id);
      return ['completed', 'failed', 'cancelled', 'expired'].includes(b.status) ? b : undefined;
    });
    expect(done.request_counts).toMatchObject({ total: 2, failed: 1 });
    const files = [done.output_file_id, done.error_file_id].filter((f): f is string => !!f);
    const texts = await Promise.all(files.map(async (f) => (await client.files.content(f)).text()));
    seen.push(...texts);
    expect(texts.join('\n')).toContain('[redacted]');
  }, 60_000);

  it('nothing the gateway wrote holds a key: answers, headers, logs, Temporal history', async () => {
    // The inputs (workflow and activity) are the request as the client sent it, prompt and all: the client's
    // key pasted into a prompt is the client's own data there. Everything else in history (failures, heartbeat
    // details, results, attempt records) is what the gateway made of the upstream's answers.
    const inputs: string[] = [];
    const histories: string[] = [];
    for await (const wf of h.temporal.workflow.list({ query: `TaskQueue = '${h.taskQueue}'` })) {
      const history = await h.temporal.workflow.getHandle(wf.workflowId).fetchHistory();
      const decode = (k: string, v: unknown) => (k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v);
      histories.push(JSON.stringify(history, (k, v) => (k === 'input' ? (inputs.push(JSON.stringify(v, decode)), undefined) : decode(k, v))));
    }
    expect(histories.join('\n')).toContain('"events"');
    for (const value of Object.values(UPSTREAM)) expect(inputs.join('\n').includes(value)).toBe(false);
    seen.push(...histories);
    const history = histories.join('\n');
    // the echoed failure of the retried call and the rejected one are in history, scrubbed
    expect(history).toContain('received');
    expect(history).toContain('[redacted]');
    expect(logLines.join('')).toContain('[redacted]');

    const everything = [...logLines, ...seen].join('\n');
    for (const [name, value] of Object.entries({ ...UPSTREAM, client: CLIENT })) {
      expect(everything.includes(value), `${name} leaked`).toBe(false);
    }
    // not vacuous: every upstream received its key, and the echoing upstream said so
    for (const value of Object.values(UPSTREAM)) expect(h.fake.requests.some((r) => JSON.stringify(r.headers).includes(value))).toBe(true);
  }, 60_000);
});
