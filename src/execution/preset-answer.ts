/** The catch-all's preset answer, shaped like any completion so clients need no special case. */
import type { ChatCompletion, ChatCompletionChunk } from '../protocol/chat-response.js';
import { usageOf } from '../protocol/chat-response.js';

export function presetCompletion(alias: string, text: string, created: number): ChatCompletion {
  return {
    id: `chatcmpl-catchall-${created}`,
    object: 'chat.completion',
    created,
    model: alias,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: usageOf(0, 0),
  };
}

export function presetChunks(alias: string, text: string, created: number): ChatCompletionChunk[] {
  const base = { id: `chatcmpl-catchall-${created}`, object: 'chat.completion.chunk' as const, created, model: alias };
  return [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: text }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
  ];
}
