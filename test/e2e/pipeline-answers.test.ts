/**
 * Issue #13's answer and money defects on the fast path, each as a new user meets them: through HTTP with the
 * official openai SDK or fetch, against the fake provider, reading what the gateway says about itself (its
 * headers, GET /admin/keys, its request log, GET /metrics).
 */
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { parseConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeProvider } from '../fake-provider/server.js';
import { useForFile, withTestDefaults } from '../support/harness.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';
import { until } from '../support/until.js';

const KEYS = {
  admin: 'key-pipe-admin-000000000000000000',
  cascade: 'key-pipe-cascade-0000000000000000',
  tpmN: 'key-pipe-tpm-n-000000000000000000',
  tpmOver: 'key-pipe-tpm-over-00000000000000',
  plain: 'key-pipe-plain-00000000000000000',
};

const yaml = `
auth:
  adminKeyHash: "${hashKey(KEYS.admin)}"
  keys:
    - { id: cascader, tenant: acme, hash: "${hashKey(KEYS.cascade)}", limits: { dailyBudgetUsd: 1000 } }
    - { id: tpm-n, tenant: acme, hash: "${hashKey(KEYS.tpmN)}", limits: { tokensPerMinute: 100 } }
    - { id: tpm-over, tenant: acme, hash: "${hashKey(KEYS.tpmOver)}", limits: { tokensPerMinute: 50 } }
    - { id: plain, tenant: acme, hash: "${hashKey(KEYS.plain)}" }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-pipe-upstream }
deployments:
  casc-small: { provider: oa, model: m-casc-small, price: { inputPerMTok: 1000, outputPerMTok: 3000 } }
  casc-large: { provider: oa, model: m-casc-large, price: { inputPerMTok: 20000, outputPerMTok: 50000 } }
  hedge-slow: { provider: oa, model: m-hedge-slow, price: { inputPerMTok: 1000, outputPerMTok: 1000 } }
  hedge-fast: { provider: oa, model: m-hedge-fast, price: { inputPerMTok: 1000, outputPerMTok: 1000 } }
  tpm-oa: { provider: oa, model: m-tpm }
  err-first: { provider: oa, model: m-err-first }
  err-second: { provider: oa, model: m-err-second }
  cut-oa: { provider: oa, model: m-cut }
models:
  tier-small: { groups: [{ deployments: [casc-small] }] }
  tier-large: { groups: [{ deployments: [casc-large] }] }
  auto:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: rules, minChars: 60 }]
  hedged: { groups: [{ deployments: [hedge-slow] }, { deployments: [hedge-fast] }], hedge: { afterMs: 100 } }
  tpm: { groups: [{ deployments: [tpm-oa] }] }
  errs: { groups: [{ deployments: [err-first] }, { deployments: [err-second] }], fallback: { attemptsPerDeployment: 1 } }
  cut: { groups: [{ deployments: [cut-oa] }], fallback: { attemptsPerDeployment: 1 } }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 5, capMs: 20 }, maxRetryAfterMs: 1000 }
`;

type LogRecord = Record<string, any>;
const logs: LogRecord[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
    done();
  },
});

const h = useForFile(async () => {
  const fake = await startFakeProvider();
  const config = parseConfig(withTestDefaults(yaml).replaceAll('{{FAKE}}', fake.url), 'pipeline-answers', {});
  const gateway = await startGateway(config, { port: 0, logger: createLogger('info', sink) });
  return {
    fake,
    gateway,
    async close() {
      await gateway.close();
      await fake.close();
    },
  };
});

const client = (key: string) => new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: 15_000 });

