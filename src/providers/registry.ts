/** Which adapter speaks to which provider type. */
import type { ProviderType } from '../config/presets.js';
import { anthropicAdapter } from './anthropic/index.js';
import { geminiAdapter } from './gemini/index.js';
import { mockAdapter } from './mock.js';
import { openAIAdapter } from './openai.js';
import type { ProviderAdapter } from './types.js';

const adapters: Record<ProviderType, ProviderAdapter> = {
  openai: openAIAdapter,
  'azure-openai': openAIAdapter,
  'openai-compatible': openAIAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  mock: mockAdapter,
};

export function adapterFor(type: ProviderType): ProviderAdapter {
  return adapters[type];
}
