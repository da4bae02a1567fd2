/**
 * Live durable streams in one process (role `all`, in-process stream log): chunks reach the client while the
 * workflow runs, every event carries an id, GET /v1/requests/{id}/stream resumes after any of them, a late
 * reader gets the whole stream, the Anthropic dialect too, and the Temporal UI's table tells each attempt's story.
 */
import { describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { useDurableHarness } from '../support/durable-harness.js';
import { openAIText, openStream } from '../support/sse-client.js';
import { until } from '../support/gateway-processes.js';
import { compareIds } from '../../src/streams/stream-log.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-stream-upstream, timeouts: { firstByteMs: 5000, idleMs: 5000 } }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  oa-b: { provider: oa, model: gpt-b }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
  two: { groups: [{ deployments: [oa-b] }, { deployments: [oa-main] }], fallback: { attemptsPerDeployment: 1 } }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 50 } }
`;

const h = useDurableHarness(yaml);
const WORDS = Array.from({ length: 30 }, (_, i) => `w${i}`);
const TEXT = WORDS.join(' ');

const durableStream = (model: string, extra: Record<string, unknown> = {}) =>
  openStream(`${h.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-durable': 'true' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'tell me' }], ...extra }),
  });

describe('live durable streams (embedded, in-process log)', () => {
  it('streams chunks while the workflow runs, with an id on every event, and ends with [DONE]', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'reply', text: TEXT, tokenDelayMs: 60 });
    const s = await durableStream('chat', { stream_options: { include_usage: true } });
    expect(s.status).toBe(200);
    const id = s.headers.get('x-gateway-request-id')!;
    expect(id).toMatch(/^req-/);
    await until(() => openAIText(s.events).includes('w5'), 15_000, 'the first words');
    // live: the answer is still being produced upstream, and the workflow has not ended
    const desc = await h.temporal.workflow.getHandle(id).describe();
    expect(desc.status.name).toBe('RUNNING');
    expect(openAIText(s.events)).not.toContain('w29');
    await s.done;
    expect(openAIText(s.events)).toBe(TEXT);
    expect(s.events.at(-1)!.data).toBe('[DONE]');
    expect(s.events.find((e) => JSON.parse(e.data === '[DONE]' ? '{}' : e.data).usage)).toBeDefined();
    const ids = s.events.map((e) => e.id);
    expect(ids.every((x) => x && /^\d+-\d+$/.test(x))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('resumes after any event id (header or ?after=) with exactly the rest; a late reader gets it all', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'reply', text: TEXT, tokenDelayMs: 30 });
    const first = await durableStream('chat');
    const id = first.headers.get('x-gateway-request-id')!;
    await until(() => openAIText(first.events).includes('w9'), 15_000, 'ten words');
    first.abort(); // the client's connection dies mid-stream
    await first.done;
    const seen = first.events.filter((e) => e.id);
    const last = seen.at(-1)!.id!;
    const rest = await openStream(`${h.gateway.url}/v1/requests/${id}/stream`, { headers: { 'last-event-id': last } });
    expect(rest.status).toBe(200);
    await rest.done;
    expect(openAIText(seen) + openAIText(rest.events)).toBe(TEXT);
    expect(rest.events.at(-1)!.data).toBe('[DONE]');
    expect(rest.events.every((e) => compareIds(e.id!, last) > 0)).toBe(true);

    // after the end: the whole stream again, and from a query-string id the rest of it
    const late = await openStream(`${h.gateway.url}/v1/requests/${id}/stream`, {});
    await late.done;
    expect(openAIText(late.events)).toBe(TEXT);
    expect(late.events.map((e) => e.id)).toEqual([...seen, ...rest.events].map((e) => e.id));
    const mid = late.events[5]!.id!;
    const fromQuery = await openStream(`${h.gateway.url}/v1/requests/${id}/stream?after=${mid}`, {});
    await fromQuery.done;
    expect(openAIText(late.events.slice(0, 6)) + openAIText(fromQuery.events)).toBe(TEXT);
  });

  it('a call that fails mid-stream and runs again is announced in-band, then the new answer comes from its start', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'midstream-error', afterChunks: 6, text: TEXT, tokenDelayMs: 10 }, { kind: 'reply', text: 'second answer here', tokenDelayMs: 10 });
    const s = await durableStream('chat');
    await s.done;
    const restart = s.events.find((e) => e.event === 'gateway.restart');
    expect(restart).toBeDefined();
    const notice = JSON.parse(restart!.data);
    expect(notice.choices).toEqual([]);
    expect(notice['gateway.restart']).toMatchObject({ answer: 2, reason: 'server' });
    expect(notice['gateway.restart'].discarded_chunks).toBeGreaterThan(0);
    const after = s.events.slice(s.events.indexOf(restart!) + 1);
    expect(openAIText(after)).toBe('second answer here');
    const before = openAIText(s.events.slice(0, s.events.indexOf(restart!)));
    expect(before.length).toBeGreaterThan(0);
    expect(TEXT.startsWith(before)).toBe(true);
    expect(before).not.toBe(TEXT);
    expect(s.events.at(-1)!.data).toBe('[DONE]');
    // the Temporal UI's table: the cut attempt and the answering one, with their chunk counts
    const id = s.headers.get('x-gateway-request-id')!;
    const handle = h.temporal.workflow.getHandle(id);
    const result = (await handle.result()) as { attempts: Array<{ chunks?: number; streamEnd?: string; outcome: string }> };
    expect(result.attempts.map((a) => [a.outcome, a.streamEnd])).toEqual([
      ['error', 'server'],
      ['ok', 'stop'],
    ]);
    const [cut, answered] = result.attempts;
    expect(cut!.chunks).toBeGreaterThanOrEqual(notice['gateway.restart'].discarded_chunks);
    expect(answered!.chunks).toBeGreaterThan(0);
    const details = JSON.stringify(await handle.query('__temporal_workflow_metadata'));
    expect(details).toContain(`cut after ${cut!.chunks} chunks: server`);
    expect(details).toContain(`ok · streamed ${answered!.chunks} chunks · ended: stop`);
  });

  it('a switch after a cut stream: the next call summary in the UI says where the last one was cut', async () => {
    h.fake.scriptFor('gpt-b', { kind: 'midstream-error', afterChunks: 3, text: TEXT, tokenDelayMs: 5 });
    h.fake.scriptFor('gpt-main', { kind: 'reply', text: 'from main', tokenDelayMs: 5 });
    const s = await durableStream('two');
    await s.done;
    expect(openAIText(s.events.slice(s.events.findIndex((e) => e.event === 'gateway.restart')))).toBe('from main');
    const handle = h.temporal.workflow.getHandle(s.headers.get('x-gateway-request-id')!);
    const { attempts } = (await handle.result()) as { attempts: Array<{ chunks?: number }> };
    const summaries = ((await handle.fetchHistory()).events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callProvider')
      .map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString()));
    expect(summaries).toEqual(['oa/oa-b · primary · attempt 1', `oa/oa-main · switch · attempt 1 · after server on oa-b (cut after ${attempts[0]!.chunks} chunks: server)`]);
  });

  it('the openai SDK reads a restarted stream: the notice is a chunk without choices, then the new answer', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'midstream-error', afterChunks: 4, text: TEXT, tokenDelayMs: 5 }, { kind: 'reply', text: 'fresh start', tokenDelayMs: 5 });
    const stream = await h.openai.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-gateway-durable': 'true' } });
    const parts: string[] = [];
    for await (const chunk of stream) {
      const notice = (chunk as unknown as Record<string, unknown>)['gateway.restart'];
      if (notice) parts.length = 0; // what a client does with the notice: drop the abandoned answer
      else parts.push(chunk.choices[0]?.delta?.content ?? '');
    }
    expect(parts.join('')).toBe('fresh start');
  });

  it('a failure before any output is an HTTP error, as on the fast path', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 400, message: 'bad prompt' });
    const s = await durableStream('chat');
    expect(s.status).toBe(400);
    expect(s.headers.get('x-gateway-request-id')).toMatch(/^req-/);
  });

  it('speaks Anthropic on /v1/messages: the SDK reads the live stream, and a resume continues its events', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'reply', text: TEXT, tokenDelayMs: 20 });
    const anthropic = new Anthropic({ baseURL: h.gateway.url, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-gateway-durable': 'true' } });
    const stream = anthropic.messages.stream({ model: 'chat', max_tokens: 200, messages: [{ role: 'user', content: 'tell me' }] });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: TEXT });
    const id = (await stream.withResponse()).response.headers.get('x-gateway-request-id')!;
    const full = await openStream(`${h.gateway.url}/v1/requests/${id}/stream`, {});
    await full.done;
    expect(full.events[0]!.event).toBe('message_start');
    const at = full.events.findIndex((e, i) => i > 3 && e.event === 'content_block_delta' && e.id);
    const rest = await openStream(`${h.gateway.url}/v1/requests/${id}/stream`, { headers: { 'last-event-id': full.events[at]!.id! } });
    await rest.done;
    // exactly the continuation of the same message: no second message_start, same block indexes
    expect(rest.events.map((e) => [e.event, e.data])).toEqual(full.events.slice(at + 1).map((e) => [e.event, e.data]));
    expect(rest.events.at(-1)!.event).toBe('message_stop');
  });

  it('404 for a request that was not streamed; 400 for a malformed Last-Event-ID', async () => {
    const res = await fetch(`${h.gateway.url}/v1/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
    const { id } = (await res.json()) as { id: string };
    const r = await fetch(`${h.gateway.url}/v1/requests/${id}/stream`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).error.code).toBe('stream_not_found');
    const bad = await fetch(`${h.gateway.url}/v1/requests/${id}/stream`, { headers: { 'last-event-id': 'nope' } });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${h.gateway.url}/v1/requests/req-nope/stream`);
    expect(unknown.status).toBe(404);
  });
});
