/** A whole completion as a stream: for answers that exist before the client's stream starts (durable, cached). */
import type { ChatCompletion, ChatCompletionChunk } from './chat-response.js';

export function chunksOf(c: ChatCompletion): ChatCompletionChunk[] {
  const base = { id: c.id, object: 'chat.completion.chunk' as const, created: c.created, model: c.model };
  const out: ChatCompletionChunk[] = [];
  for (const choice of c.choices) {
    const m = choice.message;
    out.push({
      ...base,
      choices: [
        {
          index: choice.index,
          delta: {
            role: 'assistant',
            content: m.content ?? (m.tool_calls ? null : ''),
            ...(m.refusal ? { refusal: m.refusal } : {}),
            ...(m.tool_calls ? { tool_calls: m.tool_calls.map((t, index) => ({ index, ...t })) } : {}),
          },
          finish_reason: null,
          ...(choice.logprobs ? { logprobs: choice.logprobs } : {}),
        },
      ],
    });
    out.push({ ...base, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }] });
  }
  if (c.usage) out.push({ ...base, choices: [], usage: c.usage });
  return out;
}
