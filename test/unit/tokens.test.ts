import { describe, expect, it } from 'vitest';
import { countTokens, encode } from 'gpt-tokenizer/encoding/o200k_base';
import { ESTIMATES, countInputTokens, countTextTokens, estimateFor, renderTools } from '../../src/decision/tokens.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';

const chat = (messages: ChatRequest['messages'], extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'm', messages, ...extra });

// OpenAI cookbook, "How to count tokens with tiktoken": counts it checked against the API's usage.prompt_tokens.
const jargon = chat([
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
]);
const weatherTool: NonNullable<ChatRequest['tools']>[number] = {
  type: 'function',
  function: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['location'],
    },
  },
};
const weather = chat(
  [
    { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
    { role: 'user', content: "What's the weather like in San Francisco?" },
  ],
  { tools: [weatherTool] },
);

describe('o200k_base text counts', () => {
  it('matches the token ids OpenAI publishes for o200k_base', () => {
    // The cookbook's tiktoken output for o200k_base: the bundled ranks are OpenAI's.
    expect(encode('tiktoken is great!')).toEqual([83, 8251, 2488, 382, 2212, 0]);
    expect(encode('antidisestablishmentarianism')).toEqual([493, 129901, 376, 160388, 21203, 2367]);
    expect(encode('2 + 2 = 4')).toEqual([17, 659, 220, 17, 314, 220, 19]);
    expect(encode('お誕生日おめでとう')).toEqual([8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]);
    expect(countTextTokens('tiktoken is great!')).toBe(6);
    expect(countTextTokens('お誕生日おめでとう')).toBe(8);
    expect(countTextTokens('hello world')).toBe(2);
    expect(countTextTokens('')).toBe(0);
  });

  it('treats special-token strings in user text as plain text instead of throwing', () => {
    expect(countTextTokens('<|endoftext|>')).toBeGreaterThan(1);
  });

  it('cuts adversarially long runs, each cut moving the count by at most a token', () => {
    for (const s of ['a'.repeat(6_400), ' '.repeat(3_000), '-'.repeat(3_000), `hello ${'x'.repeat(1_000)} world`, '人工智能是计算机科学'.repeat(40)]) {
      const exact = countTokens(s);
      const ours = countTextTokens(s);
      expect(Math.abs(ours - exact)).toBeLessThanOrEqual(Math.ceil(s.length / 64));
    }
    // The library alone takes ~100 s on this (BPE is quadratic in one piece's length).
    const start = performance.now();
    expect(countTextTokens('a'.repeat(400_000))).toBe(50_000);
    expect(performance.now() - start).toBeLessThan(3_000);
  });

  it('never splits a surrogate pair when cutting', () => {
    const s = `!${'😀'.repeat(200)}`;
    expect(Math.abs(countTextTokens(s) - countTokens(s))).toBeLessThanOrEqual(5);
  });

  it('leaves ordinary text exact', () => {
    const text = 'The gateway routes each request to a deployment whose context window fits it. '.repeat(50) + '\n\n```ts\nconst x = 1;\n```';
    expect(countTextTokens(text)).toBe(countTokens(text));
  });
});

describe('countInputTokens: OpenAI models', () => {
  it('reproduces the API-checked chat count (124 for gpt-4o)', () => {
    expect(countInputTokens(jargon, 'openai', 'gpt-4o')).toEqual({ tokens: 124, method: 'tiktoken:o200k_base' });
    expect(countInputTokens(jargon, 'azure-openai', 'my-4o-deployment').tokens).toBe(124);
  });

  it('reproduces the API-checked count with a tool definition (101 for gpt-4o)', () => {
    expect(countInputTokens(weather, 'openai', 'gpt-4o-mini')).toEqual({ tokens: 101, method: 'tiktoken:o200k_base' });
  });

  it('renders tools as the namespace the model sees', () => {
    expect(renderTools([weatherTool])).toBe(
      [
        'namespace functions {',
        '',
        '// Get the current weather in a given location',
        'type get_current_weather = (_: {',
        '// The city and state, e.g. San Francisco, CA',
        'location: string,',
        '// The unit of temperature to return',
        'unit?: "celsius" | "fahrenheit",',
        '}) => any;',
        '',
        '} // namespace functions',
      ].join('\n'),
    );
  });

  it('counts tool definitions, tool calls, tool results and tool_choice', () => {
    const base = chat([{ role: 'user', content: 'weather in Paris?' }]);
    const withTools = { ...base, tools: [weatherTool] };
    expect(countInputTokens(withTools, 'openai', 'gpt-4o').tokens).toBeGreaterThan(countInputTokens(base, 'openai', 'gpt-4o').tokens + 50);

    const args = '{"location":"Paris, France","unit":"celsius"}';
    const turn = chat([
      { role: 'user', content: 'weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_current_weather', arguments: args } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ]);
    const expected =
      3 + // reply priming
      (3 + countTextTokens('user') + countTextTokens('weather in Paris?')) +
      (3 + countTextTokens('assistant') + countTextTokens('get_current_weather') + countTextTokens(args) + 3) +
      (3 + countTextTokens('tool') + countTextTokens('{"temp":21}'));
    expect(countInputTokens(turn, 'openai', 'gpt-4o').tokens).toBe(expected);

    const none = countInputTokens({ ...withTools, tool_choice: 'none' }, 'openai', 'gpt-4o').tokens;
    const named = countInputTokens({ ...withTools, tool_choice: { type: 'function', function: { name: 'get_current_weather' } } }, 'openai', 'gpt-4o').tokens;
    const auto = countInputTokens(withTools, 'openai', 'gpt-4o').tokens;
    expect(none).toBe(auto + 1);
    expect(named).toBe(auto + countTextTokens('get_current_weather') + 4);
  });

  it('counts images by OpenAI’s documented cost (85 low, 765 for an unknown size)', () => {
    const img = (detail?: 'low' | 'high') =>
      chat([{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'https://x/y.png', detail } }] }]);
    const text = countInputTokens(chat([{ role: 'user', content: [{ type: 'text', text: 'what is this?' }] }]), 'openai', 'gpt-4o').tokens;
    expect(countInputTokens(img('low'), 'openai', 'gpt-4o').tokens).toBe(text + 85);
    expect(countInputTokens(img(), 'openai', 'gpt-4o').tokens).toBe(text + 765);
  });

  it('counts a 100k-token prompt in well under a second', () => {
    const words = Array.from({ length: 120_000 }, (_, i) => `w${(i * 7919) % 100_003}`).join(' ');
    const req = chat([{ role: 'user', content: words }]);
    countInputTokens(chat([{ role: 'user', content: 'warm up' }]), 'openai', 'gpt-4o');
    const start = performance.now();
    const { tokens } = countInputTokens(req, 'openai', 'gpt-4o');
    const ms = performance.now() - start;
    expect(tokens).toBeGreaterThan(100_000);
    expect(ms).toBeLessThan(2_000); // ~100 ms cold, ~45 ms warm on the dev machine
  });
});

