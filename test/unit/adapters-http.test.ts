/**
 * Every HTTP adapter against the fake provider, which validates request shapes against each provider's
 * documented format and records what it did not accept in `violations`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderType } from '../../src/config/presets.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletionChunk } from '../../src/protocol/chat-response.js';
import { anthropicAdapter } from '../../src/providers/anthropic/index.js';
import { ProviderError } from '../../src/providers/errors.js';
import { geminiAdapter } from '../../src/providers/gemini/index.js';
import { closeHttpPools } from '../../src/providers/http.js';
import { openAIAdapter } from '../../src/providers/openai.js';
import type { ProviderAdapter, Target } from '../../src/providers/types.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

interface Case {
  name: string;
  type: ProviderType;
  adapter: ProviderAdapter;
  model: string;
  /** Where the provider's root lives on the fake server. */
  baseUrl: (root: string) => string;
  extra?: { apiVersion?: string; anthropicVersion?: string };
  /** What the provider answers when it is overloaded. */
  overloadStatus: number;
  /** The kind a scripted in-band stream error must produce (Gemini has none: the socket is cut). */
  midstreamKind: string;
}

const cases: Case[] = [
  {
    name: 'openai',
    type: 'openai',
    adapter: openAIAdapter,
    model: 'gpt-4o-mini',
    baseUrl: (root) => `${root}/v1`,
    overloadStatus: 503,
    midstreamKind: 'server',
  },
  {
    name: 'azure-openai',
    type: 'azure-openai',
    adapter: openAIAdapter,
    model: 'my-gpt4o-deployment',
    baseUrl: (root) => root,
    extra: { apiVersion: '2024-10-21' },
    overloadStatus: 503,
    midstreamKind: 'server',
  },
  {
    name: 'anthropic',
    type: 'anthropic',
    adapter: anthropicAdapter,
    model: 'claude-sonnet-4-5',
    baseUrl: (root) => root,
    extra: { anthropicVersion: '2023-06-01' },
    overloadStatus: 529,
    midstreamKind: 'overloaded',
  },
  {
    name: 'gemini',
    type: 'gemini',
    adapter: geminiAdapter,
    model: 'gemini-2.5-flash',
    baseUrl: (root) => `${root}/v1beta`,
    overloadStatus: 503,
    midstreamKind: 'connection',
  },
];

function targetFor(c: Case, root: string, model = c.model): Target {
  return {
    provider: {
      name: c.name,
      type: c.type,
      baseUrl: c.baseUrl(root),
      apiKey: 'test-key',
      ...c.extra,
      headers: { 'x-test-suite': 'adapters-http' },
      timeouts: { connectMs: 2_000, firstByteMs: 5_000, idleMs: 5_000, totalMs: 10_000 },
      quirks: {
        streamUsage: true,
        maxTokensField: c.type === 'openai' || c.type === 'azure-openai' ? 'max_completion_tokens' : 'max_tokens',
        needsKey: true,
      },
    },
    deployment: {
      name: `${c.name}-deployment`,
      provider: c.name,
      providerType: c.type,
      model,
      tier: 1,
      price: { inputPerMTok: 0, outputPerMTok: 0 },
      contextWindow: 128_000,
      capabilities: ['tools', 'vision', 'json_schema', 'streaming', 'embeddings'],
      weight: 1,
    },
  };
}

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { city: { type: 'string', description: 'City name' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

function chat(partial: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'alias',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hello there' },
    ],
    ...partial,
  };
}

async function collect(iter: AsyncIterable<ChatCompletionChunk>): Promise<{ chunks: ChatCompletionChunk[]; error?: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of iter) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

