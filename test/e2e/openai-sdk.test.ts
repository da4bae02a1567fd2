/**
 * The official openai SDK against the gateway, in front of the fake provider speaking each provider's real
 * wire format. Fallback scenarios are scripted per upstream model.
 */
import { describe, expect, it } from 'vitest';
import OpenAI, { APIError } from 'openai';
import { useHarness } from '../support/harness.js';

const yaml = `
server: { host: 127.0.0.1 }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai, timeouts: { firstByteMs: 400, idleMs: 400 } }
  az: { type: azure-openai, baseUrl: "{{FAKE}}", apiKey: az-upstream-key }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream }
  ge: { type: gemini, baseUrl: "{{FAKE}}/v1beta", apiKey: gem-upstream-key }
deployments:
  oa-main: { provider: oa, model: gpt-main, contextWindow: 8000, capabilities: [tools, vision, json_schema, streaming, embeddings] }
  oa-long: { provider: oa, model: gpt-long, contextWindow: 1000000 }
  az-main: { provider: az, model: az-deploy }
  an-main: { provider: an, model: claude-main }
  ge-main: { provider: ge, model: gemini-main }
  oa-small: { provider: oa, model: gpt-small, tier: 3 }
models:
  chat:
    groups: [{ deployments: [oa-main] }, { deployments: [an-main] }]
    downgrade: small
  small: { groups: [{ deployments: [oa-small] }] }
  long: { groups: [{ deployments: [oa-main] }, { deployments: [oa-long] }] }
  claude: { groups: [{ deployments: [an-main] }] }
  gemini: { groups: [{ deployments: [ge-main] }] }
  azure: { groups: [{ deployments: [az-main] }] }
  solo: { groups: [{ deployments: [oa-main] }] }
  preset: { groups: [{ deployments: [oa-main] }], fallback: { attemptsPerDeployment: 1, catchAll: { presetAnswer: "Busy, try later." } } }
  embed: { groups: [{ deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 3, backoff: { baseMs: 1, capMs: 5 }, maxRetryAfterMs: 3000 }
`;

const h = useHarness(yaml);

const user = (content: string) => [{ role: 'user' as const, content }];
const weatherTools: OpenAI.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  return { chunks, text };
}

function reassembleToolCalls(chunks: OpenAI.ChatCompletionChunk[]) {
  const calls: Array<{ id?: string; name?: string; args: string }> = [];
  for (const c of chunks) {
    for (const d of c.choices[0]?.delta?.tool_calls ?? []) {
      const call = (calls[d.index] ??= { args: '' });
      if (d.id) call.id = d.id;
      if (d.function?.name) call.name = d.function.name;
      call.args += d.function?.arguments ?? '';
    }
  }
  return calls;
}

describe('through each provider family', () => {
  for (const [alias, deployment] of [['chat', 'oa-main'], ['claude', 'an-main'], ['gemini', 'ge-main'], ['azure', 'az-main']] as const) {
    it(`${alias}: sync and streamed answers, usage, the answering deployment`, async () => {
      const { data, response } = await h.openai.chat.completions.create({ model: alias, messages: user('hello world') }).withResponse();
      expect(data.choices[0]!.message.content).toBe('Echo: hello world');
      expect(data.choices[0]!.finish_reason).toBe('stop');
      expect(data.usage!.completion_tokens).toBeGreaterThan(0);
      expect(response.headers.get('x-gateway-deployment')).toBe(deployment);
      expect(response.headers.get('x-gateway-attempts')).toBe('1');
      expect(Number(response.headers.get('x-gateway-overhead-ms'))).toBeGreaterThanOrEqual(0);

      const stream = await h.openai.chat.completions.create({
        model: alias,
        messages: user('stream me please'),
        stream: true,
        stream_options: { include_usage: true },
      });
      const { chunks, text } = await collect(stream);
      expect(text).toBe('Echo: stream me please');
      expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
      expect(chunks.at(-1)!.usage?.total_tokens).toBeGreaterThan(0);
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    });

    it(`${alias}: parallel tool calls, sync and streamed`, async () => {
      const sync = await h.openai.chat.completions.create({ model: alias, messages: user('what is the weather?'), tools: weatherTools });
      const calls = sync.choices[0]!.message.tool_calls!;
      expect(sync.choices[0]!.finish_reason).toBe('tool_calls');
      expect(calls.map((c) => c.type === 'function' && JSON.parse(c.function.arguments))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);

      const { chunks } = await collect(
        await h.openai.chat.completions.create({ model: alias, messages: user('weather please'), tools: weatherTools, stream: true }),
      );
      const streamed = reassembleToolCalls(chunks);
      expect(streamed.map((c) => [c.name, JSON.parse(c.args)])).toEqual([
        ['get_weather', { city: 'Paris' }],
        ['get_weather', { city: 'Tokyo' }],
      ]);
      expect(streamed.every((c) => typeof c.id === 'string' && c.id.length > 0)).toBe(true);
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
    });
  }

  it('sends a tool result round trip to Anthropic in its own format', async () => {
    const r = await h.openai.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      ],
      tools: weatherTools,
    });
    expect(r.choices[0]!.message.content).toBeTruthy();
    const sent = h.fake.requests.at(-1)!.body as { system: unknown; messages: Array<{ role: string; content: unknown }> };
    expect(sent.system).toBeTruthy();
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });
});

