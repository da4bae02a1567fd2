/**
 * The official @anthropic-ai/sdk against the gateway's POST /v1/messages, served by an OpenAI-family and by an
 * Anthropic-family upstream (the fake provider speaking each wire format), including fallbacks and failures.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { startHarness, type Harness } from '../support/harness.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';

const yaml = `
server: { host: 127.0.0.1 }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai, timeouts: { firstByteMs: 400, idleMs: 400 } }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream, timeouts: { firstByteMs: 400, idleMs: 400 } }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  gpt: { groups: [{ deployments: [oa-main] }] }
  claude: { groups: [{ deployments: [an-main] }] }
  gpt-then-claude: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }] }
  claude-then-gpt: { groups: [{ deployments: [an-main] }, { deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 1, capMs: 5 }, maxRetryAfterMs: 3000 }
`;

let h: Harness;
let client: Anthropic;
beforeAll(async () => {
  h = await startHarness(yaml);
  client = new Anthropic({ baseURL: h.gateway.url, apiKey: 'x', maxRetries: 0, timeout: 15_000 });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.fake.reset());
afterEach(() => expect(h.fake.violations).toEqual([]));

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const ask = (content: string): Anthropic.MessageParam[] => [{ role: 'user', content }];

async function failureOf(p: Promise<unknown>): Promise<APIError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(APIError);
  return err as APIError;
}

/** The Anthropic error body's own type, e.g. `not_found_error`. */
function errorType(err: APIError): string | undefined {
  return (err.error as { error?: { type?: string } } | undefined)?.error?.type;
}

const families = [
  { alias: 'gpt', deployment: 'oa-main', upstream: 'gpt-main', protocol: 'openai' },
  { alias: 'claude', deployment: 'an-main', upstream: 'claude-main', protocol: 'anthropic' },
] as const;

