/**
 * The egress contract. An adapter turns the canonical request into one provider family's wire format and
 * the provider's answer back into canonical objects. Adapters know nothing of Express, Temporal or fallback.
 *
 * Stream contract (every adapter must hold to it; the executors rely on it):
 * - the first chunk carries `delta.role: 'assistant'`;
 * - tool-call deltas carry a stable `index` per call, and `id`/`type`/`function.name` on the call's first delta;
 * - a chunk with a non-null `finish_reason` ends the choice; usage, when known, comes in a last chunk with `choices: []`;
 * - a body that ends before the provider's own end marker throws ProviderError(kind 'connection'),
 *   never a quiet return: a cut stream must not look like a finished answer.
 */
import type { ChatRequest, EmbeddingsRequest } from '../protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk, EmbeddingsResponse } from '../protocol/chat-response.js';
import type { DeploymentConfig, ProviderConfig } from '../config/types.js';

export interface Target {
  deployment: DeploymentConfig;
  provider: ProviderConfig;
  /**
   * Fields of the client's body the step's alias lets through (`models.<alias>.passthrough`): besides the
   * canonical fields the adapter knows, only these go upstream (see upstream-fields.ts).
   */
  passthrough?: readonly string[];
}

export interface CallOptions {
  /** Aborted when the client goes away or the executor gives up on this attempt. */
  signal?: AbortSignal;
}

export interface ProviderAdapter {
  complete(req: ChatRequest, target: Target, opts: CallOptions): Promise<ChatCompletion>;
  stream(req: ChatRequest, target: Target, opts: CallOptions): AsyncIterable<ChatCompletionChunk>;
  /** Absent for providers without an embeddings API. */
  embed?(req: EmbeddingsRequest, target: Target, opts: CallOptions): Promise<EmbeddingsResponse>;
}
