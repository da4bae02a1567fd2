/**
 * Google's Gemini API (generativelanguage). The translations live in request/response/stream/embeddings and
 * are pure; this module does the I/O and owns the clock and the random fallback id.
 */
import { randomUUID } from 'node:crypto';
import type { ChatRequest, EmbeddingsRequest } from '../../protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk, EmbeddingsResponse } from '../../protocol/chat-response.js';
import { readSse } from '../../protocol/sse.js';
import { errorFromResponse } from '../classify.js';
import { ProviderError } from '../errors.js';
import { httpRequest, transportError, type HttpResponse } from '../http.js';
import type { CallOptions, ProviderAdapter, Target } from '../types.js';
import { fromBatchEmbedResponse, toBatchEmbedRequest } from './embeddings.js';
import { modelPath, toGeminiRequest } from './request.js';
import { fromGeminiResponse, type ResponseMeta } from './response.js';
import { GeminiStreamTranslator } from './stream.js';
import type { GeminiBatchEmbedResponse, GeminiResponse } from './wire.js';

type Method = 'generateContent' | 'streamGenerateContent?alt=sse' | 'batchEmbedContents';

function url(target: Target, method: Method): string {
  return `${target.provider.baseUrl}/models/${modelPath(target.deployment.model)}:${method}`;
}

function headers(target: Target): Record<string, string> {
  const { provider } = target;
  return provider.apiKey ? { ...provider.headers, 'x-goog-api-key': provider.apiKey } : { ...provider.headers };
}

function meta(target: Target): ResponseMeta {
  return { created: Math.floor(Date.now() / 1000), fallbackId: `chatcmpl-${randomUUID()}`, model: target.deployment.model };
}

async function post(target: Target, method: Method, body: unknown, opts: CallOptions): Promise<HttpResponse> {
  const res = await httpRequest(url(target, method), body, {
    headers: headers(target),
    timeouts: target.provider.timeouts,
    signal: opts.signal,
  });
  if (res.status >= 400) throw await errorFromResponse(res);
  return res;
}

async function readJson<T>(res: HttpResponse, opts: CallOptions): Promise<T> {
  try {
    return (await res.body.json()) as T;
  } catch (err) {
    throw transportError(err, opts.signal);
  }
}

async function complete(req: ChatRequest, target: Target, opts: CallOptions): Promise<ChatCompletion> {
  const res = await post(target, 'generateContent', toGeminiRequest(req, target.passthrough), opts);
  return fromGeminiResponse(await readJson<GeminiResponse>(res, opts), meta(target));
}

async function* stream(req: ChatRequest, target: Target, opts: CallOptions): AsyncGenerator<ChatCompletionChunk> {
  const res = await post(target, 'streamGenerateContent?alt=sse', toGeminiRequest(req, target.passthrough), opts);
  const translator = new GeminiStreamTranslator(meta(target));
  let drained = false;
  try {
    for await (const sse of readSse(res.body)) {
      if (!sse.data) continue;
      yield* translator.push(JSON.parse(sse.data) as GeminiResponse);
    }
    drained = true;
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new ProviderError({ kind: 'server', message: 'upstream sent a malformed stream event' });
    }
    throw transportError(err, opts.signal);
  } finally {
    if (!drained) res.body.destroy();
  }
  yield* translator.end();
}

async function embed(req: EmbeddingsRequest, target: Target, opts: CallOptions): Promise<EmbeddingsResponse> {
  const model = target.deployment.model;
  const res = await post(target, 'batchEmbedContents', toBatchEmbedRequest(req, model), opts);
  return fromBatchEmbedResponse(await readJson<GeminiBatchEmbedResponse>(res, opts), req, model);
}

export const geminiAdapter: ProviderAdapter = { complete, stream, embed };
