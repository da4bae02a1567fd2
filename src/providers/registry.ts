/**
 * Which adapter speaks to which provider type. Every adapter's answers leave it with the known secrets
 * scrubbed from their text (security/answer.ts), as its errors leave it scrubbed (errors.ts).
 */
import type { ProviderType } from '../config/presets.js';
import { anthropicAdapter } from './anthropic/index.js';
import { geminiAdapter } from './gemini/index.js';
import { mockAdapter } from './mock.js';
import { openAIAdapter } from './openai.js';
import { scrubCompletion, scrubStream } from '../security/answer.js';
import type { ProviderAdapter } from './types.js';

function scrubbing(adapter: ProviderAdapter): ProviderAdapter {
  return {
    complete: async (req, target, opts) => scrubCompletion(await adapter.complete(req, target, opts)),
    stream: (req, target, opts) => scrubStream(adapter.stream(req, target, opts)),
    ...(adapter.embed && { embed: adapter.embed.bind(adapter) }),
  };
}

const openAI = scrubbing(openAIAdapter);
const adapters: Record<ProviderType, ProviderAdapter> = {
  openai: openAI,
  'azure-openai': openAI,
  'openai-compatible': openAI,
  anthropic: scrubbing(anthropicAdapter),
  gemini: scrubbing(geminiAdapter),
  mock: scrubbing(mockAdapter),
};

export function adapterFor(type: ProviderType): ProviderAdapter {
  return adapters[type];
}
