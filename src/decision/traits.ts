/**
 * What a request needs from a deployment, read once from the canonical request. Pure.
 */
import type { ChatRequest } from '../protocol/chat-request.js';
import { requestedMaxTokens } from '../protocol/chat-request.js';
import type { Capability } from '../config/schema.js';
import { requestFeatures, type FeatureUse } from './request-features.js';

export interface RequestTraits {
  stream: boolean;
  needs: Capability[];
  /** Rough input size (characters / 4); cheap enough for every request. */
  estimatedInputTokens: number;
  /**
   * Provider-neutral input tokens for routing (o200k_base with OpenAI's chat framing) when a decision depends
   * on precision (a token rule, a context window near the estimate); otherwise equal to the estimate.
   */
  inputTokens?: number;
  maxOutputTokens?: number;
  /** Task tags (x-gateway-tags header and metadata.tags), normalised. */
  tags?: string[];
  /**
   * Provider-dependent features the request uses (n > 1, audio, file kinds, logit_bias, ...): planning skips
   * deployments whose provider type cannot carry one. Absent: none are checked.
   */
  features?: FeatureUse[];
}

/** ~4 characters per token is the usual English estimate; images count as a fixed block. */
export function estimateInputTokens(req: ChatRequest): number {
  let chars = 0;
  let images = 0;
  for (const m of req.messages) {
    const c = m.content;
    if (typeof c === 'string') chars += c.length;
    else if (Array.isArray(c)) {
      for (const p of c) {
        if (p.type === 'text') chars += p.text.length;
        else if (p.type === 'image_url') images += 1;
        else if (p.type === 'refusal') chars += p.refusal.length;
      }
    }
    if (m.role === 'assistant') for (const t of m.tool_calls ?? []) chars += t.function.arguments.length + t.function.name.length;
  }
  for (const t of req.tools ?? []) chars += JSON.stringify(t.function).length;
  return Math.ceil(chars / 4) + images * 765 + req.messages.length * 4;
}

export function requestTraits(req: ChatRequest, tags?: string[]): RequestTraits {
  const needs: Capability[] = [];
  if (req.stream) needs.push('streaming');
  if ((req.tools?.length ?? 0) > 0 && req.tool_choice !== 'none') needs.push('tools');
  if (req.messages.some((m) => m.role === 'user' && Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url'))) {
    needs.push('vision');
  }
  if (req.response_format?.type === 'json_schema') needs.push('json_schema');
  if (req.logprobs) needs.push('logprobs');
  return {
    stream: !!req.stream,
    needs,
    estimatedInputTokens: estimateInputTokens(req),
    maxOutputTokens: requestedMaxTokens(req),
    features: requestFeatures(req),
    ...(tags && tags.length > 0 && { tags }),
  };
}

/** What a call occupies on a deployment while it runs: its input plus its output budget (estimates). */
export function queuedTokensOf(req: ChatRequest): number {
  return estimateInputTokens(req) + (requestedMaxTokens(req) ?? 0);
}
