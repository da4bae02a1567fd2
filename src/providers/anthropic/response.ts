/** Anthropic message to canonical chat completion. Pure: the clock reading comes in as `created`. */
import type { ToolCall } from '../../protocol/chat-request.js';
import type { ChatCompletion, FinishReason, Usage } from '../../protocol/chat-response.js';
import type { AnthropicMessage, AnthropicUsage } from './wire.js';

export function finishReasonOf(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and anything newer: the model stopped on its own terms.
      return 'stop';
  }
}

/** Anthropic counts cached input apart from `input_tokens`; OpenAI's prompt_tokens includes it. */
export function usageFrom(u: AnthropicUsage): Usage {
  const cached = u.cache_read_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + cached + (u.cache_creation_input_tokens ?? 0);
  const completion = u.output_tokens ?? 0;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (cached > 0) usage.prompt_tokens_details = { cached_tokens: cached };
  return usage;
}

export function fromAnthropicMessage(msg: AnthropicMessage, created: number): ChatCompletion {
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const block of msg.content ?? []) {
    if (block.type === 'text') text += block.text ?? '';
    else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id ?? '',
        type: 'function',
        function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  return {
    id: msg.id,
    object: 'chat.completion',
    created,
    model: msg.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (toolCalls.length > 0 ? null : ''),
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: finishReasonOf(msg.stop_reason),
      },
    ],
    ...(msg.usage ? { usage: usageFrom(msg.usage) } : {}),
  };
}
