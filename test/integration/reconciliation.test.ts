/**
 * Issue #13 §3, the reconciliation: a chaos mix of requests through every entry point (retries, switches,
 * downgrades, cascades with rules and judges, hedges, streams with and without usage, streams the client drops,
 * durable calls including one whose client leaves, POST /v1/requests, a batch, /v1/messages, embeddings), then,
 * once every charge has landed, three independent books must agree to the micro-dollar:
 *   Σ attempt costs in the `charge` log records = Σ spend on the keys' budgets = the cost metric,
 * and each is checked against what the fake provider's usage times the deployments' prices says it must be.
 *
 * Failures are collected with expect.soft, so one run reports every book that disagrees and by how much.
 *
 * Not specified by the design, so only reconciled here (not priced): a stream the client drops before its end
 * gets no usage from upstream and is charged $0 today, although the provider bills the prompt and the tokens
 * it generated.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { countWords } from '../fake-provider/reply.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { parsePrometheus, type Sample } from '../support/prometheus-text.js';
import { until } from '../support/until.js';

const KEYS = { alpha: 'key-recon-alpha-00000000000000000', beta: 'key-recon-beta-000000000000000000', admin: 'key-recon-admin-0000000000000000' };
const dir = mkdtempSync(join(tmpdir(), 'gateway-recon-'));

/**
 * Distinct, non-round prices (USD per million tokens), large enough that one request costs ~1e-3 USD: a request
 * charged twice or not at all moves a sum by far more than the 1e-6 tolerance.
 */
const PRICES = {
  'plain-oa': [137.3, 511.7],
  'retry-oa': [203.9, 719.3],
  'switch-first': [151.1, 613.7],
  'switch-second': [97.3, 421.9],
  'down-big': [311.3, 1201.7],
  'down-small': [41.9, 173.3],
  'casc-small': [29.3, 113.7],
  'casc-large': [307.1, 1493.3],
  'judge-oa': [59.7, 233.9],
  'hedge-slow': [173.9, 587.3],
  'hedge-fast': [187.1, 601.3],
  'stream-oa': [121.7, 487.9],
  'abort-oa': [131.9, 499.1],
  'durable-oa': [163.7, 557.9],
  'submit-oa': [143.3, 541.1],
  'batch-oa': [117.1, 467.3],
  'msg-an': [139.7, 523.9],
  'embed-oa': [913.7, 0],
} as const satisfies Record<string, readonly [number, number]>;
type Deployment = keyof typeof PRICES;

const MODEL: Record<Deployment, string> = Object.fromEntries(Object.keys(PRICES).map((d) => [d, `m-${d}`])) as Record<Deployment, string>;
const ANTHROPIC: ReadonlySet<Deployment> = new Set(['switch-second', 'down-small', 'casc-large', 'hedge-fast', 'msg-an']);

const deploymentsYaml = (Object.keys(PRICES) as Deployment[])
  .map((d) => {
    const [i, o] = PRICES[d];
    const caps = d === 'embed-oa' ? ', capabilities: [embeddings]' : '';
    return `  ${d}: { provider: ${ANTHROPIC.has(d) ? 'an' : 'oa'}, model: ${MODEL[d]}, price: { inputPerMTok: ${i}, outputPerMTok: ${o} }${caps} }`;
  })
  .join('\n');

