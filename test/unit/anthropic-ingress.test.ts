/**
 * The Anthropic Messages ingress translations: request (Anthropic → canonical), response (canonical →
 * Anthropic) and stream (canonical chunks → Anthropic events), plus round trips through the Anthropic
 * egress adapter, which speaks the same wire format in the other direction.
 */
import { describe, expect, it } from 'vitest';
import { chatRequestSchema, type ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk, ChunkChoice } from '../../src/protocol/chat-response.js';
import { firstProblem, messagesRequestSchema, toCanonical, type MessagesRequest } from '../../src/protocol/anthropic-messages/request.js';
import { toAnthropicMessage } from '../../src/protocol/anthropic-messages/response.js';
import { AnthropicStreamEncoder, errorEvent } from '../../src/protocol/anthropic-messages/stream.js';
import { anthropicErrorBody, speaksAnthropic } from '../../src/protocol/anthropic-messages/errors.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { fromAnthropicMessage } from '../../src/providers/anthropic/response.js';
import { AnthropicStreamTranslator } from '../../src/providers/anthropic/stream.js';
import type { AnthropicMessage, AnthropicStreamEvent } from '../../src/providers/anthropic/wire.js';
import { anthropicTarget } from '../support/canonical-fixtures.js';

const target = anthropicTarget('claude-upstream');


const weatherTool = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };

function parse(body: unknown): MessagesRequest {
  return messagesRequestSchema.parse(body);
}

/** The canonical request, which must itself be valid canonical input. */
function canonical(body: unknown): ChatRequest {
  const out = toCanonical(parse(body));
  expect(chatRequestSchema.safeParse(out).error).toBeUndefined();
  return out;
}

function problem(body: unknown): { path: string; message: string } {
  const parsed = messagesRequestSchema.safeParse(body);
  expect(parsed.success).toBe(false);
  return firstProblem(parsed.error!);
}

describe('request validation', () => {
  const base = { model: 'alias', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

  it('requires model and max_tokens and names the field at fault', () => {
    expect(problem({ ...base, max_tokens: undefined }).path).toBe('max_tokens');
    expect(problem({ ...base, model: '' }).path).toBe('model');
    expect(problem({ ...base, temperature: 1.2 }).path).toBe('temperature');
    expect(problem({ ...base, top_k: -1 }).path).toBe('top_k');
    expect(problem({ ...base, messages: [] }).path).toBe('messages');
  });

  it('names the precise field inside a content block, whichever union branch it is', () => {
    const bad = (block: unknown) => problem({ ...base, messages: [{ role: 'user', content: [block] }] });
    expect(bad({ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'AA' } }).path).toBe('messages[0].content[0].source.media_type');
    expect(bad({ type: 'text' }).path).toBe('messages[0].content[0].text');
    expect(bad({ type: 'tool_use', id: 'x', name: 'y', input: {} }).path).toBe('messages[0].content[0].type');
    expect(bad({ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 1 }] }).path).toBe('messages[0].content[0].content[0].text');
    expect(bad({ type: 'document', source: { type: 'url', url: 'https://x/a.pdf' } }).message).toMatch(/not supported/);
  });

  it('checks tools and tool_choice', () => {
    expect(problem({ ...base, tools: [{ name: 'bad name', input_schema: {} }] }).path).toBe('tools[0].name');
    expect(problem({ ...base, tools: [{ name: 'ok' }] }).path).toBe('tools[0].input_schema');
    expect(problem({ ...base, tool_choice: { type: 'tool' } }).path).toBe('tool_choice.name');
  });

  it('strips fields that only tune Anthropic itself', () => {
    const r = parse({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }] });
    expect(r.messages[0]!.content).toEqual([{ type: 'text', text: 'hi' }]);
  });
});

