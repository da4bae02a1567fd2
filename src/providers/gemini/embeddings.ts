/** OpenAI embeddings request/response to Gemini's batchEmbedContents and back. Pure. */
import type { EmbeddingsRequest } from '../../protocol/chat-request.js';
import type { EmbeddingsResponse } from '../../protocol/chat-response.js';
import { ProviderError } from '../errors.js';
import type { GeminiBatchEmbedResponse } from './wire.js';

export function toBatchEmbedRequest(req: EmbeddingsRequest, model: string): Record<string, unknown> {
  const input = req.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!texts.every((t): t is string => typeof t === 'string')) {
    // Token-id input is tokenizer-specific to OpenAI; Gemini cannot read it.
    throw new ProviderError({ kind: 'bad_request', message: 'Gemini embeddings take text input, not token ids' });
  }
  const name = `models/${model.replace(/^models\//, '')}`;
  return {
    requests: texts.map((text) => ({
      model: name,
      content: { parts: [{ text }] },
      ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
    })),
  };
}

/** OpenAI's base64 encoding: the raw little-endian float32 bytes. */
function toBase64(values: number[]): string {
  const floats = new Float32Array(values);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}

export function fromBatchEmbedResponse(res: GeminiBatchEmbedResponse, req: EmbeddingsRequest, model: string): EmbeddingsResponse {
  const base64 = req.encoding_format === 'base64';
  return {
    object: 'list',
    data: (res.embeddings ?? []).map((e, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? toBase64(e.values ?? []) : (e.values ?? []),
    })),
    model,
    // batchEmbedContents reports no token counts; zero says "unknown" without inventing a number.
    usage: { prompt_tokens: 0, total_tokens: 0 },
  };
}
