/** Deterministic embedding responses (OpenAI/Azure and Gemini shapes). */
import { countWords, embed } from './reply.js';

const DEFAULT_DIMS = 8;

/** OpenAI SDKs ask for base64 by default: little-endian float32 bytes. */
function toBase64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

export function embedOpenAI(body: any, model: string) {
  const raw: unknown = body.input;
  const inputs: Array<string | number[]> =
    typeof raw === 'string' ? [raw] : Array.isArray(raw) && typeof raw[0] === 'number' ? [raw as number[]] : (raw as Array<string | number[]>);
  const dims: number = body.dimensions ?? DEFAULT_DIMS;
  let tokens = 0;
  const data = inputs.map((input, index) => {
    tokens += typeof input === 'string' ? Math.max(1, countWords(input)) : input.length;
    const vector = embed(typeof input === 'string' ? input : JSON.stringify(input), dims);
    return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? toBase64(vector) : vector };
  });
  return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

type EmbedRequest = { content: { parts: Array<{ text?: string }> }; outputDimensionality?: number };

function values(r: EmbedRequest) {
  const text = r.content.parts.map((p) => p.text ?? '').join(' ');
  return { values: embed(text, r.outputDimensionality ?? DEFAULT_DIMS) };
}

/** Expects the camelized body produced by validation. */
export function embedGemini(body: any, batch: boolean) {
  return batch ? { embeddings: (body.requests as EmbedRequest[]).map(values) } : { embedding: values(body as EmbedRequest) };
}
