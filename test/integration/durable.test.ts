/**
 * The durable path against a real Temporal dev server: the request workflow walks the same fallback chain as
 * the fast path, and its history tells the story (summaries, details table, search attributes, query).
 */
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { useDurableHarness } from '../support/durable-harness.js';
import type { RequestView } from '../../src/durable/requests.js';
import { SA } from '../../src/durable/search-attributes.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-durable-upstream-secret, timeouts: { firstByteMs: 5000, idleMs: 5000 } }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-durable-secret }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
  oa-small: { provider: oa, model: gpt-small, tier: 3 }
models:
  chat:
    groups: [{ deployments: [oa-main] }, { deployments: [an-main] }]
    downgrade: small
  small: { groups: [{ deployments: [oa-small] }] }
  solo: { groups: [{ deployments: [oa-main] }] }
  preset: { groups: [{ deployments: [oa-main] }], fallback: { attemptsPerDeployment: 1, catchAll: { presetAnswer: "Busy, try later." } } }
defaults:
  fallback: { attemptsPerDeployment: 3, backoff: { baseMs: 10, capMs: 50 }, maxRetryAfterMs: 3000 }
`;

const h = useDurableHarness(yaml);

const chat = (model: string, content: string) => ({ model, messages: [{ role: 'user' as const, content }] });

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${h.gateway.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function submit(body: unknown, headers: Record<string, string> = {}) {
  return api('/v1/requests', { method: 'POST', body: JSON.stringify(body), headers });
}

async function waitDone(id: string): Promise<RequestView> {
  for (let i = 0; i < 10; i++) {
    const { body } = await api(`/v1/requests/${id}?wait=10s`);
    if (body.status !== 'running' && body.status !== 'queued') return body;
  }
  throw new Error(`request ${id} did not finish`);
}

describe('durable requests over HTTP', () => {
  it('submits, long-polls and returns the result in the OpenAI shape with its attempts', async () => {
    const { status, body, headers } = await submit(chat('chat', 'durable hello'));
    expect(status).toBe(202);
    expect(body.id).toMatch(/^req-/);
    expect(headers.get('location')).toBe(`/v1/requests/${body.id}`);
    const done = await waitDone(body.id);
    expect(done).toMatchObject({ status: 'succeeded', outcome: 'success', deployment: 'oa-main', model: 'chat' });
    expect(done.result!.choices[0]!.message.content).toBe('Echo: durable hello');
    expect(done.result!.object).toBe('chat.completion');
    expect(done.attempts).toHaveLength(1);
  });

  it('walks the fallback chain: 500s on OpenAI, then Anthropic answers, every attempt recorded', async () => {
    h.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 500 }));
    const { body } = await submit(chat('chat', 'fall back'));
    const done = await waitDone(body.id);
    expect(done.status).toBe('succeeded');
    expect(done.outcome).toBe('fallback');
    expect(done.deployment).toBe('an-main');
    expect(done.attempts.map((a) => [a.deployment, a.attempt, a.outcome, a.kind ?? null])).toEqual([
      ['oa-main', 1, 'error', 'server'],
      ['oa-main', 2, 'error', 'server'],
      ['oa-main', 3, 'error', 'server'],
      ['an-main', 1, 'ok', null],
    ]);
    expect(h.fake.requests.map((r) => r.protocol)).toEqual(['openai', 'openai', 'openai', 'anthropic']);

    const desc = await h.temporal.workflow.getHandle(body.id).describe();
    expect(desc.typedSearchAttributes.get(SA.outcome)).toBe('fallback');
    expect(desc.typedSearchAttributes.get(SA.deployment)).toBe('an-main');
    expect(desc.typedSearchAttributes.get(SA.provider)).toBe('an');
    expect(desc.typedSearchAttributes.get(SA.fallbacks)).toBe(1);
    expect(desc.typedSearchAttributes.get(SA.alias)).toBe('chat');
    expect(desc.typedSearchAttributes.get(SA.tenant)).toBe('default');
  });

  it('honours Retry-After through nextRetryDelay', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 429, retryAfterMs: 1500 });
    const t0 = Date.now();
    const { body } = await submit(chat('solo', 'rate limited'));
    const done = await waitDone(body.id);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(done.attempts.map((a) => [a.kind ?? 'ok', a.next ?? null])).toEqual([
      ['rate_limited', expect.stringMatching(/^retry in (1[5-9]\d\d|[2-9]\d\d\d) ms$/)],
      ['ok', null],
    ]);
  });

  it('gives a 400 back without retrying, as a failed request', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 400, message: 'Invalid value for top_p' });
    const { body } = await submit(chat('chat', 'bad'));
    const done = await waitDone(body.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ kind: 'bad_request', status: 400 });
    expect(done.error!.message).toMatch(/top_p/);
    expect(h.fake.requests).toHaveLength(1);
  });

  it('ends in the catch-all: preset answer, or service busy', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 503 });
    const preset = await waitDone((await submit(chat('preset', 'x'))).body.id);
    expect(preset).toMatchObject({ status: 'succeeded', outcome: 'catch_all' });
    expect(preset.result!.choices[0]!.message.content).toBe('Busy, try later.');

    h.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 502 }));
    const busy = await waitDone((await submit(chat('solo', 'x'))).body.id);
    expect(busy.status).toBe('failed');
    expect(busy.error!.type).toBe('ServiceBusy');
  });

  it('makes one workflow of two submissions with the same Idempotency-Key, and refuses the key for another body', async () => {
    const key = `key-${Date.now()}`;
    const first = await submit(chat('chat', 'once'), { 'idempotency-key': key });
    const second = await submit(chat('chat', 'once'), { 'idempotency-key': key });
    expect(second.body.id).toBe(first.body.id);
    await waitDone(first.body.id);
    const third = await submit(chat('chat', 'once'), { 'idempotency-key': key });
    expect(third.body.id).toBe(first.body.id);
    let runs = 0;
    for await (const _ of h.temporal.workflow.list({ query: `WorkflowId = '${first.body.id}'` })) runs++;
    expect(runs).toBe(1);
    expect(h.fake.requests).toHaveLength(1);

    const conflict = await submit(chat('chat', 'another body'), { 'idempotency-key': key });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('idempotency_key_reused');
  });

  it('cancels a running request and aborts its provider call', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'hold' });
    const { body } = await submit(chat('solo', 'cancel me'));
    await until(() => h.fake.held === 1);
    const cancelled = await api(`/v1/requests/${body.id}`, { method: 'DELETE' });
    expect(cancelled.body.status).toBe('cancelled');
    await until(() => h.fake.openRequests === 0);
    expect((await api(`/v1/requests/${body.id}`)).body.status).toBe('cancelled');
  });

  it('answers 404 for unknown ids and 400 for bad bodies', async () => {
    expect((await api('/v1/requests/req-00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await api('/v1/requests/not-an-id')).status).toBe(404);
    const bad = await submit({ model: 'chat', messages: [] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('messages');
    expect((await submit(chat('nope', 'x'))).status).toBe(404);
    expect((await api('/v1/requests/req-x?wait=soon')).status).toBe(400);
  });
});

describe('durable chat completions for plain OpenAI clients', () => {
  it('runs through the workflow when asked by header, sync and streamed', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    const { data, response } = await h.openai.chat.completions
      .create(chat('chat', 'via header'), { headers: { 'x-gateway-durable': 'true' } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: via header');
    expect(response.headers.get('x-gateway-request-id')).toMatch(/^req-/);
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
    expect(response.headers.get('x-gateway-deployment')).toBe('oa-main');

    const stream = await h.openai.chat.completions.create({ ...chat('chat', 'durable stream'), stream: true }, { headers: { 'x-gateway-durable': 'true' } });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Echo: durable stream');
  });

  it('returns a durable 400 in the OpenAI error shape', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 400, message: 'bad temperature' });
    const err = await h.openai.chat.completions.create(chat('solo', 'x'), { headers: { 'x-gateway-durable': 'true' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('readable history', () => {
  it('summarises every provider call, keeps a details table and answers the progress query', async () => {
    h.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 500 }));
    const { body } = await submit(chat('chat', 'story'));
    await waitDone(body.id);
    const handle = h.temporal.workflow.getHandle(body.id);
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callProvider')
      .map((e) => e.userMetadata?.summary?.data)
      .map((d) => (d ? JSON.parse(Buffer.from(d).toString()) : undefined));
    expect(summaries).toEqual(['oa/oa-main · primary · attempt 1', 'an/an-main · switch · attempt 1 · after server 500 on oa-main']);

    const desc = await handle.describe();
    expect(await desc.staticSummary()).toMatch(/^chat · tenant default/);
    const details = await handle.query<string>('__temporal_workflow_metadata').catch(() => undefined);
    expect(JSON.stringify(details ?? '')).toMatch(/an\/an-main/);
    const progress = await handle.query<{ phase: string; attempts: unknown[] }>('progress');
    expect(progress.phase).toBe('done');
    expect(progress.attempts).toHaveLength(4);
  });

  it('keeps provider keys out of workflow history', async () => {
    h.fake.scriptFor('claude-main', { kind: 'error', status: 401 });
    h.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 500 }));
    const { body } = await submit(chat('chat', 'secret check'));
    await waitDone(body.id);
    const text = decodedHistory(await h.temporal.workflow.getHandle(body.id).fetchHistory());
    expect(text.includes('Echo: secret check')).toBe(true); // the decoding works: payloads are readable
    for (const secret of ['sk-durable-upstream-secret', 'sk-ant-durable-secret']) expect(text.includes(secret)).toBe(false);
  });
});

/** The whole history as text, every payload's bytes decoded, so a secret inside any payload would show. */
function decodedHistory(history: unknown): string {
  return JSON.stringify(history, (k, v) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (k === 'data' && typeof v === 'string') return Buffer.from(v, 'base64').toString('utf8');
    return v;
  });
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