describe('countInputTokens: providers without a public tokenizer', () => {
  const o200k = countInputTokens(jargon, 'openai', 'gpt-4o').tokens;

  it('picks the counting from the provider type, and from the model name on compatible servers', () => {
    expect(estimateFor('openai', 'gpt-4o')).toBeUndefined();
    expect(estimateFor('openai', 'o3-mini')).toBeUndefined();
    expect(estimateFor('openai', 'gpt-4.1')).toBeUndefined();
    expect(estimateFor('openai', 'gpt-5')).toBeUndefined();
    expect(estimateFor('openai', 'gpt-4-turbo')).toBe('openai-legacy');
    expect(estimateFor('openai', 'gpt-4')).toBe('openai-legacy');
    expect(estimateFor('azure-openai', 'gpt-35-turbo')).toBe('openai-legacy');
    expect(estimateFor('openai-compatible', 'openai/gpt-4o')).toBeUndefined();
    expect(estimateFor('openai-compatible', 'anthropic/claude-3.5-sonnet')).toBe('anthropic');
    expect(estimateFor('openai-compatible', 'google/gemini-2.5-pro')).toBe('gemini');
    expect(estimateFor('openai-compatible', 'llama-3.1-70b-instruct')).toBe('generic');
    expect(estimateFor('anthropic', 'claude-sonnet-4-5')).toBe('anthropic');
    expect(estimateFor('gemini', 'gemini-2.5-flash')).toBe('gemini');
  });

  it('scales the o200k count for Anthropic (×1.3) and Gemini (×1.15) on English', () => {
    expect(countInputTokens(jargon, 'anthropic', 'claude-sonnet-4-5')).toEqual({ tokens: Math.ceil(o200k * 1.3), method: 'estimate:anthropic' });
    expect(countInputTokens(jargon, 'gemini', 'gemini-2.5-pro')).toEqual({ tokens: Math.ceil(o200k * 1.15), method: 'estimate:gemini' });
    expect(countInputTokens(jargon, 'openai-compatible', 'qwen2.5-72b')).toEqual({ tokens: Math.ceil(o200k * 1.1), method: 'estimate:generic' });
    expect(ESTIMATES.anthropic.factor).toBe(1.3);
  });

  it('floors by UTF-8 bytes where o200k is far more efficient than the provider’s vocabulary', () => {
    const ru = chat([{ role: 'user', content: 'Искусственный интеллект — это свойство интеллектуальных систем выполнять творческие функции.'.repeat(20) }]);
    const scaled = Math.ceil(countInputTokens(ru, 'openai', 'gpt-4o').tokens * 1.3);
    const est = countInputTokens(ru, 'anthropic', 'claude-sonnet-4-5').tokens;
    expect(est).toBeGreaterThan(scaled);
    const bytes = Buffer.byteLength(ru.messages.map((m) => `${m.role}${m.content as string}`).join(''), 'utf8');
    expect(est).toBeGreaterThanOrEqual(Math.floor(bytes / 4));
    // Gemini's multilingual vocabulary gets no floor.
    expect(countInputTokens(ru, 'gemini', 'gemini-2.5-pro').tokens).toBe(Math.ceil(countInputTokens(ru, 'openai', 'gpt-4o').tokens * 1.15));
  });

  it('adds each provider’s image cost and Anthropic’s tool-use system prompt', () => {
    const img = chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] }]);
    const bare = chat([{ role: 'user', content: [{ type: 'text', text: '' }] }]);
    const diff = (p: 'anthropic' | 'gemini', m: string) => countInputTokens(img, p, m).tokens - countInputTokens(bare, p, m).tokens;
    expect(diff('anthropic', 'claude-sonnet-4-5')).toBe(1_600);
    expect(diff('gemini', 'gemini-2.5-pro')).toBe(1_120);

    const tools = countInputTokens(weather, 'anthropic', 'claude-sonnet-4-5').tokens;
    const noTools = countInputTokens({ ...weather, tools: undefined }, 'anthropic', 'claude-sonnet-4-5').tokens;
    expect(tools - noTools).toBeGreaterThan(346 + 50);
  });
});
