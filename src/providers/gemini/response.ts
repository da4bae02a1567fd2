/** Gemini GenerateContentResponse to canonical chat completion. Pure: clock and fallback id come in as `meta`. */
import type { ToolCall } from '../../protocol/chat-request.js';
import type { ChatCompletion, FinishReason, TokenLogprob, Usage } from '../../protocol/chat-response.js';
import { kindFromStatus, readErrorBody } from '../classify.js';
import { ProviderError } from '../errors.js';
import type { GeminiCandidate, GeminiResponse, GeminiResponsePart, GeminiUsageMetadata } from './wire.js';

export interface ResponseMeta {
  created: number;
  /** Used when the upstream sends no responseId. */
  fallbackId: string;
  /** Used when the upstream sends no modelVersion. */
  model: string;
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

export function finishReasonOf(reason: string, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  // Gemini says STOP after function calls too; OpenAI clients look for tool_calls to run them.
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** Thinking tokens are billed as output, as OpenAI's reasoning tokens are part of completion_tokens. */
export function usageFrom(u: GeminiUsageMetadata): Usage {
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const reasoning = u.thoughtsTokenCount ?? 0;
  const completion = (u.candidatesTokenCount ?? 0) + reasoning;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (u.cachedContentTokenCount) usage.prompt_tokens_details = { cached_tokens: u.cachedContentTokenCount };
  if (reasoning > 0) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/**
 * Gemini calls usually carry no id, yet OpenAI clients need one to pair results with calls. The id is derived
 * from the response and position so a replayed response yields the same ids.
 */
export function toolCallId(responseId: string, candidate: number, n: number, upstreamId?: string): string {
  if (upstreamId) return upstreamId;
  return candidate === 0 ? `call_${responseId}_${n}` : `call_${responseId}_${candidate}_${n}`;
}

export function toolCallOf(part: GeminiResponsePart, id: string): ToolCall {
  return {
    id,
    type: 'function',
    function: { name: part.functionCall?.name ?? '', arguments: JSON.stringify(part.functionCall?.args ?? {}) },
  };
}

/** Visible text of a part; thought summaries are not answer text. */
export function partText(part: GeminiResponsePart): string {
  return part.thought ? '' : (part.text ?? '');
}

export function logprobsOf(c: GeminiCandidate): { content: TokenLogprob[] } | undefined {
  const chosen = c.logprobsResult?.chosenCandidates;
  if (!chosen) return undefined;
  return {
    content: chosen.map((t, i) => ({
      token: t.token ?? '',
      logprob: t.logProbability ?? 0,
      top_logprobs: (c.logprobsResult?.topCandidates?.[i]?.candidates ?? []).map((alt) => ({
        token: alt.token ?? '',
        logprob: alt.logProbability ?? 0,
      })),
    })),
  };
}

/** A prompt Gemini refused outright comes back as 200 with no candidates; that is a filter error, not an answer. */
export function blockedPromptError(res: GeminiResponse): ProviderError | undefined {
  const reason = res.promptFeedback?.blockReason;
  if (!reason || (res.candidates?.length ?? 0) > 0) return undefined;
  return new ProviderError({ kind: 'content_filter', message: `Gemini blocked the prompt (${reason})`, upstreamCode: reason });
}

/** An error object inside a 200 body (mid-stream): classified as if it had come with its own status. */
export function embeddedError(res: GeminiResponse): ProviderError | undefined {
  if (!res.error) return undefined;
  const body = readErrorBody(JSON.stringify(res));
  const status = typeof res.error.code === 'number' ? res.error.code : 500;
  return new ProviderError({ kind: kindFromStatus(status, body), message: body.message, upstreamCode: body.code });
}

export function fromGeminiResponse(res: GeminiResponse, meta: ResponseMeta): ChatCompletion {
  const failure = embeddedError(res) ?? blockedPromptError(res);
  if (failure) throw failure;
  const candidates = res.candidates ?? [];
  if (candidates.length === 0) throw new ProviderError({ kind: 'server', message: 'Gemini returned no candidates' });
  const id = res.responseId ?? meta.fallbackId;

  const choices = candidates.map((c, i) => {
    const index = c.index ?? i;
    const parts = c.content?.parts ?? [];
    const text = parts.map(partText).join('');
    const toolCalls = parts
      .filter((p) => p.functionCall)
      .map((p, n) => toolCallOf(p, toolCallId(id, index, n, p.functionCall?.id)));
    const logprobs = logprobsOf(c);
    return {
      index,
      message: {
        role: 'assistant' as const,
        content: text || (toolCalls.length > 0 ? null : ''),
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      },
      finish_reason: finishReasonOf(c.finishReason ?? 'STOP', toolCalls.length > 0),
      ...(logprobs ? { logprobs } : {}),
    };
  });

  return {
    id,
    object: 'chat.completion',
    created: meta.created,
    model: res.modelVersion ?? meta.model,
    choices,
    ...(res.usageMetadata ? { usage: usageFrom(res.usageMetadata) } : {}),
  };
}