describe('toCanonical', () => {
  it('maps the parameters', () => {
    const r = canonical({
      model: 'alias',
      max_tokens: 321,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hi' }],
      stop_sequences: ['END'],
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      metadata: { user_id: 'u-1' },
      stream: true,
    });
    expect(r).toEqual({
      model: 'alias',
      max_tokens: 321,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      stop: ['END'],
      temperature: 0.3,
      top_p: 0.9,
      user: 'u-1',
      stream: true,
    });
  });

  it('keeps system blocks as text parts', () => {
    const r = canonical({ model: 'a', max_tokens: 1, system: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }], messages: [{ role: 'user', content: 'x' }] });
    expect(r.messages[0]).toEqual({ role: 'system', content: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }] });
  });

  it('translates images and documents to canonical parts', () => {
    const r = canonical({
      model: 'a',
      max_tokens: 1,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' }, title: 'spec.pdf' },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain doc' } },
          ],
        },
      ],
    });
    expect(r.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'look' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBER', filename: 'spec.pdf' } },
          { type: 'text', text: 'plain doc' },
        ],
      },
    ]);
  });

  it('turns tool_use into tool_calls and tool_result into tool messages ahead of the turn’s text', () => {
    const r = canonical({
      model: 'a',
      max_tokens: 100,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Tokyo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'here you go' },
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '21C' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_2',
              is_error: true,
              content: [
                { type: 'text', text: 'station offline' },
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
              ],
            },
          ],
        },
      ],
    });
    expect(r.messages).toEqual([
      { role: 'user', content: 'weather in Paris and Tokyo?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '21C' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: station offline' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'here you go' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } },
        ],
      },
    ]);
    expect(r.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherTool.input_schema } }]);
  });

  it('a turn of only tool results adds no user message; an assistant turn of only tool calls has null content', () => {
    const r = canonical({
      model: 'a',
      max_tokens: 1,
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1' }] },
      ],
    });
    expect(r.messages.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: '' },
    ]);
  });

  it('maps tool_choice, and the parallel switch', () => {
    const choice = (tool_choice: unknown) => {
      const r = canonical({ model: 'a', max_tokens: 1, tools: [weatherTool], tool_choice, messages: [{ role: 'user', content: 'x' }] });
      return [r.tool_choice, r.parallel_tool_calls];
    };
    expect(choice({ type: 'auto' })).toEqual(['auto', undefined]);
    expect(choice({ type: 'any' })).toEqual(['required', undefined]);
    expect(choice({ type: 'none' })).toEqual(['none', undefined]);
    expect(choice({ type: 'tool', name: 'get_weather', disable_parallel_tool_use: true })).toEqual([{ type: 'function', function: { name: 'get_weather' } }, false]);
    expect(choice({ type: 'any', disable_parallel_tool_use: true })).toEqual(['required', false]);
    // Without tools there is nothing to choose; OpenAI-family upstreams would reject the field.
    const bare = canonical({ model: 'a', max_tokens: 1, tool_choice: { type: 'auto' }, messages: [{ role: 'user', content: 'x' }] });
    expect(bare.tool_choice).toBeUndefined();
  });

  it('refuses a tool_choice that forces a tool the request does not have', () => {
    const problem = (body: Record<string, unknown>) => {
      const parsed = messagesRequestSchema.safeParse({ model: 'a', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], ...body });
      return parsed.success ? undefined : firstProblem(parsed.error);
    };
    expect(problem({ tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_time' } })).toEqual({ path: 'tool_choice', message: "no tool named 'get_time' is in 'tools'" });
    expect(problem({ tool_choice: { type: 'tool', name: 'get_weather' } })?.path).toBe('tool_choice');
    expect(problem({ tool_choice: { type: 'any' } })?.path).toBe('tool_choice');
    expect(problem({ tools: [], tool_choice: { type: 'any' } })?.path).toBe('tool_choice');
    expect(problem({ tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_weather' } })).toBeUndefined();
    expect(problem({ tool_choice: { type: 'none' } })).toBeUndefined();
  });

  it('round-trips a tool conversation through the Anthropic egress adapter unchanged', () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Tokyo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '21C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: '9C' },
          { type: 'text', text: 'and now?' },
        ],
      },
    ];
    const request = { model: 'alias', max_tokens: 50, system: 'be brief', tools: [weatherTool], tool_choice: { type: 'any', disable_parallel_tool_use: true }, stop_sequences: ['END'], messages };
    const upstream = toAnthropicRequest(canonical(request), target, false);
    expect(upstream).toEqual({ ...request, model: 'claude-upstream' });
  });
});

function completion(message: ChatCompletion['choices'][0]['message'], finish: ChatCompletion['choices'][0]['finish_reason'], usage = { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 }): ChatCompletion {
  return { id: 'chatcmpl-abc123', object: 'chat.completion', created: 1, model: 'gpt-upstream', choices: [{ index: 0, message, finish_reason: finish }], usage };
}

