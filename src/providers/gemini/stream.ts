/**
 * Gemini stream events (each a partial GenerateContentResponse) to canonical chunks. Pure and stateful:
 * feed parsed events in order with `push`, call `end` when the body ends. Holds the stream contract of
 * ../types.ts. Gemini has no end-of-stream marker, so a finishReason on every candidate is what "complete" means.
 */
import type { ChatCompletionChunk, ChunkChoice, ToolCallDelta } from '../../protocol/chat-response.js';
import { ProviderError } from '../errors.js';
import {
  blockedPromptError,
  embeddedError,
  finishReasonOf,
  logprobsOf,
  partText,
  toolCallId,
  toolCallOf,
  usageFrom,
  type ResponseMeta,
} from './response.js';
import type { GeminiCandidate, GeminiResponse, GeminiUsageMetadata } from './wire.js';

interface CandidateState {
  tools: number;
  finished: boolean;
}

export class GeminiStreamTranslator {
  private id?: string;
  private model?: string;
  private usage?: GeminiUsageMetadata;
  private readonly candidates = new Map<number, CandidateState>();

  constructor(private readonly meta: ResponseMeta) {}

  /** True once every candidate seen so far has finished. */
  get finished(): boolean {
    return this.candidates.size > 0 && [...this.candidates.values()].every((c) => c.finished);
  }

  push(res: GeminiResponse): ChatCompletionChunk[] {
    const failure = embeddedError(res) ?? blockedPromptError(res);
    if (failure) throw failure;
    const out: ChatCompletionChunk[] = [];
    if (this.id === undefined) {
      // The first event fixes id and model for the whole stream; later events repeat them anyway.
      this.id = res.responseId ?? this.meta.fallbackId;
      this.model = res.modelVersion ?? this.meta.model;
    }
    if (res.usageMetadata) this.usage = res.usageMetadata;
    for (const [i, c] of (res.candidates ?? []).entries()) out.push(...this.candidate(c, c.index ?? i));
    return out;
  }

  /** Call when the body ends: returns the usage chunk, or throws if the answer never finished. */
  end(): ChatCompletionChunk[] {
    if (!this.finished) {
      throw new ProviderError({ kind: 'connection', message: 'upstream stream ended before a finishReason' });
    }
    return this.usage ? [this.chunk([], usageFrom(this.usage))] : [];
  }

  private candidate(c: GeminiCandidate, index: number): ChatCompletionChunk[] {
    const out: ChatCompletionChunk[] = [];
    let state = this.candidates.get(index);
    if (!state) {
      state = { tools: 0, finished: false };
      this.candidates.set(index, state);
      out.push(this.chunk([{ index, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
    }
    const parts = c.content?.parts ?? [];
    const text = parts.map(partText).join('');
    // Gemini sends each function call whole, so each becomes one complete tool-call delta with a new index.
    const calls: ToolCallDelta[] = parts
      .filter((p) => p.functionCall)
      .map((p) => {
        const n = state.tools++;
        const call = toolCallOf(p, toolCallId(this.id!, index, n, p.functionCall?.id));
        return { index: n, ...call };
      });
    const logprobs = logprobsOf(c);
    if (text || calls.length > 0) {
      const delta: ChunkChoice['delta'] = {};
      if (text) delta.content = text;
      if (calls.length > 0) delta.tool_calls = calls;
      out.push(this.chunk([{ index, delta, finish_reason: null, ...(logprobs ? { logprobs } : {}) }]));
    }
    if (c.finishReason && !state.finished) {
      state.finished = true;
      out.push(this.chunk([{ index, delta: {}, finish_reason: finishReasonOf(c.finishReason, state.tools > 0) }]));
    }
    return out;
  }

  private chunk(choices: ChunkChoice[], usage?: ChatCompletionChunk['usage']): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = {
      id: this.id ?? this.meta.fallbackId,
      object: 'chat.completion.chunk',
      created: this.meta.created,
      model: this.model ?? this.meta.model,
      choices,
    };
    if (usage) chunk.usage = usage;
    return chunk;
  }
}
