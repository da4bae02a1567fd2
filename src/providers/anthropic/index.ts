/**
 * Anthropic's Messages API. The translations live in request/response/stream and are pure; this module does
 * the I/O and owns the clock. Anthropic has no embeddings API, so `embed` is absent.
 */
import type { ChatRequest } from '../../protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk } from '../../protocol/chat-response.js';
import { readSse } from '../../protocol/sse.js';
import { errorFromResponse } from '../classify.js';
import { ProviderError } from '../errors.js';
import { httpRequest, transportError, type HttpResponse } from '../http.js';
import type { CallOptions, ProviderAdapter, Target } from '../types.js';
import { toAnthropicRequest } from './request.js';
import { fromAnthropicMessage } from './response.js';
import { AnthropicStreamTranslator } from './stream.js';
import type { AnthropicMessage, AnthropicStreamEvent } from './wire.js';

/** The only stable version Anthropic has published; configs pin another through `anthropicVersion`. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

function headers(target: Target): Record<string, string> {
  const { provider } = target;
  const own: Record<string, string> = { 'anthropic-version': provider.anthropicVersion ?? DEFAULT_ANTHROPIC_VERSION };
  if (provider.apiKey) own['x-api-key'] = provider.apiKey;
  return { ...provider.headers, ...own };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

async function post(req: ChatRequest, target: Target, opts: CallOptions, stream: boolean): Promise<HttpResponse> {
  // Translate before connecting: a request Anthropic cannot express fails without spending a round trip.
  const body = toAnthropicRequest(req, target, stream);
  const res = await httpRequest(`${target.provider.baseUrl}/v1/messages`, body, {
    headers: headers(target),
    timeouts: target.provider.timeouts,
    signal: opts.signal,
  });
  if (res.status >= 400) throw await errorFromResponse(res);
  return res;
}

async function complete(req: ChatRequest, target: Target, opts: CallOptions): Promise<ChatCompletion> {
  const res = await post(req, target, opts, false);
  let msg: AnthropicMessage;
  try {
    msg = (await res.body.json()) as AnthropicMessage;
  } catch (err) {
    throw transportError(err, opts.signal);
  }
  return fromAnthropicMessage(msg, nowSeconds());
}

async function* stream(req: ChatRequest, target: Target, opts: CallOptions): AsyncGenerator<ChatCompletionChunk> {
  const res = await post(req, target, opts, true);
  const translator = new AnthropicStreamTranslator(nowSeconds(), target.deployment.model);
  try {
    for await (const sse of readSse(res.body)) {
      if (!sse.data) continue;
      const parsed = JSON.parse(sse.data) as AnthropicStreamEvent;
      // The SSE event name and the payload's `type` agree by design; the name covers a payload without one.
      const event = parsed.type ? parsed : { ...parsed, type: sse.event ?? '' };
      yield* translator.push(event);
      if (translator.done) break;
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new ProviderError({ kind: 'server', message: 'upstream sent a malformed stream event' });
    }
    throw transportError(err, opts.signal);
  } finally {
    if (!translator.done) res.body.destroy();
  }
  translator.end();
}

export const anthropicAdapter: ProviderAdapter = { complete, stream };