for (const f of families) {
  describe(`through the ${f.protocol} upstream`, () => {
    it('answers a plain message in Anthropic shape, with the gateway headers', async () => {
      const { data, response } = await client.messages
        .create({ model: f.alias, max_tokens: 100, system: 'be brief', messages: ask('hello world') })
        .withResponse();
      expect(data.type).toBe('message');
      expect(data.role).toBe('assistant');
      expect(data.id).toMatch(/^msg_/);
      expect(data.model).toBe(f.alias);
      expect(data.content).toEqual([{ type: 'text', text: 'Echo: hello world' }]);
      expect(data.stop_reason).toBe('end_turn');
      expect(data.stop_sequence).toBeNull();
      expect(data.usage.input_tokens).toBeGreaterThan(0);
      expect(data.usage.output_tokens).toBeGreaterThan(0);
      expect(response.headers.get('x-gateway-deployment')).toBe(f.deployment);
      expect(response.headers.get('x-gateway-attempts')).toBe('1');
      expect(response.headers.get('x-gateway-fallback')).toBe('none');
      expect(h.fake.requests.map((r) => r.protocol)).toEqual([f.protocol]);
    });

    it('caps the answer at max_tokens', async () => {
      const r = await client.messages.create({ model: f.alias, max_tokens: 2, messages: ask('one two three four five') });
      expect(r.stop_reason).toBe('max_tokens');
    });

    it('streams text events and a final message', async () => {
      const texts: string[] = [];
      const stream = client.messages.stream({ model: f.alias, max_tokens: 100, messages: ask('stream me please') });
      stream.on('text', (t) => texts.push(t));
      const final = await stream.finalMessage();
      expect(texts.join('')).toBe('Echo: stream me please');
      expect(texts.length).toBeGreaterThan(1);
      expect(final.content).toEqual([{ type: 'text', text: 'Echo: stream me please' }]);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.model).toBe(f.alias);
      expect(final.usage.output_tokens).toBeGreaterThan(0);
      expect(final.usage.input_tokens).toBeGreaterThan(0);
    });

    it('calls two tools in parallel, sync and streamed, and takes their results back', async () => {
      const question: Anthropic.MessageParam = { role: 'user', content: 'what is the weather in Paris and Tokyo?' };
      const sync = await client.messages.create({ model: f.alias, max_tokens: 200, tools: [weatherTool], messages: [question] });
      expect(sync.stop_reason).toBe('tool_use');
      const calls = sync.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(calls.map((c) => [c.name, c.input])).toEqual([
        ['get_weather', { city: 'Paris' }],
        ['get_weather', { city: 'Tokyo' }],
      ]);
      expect(new Set(calls.map((c) => c.id)).size).toBe(2);

      const streamed = await client.messages.stream({ model: f.alias, max_tokens: 200, tools: [weatherTool], messages: [question] }).finalMessage();
      expect(streamed.stop_reason).toBe('tool_use');
      expect(streamed.content.map((b) => (b.type === 'tool_use' ? b.input : b.type))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);

      h.fake.reset();
      const answer = await client.messages.create({
        model: f.alias,
        max_tokens: 200,
        tools: [weatherTool],
        messages: [
          question,
          { role: 'assistant', content: sync.content },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: calls[0]!.id, content: '{"temp":21}' },
              { type: 'tool_result', tool_use_id: calls[1]!.id, content: [{ type: 'text', text: '{"temp":9}' }] },
            ],
          },
        ],
      });
      expect(answer.stop_reason).toBe('end_turn');
      expect(answer.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Echo:') });
      const sent = h.fake.requests[0]!.body as { messages: Array<{ role: string }> };
      const roles = f.protocol === 'openai' ? ['user', 'assistant', 'tool', 'tool'] : ['user', 'assistant', 'user'];
      expect(sent.messages.map((m) => m.role)).toEqual(roles);
    });

    it('passes an upstream 400 back as a BadRequestError, unretried', async () => {
      h.fake.scriptFor(f.upstream, { kind: 'error', status: 400, message: 'Invalid value for temperature' });
      const err = await failureOf(client.messages.create({ model: f.alias, max_tokens: 10, messages: ask('hi') }));
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(errorType(err)).toBe('invalid_request_error');
      expect(err.message).toMatch(/Invalid value for temperature/);
      expect(h.fake.requests).toHaveLength(1);
    });

    it('ends a stream cut after its first content with an error the SDK raises', async () => {
      h.fake.scriptFor(f.upstream, { kind: 'cut', afterChunks: 2, text: 'one two three four five six' });
      const texts: string[] = [];
      const stream = client.messages.stream({ model: f.alias, max_tokens: 100, messages: ask('hi') });
      stream.on('text', (t) => texts.push(t));
      const err = await failureOf(stream.finalMessage());
      expect(errorType(err)).toBe('api_error');
      expect(err.message).toMatch(/interrupted/);
      expect(texts.join('')).toBe('one two');
      expect(h.fake.requests).toHaveLength(1);
    });

    it('fails over invisibly when a stream fails before any content', async () => {
      h.fake.scriptFor(f.upstream, { kind: 'cut', afterChunks: 0 });
      const { data: stream, response } = await client.messages
        .create({ model: f.alias, max_tokens: 100, messages: ask('cut me'), stream: true })
        .withResponse();
      let text = '';
      for await (const e of stream) if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
      expect(text).toBe('Echo: cut me');
      expect(response.headers.get('x-gateway-attempts')).toBe('2');
    });

    it('answers 503 overloaded_error when every attempt failed', async () => {
      h.fake.scriptFor(f.upstream, { kind: 'error', status: 500 }, { kind: 'error', status: 500 });
      const err = await failureOf(client.messages.create({ model: f.alias, max_tokens: 10, messages: ask('hi') }));
      expect(err).toBeInstanceOf(Anthropic.ServiceUnavailableError);
      expect(err.status).toBe(503);
      expect(errorType(err)).toBe('overloaded_error');
    });
  });
}

describe('fallback across provider families', () => {
  it('500s from the OpenAI upstream move the request to the Anthropic one', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500 }, { kind: 'error', status: 500 });
    const { data, response } = await client.messages
      .create({ model: 'gpt-then-claude', max_tokens: 50, messages: ask('hi') })
      .withResponse();
    expect(data.content).toEqual([{ type: 'text', text: 'Echo: hi' }]);
    expect(data.model).toBe('gpt-then-claude');
    expect(response.headers.get('x-gateway-deployment')).toBe('an-main');
    expect(response.headers.get('x-gateway-fallback')).toBe('switch');
    expect(h.fake.requests.map((r) => r.protocol)).toEqual(['openai', 'openai', 'anthropic']);
  });

  it('529s from the Anthropic upstream move a streamed request to the OpenAI one', async () => {
    h.fake.scriptFor('claude-main', { kind: 'error', status: 529 }, { kind: 'error', status: 529 });
    const final = await client.messages
      .stream({ model: 'claude-then-gpt', max_tokens: 50, tools: [weatherTool], messages: ask('weather?') })
      .finalMessage();
    expect(final.content.map((b) => (b.type === 'tool_use' ? b.input : b))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);
    expect(h.fake.requests.map((r) => r.protocol)).toEqual(['anthropic', 'anthropic', 'openai']);
  });

  it('an in-band overloaded error after output began reaches the client as overloaded_error', async () => {
    h.fake.scriptFor('claude-main', { kind: 'midstream-error', afterChunks: 1 });
    const err = await failureOf(client.messages.stream({ model: 'claude-then-gpt', max_tokens: 50, messages: ask('hello there') }).finalMessage());
    expect(errorType(err)).toBe('overloaded_error');
    expect(h.fake.requests).toHaveLength(1);
  });
});

