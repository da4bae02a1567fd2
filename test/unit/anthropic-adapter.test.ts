import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletionChunk } from '../../src/protocol/chat-response.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { fromAnthropicMessage } from '../../src/providers/anthropic/response.js';
import { AnthropicStreamTranslator } from '../../src/providers/anthropic/stream.js';
import type { AnthropicMessage, AnthropicStreamEvent } from '../../src/providers/anthropic/wire.js';
import { assemble, anthropicTarget, providerError, req, weatherTool } from '../support/canonical-fixtures.js';

const target = anthropicTarget('claude-sonnet-4-5');





describe('toAnthropicRequest', () => {
  it('moves system and developer messages into `system` and uses the deployment model', () => {
    const body = toAnthropicRequest(
      req({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          { role: 'user', content: 'Hello' },
        ],
      }),
      target,
      false,
    );
    expect(body.model).toBe('claude-sonnet-4-5');
    expect(body.system).toBe('Be brief.\n\nAnswer in French.');
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }]);
    expect(body.stream).toBeUndefined();
  });

  it('translates data-URL and http images', () => {
    const body = toAnthropicRequest(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      }),
      target,
      false,
    );
    expect(body.messages[0]!.content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('round-trips assistant tool calls and merges consecutive tool results into one user turn', () => {
    const body = toAnthropicRequest(
      req({
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'Weather in Paris and Tokyo?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
          { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '25C' }] },
          { role: 'user', content: 'Thanks, which is warmer?' },
        ],
      }),
      target,
      false,
    );
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Tokyo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Tokyo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: '25C' },
          { type: 'text', text: 'Thanks, which is warmer?' },
        ],
      },
    ]);
    expect(body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: weatherTool.function.parameters },
    ]);
  });

  it('merges consecutive same-role messages', () => {
    const body = toAnthropicRequest(
      req({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, { role: 'assistant', content: 'c' }] }),
      target,
      false,
    );
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'c' }] },
    ]);
  });

  it('rejects tool-call arguments that are not JSON', () => {
    const err = providerError(() =>
      toAnthropicRequest(
        req({
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{oops' } }] },
          ],
        }),
        target,
        false,
      ),
    );
    expect(err.kind).toBe('bad_request');
  });

  it('maps tool_choice and parallel_tool_calls', () => {
    const choice = (tc: ChatRequest['tool_choice'], parallel?: boolean) =>
      toAnthropicRequest(req({ tools: [weatherTool], tool_choice: tc, parallel_tool_calls: parallel }), target, false).tool_choice;
    expect(choice('auto')).toEqual({ type: 'auto' });
    expect(choice('required')).toEqual({ type: 'any' });
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice({ type: 'function', function: { name: 'get_weather' } })).toEqual({ type: 'tool', name: 'get_weather' });
    expect(choice(undefined)).toBeUndefined();
    expect(choice(undefined, false)).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice('required', false)).toEqual({ type: 'any', disable_parallel_tool_use: true });
  });

  it('gives tools without parameters an empty object schema', () => {
    const body = toAnthropicRequest(req({ tools: [{ type: 'function', function: { name: 'now' } }] }), target, false);
    expect(body.tools).toEqual([{ name: 'now', input_schema: { type: 'object', properties: {} } }]);
  });

  it('maps sampling parameters and drops OpenAI-only fields (user goes as metadata.user_id where the alias allows it)', () => {
    const body = toAnthropicRequest(
      req({
        temperature: 1.7,
        top_p: 0.9,
        stop: 'END',
        max_tokens: 100,
        max_completion_tokens: 200,
        user: 'u-42',
        seed: 7,
        presence_penalty: 1,
        logprobs: true,
        metadata: { a: 'b' },
      }),
      { ...target, passthrough: ['user'] },
      true,
    );
    expect(body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 200,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      stop_sequences: ['END'],
      temperature: 1,
      top_p: 0.9,
      metadata: { user_id: 'u-42' },
      stream: true,
    });
  });

  it('defaults max_tokens, which Anthropic requires', () => {
    expect(toAnthropicRequest(req({}), target, false).max_tokens).toBe(4096);
    expect(toAnthropicRequest(req({ max_tokens: 50 }), target, false).max_tokens).toBe(50);
  });

  it('turns response_format into a system instruction', () => {
    const obj = toAnthropicRequest(req({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'u' }], response_format: { type: 'json_object' } }), target, false);
    expect(obj.system).toMatch(/^S\n\n.*JSON object/s);
    const schema = { type: 'object', properties: { answer: { type: 'string' } } };
    const sch = toAnthropicRequest(req({ response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } } }), target, false);
    expect(sch.system).toContain(JSON.stringify(schema));
    expect(sch.system).toContain('reply');
  });

  it('rejects n > 1', () => {
    expect(providerError(() => toAnthropicRequest(req({ n: 2 }), target, false)).kind).toBe('bad_request');
    expect(() => toAnthropicRequest(req({ n: 1 }), target, false)).not.toThrow();
  });

  it('rejects image types Anthropic does not accept', () => {
    const err = providerError(() =>
      toAnthropicRequest(req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }] }), target, false),
    );
    expect(err.kind).toBe('bad_request');
  });

  it('maps tool-call ids from other providers onto the characters Anthropic allows, on both sides', () => {
    const body = toAnthropicRequest(
      req({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: [{ id: 'fc.1:a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'fc.1:a', content: 'ok' },
        ],
      }),
      target,
      false,
    );
    expect(body.messages[1]!.content[0]).toMatchObject({ type: 'tool_use', id: 'fc_1_a' });
    expect(body.messages[2]!.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'fc_1_a' });
  });

  it('rejects a conversation with nothing but system messages', () => {
    expect(providerError(() => toAnthropicRequest(req({ messages: [{ role: 'system', content: 'S' }] }), target, false)).kind).toBe('bad_request');
  });

  it('rejects audio input', () => {
    const err = providerError(() =>
      toAnthropicRequest(req({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] }] }), target, false),
    );
    expect(err.kind).toBe('bad_request');
  });
});

