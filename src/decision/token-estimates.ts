/**
 * Per-provider token estimates on top of the o200k count, apart from the tokenizer itself so that routing
 * code can scale a count without loading the tokenizer's ranks.
 */
import type { ProviderType } from '../config/presets.js';

type EstimateName = 'openai-legacy' | 'anthropic' | 'gemini' | 'generic';

export interface Estimate {
  /** Multiplies the o200k count (text and framing). */
  factor: number;
  /**
   * Lower bound: tokens >= UTF-8 bytes / this. o200k is 1.3-3.6x more efficient than cl100k-class vocabularies
   * on non-Latin scripts (measured: ja 1.3x, ru 2.4x, hi 3.6x), so a flat factor alone undercounts them.
   * Set above every vocabulary's bytes/token on English so it only bites on those scripts.
   */
  bytesPerToken?: number;
  /** An image part whose size we do not know (we never decode images). */
  imageTokens: number;
  /** An image sent with detail: low, where the provider honours it. */
  imageLowTokens?: number;
  /** A fixed prompt the provider adds when tools are offered. */
  toolsPrompt: number;
  /** Tool definitions as the model sees them: OpenAI's TypeScript-like namespace, or JSON schema. */
  toolsAs: 'typescript' | 'json';
  /** Audio tokens per second of input audio. */
  audioPerSecond: number;
}

// OpenAI's documented image cost: 85 at detail low; 765 is a 1024x1024 image at high (4 tiles x 170 + 85).
export const OPENAI: Estimate = { factor: 1, imageTokens: 765, imageLowTokens: 85, toolsPrompt: 0, toolsAs: 'typescript', audioPerSecond: 10 };

/**
 * Why these numbers (o200k count x factor, floored by bytes where a smaller vocabulary is likely). English prose
 * runs ~4.5 chars per o200k token (measured: GPL-3 4.7, Apache-2.0 5.0, this repo's README 3.8), so a provider
 * documenting N chars/token gets factor 4.5 / N.
 * - openai-legacy: gpt-4 / gpt-4-turbo / gpt-3.5 use cl100k_base, equal to o200k on English and code (ratio
 *   1.00 measured) but worse elsewhere; loading cl100k too would cost another ~40 ms and ~35 MB RSS per process
 *   for retired models, so the byte floor stands in for it.
 * - anthropic: Anthropic documents ~3.5 English characters per Claude token: 4.5 / 3.5 = 1.29 -> 1.3. Images
 *   cost (w*h)/750, ~1,600 for a ~1.15 MP image (larger ones are downscaled to that); tools add a ~346-token
 *   system prompt (tool_choice auto, Claude 4 / 3.7 models).
 * - gemini: Google documents ~4 characters per Gemini token: 4.5 / 4 = 1.125 -> 1.15. Its 256k SentencePiece
 *   vocabulary is multilingual, so no byte floor. Images: 1,120 (Gemini 3's default high media resolution;
 *   Gemini 2.x tiles 768 px at 258 each, 1,032 for 1024x1024). Audio: 32 tokens/s.
 * - generic (vLLM, Ollama, Groq, Together, DeepSeek, Mistral...: Llama 3, Qwen, Mistral Tekken, DeepSeek all
 *   ship 100k-150k BPE vocabularies close to o200k on English): 1.1 as a margin, with the byte floor.
 */
export const ESTIMATES: Readonly<Record<EstimateName, Estimate>> = {
  'openai-legacy': { ...OPENAI, bytesPerToken: 4.5 },
  anthropic: { factor: 1.3, bytesPerToken: 4, imageTokens: 1_600, toolsPrompt: 346, toolsAs: 'json', audioPerSecond: 10 },
  gemini: { factor: 1.15, imageTokens: 1_120, toolsPrompt: 0, toolsAs: 'json', audioPerSecond: 32 },
  generic: { factor: 1.1, bytesPerToken: 4, imageTokens: 765, toolsPrompt: 0, toolsAs: 'json', audioPerSecond: 10 },
};

/** Which counting a deployment gets: the provider type decides, the model name only for compatible servers. */
export function estimateFor(providerType: ProviderType, model: string): EstimateName | undefined {
  const m = model.toLowerCase();
  const openai = providerType === 'openai' || providerType === 'azure-openai' || providerType === 'mock';
  if (openai || (providerType === 'openai-compatible' && OPENAI_MODEL.test(m))) {
    return CL100K_MODEL.test(m) ? 'openai-legacy' : undefined;
  }
  if (providerType === 'anthropic' || /(?:^|\/)claude/.test(m)) return 'anthropic';
  if (providerType === 'gemini' || /(?:^|\/)gemini/.test(m)) return 'gemini';
  return 'generic';
}
// OpenRouter-style names carry a vendor prefix ("openai/gpt-4o"); Azure spells 3.5 as "gpt-35".
const OPENAI_MODEL = /(?:^|\/)(?:gpt-|chatgpt-|o\d(?:-|$))/;
const CL100K_MODEL = /(?:^|\/)(?:gpt-3\.5|gpt-35|gpt-4(?:-|$))/;

/** The multiplier that turns a provider-neutral (o200k) count into this deployment's estimated count. */
export function tokenFactor(providerType: ProviderType, model: string): number {
  const name = estimateFor(providerType, model);
  return name ? ESTIMATES[name].factor : 1;
}