describe('client errors in Anthropic shape', () => {
  it('an unknown model is a NotFoundError', async () => {
    const err = await failureOf(client.messages.create({ model: 'nope', max_tokens: 10, messages: ask('x') }));
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('nope') } });
  });

  it('a bad body is a BadRequestError naming the field', async () => {
    // This SDK version no longer types sampling parameters; the API still documents them.
    const hot = await failureOf(client.messages.create({ model: 'gpt', max_tokens: 10, temperature: 1.5, messages: ask('x') } as Anthropic.MessageCreateParamsNonStreaming));
    expect(hot).toBeInstanceOf(Anthropic.BadRequestError);
    expect(errorType(hot)).toBe('invalid_request_error');
    expect(hot.message).toMatch(/temperature/);

    const bmp = await failureOf(
      client.messages.create({
        model: 'gpt',
        max_tokens: 10,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp' as 'image/png', data: 'AAAA' } }] }],
      }),
    );
    expect(bmp.message).toMatch(/messages\[0\]\.content\[0\]\.source\.media_type/);

    const noBudget = await failureOf(client.messages.create({ model: 'gpt', messages: ask('x') } as unknown as Anthropic.MessageCreateParamsNonStreaming));
    expect(noBudget.message).toMatch(/max_tokens/);
    expect(h.fake.requests).toHaveLength(0);
  });

  it('errors raised before the route (unparsable JSON) are in Anthropic shape too', async () => {
    const res = await fetch(`${h.gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('a client that disconnects aborts the upstream call', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'hold' });
    const controller = new AbortController();
    const pending = client.messages.create({ model: 'gpt', max_tokens: 10, messages: ask('hold') }, { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => h.fake.requests.length === 1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Anthropic.APIUserAbortError);
    await waitFor(() => h.fake.openRequests === 0);
    // The gateway serves on. (This also puts to use the spare connection the client opens after an abort,
    // which would otherwise keep the gateway's server.close() waiting for the client's keep-alive timeout.)
    const next = await client.messages.create({ model: 'gpt', max_tokens: 10, messages: ask('still there?') });
    expect(next.content).toEqual([{ type: 'text', text: 'Echo: still there?' }]);
  });
});

describe('the durable path, asked for by header', () => {
  let d: DurableHarness;
  let durableClient: Anthropic;
  beforeAll(async () => {
    d = await startDurableHarness(`
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  gpt: { groups: [{ deployments: [oa-main] }], fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 1, capMs: 5 } } }
`);
    durableClient = new Anthropic({
      baseURL: d.gateway.url,
      apiKey: 'x',
      maxRetries: 0,
      timeout: 30_000,
      defaultHeaders: { 'x-gateway-durable': 'true' },
    });
  });
  afterAll(async () => {
    await d?.close();
  });
  afterEach(() => expect(d.fake.violations).toEqual([]));

  it('runs as a workflow and answers in Anthropic shape, sync and streamed', async () => {
    d.fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    const { data, response } = await durableClient.messages.create({ model: 'gpt', max_tokens: 50, messages: ask('via header') }).withResponse();
    expect(data.content).toEqual([{ type: 'text', text: 'Echo: via header' }]);
    expect(data.model).toBe('gpt');
    expect(response.headers.get('x-gateway-request-id')).toMatch(/^req-/);
    expect(response.headers.get('x-gateway-attempts')).toBe('2');

    const final = await durableClient.messages.stream({ model: 'gpt', max_tokens: 50, tools: [weatherTool], messages: ask('weather?') }).finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.map((b) => (b.type === 'tool_use' ? b.input : b))).toEqual([{ city: 'Paris' }, { city: 'Tokyo' }]);
  });

  it('passes a durable upstream 400 back in Anthropic shape', async () => {
    d.fake.scriptFor('gpt-main', { kind: 'error', status: 400, message: 'bad temperature' });
    const err = await failureOf(durableClient.messages.create({ model: 'gpt', max_tokens: 10, messages: ask('x') }));
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(errorType(err)).toBe('invalid_request_error');
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