const yaml = `
auth:
  adminKeyHash: "${hashKey(KEYS.admin)}"
  keys:
    - { id: alpha, tenant: acme, hash: "${hashKey(KEYS.alpha)}", limits: { dailyBudgetUsd: 1000 } }
    - { id: beta, tenant: globex, hash: "${hashKey(KEYS.beta)}", limits: { dailyBudgetUsd: 1000 } }
batches: { dir: "${dir}", linesPerChunk: 2, maxConcurrentLines: 2 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-recon-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-recon-upstream }
deployments:
${deploymentsYaml}
models:
  plain: { groups: [{ deployments: [plain-oa] }] }
  retry: { groups: [{ deployments: [retry-oa] }], fallback: { attemptsPerDeployment: 3 } }
  switch: { groups: [{ deployments: [switch-first] }, { deployments: [switch-second] }], fallback: { attemptsPerDeployment: 1 } }
  downgrade: { groups: [{ deployments: [down-big] }], downgrade: down-lite, fallback: { attemptsPerDeployment: 1 } }
  down-lite: { groups: [{ deployments: [down-small] }] }
  tier-small: { groups: [{ deployments: [casc-small] }] }
  tier-large: { groups: [{ deployments: [casc-large] }] }
  cascade:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: rules, minChars: 60 }]
  cascade-drop:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: rules, minChars: 60 }]
  cascade-cancel:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: rules, minChars: 60 }]
  grader: { groups: [{ deployments: [judge-oa] }] }
  judged:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: judge, alias: grader, minScore: 7 }]
  hedge: { groups: [{ deployments: [hedge-slow] }, { deployments: [hedge-fast] }], hedge: { afterMs: 100 } }
  stream: { groups: [{ deployments: [stream-oa] }] }
  abort: { groups: [{ deployments: [abort-oa] }] }
  durable: { groups: [{ deployments: [durable-oa] }] }
  submit: { groups: [{ deployments: [submit-oa] }] }
  batchy: { groups: [{ deployments: [batch-oa] }], fallback: { attemptsPerDeployment: 3 } }
  msg: { groups: [{ deployments: [msg-an] }] }
  embed: { groups: [{ deployments: [embed-oa] }] }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 5, capMs: 20 }, maxRetryAfterMs: 1000 }
`;

const TOLERANCE = 1e-6;
const close = (a: number, b: number) => Math.abs(a - b) < TOLERANCE;
const usd = (n: number) => n.toFixed(9);

/** What the fake provider bills for `Echo: <content>`: prompt = words of the content, completion = one more. */
function echoCost(d: Deployment, content: string): number {
  const w = countWords(content);
  const [i, o] = PRICES[d];
  return (w * i + (w + 1) * o) / 1_000_000;
}
const embedCost = (content: string) => (countWords(content) * PRICES['embed-oa'][0]) / 1_000_000;

type LogRecord = Record<string, any>;
interface ChargeAttempt {
  deployment: string;
  provider: string;
  costUsd?: number;
  outcome?: string;
}
interface ChargeRecord extends LogRecord {
  chargeId: string;
  keyId?: string;
  alias: string;
  path: 'fast' | 'durable' | 'batch';
  costUsd: number;
  attempts: ChargeAttempt[];
}

const logs: LogRecord[] = [];
let pending = '';
const sink = new Writable({
  write(chunk, _enc, cb) {
    pending += String(chunk);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line) logs.push(JSON.parse(line));
    }
    cb();
  },
});
const charges = () => logs.filter((l): l is ChargeRecord => l.msg === 'charge');
const requestRecords = () => logs.filter((l) => l.msg === 'request');
const sumAttempts = (attempts: readonly { costUsd?: number }[] | undefined) => (attempts ?? []).reduce((s, a) => s + (a.costUsd ?? 0), 0);

let h: DurableHarness;
beforeAll(async () => {
  h = await startDurableHarness(yaml, { logger: createLogger('info', sink) });
}, 60_000);
afterAll(async () => {
  await h?.close();
  // RECON_LOG=file keeps the gateway's log records (charges, requests) for reading a failure
  if (process.env.RECON_LOG) writeFileSync(process.env.RECON_LOG, logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function post(path: string, key: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(key), ...headers }, body: JSON.stringify(body), signal });
}

const ask = (model: string, content: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content }], ...extra });

async function spendToday(): Promise<Record<string, number>> {
  const res = await fetch(`${h.gateway.url}/admin/keys`, { headers: auth(KEYS.admin) });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { data: Array<{ id: string; spend_usd: { today: number } }> };
  return Object.fromEntries(body.data.map((k) => [k.id, k.spend_usd.today]));
}

