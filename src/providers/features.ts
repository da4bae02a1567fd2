/**
 * Which canonical request features each adapter family can carry, as pure data (no adapter is imported), so
 * planning can leave out deployments that cannot serve a request instead of letting their adapter refuse it.
 *
 * Each entry says what the family's translation (see its request/content module) does with the feature:
 * - `native`: translated to the provider's own equivalent;
 * - `emulated`: approximated faithfully enough to keep (Anthropic's JSON mode is an instruction);
 * - `ignored`: dropped, and the answer is still what the client asked for (sampling hints such as `seed`);
 * - `{ no }`: the adapter throws bad_request, or dropping it would change what the client gets back
 *   (one choice instead of `n`, no logprobs, banned tokens not banned). Planning skips such deployments.
 * A row must change whenever its adapter's translation does: test/unit/provider-features.test.ts drives each
 * adapter with every feature its row calls carried and checks that the translation does not throw.
 */
import type { ProviderType } from '../config/presets.js';

export const FEATURES = [
  'n',
  'tools',
  'parallel_tool_calls',
  'tool_choice:none',
  'tool_choice:auto',
  'tool_choice:required',
  'tool_choice:function',
  'input_audio',
  'audio_output',
  'file:pdf',
  'file:data',
  'file:url',
  'file:id',
  'file:raw',
  'image:url',
  'image:base64',
  'image:base64_other',
  'image:other',
  'logprobs',
  'top_logprobs',
  'response_format:json_object',
  'response_format:json_schema',
  'seed',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'prediction',
  'reasoning_effort',
  'non_object_tool_arguments',
  'no_conversation_turns',
] as const;
export type Feature = (typeof FEATURES)[number];

/** How the request uses a feature, for messages: "'n' > 1", "audio input (input_audio parts)". */
export const FEATURE_LABELS: Record<Feature, string> = {
  n: "'n' > 1",
  tools: "'tools'",
  parallel_tool_calls: "'parallel_tool_calls' false",
  'tool_choice:none': "'tool_choice' none",
  'tool_choice:auto': "'tool_choice' auto",
  'tool_choice:required': "'tool_choice' required",
  'tool_choice:function': "'tool_choice' naming a function",
  input_audio: 'audio input (input_audio parts)',
  audio_output: 'audio output',
  'file:pdf': 'an inline PDF file part',
  'file:data': 'an inline file part that is not a PDF',
  'file:url': 'a file part given by URL',
  'file:id': 'a file part given by file_id',
  'file:raw': 'file_data that is neither a base64 data URL nor an http(s) URL',
  'image:url': 'an image given by URL',
  'image:base64': 'a base64 image',
  'image:base64_other': 'a base64 image that is not JPEG, PNG, GIF or WebP',
  'image:other': 'an image that is neither an http(s) URL nor a base64 data URL',
  logprobs: "'logprobs'",
  top_logprobs: "'top_logprobs'",
  'response_format:json_object': "'response_format' json_object",
  'response_format:json_schema': "'response_format' json_schema",
  seed: "'seed'",
  stop: "'stop'",
  presence_penalty: "'presence_penalty'",
  frequency_penalty: "'frequency_penalty'",
  logit_bias: "'logit_bias'",
  prediction: "'prediction'",
  reasoning_effort: "'reasoning_effort'",
  non_object_tool_arguments: 'tool call arguments that are not a JSON object',
  no_conversation_turns: 'a conversation with no user or assistant turn',
};

export type Support = 'native' | 'emulated' | 'ignored' | { no: string };
export type FeatureFamily = 'openai' | 'anthropic' | 'gemini' | 'mock';
export type FeatureTable = Record<Feature, Support>;

/** Every feature at one level; families list only their exceptions. */
function all(level: Support): FeatureTable {
  return Object.fromEntries(FEATURES.map((f) => [f, level])) as FeatureTable;
}

// The canonical request is OpenAI's, forwarded as it is (which of its fields go at all, and which need the
// alias's `passthrough`: upstream-fields.ts); the upstream itself is the judge.
const openai: FeatureTable = all('native');

const anthropic: FeatureTable = {
  ...all('native'),
  n: { no: 'cannot return several choices' },
  input_audio: { no: 'does not accept audio input' },
  audio_output: { no: 'cannot answer with audio' },
  'file:data': { no: 'accepts only PDF files' },
  'file:url': { no: 'accepts only inline PDF files' },
  'file:id': { no: 'cannot read OpenAI file ids' },
  'file:raw': { no: 'needs file_data as a base64 data URL' },
  'image:base64_other': { no: 'accepts only JPEG, PNG, GIF and WebP images' },
  'image:other': { no: 'needs an http(s) URL or a base64 data URL' },
  logprobs: { no: 'does not return logprobs' },
  top_logprobs: { no: 'does not return logprobs' },
  'response_format:json_object': 'emulated',
  'response_format:json_schema': 'emulated',
  seed: 'ignored',
  presence_penalty: 'ignored',
  frequency_penalty: 'ignored',
  logit_bias: { no: 'has no logit bias' },
  prediction: 'ignored',
  reasoning_effort: 'ignored',
  non_object_tool_arguments: { no: 'needs tool call arguments to be a JSON object' },
  no_conversation_turns: { no: 'needs at least one non-empty user or assistant message' },
};

const gemini: FeatureTable = {
  ...all('native'),
  parallel_tool_calls: 'ignored',
  audio_output: { no: 'cannot answer with audio through this gateway' },
  'file:id': { no: 'cannot read OpenAI file ids' },
  'file:raw': { no: 'needs file_data as a base64 data URL or an http(s) URL' },
  'image:other': { no: 'needs an http(s) URL or a base64 data URL' },
  logit_bias: { no: 'has no logit bias' },
  prediction: 'ignored',
  reasoning_effort: 'ignored',
  non_object_tool_arguments: { no: 'needs tool call arguments to be a JSON object' },
  no_conversation_turns: { no: 'needs at least one non-empty user or assistant message' },
};

// The demo provider answers every request with its canned text; refusing parameters would only make the
// demo fail where a real deployment would answer.
const mock: FeatureTable = { ...all('ignored'), tools: 'native', 'tool_choice:none': 'native' };

export const FEATURE_SUPPORT: Record<FeatureFamily, FeatureTable> = { openai, anthropic, gemini, mock };

const FAMILY: Record<ProviderType, FeatureFamily> = {
  openai: 'openai',
  'azure-openai': 'openai',
  'openai-compatible': 'openai',
  anthropic: 'anthropic',
  gemini: 'gemini',
  mock: 'mock',
};

export function featureFamily(type: ProviderType): FeatureFamily {
  return FAMILY[type];
}

/** Why a provider type cannot carry the feature, or undefined when it can (natively, emulated or ignored). */
export function cannotCarry(type: ProviderType, feature: Feature): string | undefined {
  const s = FEATURE_SUPPORT[FAMILY[type]][feature];
  return typeof s === 'object' ? s.no : undefined;
}
