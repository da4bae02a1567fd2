/** A canonical completion as an Anthropic message. Pure. */
import type { AnthropicContentBlock, AnthropicMessage, AnthropicUsage } from '../../providers/anthropic/wire.js';
import type { ChatCompletion, FinishReason, Usage } from '../chat-response.js';

/**
 * `stop` is always `end_turn`: the canonical form does not say whether a stop sequence ended the answer,
 * so `stop_sequence` stays null rather than guessing.
 */
export function stopReasonOf(finish: FinishReason | null | undefined, hasToolCalls = false): string {
  // Agent loops run tools only on `tool_use`; some upstreams finish a tool-calling answer with a plain stop.
  if (hasToolCalls && (finish == null || finish === 'stop')) return 'tool_use';
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Anthropic counts cache reads apart from `input_tokens`; OpenAI's prompt_tokens includes them. */
export function anthropicUsage(u: Usage | null | undefined): AnthropicUsage & { input_tokens: number; output_tokens: number } {
  const cached = u?.prompt_tokens_details?.cached_tokens ?? 0;
  const usage = { input_tokens: Math.max(0, (u?.prompt_tokens ?? 0) - cached), output_tokens: u?.completion_tokens ?? 0 };
  return cached > 0 ? { ...usage, cache_read_input_tokens: cached } : usage;
}

/** Anthropic ids start with `msg_`; an OpenAI-family id is kept inside so logs still match the upstream's. */
export function messageIdOf(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
}

/**
 * Anthropic clients expect `input` as an object. Arguments that are not a JSON object (a model's broken
 * output) become `{}`: the answer is still well-formed, and the stream path sends the raw text anyway.
 */
export function toolInput(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  return {};
}

/** `model` is the alias the client asked for: which upstream model answered is in the x-gateway-* headers. */
export function toAnthropicMessage(c: ChatCompletion, model: string): AnthropicMessage {
  const choice = c.choices[0];
  const msg = choice?.message;
  const text = (msg?.content ?? '') + (msg?.refusal ?? '');
  const calls = msg?.tool_calls ?? [];
  const content: AnthropicContentBlock[] = [];
  // Like Anthropic: a text block when there is text, or when there is nothing else to send.
  if (text || calls.length === 0) content.push({ type: 'text', text });
  for (const call of calls) content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
  return {
    id: messageIdOf(c.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReasonOf(choice?.finish_reason, calls.length > 0),
    stop_sequence: null,
    usage: anthropicUsage(c.usage),
  };
}
