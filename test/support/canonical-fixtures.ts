/** Building blocks shared by the adapter and translation tests. */
import { expect } from 'vitest';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletionChunk } from '../../src/protocol/chat-response.js';
import { ProviderError } from '../../src/providers/errors.js';
import type { Target } from '../../src/providers/types.js';

export function req(partial: Partial<ChatRequest>): ChatRequest {
  return { model: 'alias', messages: [{ role: 'user', content: 'hi' }], ...partial };
}

export function providerError(fn: () => unknown): ProviderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

export const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** An Anthropic target with a given upstream model name. */
export function anthropicTarget(model: string): Target {
  return {
    provider: {
      name: 'anthropic',
      type: 'anthropic',
      baseUrl: 'https://api.anthropic.com',
      apiKey: 'sk-ant-test',
      headers: {},
      timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000, totalMs: 5000 },
      quirks: { streamUsage: true, maxTokensField: 'max_tokens', needsKey: true },
    },
    deployment: {
      name: 'claude',
      provider: 'anthropic',
      providerType: 'anthropic',
      model,
      tier: 1,
      price: { inputPerMTok: 3, outputPerMTok: 15 },
      contextWindow: 200_000,
      capabilities: ['tools', 'vision', 'json_schema', 'streaming'],
      weight: 1,
    },
  };
}

/** Reassembles what a client would see from a canonical stream: text, per-index tool calls, the finish reason. */
export function assemble(chunks: ChatCompletionChunk[]) {
  let text = '';
  const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
  let finish: string | null = null;
  for (const c of chunks) {
    for (const ch of c.choices) {
      text += ch.delta.content ?? '';
      for (const tc of ch.delta.tool_calls ?? []) {
        const call = (calls[tc.index] ??= { arguments: '' });
        if (tc.id) call.id = tc.id;
        if (tc.function?.name) call.name = tc.function.name;
        call.arguments += tc.function?.arguments ?? '';
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { text, calls, finish };
}