describe('toAnthropicMessage', () => {
  it('answers text with the alias as model and Anthropic usage', () => {
    expect(toAnthropicMessage(completion({ role: 'assistant', content: 'Hello' }, 'stop'), 'alias')).toEqual({
      id: 'msg_chatcmpl-abc123',
      type: 'message',
      role: 'assistant',
      model: 'alias',
      content: [{ type: 'text', text: 'Hello' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 4 },
    });
  });

  it('maps every finish reason', () => {
    const stop = (f: ChatCompletion['choices'][0]['finish_reason']) => toAnthropicMessage(completion({ role: 'assistant', content: 'x' }, f), 'a').stop_reason;
    expect([stop('stop'), stop('length'), stop('tool_calls'), stop('content_filter'), stop(null)]).toEqual(['end_turn', 'max_tokens', 'tool_use', 'refusal', 'end_turn']);
  });

  it('answers tool calls as tool_use blocks with parsed input, and says tool_use even after a plain stop', () => {
    const m = toAnthropicMessage(
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: 'not json' } },
          ],
        },
        'stop',
      ),
      'a',
    );
    expect(m.content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {} },
    ]);
    expect(m.stop_reason).toBe('tool_use');
  });

  it('reports cached input apart, as Anthropic does', () => {
    const m = toAnthropicMessage(completion({ role: 'assistant', content: 'x' }, 'stop', { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_tokens_details: { cached_tokens: 60 } } as never), 'a');
    expect(m.usage).toEqual({ input_tokens: 40, output_tokens: 5, cache_read_input_tokens: 60 });
  });

  it('round-trips an Anthropic upstream answer', () => {
    const upstream: AnthropicMessage = {
      id: 'msg_up',
      type: 'message',
      role: 'assistant',
      model: 'claude-upstream',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 7 },
    };
    expect(toAnthropicMessage(fromAnthropicMessage(upstream, 1), 'alias')).toEqual({ ...upstream, model: 'alias' });
  });
});

// ---------------------------------------------------------------- streams