/** What a client reassembles from the chunks, checking the stream contract on the way. */
function assemble(chunks: ChatCompletionChunk[]) {
  let text = '';
  const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
  let finish: string | null = null;
  let sawContentAfterFinish = false;
  for (const c of chunks) {
    for (const ch of c.choices) {
      if (finish && (ch.delta.content || ch.delta.tool_calls)) sawContentAfterFinish = true;
      text += ch.delta.content ?? '';
      for (const tc of ch.delta.tool_calls ?? []) {
        expect(typeof tc.index).toBe('number');
        const call = (calls[tc.index] ??= { arguments: '' });
        if (tc.id) call.id = tc.id;
        if (tc.function?.name) call.name = tc.function.name;
        call.arguments += tc.function?.arguments ?? '';
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  expect(sawContentAfterFinish).toBe(false);
  const usageChunk = chunks.find((c) => c.usage);
  return { text, calls, finish, usage: usageChunk?.usage ?? undefined, usageChunk };
}

function asProviderError(err: unknown): ProviderError {
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeProvider();
});

afterEach(() => {
  // Every request each adapter sent must have matched the provider's documented shape.
  expect(fake.violations).toEqual([]);
  fake.reset();
});

afterAll(async () => {
  await fake.close();
  await closeHttpPools();
});

describe.each(cases)('$name adapter over HTTP', (c) => {
  const target = () => targetFor(c, fake.url);

  it('completes a chat', async () => {
    const out = await c.adapter.complete(chat(), target(), {});
    expect(out.object).toBe('chat.completion');
    expect(out.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Echo: hello there' });
    expect(out.choices[0]!.finish_reason).toBe('stop');
    expect(out.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(out.usage!.completion_tokens).toBeGreaterThan(0);
    expect(out.usage!.total_tokens).toBe(out.usage!.prompt_tokens + out.usage!.completion_tokens);
    const sent = fake.requests[0]!;
    expect(sent.headers['x-test-suite']).toBe('adapters-http');
    expect(sent.stream).toBe(false);
  });

  it('streams a chat: text, finish, then usage last', async () => {
    const { chunks, error } = await collect(c.adapter.stream(chat(), target(), {}));
    expect(error).toBeUndefined();
    const { text, finish, usage, usageChunk } = assemble(chunks);
    expect(text).toBe('Echo: hello there');
    expect(finish).toBe('stop');
    expect(usageChunk!.choices).toEqual([]);
    expect(chunks[chunks.length - 1]).toBe(usageChunk);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]!.stream).toBe(true);
  });

  // Azure opens every stream with a prompt_filter_results chunk (choices: [], id: '', created: 0): the adapter
  // must drop it, or the first chunk has no role and the ids differ.
  it('holds the stream contract: role on the first chunk, one id', async () => {
    const { chunks } = await collect(c.adapter.stream(chat(), target(), {}));
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(new Set(chunks.map((ch) => `${ch.id}|${ch.created}`)).size).toBe(1);
  });

  it('returns parallel tool calls from a completion and accepts their results back', async () => {
    const ask = chat({ tools: [weatherTool], messages: [{ role: 'user', content: 'What is the weather in Paris and Tokyo?' }] });
    const first = await c.adapter.complete(ask, target(), {});
    const message = first.choices[0]!.message;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.tool_calls!.map((t) => [t.function.name, JSON.parse(t.function.arguments)])).toEqual([
      ['get_weather', { city: 'Paris' }],
      ['get_weather', { city: 'Tokyo' }],
    ]);
    expect(new Set(message.tool_calls!.map((t) => t.id)).size).toBe(2);

    const followUp = chat({
      tools: [weatherTool],
      messages: [
        ...ask.messages,
        { role: 'assistant', content: message.content, tool_calls: message.tool_calls },
        { role: 'tool', tool_call_id: message.tool_calls![0]!.id, content: '{"tempC":18}' },
        { role: 'tool', tool_call_id: message.tool_calls![1]!.id, content: 'sunny, 25C' },
      ],
    });
    const second = await c.adapter.complete(followUp, target(), {});
    expect(second.choices[0]!.message.content).toBe('Echo: What is the weather in Paris and Tokyo?');
    expect(second.choices[0]!.finish_reason).toBe('stop');
  });

  it('streams parallel tool calls with stable indexes and whole arguments', async () => {
    const ask = chat({ tools: [weatherTool], tool_choice: 'auto', messages: [{ role: 'user', content: 'weather in Paris and Tokyo?' }] });
    const { chunks, error } = await collect(c.adapter.stream(ask, target(), {}));
    expect(error).toBeUndefined();
    const { calls, finish, usage } = assemble(chunks);
    expect(finish).toBe('tool_calls');
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.id).toBeTruthy();
      expect(call.name).toBe('get_weather');
    }
    expect(calls.map((call) => JSON.parse(call.arguments))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);
    expect(usage).toBeDefined();
  });

  it('streams a scripted answer with text and a tool call', async () => {
    fake.script({ kind: 'reply', text: 'Let me check.', toolCalls: [{ name: 'get_weather', arguments: '{"city":"Oslo"}' }] });
    const { chunks, error } = await collect(c.adapter.stream(chat({ tools: [weatherTool] }), target(), {}));
    expect(error).toBeUndefined();
    const { text, calls, finish } = assemble(chunks);
    expect(text).toBe('Let me check.');
    expect(calls.map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([['get_weather', { city: 'Oslo' }]]);
    expect(finish).toBe('tool_calls');
  });

  it('reports the output cap as finish_reason length', async () => {
    const out = await c.adapter.complete(chat({ max_tokens: 1, messages: [{ role: 'user', content: 'one two three four' }] }), target(), {});
    expect(out.choices[0]!.finish_reason).toBe('length');
  });

  it('sends structured-output requests the provider accepts', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const out = await c.adapter.complete(
      chat({ response_format: { type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } }, temperature: 1.5, top_p: 0.9, stop: ['END'] }),
      target(),
      {},
    );
    expect(out.choices[0]!.finish_reason).toBe('stop');
  });

  it('turns a 429 into rate_limited with the retry-after hint', async () => {
    fake.script({ kind: 'error', status: 429, retryAfter: '2' });
    const err = asProviderError(await c.adapter.complete(chat(), target(), {}).catch((e: unknown) => e));
    expect(err.kind).toBe('rate_limited');
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(2_000);
  });

  it('turns a 429 on a stream into rate_limited before any chunk', async () => {
    fake.script({ kind: 'error', status: 429, retryAfter: '3' });
    const { chunks, error } = await collect(c.adapter.stream(chat(), target(), {}));
    expect(chunks).toEqual([]);
    expect(asProviderError(error).kind).toBe('rate_limited');
    expect(asProviderError(error).retryAfterMs).toBe(3_000);
  });

  it('classifies overload, auth and server errors', async () => {
    fake.script({ kind: 'error', status: c.overloadStatus }, { kind: 'error', status: 401 }, { kind: 'error', status: 500 });
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) kinds.push(asProviderError(await c.adapter.complete(chat(), target(), {}).catch((e: unknown) => e)).kind);
    expect(kinds).toEqual(['overloaded', 'auth', 'server']);
  });

  it('throws connection when the stream is cut mid-answer', async () => {
    fake.script({ kind: 'cut', afterChunks: 1, text: 'one two three four five' });
    const { chunks, error } = await collect(c.adapter.stream(chat(), target(), {}));
    expect(asProviderError(error).kind).toBe('connection');
    expect(assemble(chunks).text).toBe('one');
    expect(assemble(chunks).finish).toBeNull();
  });

  it('throws connection when a completion is cut', async () => {
    fake.script({ kind: 'cut', afterChunks: 0 });
    const err = asProviderError(await c.adapter.complete(chat(), target(), {}).catch((e: unknown) => e));
    expect(err.kind).toBe('connection');
  });

  it('times out a stream that stalls mid-answer', async () => {
    fake.script({ kind: 'stall', afterChunks: 1, text: 'one two three' });
    const t = target();
    t.provider.timeouts = { ...t.provider.timeouts, idleMs: 200 };
    const { chunks, error } = await collect(c.adapter.stream(chat(), t, {}));
    expect(asProviderError(error).kind).toBe('timeout');
    expect(assemble(chunks).text).toBe('one');
  });

  it('lets the caller stop reading early and keeps working afterwards', async () => {
    fake.script({ kind: 'reply', text: 'one two three four five six', tokenDelayMs: 20 });
    for await (const chunk of c.adapter.stream(chat(), target(), {})) {
      if (chunk.choices.some((ch) => ch.delta.content)) break;
    }
    const out = await c.adapter.complete(chat(), target(), {});
    expect(out.choices[0]!.message.content).toBe('Echo: hello there');
  });

  it("surfaces the caller's abort as the abort reason, not a provider error", async () => {
    fake.script({ kind: 'hold' });
    const controller = new AbortController();
    const pending = c.adapter.complete(chat(), target(), { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('client went away')), 50);
    const err = await pending;
    expect(err).not.toBeInstanceOf(ProviderError);
    expect((err as Error).message).toBe('client went away');
  });

  it('turns a mid-stream error into a typed error after the output so far', async () => {
    fake.script({ kind: 'midstream-error', afterChunks: 2, text: 'one two three four' });
    const { chunks, error } = await collect(c.adapter.stream(chat(), target(), {}));
    expect(assemble(chunks).text).toBe('one two');
    expect(asProviderError(error).kind).toBe(c.midstreamKind);
  });
});

