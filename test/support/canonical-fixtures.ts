/** Building blocks shared by the adapter and translation tests. */
import { expect } from 'vitest';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
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