describe('fallback scenarios', () => {
  it('429 with Retry-After, then success on the same deployment, waiting at least the hint', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 429, retryAfterMs: 300 });
    const t0 = Date.now();
    const { data, response } = await h.openai.chat.completions.create({ model: 'chat', messages: user('hi') }).withResponse();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(data.choices[0]!.message.content).toBe('Echo: hi');
    expect(response.headers.get('x-gateway-deployment')).toBe('oa-main');
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
    expect(response.headers.get('x-gateway-fallback')).toBe('retry');
  });

  it('three 500s move to the next provider, with the request translated for it', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 }, { kind: 'error', status: 500 }, { kind: 'error', status: 500 });
    const { data, response } = await h.openai.chat.completions.create({ model: 'chat', messages: user('hi') }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: hi');
    expect(response.headers.get('x-gateway-deployment')).toBe('an-main');
    expect(response.headers.get('x-gateway-attempts')).toBe('4');
    expect(response.headers.get('x-gateway-fallback')).toBe('switch');
    expect(h.fake.requests.map((r) => r.protocol)).toEqual(['openai', 'openai', 'openai', 'anthropic']);
  });

  it('downgrades when every group fails', async () => {
    h.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 503 }));
    h.fake.scriptFor('claude-main', ...Array(3).fill({ kind: 'error', status: 529 }));
    const { response } = await h.openai.chat.completions.create({ model: 'chat', messages: user('hi') }).withResponse();
    expect(response.headers.get('x-gateway-deployment')).toBe('oa-small');
    expect(response.headers.get('x-gateway-fallback')).toBe('downgrade');
  });

  it('a 400 goes straight back to the client with no retry', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 400, message: 'Invalid value for temperature' });
    const err = await h.openai.chat.completions.create({ model: 'chat', messages: user('hi') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as APIError).message).toMatch(/Invalid value for temperature/);
    expect(h.fake.requests).toHaveLength(1);
  });

  it('a timeout is retried, then answered', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'timeout' });
    const { data, response } = await h.openai.chat.completions.create({ model: 'solo', messages: user('hi') }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: hi');
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
  });

  it('a context-length error skips to the deployment with the larger window', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 8000 tokens" });
    const { response } = await h.openai.chat.completions.create({ model: 'long', messages: user('a long prompt') }).withResponse();
    expect(response.headers.get('x-gateway-deployment')).toBe('oa-long');
    expect(response.headers.get('x-gateway-attempts')).toBe('2');
  });

  it('a stream cut before the first token fails over invisibly', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'cut', afterChunks: 0 }, { kind: 'stall', afterChunks: 0 });
    const { data: stream, response } = await h.openai.chat.completions.create({ model: 'solo', messages: user('cut me'), stream: true }).withResponse();
    const { text } = await collect(stream);
    expect(text).toBe('Echo: cut me');
    expect(response.headers.get('x-gateway-attempts')).toBe('3');
  });

  it('a stream cut after output began ends with an error the SDK raises, never a clean [DONE]', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'cut', afterChunks: 2, text: 'one two three four five six' });
    const stream = await h.openai.chat.completions.create({ model: 'chat', messages: user('hi'), stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toMatch(/interrupted/);
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toBe('one two three four five six');
    expect(h.fake.requests).toHaveLength(1);
  });

  it('the catch-all answers with the preset, or a 503 service_busy without one', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    const { data, response } = await h.openai.chat.completions.create({ model: 'preset', messages: user('hi') }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Busy, try later.');
    expect(response.headers.get('x-gateway-fallback')).toBe('catch_all');

    h.fake.scriptFor('gpt-main', ...Array(3).fill({ kind: 'error', status: 502 }));
    const err = (await h.openai.chat.completions.create({ model: 'solo', messages: user('hi') }).catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(503);
    expect(err.code).toBe('service_busy');
  });

  it('a client that disconnects aborts the upstream call', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'hold' });
    const controller = new AbortController();
    const pending = h.openai.chat.completions.create({ model: 'solo', messages: user('hold') }, { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => h.fake.requests.length === 1);
    controller.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    await waitFor(() => h.fake.openRequests === 0);
    expect(h.fake.requests).toHaveLength(1);
  });
});

describe('the rest of the API', () => {
  it('lists the aliases as models', async () => {
    const ids = [];
    for await (const m of h.openai.models.list()) ids.push(m.id);
    expect(ids).toContain('chat');
    expect(ids).toContain('gemini');
  });

  it('embeds through a capable deployment', async () => {
    const r = await h.openai.embeddings.create({ model: 'embed', input: ['a', 'b'] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]!.embedding.length).toBeGreaterThan(0);
  });

  it('rejects an unknown model with 404 model_not_found and bad input with 400 naming the field', async () => {
    const missing = (await h.openai.chat.completions.create({ model: 'nope', messages: user('x') }).catch((e: unknown) => e)) as APIError;
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.code).toBe('model_not_found');
    const bad = (await h.openai.chat.completions
      .create({ model: 'chat', messages: user('x'), temperature: 7 })
      .catch((e: unknown) => e)) as APIError;
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.param).toBe('temperature');
    expect(h.fake.requests).toHaveLength(0);
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