describe('provider-specific behaviour over HTTP', () => {
  const anthropic = cases.find((c) => c.name === 'anthropic')!;
  const gemini = cases.find((c) => c.name === 'gemini')!;

  it('sends Anthropic its auth and version headers', async () => {
    await anthropicAdapter.complete(chat(), targetFor(anthropic, fake.url), {});
    const sent = fake.requests[0]!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe('test-key');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect((sent.body as { max_tokens: number }).max_tokens).toBe(4096);
  });

  it('rejects n > 1 for Anthropic without calling upstream', async () => {
    const err = asProviderError(await anthropicAdapter.complete(chat({ n: 2 }), targetFor(anthropic, fake.url), {}).catch((e: unknown) => e));
    expect(err.kind).toBe('bad_request');
    expect(fake.requests).toEqual([]);
  });

  it('asks Gemini for SSE and sends the key as x-goog-api-key', async () => {
    await collect(geminiAdapter.stream(chat(), targetFor(gemini, fake.url), {}));
    const sent = fake.requests[0]!;
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(sent.query).toEqual({ alt: 'sse' });
    expect(sent.headers['x-goog-api-key']).toBe('test-key');
  });

  it('asks Gemini for several candidates when n > 1', async () => {
    const out = await geminiAdapter.complete(chat({ n: 2 }), targetFor(gemini, fake.url), {});
    expect(out.choices.length).toBeGreaterThanOrEqual(1);
    expect((fake.requests[0]!.body as { generationConfig: { candidateCount: number } }).generationConfig.candidateCount).toBe(2);
  });

  it('returns Gemini logprobs when asked', async () => {
    const out = await geminiAdapter.complete(chat({ logprobs: true, top_logprobs: 2 }), targetFor(gemini, fake.url), {});
    expect(out.choices[0]!.logprobs!.content!.map((t) => t.token).join('')).toBe('Echo: hello there');
  });
});

describe.each(cases.filter((c) => c.adapter.embed))('$name embeddings over HTTP', (c) => {
  it('embeds a batch of texts', async () => {
    const model = c.type === 'gemini' ? 'text-embedding-004' : c.type === 'azure-openai' ? 'my-embedding-deployment' : 'text-embedding-3-small';
    const out = await c.adapter.embed!({ model: 'alias', input: ['alpha', 'beta'] }, targetFor(c, fake.url, model), {});
    expect(out.object).toBe('list');
    expect(out.data.map((d) => d.index)).toEqual([0, 1]);
    for (const d of out.data) {
      expect(Array.isArray(d.embedding)).toBe(true);
      expect((d.embedding as number[]).length).toBeGreaterThan(0);
    }
    expect(out.data[0]!.embedding).not.toEqual(out.data[1]!.embedding);
  });
});