describe('fromAnthropicMessage', () => {
  const base: AnthropicMessage = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [{ type: 'text', text: 'Hello' }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 10, output_tokens: 5 },
  };

  it('translates text, id, model, created and usage', () => {
    expect(fromAnthropicMessage(base, 1_700_000_000)).toEqual({
      id: 'msg_1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'claude-sonnet-4-5-20250929',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    });
  });

  it('translates tool_use blocks into tool_calls', () => {
    const out = fromAnthropicMessage(
      {
        ...base,
        content: [
          { type: 'thinking', thinking: '...' } as never,
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Tokyo' } },
        ],
        stop_reason: 'tool_use',
      },
      1,
    );
    expect(out.choices[0]!.message).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
      ],
    });
    expect(out.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('maps stop reasons', () => {
    const reason = (r: string) => fromAnthropicMessage({ ...base, stop_reason: r }, 1).choices[0]!.finish_reason;
    expect(reason('end_turn')).toBe('stop');
    expect(reason('stop_sequence')).toBe('stop');
    expect(reason('max_tokens')).toBe('length');
    expect(reason('tool_use')).toBe('tool_calls');
    expect(reason('refusal')).toBe('content_filter');
  });

  it('counts cached input as prompt tokens', () => {
    const out = fromAnthropicMessage(
      { ...base, usage: { input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 5 } },
      1,
    );
    expect(out.usage).toEqual({ prompt_tokens: 130, completion_tokens: 5, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } });
  });
});

function run(events: AnthropicStreamEvent[]): { chunks: ChatCompletionChunk[]; translator: AnthropicStreamTranslator } {
  const translator = new AnthropicStreamTranslator(1_700_000_000, 'fallback-model');
  const chunks = events.flatMap((e) => translator.push(e));
  return { chunks, translator };
}

const start: AnthropicStreamEvent = {
  type: 'message_start',
  message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } },
};


describe('AnthropicStreamTranslator', () => {
  it('streams text with role first, finish, then a usage chunk', () => {
    const { chunks, translator } = run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } },
      { type: 'message_stop' },
    ]);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(assemble(chunks)).toEqual({ text: 'Hello', calls: [], finish: 'stop' });
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
    expect(new Set(chunks.map((c) => `${c.id}|${c.model}|${c.created}`))).toEqual(new Set(['msg_s|claude-x|1700000000']));
    expect(translator.done).toBe(true);
    expect(() => translator.end()).not.toThrow();
  });

  it('numbers parallel tool calls by tool, not by content block, and reassembles arguments', () => {
    const { chunks } = run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"city"' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: ':"Tokyo"}' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 30 } },
      { type: 'message_stop' },
    ]);
    const toolDeltas = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(toolDeltas[0]).toEqual({ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(new Set(toolDeltas.map((d) => d.index))).toEqual(new Set([0, 1]));
    expect(assemble(chunks)).toEqual({
      text: 'Checking.',
      calls: [
        { id: 'toolu_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'toolu_b', name: 'get_weather', arguments: '{"city":"Tokyo"}' },
      ],
      finish: 'tool_calls',
    });
  });

  it('turns a mid-stream error event into a typed ProviderError', () => {
    const kindOf = (type: string) => {
      const t = new AnthropicStreamTranslator(1, 'm');
      t.push(start);
      return providerError(() => t.push({ type: 'error', error: { type, message: 'boom' } }));
    };
    expect(kindOf('overloaded_error').kind).toBe('overloaded');
    expect(kindOf('overloaded_error').upstreamCode).toBe('overloaded_error');
    expect(kindOf('rate_limit_error').kind).toBe('rate_limited');
    expect(kindOf('api_error').kind).toBe('server');
    expect(kindOf('api_error').message).toBe('boom');
  });

  it('throws a connection error when the body ends before message_stop', () => {
    const { translator } = run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } },
    ]);
    expect(translator.done).toBe(false);
    expect(providerError(() => translator.end()).kind).toBe('connection');
  });

  it('still ends the choice when message_stop arrives without a stop reason', () => {
    const { chunks } = run([start, { type: 'message_stop' }]);
    expect(assemble(chunks).finish).toBe('stop');
    expect(chunks[chunks.length - 1]!.choices).toEqual([]);
  });
});
