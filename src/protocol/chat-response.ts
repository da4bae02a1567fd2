/**
 * Canonical responses: OpenAI's chat completion object and streamed chunk.
 * Adapters produce these from any provider; ingress formats them for the client's protocol.
 */
import type { ToolCall } from './chat-request.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes?: number[] | null;
  top_logprobs?: Array<{ token: string; logprob: number; bytes?: number[] | null }>;
}

export interface AssistantMessageOut {
  role: 'assistant';
  content: string | null;
  refusal?: string | null;
  tool_calls?: ToolCall[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: Array<{
    index: number;
    message: AssistantMessageOut;
    finish_reason: FinishReason | null;
    logprobs?: { content: TokenLogprob[] | null } | null;
  }>;
  usage?: Usage;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChunkChoice {
  index: number;
  delta: { role?: 'assistant'; content?: string | null; refusal?: string | null; tool_calls?: ToolCallDelta[] };
  finish_reason: FinishReason | null;
  logprobs?: { content: TokenLogprob[] | null } | null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: ChunkChoice[];
  usage?: Usage | null;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** True when a chunk carries something the client would see as output (text, refusal or a tool call). */
export function chunkHasContent(chunk: ChatCompletionChunk): boolean {
  return chunk.choices.some(
    (c) => !!c.delta.content || !!c.delta.refusal || (c.delta.tool_calls?.length ?? 0) > 0,
  );
}

export function usageOf(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}
