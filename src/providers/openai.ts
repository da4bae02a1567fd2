/**
 * OpenAI, Azure OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, ...). The canonical shape is
 * OpenAI's own, so translation is mostly about URLs, auth headers and the quirks of servers that copy the API.
 */
import type { ChatRequest, EmbeddingsRequest } from '../protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk, EmbeddingsResponse } from '../protocol/chat-response.js';
import { readSse } from '../protocol/sse.js';
import { errorFromResponse, kindFromStatus, readErrorBody } from './classify.js';
import { ProviderError } from './errors.js';
import { httpRequest, transportError } from './http.js';
import type { CallOptions, ProviderAdapter, Target } from './types.js';
import { CHAT_FIELDS, EMBEDDINGS_FIELDS, forwardsAsIs } from './upstream-fields.js';

function endpoint(target: Target, path: 'chat/completions' | 'embeddings'): string {
  const { provider, deployment } = target;
  if (provider.type === 'azure-openai') {
    const version = encodeURIComponent(provider.apiVersion ?? '');
    return `${provider.baseUrl}/openai/deployments/${encodeURIComponent(deployment.model)}/${path}?api-version=${version}`;
  }
  return `${provider.baseUrl}/${path}`;
}

const headerCache = new WeakMap<Target['provider'], Record<string, string>>();

/** Per provider, computed once: the config object lives as long as the gateway runs. */
function headers(target: Target): Record<string, string> {
  const { provider } = target;
  let h = headerCache.get(provider);
  if (!h) {
    const auth: Record<string, string> = {};
    if (provider.apiKey) {
      if (provider.type === 'azure-openai') auth['api-key'] = provider.apiKey;
      else auth.authorization = `Bearer ${provider.apiKey}`;
    }
    h = { ...provider.headers, ...auth };
    headerCache.set(provider, h);
  }
  return h;
}

/** Fields the adapter writes itself (the deployment's model, the server's max-tokens name, streaming). */
const WRITTEN_HERE = new Set(['model', 'max_tokens', 'max_completion_tokens', 'stream', 'stream_options']);

/**
 * The upstream body: the client's canonical fields (account fields only when the alias allows them), the
 * alias's passthrough fields, with the deployment's model and the server's quirks applied. Anything else the
 * client sent stays behind.
 */
export function toOpenAIBody(req: ChatRequest, target: Target, stream: boolean): Record<string, unknown> {
  const { provider, deployment } = target;
  // Built by assignment instead of `delete`: objects stay in V8's fast mode, which JSON.stringify likes.
  const body: Record<string, unknown> = provider.type === 'azure-openai' ? {} : { model: deployment.model };
  const fields = req as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (!WRITTEN_HERE.has(field) && forwardsAsIs(field, CHAT_FIELDS, target.passthrough)) body[field] = fields[field];
  }
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) body[provider.quirks.maxTokensField] = maxTokens;
  if (stream) {
    body.stream = true;
    // Usage is asked for even when the client did not, so cost and token limits work on streams too;
    // the executor drops the usage chunk again for clients that did not ask.
    if (provider.quirks.streamUsage) body.stream_options = { ...req.stream_options, include_usage: true };
  }
  return body;
}

/** The upstream embeddings body, chosen the same way as the chat body. */
export function toOpenAIEmbeddingsBody(req: EmbeddingsRequest, target: Target): Record<string, unknown> {
  const body: Record<string, unknown> = target.provider.type === 'azure-openai' ? {} : { model: target.deployment.model };
  const fields = req as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (field !== 'model' && forwardsAsIs(field, EMBEDDINGS_FIELDS, target.passthrough)) body[field] = fields[field];
  }
  return body;
}

/** Compatible servers differ in small ways; this brings a completion to the exact OpenAI shape. */
function normaliseCompletion(raw: ChatCompletion): ChatCompletion {
  const conformant =
    raw.object === 'chat.completion' &&
    Array.isArray(raw.choices) &&
    raw.choices.every((c) => typeof c.index === 'number' && c.message?.role === 'assistant' && c.message.content !== undefined && c.finish_reason !== undefined);
  if (conformant) return raw;
  return {
    ...raw,
    object: 'chat.completion',
    choices: (raw.choices ?? []).map((c, i) => ({
      ...c,
      index: c.index ?? i,
      message: { ...c.message, role: 'assistant', content: c.message?.content ?? null },
      finish_reason: c.finish_reason ?? null,
    })),
  };
}

