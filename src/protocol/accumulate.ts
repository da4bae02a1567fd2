/**
 * Folds a canonical chunk stream back into one completion: the durable path streams from the provider (so it
 * can heartbeat and notice a stall) but keeps whole answers, and a cache needs whole answers too.
 */
import type { ChatCompletion, ChatCompletionChunk, FinishReason, TokenLogprob, Usage } from './chat-response.js';
import type { ToolCall } from './chat-request.js';

interface ChoiceState {
  content: string;
  refusal: string;
  hasContent: boolean;
  toolCalls: ToolCall[];
  finish: FinishReason | null;
  logprobs: TokenLogprob[];
}

export class CompletionAccumulator {
  private id = '';
  private created = 0;
  private model = '';
  private fingerprint: string | null | undefined;
  private usage: Usage | undefined;
  private readonly choices = new Map<number, ChoiceState>();

  push(chunk: ChatCompletionChunk): void {
    this.id ||= chunk.id;
    this.created ||= chunk.created;
    this.model ||= chunk.model;
    this.fingerprint ??= chunk.system_fingerprint;
    if (chunk.usage) this.usage = chunk.usage;
    for (const c of chunk.choices) {
      let s = this.choices.get(c.index);
      if (!s) this.choices.set(c.index, (s = { content: '', refusal: '', hasContent: false, toolCalls: [], finish: null, logprobs: [] }));
      if (c.delta.content != null) {
        s.content += c.delta.content;
        s.hasContent = true;
      }
      if (c.delta.refusal) s.refusal += c.delta.refusal;
      for (const d of c.delta.tool_calls ?? []) {
        const call = (s.toolCalls[d.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (d.id) call.id = d.id;
        if (d.function?.name) call.function.name += d.function.name;
        if (d.function?.arguments) call.function.arguments += d.function.arguments;
      }
      if (c.logprobs?.content) s.logprobs.push(...c.logprobs.content);
      if (c.finish_reason) s.finish = c.finish_reason;
    }
  }

  result(): ChatCompletion {
    const indexes = [...this.choices.keys()].sort((a, b) => a - b);
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      ...(this.fingerprint !== undefined ? { system_fingerprint: this.fingerprint } : {}),
      choices: indexes.map((index) => {
        const s = this.choices.get(index)!;
        const toolCalls = s.toolCalls.filter(Boolean);
        return {
          index,
          message: {
            role: 'assistant' as const,
            content: s.hasContent && s.content !== '' ? s.content : toolCalls.length > 0 ? null : s.content,
            ...(s.refusal ? { refusal: s.refusal } : {}),
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          finish_reason: s.finish,
          ...(s.logprobs.length > 0 ? { logprobs: { content: s.logprobs } } : {}),
        };
      }),
      ...(this.usage ? { usage: this.usage } : {}),
    };
  }
}
