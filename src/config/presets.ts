/**
 * Defaults per provider type and per OpenAI-compatible preset: base URL and the wire quirks that differ
 * between servers that all claim OpenAI compatibility.
 */
export const PROVIDER_TYPES = ['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible', 'mock'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export const COMPATIBLE_PRESETS = ['vllm', 'ollama', 'groq', 'together', 'openrouter', 'deepseek', 'mistral'] as const;
export type CompatiblePreset = (typeof COMPATIBLE_PRESETS)[number];

export interface WireQuirks {
  /** Whether `stream_options.include_usage` is understood; without it usage is not asked for on streams. */
  streamUsage: boolean;
  /** Which field carries the output budget upstream. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Whether a key is required at all (local servers usually take none). */
  needsKey: boolean;
}

export const TYPE_DEFAULTS: Record<Exclude<ProviderType, 'openai-compatible'>, { baseUrl?: string } & WireQuirks> = {
  openai: { baseUrl: 'https://api.openai.com/v1', streamUsage: true, maxTokensField: 'max_completion_tokens', needsKey: true },
  'azure-openai': { streamUsage: true, maxTokensField: 'max_completion_tokens', needsKey: true },
  anthropic: { baseUrl: 'https://api.anthropic.com', streamUsage: true, maxTokensField: 'max_tokens', needsKey: true },
  gemini: {
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    streamUsage: true,
    maxTokensField: 'max_tokens',
    needsKey: true,
  },
  mock: { baseUrl: 'mock://local', streamUsage: true, maxTokensField: 'max_tokens', needsKey: false },
};

export const PRESET_DEFAULTS: Record<CompatiblePreset, { baseUrl: string } & WireQuirks> = {
  vllm: { baseUrl: 'http://localhost:8000/v1', streamUsage: true, maxTokensField: 'max_tokens', needsKey: false },
  ollama: { baseUrl: 'http://localhost:11434/v1', streamUsage: true, maxTokensField: 'max_tokens', needsKey: false },
  groq: { baseUrl: 'https://api.groq.com/openai/v1', streamUsage: true, maxTokensField: 'max_tokens', needsKey: true },
  together: { baseUrl: 'https://api.together.xyz/v1', streamUsage: true, maxTokensField: 'max_tokens', needsKey: true },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', streamUsage: true, maxTokensField: 'max_tokens', needsKey: true },
  deepseek: { baseUrl: 'https://api.deepseek.com/v1', streamUsage: true, maxTokensField: 'max_tokens', needsKey: true },
  mistral: { baseUrl: 'https://api.mistral.ai/v1', streamUsage: false, maxTokensField: 'max_tokens', needsKey: true },
};

export const GENERIC_COMPATIBLE: WireQuirks = { streamUsage: true, maxTokensField: 'max_tokens', needsKey: false };
