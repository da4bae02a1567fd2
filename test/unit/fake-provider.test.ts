/**
 * Proves the fake provider is faithful: the official SDKs (which validate and parse the real wire
 * formats) must work against it unchanged, and scripted failures must look like the real ones.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI, { APIError, AzureOpenAI } from 'openai';
import Anthropic, { APIError as AnthropicAPIError } from '@anthropic-ai/sdk';
import { createParser } from 'eventsource-parser';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

let fake: FakeProvider;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  fake = await startFakeProvider();
  openai = new OpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'k', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: fake.url, apiKey: 'k', maxRetries: 0 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

const weatherTool: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const anthropicWeatherTool: Anthropic.Tool = {
  name: 'get_weather',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function sse(res: Response): Promise<Array<{ event?: string | undefined; data: string }>> {
  const events: Array<{ event?: string | undefined; data: string }> = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event, data: e.data }) });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  return events;
}

describe('OpenAI (official SDK)', () => {
  it('answers a sync chat completion with the documented shape and deterministic usage', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there world' }] });
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('gpt-4o');
    expect(r.system_fingerprint).toBeTruthy();
    expect(r.choices[0]).toMatchObject({
      index: 0,
      message: { role: 'assistant', content: 'Echo: hello there world', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    });
    expect(r.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(fake.requests[0]).toMatchObject({ protocol: 'openai', path: '/v1/chat/completions', model: 'gpt-4o', stream: false });
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer k');
    expect(fake.violations).toEqual([]);
  });

  it('streams with include_usage: role chunk, one chunk per piece, finish chunk, usage chunk, [DONE]', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'stream this please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '');
    expect(content.join('')).toBe('Echo: stream this please');
    expect(content.filter(Boolean)).toEqual(['Echo:', ' stream', ' this', ' please']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-2)!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('streams two parallel tool calls with per-call index and argument fragments', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: "What's the weather in Paris and Tokyo?" }],
      tools: [weatherTool],
      stream: true,
    });
    const calls: Array<{ id: string; name: string; args: string }> = [];
    let finish: string | null = null;
    let argDeltas = 0;
    for await (const c of stream) {
      const choice = c.choices[0];
      finish = choice?.finish_reason ?? finish;
      for (const d of choice?.delta.tool_calls ?? []) {
        if (d.id) calls[d.index] = { id: d.id, name: d.function!.name!, args: d.function!.arguments ?? '' };
        else {
          calls[d.index]!.args += d.function!.arguments!;
          argDeltas++;
        }
      }
    }
    expect(finish).toBe('tool_calls');
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_weather']);
    expect(calls.map((c) => JSON.parse(c.args))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
    expect(argDeltas).toBeGreaterThan(2);

    const sync = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [weatherTool],
    });
    expect(sync.choices[0]!.finish_reason).toBe('tool_calls');
    expect(sync.choices[0]!.message.content).toBeNull();
    expect(sync.choices[0]!.message.tool_calls).toHaveLength(2);
  });

  it('answers the tool-result turn with text, and flags tool messages without a matching call', async () => {
    const first = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'weather in Paris?' }], tools: [weatherTool] });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    const call2 = first.choices[0]!.message.tool_calls![1]!;
    const second = await openai.chat.completions.create({
      model: 'gpt-4o',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
        { role: 'tool', tool_call_id: call2.id, content: 'rainy' },
      ],
    });
    expect(second.choices[0]!.message.content).toBe('Echo: weather in Paris?');
    expect(fake.violations).toEqual([]);

    const bad = await openai.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_nope', content: 'y' }] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(fake.violations).toHaveLength(1);
    expect(fake.violations[0]).toMatch(/role 'tool' must be a response/);
  });

  it('surfaces a scripted 429 with retry-after as the SDK RateLimitError', async () => {
    fake.script({ kind: 'error', status: 429, retryAfter: '2', retryAfterMs: 1500 });
    const err = (await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.headers?.get('retry-after')).toBe('2');
    expect(err.headers?.get('retry-after-ms')).toBe('1500');
    expect(err.error).toMatchObject({ type: 'requests', param: null });

    fake.script({ kind: 'error', status: 400, code: 'context_length_exceeded', message: 'too long' });
    const ctx = (await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(ctx).toBeInstanceOf(OpenAI.BadRequestError);
    expect(ctx.code).toBe('context_length_exceeded');
    expect(ctx.message).toMatch(/too long/);
  });

  it('includes deterministic logprobs when asked', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a b' }], logprobs: true });
    const lp = r.choices[0]!.logprobs!.content!;
    expect(lp.map((e) => e.token)).toEqual(['Echo:', ' a', ' b']);
    expect(lp.every((e) => e.logprob < 0 && e.top_logprobs.length === 0 && e.bytes!.length === Buffer.byteLength(e.token))).toBe(true);
  });

  it('honours max_tokens by truncating and reporting finish_reason length', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'one two three four' }], max_completion_tokens: 2 });
    expect(r.choices[0]!.message.content).toBe('Echo: one');
    expect(r.choices[0]!.finish_reason).toBe('length');
  });

  it('a cut stream makes SDK iteration throw before any finish_reason', async () => {
    fake.script({ kind: 'cut', afterChunks: 2, text: 'one two three four five' });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    let finished = false;
    const err = await (async () => {
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? '';
        finished ||= c.choices[0]?.finish_reason != null;
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(finished).toBe(false);
    expect(text).toBe('one two');
  });

  it('a midstream error arrives as an in-band error event the SDK raises', async () => {
    fake.script({ kind: 'midstream-error', afterChunks: 1 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a b c' }], stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as APIError).message).toMatch(/server had an error/);
  });

  it('embeds deterministically (base64 by SDK default, and float)', async () => {
    const a = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['hello', 'world'] });
    const b = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', encoding_format: 'float' });
    expect(a.data).toHaveLength(2);
    expect(a.data[0]!.embedding).toHaveLength(8);
    expect(a.data[0]!.embedding.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
    b.data[0]!.embedding.forEach((v, i) => expect(a.data[0]!.embedding[i]).toBeCloseTo(v, 5));
    expect(a.data[1]!.embedding).not.toEqual(a.data[0]!.embedding);
    expect(a.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
    const models = await openai.models.list();
    expect(models.data.length).toBeGreaterThan(0);
  });

  it('rejects a request without a key as OpenAI does, and records the violation', async () => {
    const res = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param: null } });
    expect(fake.violations).toHaveLength(1);
  });
});

describe('Azure OpenAI (official SDK)', () => {
  const azure = () => new AzureOpenAI({ endpoint: fake.url, apiKey: 'az', apiVersion: '2024-10-21', deployment: 'my-dep', maxRetries: 0 });

  it('serves sync and streamed chat on the deployment route', async () => {
    const r = await azure().chat.completions.create({ model: 'ignored', messages: [{ role: 'user', content: 'hi azure' }] });
    expect(r.choices[0]!.message.content).toBe('Echo: hi azure');
    expect(r.model).toBe('my-dep');
    expect(fake.requests[0]).toMatchObject({ protocol: 'azure', path: '/openai/deployments/my-dep/chat/completions', model: 'my-dep' });
    expect(fake.requests[0]!.query['api-version']).toBe('2024-10-21');
    expect(fake.requests[0]!.headers['api-key']).toBe('az');

    const stream = await azure().chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi azure' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Echo: hi azure');
    expect(fake.violations).toEqual([]);
  });

  it('scripts per deployment and reports x-ms-retry-after-ms', async () => {
    fake.scriptFor('my-dep', { kind: 'error', status: 429, msRetryAfter: 250 });
    const err = (await azure().chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers?.get('x-ms-retry-after-ms')).toBe('250');
  });

  it('requires api-version', async () => {
    const res = await fetch(`${fake.url}/openai/deployments/d/chat/completions`, {
      method: 'POST',
      headers: { 'api-key': 'k', 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(400);
    expect(fake.violations).toHaveLength(1);
  });
});

describe('Anthropic (official SDK)', () => {
  it('answers a sync message with the documented shape', async () => {
    const m = await anthropic.messages.create({
      model: 'claude-x',
      max_tokens: 100,
      system: 'be nice',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello claude' }] }],
    });
    expect(m).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [{ type: 'text', text: 'Echo: hello claude' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 4, output_tokens: 3 },
    });
    expect(m.id).toMatch(/^msg_/);
    expect(fake.requests[0]!.headers['anthropic-version']).toBeTruthy();
    expect(fake.violations).toEqual([]);
  });

  it('streams the exact event sequence the SDK accumulates into a final message', async () => {
    const params = { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user' as const, content: 'stream me now' }] };
    const stream = anthropic.messages.stream(params);
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    expect(text).toBe('Echo: stream me now');
    expect(final.content).toEqual([{ type: 'text', text: 'Echo: stream me now' }]);
    expect(final.usage.output_tokens).toBe(4);
    expect(final.stop_reason).toBe('end_turn');

    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    const events = await sse(res);
    expect(events.every((e) => JSON.parse(e.data).type === e.event)).toBe(true);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array(4).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('returns and streams parallel tool_use blocks', async () => {
    const params = { model: 'claude-x', max_tokens: 100, tools: [anthropicWeatherTool], messages: [{ role: 'user' as const, content: 'weather?' }] };
    const sync = await anthropic.messages.create(params);
    expect(sync.stop_reason).toBe('tool_use');
    const uses = sync.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(uses.map((u) => u.input)).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);
    expect(uses[0]!.id).toMatch(/^toolu_/);

    const final = await anthropic.messages.stream(params).finalMessage();
    expect(final.content.map((b) => (b.type === 'tool_use' ? b.input : b))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);

    // Round trip: tool_result answers are accepted and echoed back as text.
    const next = await anthropic.messages.create({
      ...params,
      messages: [
        ...params.messages,
        { role: 'assistant', content: sync.content },
        { role: 'user', content: uses.map((u) => ({ type: 'tool_result' as const, tool_use_id: u.id, content: 'sunny' })) },
      ],
    });
    expect(next.content).toEqual([{ type: 'text', text: 'Echo: weather?' }]);
    expect(fake.violations).toEqual([]);
  });

  it('uses Anthropic error types and the in-band overloaded error event', async () => {
    fake.script({ kind: 'error', status: 529 }, { kind: 'midstream-error', afterChunks: 1 });
    const err = (await anthropic.messages.create({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as AnthropicAPIError;
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err.status).toBe(529);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });

    const stream = anthropic.messages.stream({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'a b c' }] });
    const streamErr = await stream.finalMessage().catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(Anthropic.APIError);
    expect(String((streamErr as Error).message)).toMatch(/overloaded_error/);
  });

  it('records OpenAI-isms sent to Anthropic as violations and answers 400 invalid_request_error', async () => {
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-x',
        max_tokens: 10,
        max_completion_tokens: 10,
        messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }],
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(fake.violations).toHaveLength(1);
    expect(fake.violations[0]).toMatch(/max_completion_tokens/);
    expect(fake.violations[0]).toMatch(/messages\.0\.role/);
    expect(fake.violations[0]).toMatch(/messages\.1\.content\.0/);
  });

  it('a stream cut before any content fails the SDK stream; models are listable', async () => {
    fake.script({ kind: 'cut', afterChunks: 0 });
    const err = await anthropic.messages.stream({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const models = await anthropic.models.list();
    expect(models.data[0]!.type).toBe('model');
  });

  it('flags a tool_use left without its tool_result', async () => {
    const err = await anthropic.messages
      .create({
        model: 'c',
        max_tokens: 10,
        tools: [anthropicWeatherTool],
        messages: [
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
          { role: 'user', content: 'and?' },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(fake.violations[0]).toMatch(/without `tool_result`/);
  });
});

describe('Gemini (REST + SSE)', () => {
  const post = (path: string, body: unknown, key = true) =>
    fetch(`${fake.url}/v1beta/models/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-goog-api-key': 'g' } : {}) },
      body: JSON.stringify(body),
    });
  const tools = [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] }];

  it('answers generateContent with candidates and usageMetadata', async () => {
    const res = await post('gemini-2.5-flash:generateContent', {
      systemInstruction: { parts: [{ text: 'sys' }] },
      contents: [{ role: 'user', parts: [{ text: 'hello gemini' }] }],
      generationConfig: { temperature: 0.2, maxOutputTokens: 50 },
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      candidates: [{ content: { role: 'model', parts: [{ text: 'Echo: hello gemini' }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 3, totalTokenCount: 6 },
      modelVersion: 'gemini-2.5-flash',
    });
    expect(fake.requests[0]).toMatchObject({ protocol: 'gemini', model: 'gemini-2.5-flash', stream: false });
  });

  it('streams SSE chunks with partial text; function calls arrive whole; last chunk has finishReason', async () => {
    const res = await post('gemini-2.5-flash:streamGenerateContent?alt=sse', { contents: [{ role: 'user', parts: [{ text: 'stream gemini' }] }] });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await sse(res)).map((e) => JSON.parse(e.data));
    expect(events.map((e) => e.candidates[0].content.parts[0].text).join('')).toBe('Echo: stream gemini');
    expect(events.at(-1).candidates[0].finishReason).toBe('STOP');
    expect(events.slice(0, -1).every((e) => e.candidates[0].finishReason === undefined)).toBe(true);
    expect(events.at(-1).usageMetadata).toMatchObject({ promptTokenCount: 2, candidatesTokenCount: 3, totalTokenCount: 5 });

    const toolRes = await post('g:streamGenerateContent?alt=sse&key=abc', { contents: [{ role: 'user', parts: [{ text: 'weather please' }] }], tools });
    const toolEvents = (await sse(toolRes)).map((e) => JSON.parse(e.data));
    expect(toolEvents).toHaveLength(1);
    expect(toolEvents[0].candidates[0].content.parts).toEqual([
      { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
      { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } } },
    ]);
    expect(fake.violations).toEqual([]);
  });

  it('streams a JSON array without alt=sse, as the API does', async () => {
    const res = await post('g:streamGenerateContent', { contents: [{ parts: [{ text: 'array please' }] }] });
    const chunks = JSON.parse(await res.text()) as Array<{ candidates: Array<{ content: { parts: Array<{ text: string }> } }> }>;
    expect(chunks.map((c) => c.candidates[0]!.content.parts[0]!.text).join('')).toBe('Echo: array please');
  });

  it('uses google.rpc error bodies', async () => {
    fake.scriptFor('g', { kind: 'error', status: 429, retryAfter: '7' });
    const res = await post('g:generateContent', { contents: [{ parts: [{ text: 'x' }] }] });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ retryDelay: '7s' }] } });
  });

  it('flags assistant roles, JSON-schema-only keywords and unpaired function responses', async () => {
    const bad = await post('g:generateContent', {
      contents: [{ role: 'assistant', parts: [{ text: 'x' }] }],
      tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'object', additionalProperties: false } }] }],
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    expect(fake.violations[0]).toMatch(/contents\.0\.role/);
    expect(fake.violations[0]).toMatch(/additionalProperties/);

    const unpaired = await post('g:generateContent', {
      contents: [
        { role: 'user', parts: [{ text: 'weather' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: 'sunny' } } }] },
      ],
    });
    expect(unpaired.status).toBe(400);
    expect(fake.violations[1]).toMatch(/number of function response parts/);
  });

  it('accepts snake_case field names like the real API, and embeds', async () => {
    const ok = await post('g:generateContent', {
      system_instruction: { parts: [{ text: 'sys' }] },
      contents: [{ role: 'user', parts: [{ inline_data: { mime_type: 'image/png', data: 'AAAA' } }, { text: 'look' }] }],
      generation_config: { max_output_tokens: 20 },
    });
    expect(ok.status).toBe(200);
    const one = await (await post('text-embedding-004:embedContent', { content: { parts: [{ text: 'hello' }] } })).json();
    const batch = await (
      await post('text-embedding-004:batchEmbedContents', {
        requests: [{ model: 'models/text-embedding-004', content: { parts: [{ text: 'hello' }] } }],
      })
    ).json();
    expect(one.embedding.values).toHaveLength(8);
    expect(batch.embeddings[0].values).toEqual(one.embedding.values);
    expect(fake.violations).toEqual([]);
  });
});

describe('scripting', () => {
  const ask = (model = 'gpt-4o', opts?: OpenAI.RequestOptions) =>
    openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'q' }] }, opts);

  it('per-model queues win over the global queue, both FIFO', async () => {
    fake.script({ kind: 'reply', text: 'global-1' }, { kind: 'reply', text: 'global-2' });
    fake.scriptFor('special', { kind: 'reply', text: 'special-1' });
    expect((await ask('special')).choices[0]!.message.content).toBe('special-1');
    expect((await ask('special')).choices[0]!.message.content).toBe('global-1');
    expect((await ask()).choices[0]!.message.content).toBe('global-2');
    expect((await ask()).choices[0]!.message.content).toBe('Echo: q');
    expect(fake.pendingSteps()).toBe(0);
  });

  it('hold parks requests until release()', async () => {
    fake.script({ kind: 'hold' });
    let done = false;
    const pending = ask().then((r) => ((done = true), r));
    await waitFor(() => fake.held === 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    fake.release();
    expect((await pending).choices[0]!.message.content).toBe('Echo: q');
  });

  it('timeout never answers; the request closes when the client gives up', async () => {
    fake.script({ kind: 'timeout' });
    const err = await ask('gpt-4o', { timeout: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    await waitFor(() => fake.openRequests === 0);
  });

  it('stall sends afterChunks content events and then nothing', async () => {
    fake.script({ kind: 'stall', afterChunks: 1, text: 'a b c' });
    const controller = new AbortController();
    const res = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }),
      signal: controller.signal,
    });
    const events: string[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e.data) });
    setTimeout(() => controller.abort(), 200);
    const err = await (async () => {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(Buffer.from(chunk).toString());
    })().catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(events.map((d) => JSON.parse(d).choices[0].delta.content)).toEqual(['', 'a']);
  });

  it('delay and tokenDelayMs slow the answer down', async () => {
    fake.script({ kind: 'delay', ms: 80 }, { kind: 'reply', text: 'a b c', tokenDelayMs: 30 });
    let t = Date.now();
    await ask();
    expect(Date.now() - t).toBeGreaterThanOrEqual(75);
    t = Date.now();
    const stream = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'q' }], stream: true });
    for await (const _ of stream);
    expect(Date.now() - t).toBeGreaterThanOrEqual(55);
  });

  it('is scriptable over HTTP by a standalone process', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fake-provider/main.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const { url } = JSON.parse(line) as { url: string };
      const ctl = (path: string, body?: unknown) =>
        fetch(`${url}${path}`, { method: body === undefined && path === '/__requests' ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
      expect((await ctl('/__script', { model: 'remote', steps: [{ kind: 'reply', text: 'scripted' }] })).status).toBe(200);
      expect((await ctl('/__script', { steps: [{ kind: 'nope' }] })).status).toBe(400);
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k', maxRetries: 0 });
      const r = await client.chat.completions.create({ model: 'remote', messages: [{ role: 'user', content: 'x' }] });
      expect(r.choices[0]!.message.content).toBe('scripted');
      const seen = (await (await ctl('/__requests')).json()) as { requests: unknown[]; violations: string[] };
      expect(seen.requests).toHaveLength(1);
      expect(seen.violations).toEqual([]);
      expect((await ctl('/__reset', {})).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  }, 20_000);
});