async function complete(req: ChatRequest, target: Target, opts: CallOptions): Promise<ChatCompletion> {
  const res = await httpRequest(endpoint(target, 'chat/completions'), toOpenAIBody(req, target, false), {
    headers: headers(target),
    timeouts: target.provider.timeouts,
    signal: opts.signal,
  });
  if (res.status >= 400) throw await errorFromResponse(res);
  try {
    return normaliseCompletion((await res.body.json()) as ChatCompletion);
  } catch (err) {
    throw transportError(err, opts.signal);
  }
}

/**
 * Some compatible servers omit `index` on tool-call deltas or the role on the first chunk;
 * clients (the OpenAI SDK's stream helpers among them) break on both, so they are repaired here.
 */
export class ChunkRepair {
  private roleSent = false;
  private readonly toolIndexById = new Map<string, number>();
  private lastToolIndex = -1;

  repair(chunk: ChatCompletionChunk): ChatCompletionChunk {
    for (const choice of chunk.choices ?? []) {
      if (!this.roleSent && choice.delta) {
        choice.delta.role = 'assistant';
      }
      for (const call of choice.delta?.tool_calls ?? []) {
        if (typeof call.index !== 'number') {
          if (call.id && !this.toolIndexById.has(call.id)) this.toolIndexById.set(call.id, this.toolIndexById.size);
          (call as { index: number }).index = call.id ? this.toolIndexById.get(call.id)! : Math.max(this.lastToolIndex, 0);
        }
        this.lastToolIndex = call.index;
      }
    }
    if ((chunk.choices?.length ?? 0) > 0) this.roleSent = true;
    chunk.object = 'chat.completion.chunk';
    return chunk;
  }
}

async function* stream(req: ChatRequest, target: Target, opts: CallOptions): AsyncGenerator<ChatCompletionChunk> {
  const res = await httpRequest(endpoint(target, 'chat/completions'), toOpenAIBody(req, target, true), {
    headers: headers(target),
    timeouts: target.provider.timeouts,
    signal: opts.signal,
  });
  if (res.status >= 400) throw await errorFromResponse(res);

  const repair = new ChunkRepair();
  let finished = false;
  let done = false;
  try {
    for await (const event of readSse(res.body)) {
      if (event.data === '[DONE]') {
        done = true;
        break;
      }
      const chunk = JSON.parse(event.data) as ChatCompletionChunk & { error?: { message?: string; code?: string; type?: string } };
      if (chunk.error) {
        const body = readErrorBody(JSON.stringify(chunk));
        throw new ProviderError({ kind: kindFromStatus(500, body), message: body.message, upstreamCode: body.code });
      }
      // Azure opens with a prompt_filter_results chunk that has no choices, id or timestamp; the contract
      // keeps `choices: []` for the final usage chunk, so such chunks are dropped.
      if ((chunk.choices?.length ?? 0) === 0 && !chunk.usage) continue;
      if (chunk.choices?.some((c) => c.finish_reason)) finished = true;
      yield repair.repair(chunk);
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new ProviderError({ kind: 'server', message: 'upstream sent a malformed stream event' });
    }
    throw transportError(err, opts.signal);
  } finally {
    if (!done) res.body.destroy();
  }
  // Servers that skip [DONE] but finished the answer are accepted; a body that stops mid-answer is not.
  if (!done && !finished) {
    throw new ProviderError({ kind: 'connection', message: 'upstream stream ended before the answer was complete' });
  }
}

async function embed(req: EmbeddingsRequest, target: Target, opts: CallOptions): Promise<EmbeddingsResponse> {
  const res = await httpRequest(endpoint(target, 'embeddings'), toOpenAIEmbeddingsBody(req, target), {
    headers: headers(target),
    timeouts: target.provider.timeouts,
    signal: opts.signal,
  });
  if (res.status >= 400) throw await errorFromResponse(res);
  try {
    return (await res.body.json()) as EmbeddingsResponse;
  } catch (err) {
    throw transportError(err, opts.signal);
  }
}

export const openAIAdapter: ProviderAdapter = { complete, stream, embed };