async function post(key: string, body: unknown): Promise<Response> {
  return fetch(`${h.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
}

async function spentToday(keyId: string): Promise<number> {
  const res = await fetch(`${h.gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
  const body = (await res.json()) as { data: Array<{ id: string; spend_usd: { today: number } }> };
  return body.data.find((k) => k.id === keyId)!.spend_usd.today;
}


/** The request log record of the request that answered with this x-request-id. */
const requestLog = (requestId: string) => until(`the request log of ${requestId}`, () => logs.find((l) => l.msg === 'request' && l.requestId === requestId));

async function metrics() {
  return parsePrometheus(await (await fetch(`${h.gateway.url}/metrics`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).text());
}

describe('a streamed cost-aware cascade', () => {
  it("charges the key's budget, and logs, the amount its x-gateway-cost-usd header shows, and that amount is not 0", async () => {
    const before = await spentToday('cascader');
    const res = await post(KEYS.cascade, { model: 'auto', stream: true, messages: [{ role: 'user', content: 'tell me about cascades please' }] });
    expect(res.status).toBe(200);
    const text = await res.text(); // the whole stream: the stream's last attempt is priced at its end
    expect(text).toContain('[DONE]');
    expect(res.headers.get('x-gateway-cascade')).toBeTruthy();
    // the small answer ("Echo: …") is shorter than 60 characters, so both stages ran and were both paid for
    expect(h.fake.requests.filter((r) => r.kind === 'chat').map((r) => r.model)).toEqual(['m-casc-small', 'm-casc-large']);
    const header = Number(res.headers.get('x-gateway-cost-usd'));
    expect(header).toBeGreaterThan(0);

    const charged = await until('the charge to land', async () => {
      const spent = (await spentToday('cascader')) - before;
      return spent > 0 ? spent : undefined;
    }).catch(() => 0);
    expect(charged).toBeCloseTo(header, 7); // the header carries 8 decimals
    const record = await requestLog(res.headers.get('x-request-id')!);
    expect(record.attempts.reduce((sum: number, a: { costUsd?: number }) => sum + (a.costUsd ?? 0), 0)).toBeCloseTo(header, 7);
    expect(record.costUsd).toBeCloseTo(header, 7);
  });
});

describe('tokens per minute', () => {
  it('counts n: while a request for 4 choices of up to 20 tokens is in flight, its 4 × 20 output tokens leave no room for another', async () => {
    const openai = client(KEYS.tpmN);
    h.fake.scriptFor('m-tpm', { kind: 'hold' });
    const four = openai.chat.completions.create({ model: 'tpm', n: 4, max_tokens: 20, messages: [{ role: 'user', content: 'four short answers' }] });
    four.catch(() => undefined); // awaited below; a test failing before that must not leave it unhandled
    await until('the n=4 request to reach the provider', () => (h.fake.held === 1 ? true : undefined));
    // ~5 input + 4 × 20 output of the 100-token window are taken; one more choice of 20 does not fit (counting
    // the n=4 request as 1 × 20 would leave room for it)
    const next = await post(KEYS.tpmN, { model: 'tpm', max_tokens: 20, messages: [{ role: 'user', content: 'one short answer' }] });
    expect(next.status).toBe(429);
    expect(((await next.json()) as { error: { code: string } }).error.code).toBe('tokens_limit_exceeded');
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    h.fake.release();
    expect((await four).choices.length).toBeGreaterThanOrEqual(1);
    expect(h.fake.requests.filter((r) => r.kind === 'chat')).toHaveLength(1);
  });

  it('records real usage beyond the estimate even when it overflows the window, so the next request waits (429, Retry-After)', async () => {
    const openai = client(KEYS.tpmOver);
    const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    h.fake.scriptFor('m-tpm', { kind: 'reply', text: long });
    const first = await openai.chat.completions.create({ model: 'tpm', messages: [{ role: 'user', content: 'no cap on output' }] });
    expect(first.usage!.completion_tokens).toBe(120); // far past the 50-token window
    const next = await post(KEYS.tpmOver, { model: 'tpm', messages: [{ role: 'user', content: 'again' }] });
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(h.fake.requests.filter((r) => r.kind === 'chat')).toHaveLength(1);
  });
});

describe('hedging', () => {
  it('names the winner: x-gateway-deployment, the last attempt in the log, no fallback blamed on the cancelled loser, outcome success', async () => {
    h.fake.scriptFor('m-hedge-slow', { kind: 'delay', ms: 2000 });
    const res = await post(KEYS.plain, { model: 'hedged', messages: [{ role: 'user', content: 'race' }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]!.message.content).toBe('Echo: race');
    expect(res.headers.get('x-gateway-deployment')).toBe('hedge-fast');
    // both legs really ran: the slow one was still waiting when the fast one answered
    expect(h.fake.requests.filter((r) => r.kind === 'chat').map((r) => r.model).sort()).toEqual(['m-hedge-fast', 'm-hedge-slow']);
    // the loser was cancelled, not failed over from: the client is not told a fallback happened because of it
    expect(res.headers.get('x-gateway-fallback')).not.toBe('retry');
    expect(['none', 'switch']).toContain(res.headers.get('x-gateway-fallback'));
    const record = await requestLog(res.headers.get('x-request-id')!);
    expect(record.attempts.at(-1)).toMatchObject({ deployment: 'hedge-fast', outcome: 'ok' });
    expect(record.attempts.find((a: { deployment: string }) => a.deployment === 'hedge-slow')?.outcome).toBe('cancelled');
    expect(record.outcome).toBe('success');
    expect(record.deployment).toBe('hedge-fast');
    const m = await metrics();
    expect(valueOf(m, 'llm_gateway_requests_total', { alias: 'hedged', outcome: 'success' })).toBe(1);
    expect(valueOf(m, 'llm_gateway_requests_total', { alias: 'hedged', outcome: 'fallback' })).toBe(0);
  });
});

describe('error answers carry the x-gateway headers', () => {
  it('a passed-through upstream 400 names its deployment, its attempts and its fallback level', async () => {
    h.fake.scriptFor('m-err-first', { kind: 'error', status: 400, code: 'invalid_prompt', message: 'Your prompt was flagged.' });
    const res = await post(KEYS.plain, { model: 'errs', messages: [{ role: 'user', content: 'bad prompt' }] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe('invalid_prompt');
    expect(res.headers.get('x-gateway-deployment')).toBe('err-first');
    expect(res.headers.get('x-gateway-attempts')).toBe('1');
    expect(res.headers.get('x-gateway-fallback')).toBe('none');
  });

  it('a 503 after every deployment failed says how many attempts were made and how far the chain fell back', async () => {
    h.fake.scriptFor('m-err-first', { kind: 'error', status: 500 });
    h.fake.scriptFor('m-err-second', { kind: 'error', status: 500 });
    const res = await post(KEYS.plain, { model: 'errs', messages: [{ role: 'user', content: 'nobody home' }] });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-gateway-attempts')).toBe('2');
    // the chain switched deployments and ended at its (empty) catch-all: either is the truth, 'none' is not
    expect(res.headers.get('x-gateway-fallback')).toMatch(/^(switch|catch_all)$/);
  });
});

describe('a stream cut after its output began', () => {
  it('is logged as a failure and counted as failed in the request metrics, not as a success', async () => {
    h.fake.scriptFor('m-cut', { kind: 'cut', afterChunks: 2, text: 'one two three four five six seven eight' });
    const res = await post(KEYS.plain, { model: 'cut', stream: true, messages: [{ role: 'user', content: 'go' }] });
    expect(res.status).toBe(200); // the headers left with the first bytes
    const text = await res.text().catch(() => '');
    expect(text).toContain('one');
    const record = await requestLog(res.headers.get('x-request-id')!);
    expect(record.outcome).not.toBe('success');
    expect(record.outcome).toBe('failed');
    const m = await metrics();
    expect(valueOf(m, 'llm_gateway_requests_total', { alias: 'cut', outcome: 'success' })).toBe(0);
    expect(valueOf(m, 'llm_gateway_requests_total', { alias: 'cut', outcome: 'failed' })).toBe(1);
  });
});
