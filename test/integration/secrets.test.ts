/**
 * Known secrets (provider keys, a client key, the admin key) are configured; successful and failing calls run
 * on both paths; none of the values may appear in logs (captured at debug level, Temporal's included), error
 * bodies, response headers, Temporal history or the semantic cache's files. Nor in /metrics or
 * the status page's /status.json.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogLines } from '../support/log-lines.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';

const SECRETS = {
  openaiUpstream: 'sk-proj-SECRET-openai-upstream-0123456789',
  anthropicUpstream: 'sk-ant-SECRET-anthropic-upstream-0123456789',
  client: 'gw-SECRET-client-key-0123456789abcdef',
  admin: 'gw-SECRET-admin-key-0123456789abcdef',
};

const { lines: logLines, sink } = captureLogLines();

let h: DurableHarness;
const seen: string[] = [];
const cacheDir = mkdtempSync(join(tmpdir(), 'secrets-cache-'));

beforeAll(async () => {
  h = await startDurableHarness(
    `
auth:
  adminKeyHash: "${hashKey(SECRETS.admin)}"
  keys: [{ id: client, tenant: t1, hash: "${hashKey(SECRETS.client)}" }]
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: "${SECRETS.openaiUpstream}" }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: "${SECRETS.anthropicUpstream}" }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  chat: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }] }
defaults: { fallback: { attemptsPerDeployment: 1 } }
cache: { enabled: true, store: { kind: embedded, dir: "${cacheDir}" } }
`,
    { logger: createLogger('debug', sink) },
  );
});
afterAll(async () => {
  await h?.close();
});

async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}${path}`, {
    method: 'POST',
    // answers are stored but never served from the cache, so every call below reaches the providers
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.client}`, 'x-gateway-cache': 'no-cache', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  seen.push(text, JSON.stringify([...res.headers]));
  return { status: res.status, text };
}

const chat = { model: 'chat', messages: [{ role: 'user', content: 'hello' }] };

describe('secrets stay secret', () => {
  it('on successful and failing calls, fast and durable', async () => {
    expect((await call('/v1/chat/completions', chat)).status).toBe(200);
    expect((await call('/v1/chat/completions', { ...chat, stream: true })).status).toBe(200);
    // upstream auth failure on OpenAI, then a 400 from Anthropic passed through
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 401 });
    h.fake.scriptFor('claude-main', { kind: 'error', status: 400 });
    expect((await call('/v1/chat/completions', chat)).status).toBe(400);
    // everything down
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
    expect((await call('/v1/chat/completions', chat)).status).toBe(503);
    // durable: success and failure
    expect((await call('/v1/chat/completions', chat, { 'x-gateway-durable': 'true' })).status).toBe(200);
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 401 });
    h.fake.scriptFor('claude-main', { kind: 'error', status: 400 });
    expect((await call('/v1/chat/completions', chat, { 'x-gateway-durable': 'true' })).status).toBe(400);
    const submitted = JSON.parse((await call('/v1/requests', chat)).text) as { id: string };
    const view = await fetch(`${h.gateway.url}/v1/requests/${submitted.id}?wait=20s`, { headers: { authorization: `Bearer ${SECRETS.client}` } });
    seen.push(await view.text());
    // a wrong client key, and the admin view
    expect((await call('/v1/chat/completions', chat, { authorization: `Bearer ${SECRETS.client}x` })).status).toBe(401);
    const admin = await fetch(`${h.gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${SECRETS.admin}` } });
    seen.push(await admin.text());
    // what operators scrape and watch: both must show this run's traffic, and no key
    const metrics = await (await fetch(`${h.gateway.url}/metrics`, { headers: { authorization: `Bearer ${SECRETS.admin}` } })).text();
    expect(metrics).toMatch(/llm_gateway_attempts_total\{[^}]*deployment="an-main"/);
    const status = await (await fetch(`${h.gateway.url}/status.json`, { headers: { authorization: `Bearer ${SECRETS.admin}` } })).text();
    expect(status).toContain('"an-main"');
    seen.push(metrics, status);

    // Temporal history of every workflow of this run
    for await (const wf of h.temporal.workflow.list({ query: `TaskQueue = '${h.taskQueue}'` })) {
      const history = await h.temporal.workflow.getHandle(wf.workflowId).fetchHistory();
      seen.push(JSON.stringify(history, (k, v) => (k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v)));
    }
    // what the semantic cache wrote to disk
    await new Promise((resolve) => setTimeout(resolve, 200));
    const cacheFiles = readdirSync(cacheDir).map((f) => readFileSync(join(cacheDir, f), 'utf8'));
    expect(cacheFiles.join('')).toContain('"op":"put"');
    seen.push(...cacheFiles);
    expect(logLines.length).toBeGreaterThan(5);
    expect(logLines.join('')).toContain('"msg":"request"');
    const everything = [...logLines, ...seen].join('\n');
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(everything.includes(value), `${name} leaked`).toBe(false);
    }
    // the upstream did receive the keys: the check above is not vacuous
    expect(h.fake.requests.some((r) => JSON.stringify(r.headers).includes(SECRETS.openaiUpstream))).toBe(true);
  }, 60_000);
});