async function scrape(): Promise<Sample[]> {
  return parsePrometheus(await (await fetch(`${h.gateway.url}/metrics`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).text());
}

/** What every scenario added: the charges it must produce and, where the fake's usage makes it knowable, its cost. */
class Books {
  readonly expectedByAlias = new Map<string, number>();
  readonly requestsByAlias = new Map<string, number>();
  /** Aliases whose cost cannot be known in advance (dropped streams, judge prompts): only the books must agree. */
  readonly unknownCost = new Set<string>();
  /** Per alias, how many attempts of each outcome its charges must carry (aliases whose trail is scripted). */
  readonly outcomesByAlias = new Map<string, Record<string, number>>();
  charges = { fast: 0, durable: 0, batch: 0 };
  add(alias: string, path: keyof Books['charges'], cost: number | undefined, outcomes?: Record<string, number>) {
    this.charges[path]++;
    if (outcomes) this.expectOutcomes(alias, outcomes);
    this.requestsByAlias.set(alias, (this.requestsByAlias.get(alias) ?? 0) + 1);
    if (cost === undefined) this.unknownCost.add(alias);
    else this.expectedByAlias.set(alias, (this.expectedByAlias.get(alias) ?? 0) + cost);
  }
  expectOutcomes(alias: string, outcomes: Record<string, number>) {
    const o = this.outcomesByAlias.get(alias) ?? {};
    for (const [k, n] of Object.entries(outcomes)) if (n > 0) o[k] = (o[k] ?? 0) + n;
    this.outcomesByAlias.set(alias, o);
  }
  get total() {
    return this.charges.fast + this.charges.durable + this.charges.batch;
  }
}

/** Reads an SSE answer to its end; true when it ended with [DONE] and carried a usage chunk. */
async function readStream(res: Response): Promise<{ done: boolean; usage: boolean }> {
  const text = await res.text();
  return { done: text.includes('data: [DONE]'), usage: /"usage":\{"prompt_tokens"/.test(text) };
}

describe('reconciliation (issue #13 §3)', () => {
  it('a chaos mix: Σ attempt costs in the logs = Σ charged to budgets = the cost metric, to the micro-dollar, and = usage × prices', async () => {
    const books = new Books();
    const keyOf = (i: number) => (i % 2 === 0 ? KEYS.alpha : KEYS.beta);

    // -- batch first: it runs in the worker while the rest goes on (its own deployment, so scripts do not mix)
    const beta = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: KEYS.beta, maxRetries: 0, timeout: 30_000 });
    const batchLines = Array.from({ length: 4 }, (_, i) => ({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: ask('batchy', `batch line number ${i} please`) }));
    h.fake.scriptFor(MODEL['batch-oa'], { kind: 'error', status: 500 });
    const file = await beta.files.create({ file: await toFile(Buffer.from(batchLines.map((l) => JSON.stringify(l)).join('\n') + '\n'), 'recon.jsonl'), purpose: 'batch' });
    const batch = await beta.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    for (const l of batchLines) books.add('batchy', 'batch', echoCost('batch-oa', l.body.messages[0]!.content), { ok: 1 });
    books.expectOutcomes('batchy', { error: 1 }); // the scripted 500, retried inside its line

    // -- plain successes
    for (let i = 0; i < 3; i++) {
      const content = `plain request number ${i} please`;
      const res = await post('/v1/chat/completions', keyOf(i), ask('plain', content));
      expect.soft(res.status, 'plain').toBe(200);
      await res.text();
      books.add('plain', 'fast', echoCost('plain-oa', content), { ok: 1 });
    }

    // -- retries on the same deployment (500, 429 with a hint, two 5xx in a row)
    const retryScripts = [
      [{ kind: 'error', status: 500 }],
      [{ kind: 'error', status: 429, retryAfterMs: 5 }],
      [{ kind: 'error', status: 500 }, { kind: 'error', status: 503 }],
    ] as const;
    for (const [i, steps] of retryScripts.entries()) {
      h.fake.scriptFor(MODEL['retry-oa'], ...steps);
      const content = `retry request number ${i} please`;
      const res = await post('/v1/chat/completions', keyOf(i), ask('retry', content));
      expect.soft(res.status, 'retry').toBe(200);
      expect.soft(res.headers.get('x-gateway-fallback'), 'retry fallback header').toBe('retry');
      await res.text();
      books.add('retry', 'fast', echoCost('retry-oa', content), { ok: 1, error: steps.length });
    }

    // -- switch to the next deployment; downgrade to the downgrade alias
    for (let i = 0; i < 2; i++) {
      h.fake.scriptFor(MODEL['switch-first'], { kind: 'error', status: 500 });
      const content = `switch request number ${i} please`;
      const res = await post('/v1/chat/completions', keyOf(i), ask('switch', content));
      expect.soft(res.status, 'switch').toBe(200);
      expect.soft(res.headers.get('x-gateway-fallback'), 'switch fallback header').toBe('switch');
      await res.text();
      books.add('switch', 'fast', echoCost('switch-second', content), { ok: 1, error: 1 });

      h.fake.scriptFor(MODEL['down-big'], { kind: 'error', status: 503 });
      const down = `downgrade request number ${i} please`;
      const r2 = await post('/v1/chat/completions', keyOf(i + 1), ask('downgrade', down));
      expect.soft(r2.status, 'downgrade').toBe(200);
      expect.soft(r2.headers.get('x-gateway-fallback'), 'downgrade fallback header').toBe('downgrade');
      await r2.text();
      books.add('downgrade', 'fast', echoCost('down-small', down), { ok: 1, error: 1 });
    }

    // -- cost-aware cascade: the small stage's short echo is rejected (minChars), the large one answers; sync and streamed
    for (let i = 0; i < 4; i++) {
      const content = `cascade request number ${i} please`;
      const stream = i >= 2;
      const res = await post('/v1/chat/completions', keyOf(i), ask('cascade', content, stream ? { stream: true, ...(i === 3 && { stream_options: { include_usage: true } }) } : {}));
      expect.soft(res.status, `cascade ${stream ? 'streamed' : 'sync'}`).toBe(200);
      expect.soft(res.headers.get('x-gateway-cascade') ?? '', 'cascade header').toContain('tier-small');
      if (stream) expect.soft((await readStream(res)).done, 'cascade stream ended').toBe(true);
      else await res.text();
      books.add('cascade', 'fast', echoCost('casc-small', content) + echoCost('casc-large', content), { ok: 2 });
    }

    // -- a judged cascade: the judge (an attempt like any other) scores the small answer 2, so it escalates
    for (let i = 0; i < 2; i++) {
      h.fake.scriptFor(MODEL['judge-oa'], { kind: 'reply', text: '{"score": 2, "reason": "too short"}' });
      const content = `judged request number ${i} please`;
      const res = await post('/v1/chat/completions', keyOf(i), ask('judged', content));
      expect.soft(res.status, 'judged cascade').toBe(200);
      await res.text();
      books.add('judged', 'fast', undefined, { ok: 3 }); // small stage, its judge, large stage
    }

    // -- hedging: the first deployment is slow, the hedge answers; the cancelled loser has no usage
    for (let i = 0; i < 4; i++) {
      h.fake.scriptFor(MODEL['hedge-slow'], { kind: 'delay', ms: 1_500 });
      const content = `hedge request number ${i} please`;
      const stream = i % 2 === 1;
      const res = await post('/v1/chat/completions', keyOf(i), ask('hedge', content, stream ? { stream: true } : {}));
      expect.soft(res.status, 'hedge').toBe(200);
      expect.soft(res.headers.get('x-gateway-deployment'), 'hedge winner').toBe('hedge-fast');
      if (stream) await readStream(res);
      else await res.text();
      books.add('hedge', 'fast', echoCost('hedge-fast', content), { ok: 1, cancelled: 1 });
    }

    // -- streams: usage asked for, not asked for, and after a 429 before the first byte
    for (let i = 0; i < 3; i++) {
      if (i === 2) h.fake.scriptFor(MODEL['stream-oa'], { kind: 'error', status: 429, retryAfterMs: 5 });
      const content = `stream request number ${i} please`;
      const res = await post('/v1/chat/completions', keyOf(i), ask('stream', content, { stream: true, ...(i !== 1 && { stream_options: { include_usage: true } }) }));
      expect.soft(res.status, 'stream').toBe(200);
      const read = await readStream(res);
      expect.soft(read.done, 'stream ended').toBe(true);
      expect.soft(read.usage, 'usage chunk only when asked for').toBe(i !== 1);
      books.add('stream', 'fast', echoCost('stream-oa', content), { ok: 1, error: i === 2 ? 1 : 0 });
    }

    // -- a concurrent burst of plain answers and streams (charges landing at the same time on both keys)
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const stream = i % 2 === 1;
        const content = `burst request number ${i} please`;
        const res = await post('/v1/chat/completions', keyOf(i >> 1), ask(stream ? 'stream' : 'plain', content, stream ? { stream: true } : {}));
        expect.soft(res.status, 'burst').toBe(200);
        await res.text();
        books.add(stream ? 'stream' : 'plain', 'fast', echoCost(stream ? 'stream-oa' : 'plain-oa', content), { ok: 1 });
      }),
    );

    // -- streams the client drops after the first content chunk (what they cost is not knowable here, only that the books agree)
    for (let i = 0; i < 2; i++) {
      const words = Array.from({ length: 30 }, (_, k) => `w${k}`).join(' ');
      h.fake.scriptFor(MODEL['abort-oa'], { kind: 'reply', text: words, tokenDelayMs: 40 });
      const ac = new AbortController();
      const res = await post('/v1/chat/completions', keyOf(i), ask('abort', `abort request number ${i} please`, { stream: true, stream_options: { include_usage: true } }), {}, ac.signal);
      expect.soft(res.status, 'aborted stream').toBe(200);
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('"content":"')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      ac.abort();
      await reader.cancel().catch(() => undefined);
      books.add('abort', 'fast', undefined);
    }

    // -- /v1/messages through the Anthropic SDK, plain and streamed
    const anthropic = new Anthropic({ baseURL: h.gateway.url, apiKey: KEYS.alpha, maxRetries: 0, timeout: 30_000 });
    for (let i = 0; i < 2; i++) {
      const content = `messages request number ${i} please`;
      if (i === 0) {
        const m = await anthropic.messages.create({ model: 'msg', max_tokens: 100, messages: [{ role: 'user', content }] });
        expect.soft(m.usage.output_tokens, 'messages usage').toBe(countWords(content) + 1);
      } else {
        const s = anthropic.messages.stream({ model: 'msg', max_tokens: 100, messages: [{ role: 'user', content }] });
        await s.finalMessage();
      }
      books.add('msg', 'fast', echoCost('msg-an', content), { ok: 1 });
    }

    // -- embeddings (priced on input)
    const alpha = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: KEYS.alpha, maxRetries: 0, timeout: 30_000 });
    for (let i = 0; i < 2; i++) {
      const content = `embedding input number ${i} please`;
      await alpha.embeddings.create({ model: 'embed', input: content });
      books.add('embed', 'fast', embedCost(content), { ok: 1 });
    }

    // -- durable calls: answered at once, after a retry, and one whose client leaves before the answer
    const DURABLE = { 'x-gateway-durable': 'true' };
    for (let i = 0; i < 2; i++) {
      if (i === 1) h.fake.scriptFor(MODEL['durable-oa'], { kind: 'error', status: 500 });
      const content = `durable request number ${i} please`;
      const res = await post('/v1/chat/completions', keyOf(i), ask('durable', content), DURABLE);
      expect.soft(res.status, 'durable').toBe(200);
      await res.text();
      books.add('durable', 'durable', echoCost('durable-oa', content), { ok: 1, error: i === 1 ? 1 : 0 });
    }
    {
      h.fake.scriptFor(MODEL['durable-oa'], { kind: 'delay', ms: 1_000 });
      const content = `durable disconnect number 0 please`;
      const ac = new AbortController();
      const pendingRes = post('/v1/chat/completions', KEYS.beta, ask('durable', content), DURABLE, ac.signal).catch(() => undefined);
      await until('the durable call to reach the provider', () =>
        h.fake.requests.some((r) => r.model === MODEL['durable-oa'] && JSON.stringify(r.body).includes(content)) ? true : undefined,
      );
      ac.abort();
      await pendingRes;
      books.add('durable', 'durable', echoCost('durable-oa', content), { ok: 1 });
    }

    // -- POST /v1/requests: plain, after a 500, and a cascade alias
    const submitted: string[] = [];
    for (const [i, model] of ['submit', 'submit', 'cascade'].entries()) {
      if (i === 1) h.fake.scriptFor(MODEL['submit-oa'], { kind: 'error', status: 500 });
      const content = `submitted request number ${i} please`;
      const res = await post('/v1/requests', keyOf(i), ask(model, content));
      expect.soft(res.status, `POST /v1/requests (${model})`).toBe(202);
      const body = (await res.json()) as { id?: string };
      if (res.status !== 202 || !body.id) continue;
      submitted.push(body.id);
      const view = (await (await fetch(`${h.gateway.url}/v1/requests/${body.id}?wait=20s`, { headers: auth(keyOf(i)) })).json()) as { status: string };
      expect.soft(view.status, `submitted ${model} ends`).toBe('succeeded');
      if (model === 'submit') books.add('submit', 'durable', echoCost('submit-oa', content), { ok: 1, error: i === 1 ? 1 : 0 });
      else books.add('cascade', 'durable', echoCost('casc-small', content) + echoCost('casc-large', content), { ok: 2 });
    }

    // -- work that ends early after a paid attempt: the small stage answered (and was rejected), the large one is
    //    held when the fast-path client leaves / the durable request is cancelled; the small stage is still owed
    {
      h.fake.scriptFor(MODEL['casc-large'], { kind: 'hold' });
      const content = `cascade dropped number 0 please`;
      const ac = new AbortController();
      const pendingRes = post('/v1/chat/completions', KEYS.alpha, ask('cascade-drop', content), {}, ac.signal).catch(() => undefined);
      await until('the large stage to be held', () => (h.fake.held === 1 ? true : undefined));
      ac.abort();
      await pendingRes;
      // the gateway should abort its upstream call; if it does not, let the call end so nothing hangs
      await until('the held call to be abandoned', () => (h.fake.held === 0 ? true : undefined), 3_000).catch(() => {
        expect.soft(h.fake.held, 'the held upstream call is abandoned when the client leaves').toBe(0);
        h.fake.release();
      });
      books.add('cascade-drop', 'fast', echoCost('casc-small', content));
    }
    {
      h.fake.scriptFor(MODEL['casc-large'], { kind: 'hold' });
      const content = `cascade cancelled number 0 please`;
      const res = await post('/v1/requests', KEYS.beta, ask('cascade-cancel', content));
      expect.soft(res.status, 'POST /v1/requests (cascade to cancel)').toBe(202);
      const { id } = (await res.json()) as { id?: string };
      if (res.status === 202 && id) {
        await until('the large stage to be held', () => (h.fake.held === 1 ? true : undefined));
        const cancel = await fetch(`${h.gateway.url}/v1/requests/${id}`, { method: 'DELETE', headers: auth(KEYS.beta) });
        expect.soft(((await cancel.json()) as { status?: string }).status, 'cancelled').toBe('cancelled');
        await until('the held call to be abandoned', () => (h.fake.held === 0 ? true : undefined), 5_000).catch(() => h.fake.release());
        submitted.push(id);
        books.add('cascade-cancel', 'durable', echoCost('casc-small', content));
      }
    }

    // -- settle: the batch ends, then every charge has been written (durable ones by the worker, after the client left)
    const done = await until('the batch to finish', async () => {
      const b = await beta.batches.retrieve(batch.id);
      return ['completed', 'failed', 'cancelled', 'expired'].includes(b.status) ? b : undefined;
    });
    expect.soft(done.status, 'batch').toBe('completed');
    expect.soft(done.request_counts, 'batch counts').toMatchObject({ total: 4, completed: 4, failed: 0 });
    await until('every charge to be written', () => (charges().length >= books.total ? true : undefined), 20_000).catch((err: Error) => {
      expect.soft(charges().length, err.message).toBe(books.total);
    });
    // The open provider calls (the hedge losers, the dropped streams) are gone: nothing is still to be priced.
    await until('no provider call left open', () => (h.fake.openRequests === 0 ? true : undefined), 10_000).catch(() => undefined);

    const all = charges();
    const spend = await spendToday();
    const costSamples = (await scrape()).filter((s) => s.name === 'llm_gateway_cost_usd_total');
    const sumBy = <T>(items: readonly T[], key: (t: T) => string | undefined, value: (t: T) => number) => {
      const m = new Map<string, number>();
      for (const t of items) {
        const k = key(t);
        if (k !== undefined) m.set(k, (m.get(k) ?? 0) + value(t));
      }
      return m;
    };
    const mismatches = (a: Map<string, number>, b: Map<string, number>, names: [string, string], keys: Iterable<string> = new Set([...a.keys(), ...b.keys()])) =>
      [...keys].filter((k) => !close(a.get(k) ?? 0, b.get(k) ?? 0)).map((k) => `${k}: ${names[0]} ${usd(a.get(k) ?? 0)} vs ${names[1]} ${usd(b.get(k) ?? 0)}`);

    // (0) one charge per request, none twice
    const ids = all.map((c) => c.chargeId);
    expect.soft([...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))], 'chargeIds that appear twice').toEqual([]);
    const byPath = { fast: 0, durable: 0, batch: 0 } as Record<string, number>;
    for (const c of all) byPath[c.path] = (byPath[c.path] ?? 0) + 1;
    expect.soft(byPath, 'charge records per path (written vs expected)').toEqual(books.charges);
    expect.soft(all.filter((c) => c.path === 'batch').map((c) => c.chargeId).sort(), 'batch chargeIds').toEqual([0, 1, 2, 3].map((i) => `batch:${batch.id}:${i}`));
    expect.soft(submitted.filter((id) => ids.filter((x) => x === id).length !== 1), 'submitted requests not charged exactly once by their workflow id').toEqual([]);
    expect.soft(all.filter((c) => c.keyId !== 'alpha' && c.keyId !== 'beta').map((c) => `${c.chargeId} (${c.alias}, key ${c.keyId})`), 'charges without their key').toEqual([]);

    // (1) Σ attempt costs in the charge records; each record's total is its attempts' sum ...
    const logTotal = all.reduce((s, c) => s + sumAttempts(c.attempts), 0);
    expect.soft(all.filter((c) => !close(c.costUsd, sumAttempts(c.attempts))).map((c) => `${c.chargeId} (${c.alias}): costUsd ${usd(c.costUsd)} vs Σ attempts ${usd(sumAttempts(c.attempts))}`), 'charge records whose total is not their attempts').toEqual([]);
    // ... and every request log record's attempts cost what its charge says
    const chargeById = new Map(all.map((c) => [c.chargeId, c]));
    const unlinked: string[] = [];
    const unlinkedDurable: string[] = [];
    const requestVsCharge: string[] = [];
    for (const r of requestRecords()) {
      const id: string | undefined = r.chargeId ?? r.durableId;
      const charge = id === undefined ? undefined : chargeById.get(id);
      if (!charge) {
        (r.mode === 'fast' ? unlinked : unlinkedDurable).push(`${r.path} ${r.alias} ${r.status} ${r.mode}${r.outcome === 'aborted' ? ' (client left)' : ''} (chargeId ${r.chargeId}, durableId ${r.durableId})`);
        continue;
      }
      if (!r.attempts?.length && charge.path !== 'fast') continue; // a durable call whose client left logs no attempts
      if (!close(sumAttempts(r.attempts), charge.costUsd)) requestVsCharge.push(`${r.alias} ${id}: request log Σ attempts ${usd(sumAttempts(r.attempts))} vs charge ${usd(charge.costUsd)}`);
    }
    expect.soft(unlinked, 'fast-path request log records whose charge record is missing (linked by chargeId)').toEqual([]);
    // a durable call's record names its workflow, which is the chargeId of the worker's charge, even when the client left
    expect.soft(unlinkedDurable, 'durable request log records that do not lead to their charge (by durableId)').toEqual([]);
    expect.soft(requestVsCharge, 'request log attempts vs their charge record').toEqual([]);

    // (2) Σ spend on the keys' budgets, in total and per key
    const budgetTotal = (spend.alpha ?? 0) + (spend.beta ?? 0);
    const logByKey = sumBy(all, (c) => c.keyId, (c) => sumAttempts(c.attempts));
    expect.soft(mismatches(logByKey, new Map(Object.entries(spend)), ['charge log', 'budget'], ['alpha', 'beta']), 'per key: charge log vs budget').toEqual([]);

    // (3) the cost metric, in total, per deployment and per alias
    const metricTotal = costSamples.reduce((s, x) => s + x.value, 0);
    const logByDeployment = sumBy(all.flatMap((c) => c.attempts), (a) => a.deployment, (a) => a.costUsd ?? 0);
    const metricByDeployment = sumBy(costSamples, (s) => s.labels.deployment, (s) => s.value);
    expect.soft(mismatches(logByDeployment, metricByDeployment, ['charge log', 'metric']), 'per deployment: charge log vs metric').toEqual([]);

    const summary = `log ${usd(logTotal)} budgets ${usd(budgetTotal)} metric ${usd(metricTotal)} (charge records ${all.length}/${books.total})`;
    expect.soft(logTotal, `Σ attempt costs must be positive: ${summary}`).toBeGreaterThan(0);
    expect.soft(close(logTotal, budgetTotal), `log = budgets: ${summary}`).toBe(true);
    expect.soft(close(logTotal, metricTotal), `log = metric: ${summary}`).toBe(true);
    expect.soft(close(budgetTotal, metricTotal), `budgets = metric: ${summary}`).toBe(true);

    // (4) against usage × prices, per scenario alias, from the log and from the metric; every kind contributed
    const logByAlias = sumBy(all, (c) => c.alias, (c) => sumAttempts(c.attempts));
    const metricByAlias = sumBy(costSamples, (s) => s.labels.alias, (s) => s.value);
    const known = [...books.expectedByAlias.keys()].filter((a) => !books.unknownCost.has(a));
    expect.soft(mismatches(logByAlias, books.expectedByAlias, ['charge log', 'usage × prices'], known), 'per alias: charge log vs usage × prices').toEqual([]);
    expect.soft(mismatches(metricByAlias, books.expectedByAlias, ['metric', 'usage × prices'], known), 'per alias: metric vs usage × prices').toEqual([]);
    const silent = [...books.requestsByAlias.keys()].filter((a) => a !== 'abort' && !((logByAlias.get(a) ?? 0) > 0)); // a dropped stream may have no usage
    expect.soft(silent, 'scenario aliases that contributed nothing to the charge log').toEqual([]);
    // every attempt is priced from its own usage; a call without an answer costs nothing
    const mispriced: string[] = [];
    for (const c of all) {
      // A stream the client dropped has no usage from upstream; what it should cost is not specified (see the note at the top).
      if (c.alias === 'abort') continue;
      for (const a of c.attempts as Array<ChargeAttempt & { inputTokens?: number; outputTokens?: number }>) {
        const price = PRICES[a.deployment as Deployment];
        const want = a.outcome === 'ok' ? (price ? ((a.inputTokens ?? 0) * price[0] + (a.outputTokens ?? 0) * price[1]) / 1_000_000 : NaN) : 0;
        if (a.outcome === 'ok' && !(a.inputTokens! > 0)) mispriced.push(`${c.alias} ${a.deployment}: an answered attempt without its usage (${a.inputTokens}/${a.outputTokens})`);
        else if (!close(a.costUsd ?? 0, want)) mispriced.push(`${c.alias} ${a.deployment} ${a.outcome}: costUsd ${usd(a.costUsd ?? 0)} vs usage × price ${usd(want)}`);
      }
    }
    expect.soft(mispriced, 'attempts whose cost is not their usage × their deployment price').toEqual([]);
    const outcomes = new Map<string, Record<string, number>>();
    for (const c of all) {
      const o = outcomes.get(c.alias) ?? {};
      for (const a of c.attempts) o[a.outcome ?? '?'] = (o[a.outcome ?? '?'] ?? 0) + 1;
      outcomes.set(c.alias, o);
    }
    expect.soft(Object.fromEntries([...books.outcomesByAlias.keys()].map((a) => [a, outcomes.get(a) ?? {}])), 'attempts per outcome in the charge records, per alias').toEqual(Object.fromEntries(books.outcomesByAlias));
    // the judged cascade paid its judge; a hedge's cancelled loser costs nothing
    const attemptsOf = (alias: string, deployment: string) => all.filter((c) => c.alias === alias).flatMap((c) => c.attempts).filter((a) => a.deployment === deployment);
    expect.soft(attemptsOf('judged', 'judge-oa').reduce((s, a) => s + (a.costUsd ?? 0), 0), 'the judge calls are charged as attempts').toBeGreaterThan(0);
    expect.soft(attemptsOf('hedge', 'hedge-slow').filter((a) => (a.costUsd ?? 0) !== 0), 'hedge losers that cost something').toEqual([]);

    const rows = [...books.requestsByAlias.keys()].map((alias) => ({
      alias,
      requests: books.requestsByAlias.get(alias),
      expected: books.unknownCost.has(alias) ? '?' : usd(books.expectedByAlias.get(alias) ?? 0),
      log: usd(logByAlias.get(alias) ?? 0),
      metric: usd(metricByAlias.get(alias) ?? 0),
    }));
    console.log(`reconciliation: ${summary}\n${rows.map((r) => `  ${r.alias.padEnd(10)} n=${r.requests} expected ${r.expected.padStart(11)} log ${r.log} metric ${r.metric}`).join('\n')}\n  budgets ${JSON.stringify(spend)}`);
    expect.soft(h.fake.violations, 'provider contract violations').toEqual([]);
  }, 90_000);
});