const chunkOf = (delta: ChunkChoice['delta'], finish: ChunkChoice['finish_reason'] = null): ChatCompletionChunk => ({
  id: 'chatcmpl-s1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'up',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const usageChunk: ChatCompletionChunk = { id: 'chatcmpl-s1', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } };
const call = (index: number, args: string, head?: { id: string; name: string }) =>
  chunkOf({ tool_calls: [{ index, ...(head ? { id: head.id, type: 'function' as const } : {}), function: { ...(head ? { name: head.name } : {}), arguments: args } }] });

function encode(chunks: ChatCompletionChunk[], end = true): AnthropicStreamEvent[] {
  const encoder = new AnthropicStreamEncoder('alias');
  const events = chunks.flatMap((c) => encoder.push(c));
  return end ? [...events, ...encoder.end()] : events;
}

/** Checks the ordering rules clients rely on and rebuilds the content the way the SDK does. */
function assemble(events: AnthropicStreamEvent[]) {
  const content: Array<{ type: string; text?: string; id?: string; name?: string; json?: string }> = [];
  let open: number | undefined;
  for (const e of events) {
    if (e.type === 'content_block_start') {
      expect(open).toBeUndefined();
      expect(e.index).toBe(content.length);
      open = e.index;
      content.push({ ...(e.content_block as { type: string }), ...(e.content_block?.type === 'tool_use' ? { json: '' } : {}) });
    } else if (e.type === 'content_block_delta') {
      expect(e.index).toBe(open);
      const block = content[e.index!]!;
      if (e.delta?.type === 'text_delta') block.text += e.delta.text!;
      else block.json += e.delta!.partial_json!;
    } else if (e.type === 'content_block_stop') {
      expect(e.index).toBe(open);
      open = undefined;
    }
  }
  return content.map(({ json, ...b }) => (json !== undefined ? { ...b, input: JSON.parse(json) as unknown } : b));
}

describe('AnthropicStreamEncoder', () => {
  it('streams text in the exact event sequence', () => {
    const events = encode([chunkOf({ role: 'assistant', content: '' }), chunkOf({ content: 'Hel' }), chunkOf({ content: 'lo' }), chunkOf({}, 'stop'), usageChunk]);
    expect(events).toEqual([
      {
        type: 'message_start',
        message: { id: 'msg_chatcmpl-s1', type: 'message', role: 'assistant', model: 'alias', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 9, output_tokens: 3 } },
      { type: 'message_stop' },
    ]);
  });

  it('streams two sequential tool calls as two blocks, each live', () => {
    const events = encode([
      chunkOf({ role: 'assistant', content: null }),
      call(0, '', { id: 'call_a', name: 'get_weather' }),
      call(0, '{"city":'),
      call(0, '"Paris"}'),
      call(1, '', { id: 'call_b', name: 'get_weather' }),
      call(1, '{"city":"Tokyo"}'),
      chunkOf({}, 'tool_calls'),
    ]);
    expect(events.map((e) => e.type + (e.index !== undefined ? `:${e.index}` : ''))).toEqual([
      'message_start',
      'content_block_start:0',
      'ping',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_stop:0',
      'content_block_start:1',
      'content_block_delta:1',
      'content_block_stop:1',
      'message_delta',
      'message_stop',
    ]);
    expect(events[1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'call_a', name: 'get_weather', input: {} } });
    expect(events[3]).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } });
    expect(events.at(-2)!.delta!.stop_reason).toBe('tool_use');
    expect(assemble(events)).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_b', name: 'get_weather', input: { city: 'Tokyo' } },
    ]);
  });

  it('orders two parallel tool calls whose deltas interleave, buffering the second', () => {
    const events = encode([
      call(0, '', { id: 'call_a', name: 'get_weather' }),
      call(1, '', { id: 'call_b', name: 'get_weather' }),
      call(0, '{"city":'),
      call(1, '{"city":'),
      call(1, '"Tokyo"}'),
      call(0, '"Paris"}'),
      chunkOf({}, 'tool_calls'),
    ]);
    expect(assemble(events)).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_b', name: 'get_weather', input: { city: 'Tokyo' } },
    ]);
    // The second block opens as soon as the first one's arguments are complete, not only at the end.
    const firstStop = events.findIndex((e) => e.type === 'content_block_stop');
    expect(events[firstStop - 1]).toMatchObject({ index: 0, delta: { partial_json: '"Paris"}' } });
    expect(events[firstStop + 2]).toEqual({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":"Tokyo"}' } });
  });

  it('keeps text that arrives during an unfinished tool call for a block after it', () => {
    const events = encode([chunkOf({ content: 'Sure.' }), call(0, '{"a":', { id: 'c', name: 'f' }), chunkOf({ content: ' Done' }), call(0, '1}'), chunkOf({ content: '!' }), chunkOf({}, 'tool_calls')]);
    expect(assemble(events)).toEqual([
      { type: 'text', text: 'Sure.' },
      { type: 'tool_use', id: 'c', name: 'f', input: { a: 1 } },
      { type: 'text', text: ' Done!' },
    ]);
  });

  it('maps finish reasons, and sends a message with no content when there was none', () => {
    expect(encode([chunkOf({ content: 'x' }), chunkOf({}, 'length')]).at(-2)!.delta!.stop_reason).toBe('max_tokens');
    expect(encode([chunkOf({ refusal: 'no' }), chunkOf({}, 'content_filter')]).at(-2)!.delta!.stop_reason).toBe('refusal');
    expect(encode([]).map((e) => e.type)).toEqual(['message_start', 'message_delta', 'message_stop']);
  });

  it('a failure after output ends with an error event and no message_stop', () => {
    const encoder = new AnthropicStreamEncoder('alias');
    const events = [...encoder.push(chunkOf({ content: 'one' })), ...encoder.push(chunkOf({ content: ' two' })), errorEvent('connection')];
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'error']);
    expect(events.at(-1)).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringMatching(/interrupted/) } });
    expect(errorEvent('overloaded').error!.type).toBe('overloaded_error');
  });

  it('round-trips an Anthropic upstream stream', () => {
    const upstream: AnthropicStreamEvent[] = [
      { type: 'message_start', message: { id: 'msg_up', type: 'message', role: 'assistant', model: 'claude-upstream', content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 9 } },
      { type: 'message_stop' },
    ];
    const translator = new AnthropicStreamTranslator(1, 'claude-upstream');
    const events = encode(upstream.flatMap((e) => translator.push(e)));
    const expected = upstream.map((e) =>
      e.type === 'message_start'
        ? { ...e, message: { ...e.message!, model: 'alias', stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } } }
        : e.type === 'message_delta'
          ? { ...e, usage: { input_tokens: 12, output_tokens: 9 } }
          : e,
    );
    expect(events).toEqual(expected);
  });
});

describe('error shape', () => {
  it('gives each status its Anthropic error type', () => {
    const types = [400, 401, 403, 404, 413, 415, 429, 500, 502, 503, 504, 529].map((s) => anthropicErrorBody(s, 'm').error.type);
    expect(types).toEqual([
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
      'invalid_request_error',
      'rate_limit_error',
      'api_error',
      'api_error',
      'overloaded_error',
      'timeout_error',
      'overloaded_error',
    ]);
    expect(anthropicErrorBody(404, 'nope')).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'nope' } });
  });

  it('applies to the Messages endpoints only', () => {
    expect(speaksAnthropic({ path: '/v1/messages' })).toBe(true);
    expect(speaksAnthropic({ path: '/v1/messages/count_tokens' })).toBe(true);
    expect(speaksAnthropic({ path: '/v1/messages-x' })).toBe(false);
    expect(speaksAnthropic({ path: '/v1/chat/completions' })).toBe(false);
    // Express matches routes without regard to case, so the error shape must not depend on it either.
    expect(speaksAnthropic({ path: '/V1/MESSAGES' })).toBe(true);
    expect(speaksAnthropic({ path: '/v1/Messages/' })).toBe(true);
  });
});
