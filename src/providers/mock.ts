/**
 * The built-in `mock` provider type: answers deterministically with no network and no key, and follows a
 * configured failure pattern, so the demo config shows retries and fallbacks on a machine with no provider.
 */
import { contentText, type ChatRequest, type EmbeddingsRequest } from '../protocol/chat-request.js';
import { usageOf, type ChatCompletion, type ChatCompletionChunk, type EmbeddingsResponse } from '../protocol/chat-response.js';
import { kindFromStatus } from './classify.js';
import { ProviderError } from './errors.js';
import { abortableSleep } from '../util/sleep.js';
import type { CallOptions, ProviderAdapter, Target } from './types.js';

const calls = new Map<string, number>();

/** Which pattern entry this call plays; counted per provider so a fallback to another mock starts fresh. */
function nextBehaviour(target: Target): 'ok' | 'timeout' | 'cut' | number {
  const pattern = target.provider.mock?.pattern ?? ['ok'];
  const n = calls.get(target.provider.name) ?? 0;
  calls.set(target.provider.name, n + 1);
  return pattern[n % pattern.length]!;
}

export function resetMockCounters(): void {
  calls.clear();
}

function answerText(req: ChatRequest, target: Target): string {
  if (target.provider.mock?.reply) return target.provider.mock.reply;
  const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
  return `[${target.deployment.name}] You said: ${contentText(lastUser?.content).slice(0, 200)}`;
}

function wordsOf(req: ChatRequest): number {
  return req.messages.reduce((n, m) => n + contentText(m.content).split(/\s+/).filter(Boolean).length, 0) || 1;
}

async function misbehave(behaviour: ReturnType<typeof nextBehaviour>, target: Target, signal?: AbortSignal): Promise<void> {
  if (typeof behaviour === 'number') {
    const kind = kindFromStatus(behaviour, { message: '' });
    const retryAfter = target.provider.mock?.retryAfterSeconds;
    throw new ProviderError({
      kind,
      status: behaviour,
      message: `mock provider ${target.provider.name} answered ${behaviour} as configured`,
      retryAfterMs: behaviour === 429 && retryAfter !== undefined ? retryAfter * 1000 : undefined,
    });
  }
  if (behaviour === 'timeout') {
    await abortableSleep(target.provider.timeouts.firstByteMs, signal);
    throw new ProviderError({ kind: 'timeout', message: `mock provider ${target.provider.name} timed out as configured` });
  }
}

function maxPieces(req: ChatRequest): number {
  return req.max_completion_tokens ?? req.max_tokens ?? Number.POSITIVE_INFINITY;
}

/** Plays this call's pattern entry, then builds the full answer; `cut` tells a stream to break after one piece. */
async function answer(req: ChatRequest, target: Target, opts: CallOptions, streaming: boolean): Promise<{ full: ChatCompletion; cut: boolean }> {
  const behaviour = nextBehaviour(target);
  await abortableSleep(target.provider.mock?.latencyMs ?? 0, opts.signal);
  // A non-streamed call cannot be cut halfway; the nearest thing is a bad gateway.
  await misbehave(behaviour === 'cut' && !streaming ? 502 : behaviour, target, opts.signal);
  return { full: build(req, target), cut: behaviour === 'cut' };
}

function build(req: ChatRequest, target: Target): ChatCompletion {
  const pieces = answerText(req, target).split(/(?<= )/);
  const kept = pieces.slice(0, maxPieces(req));
  const tool = req.tools?.length && req.tool_choice !== 'none' ? req.tools[0] : undefined;
  return {
    id: `chatcmpl-mock-${target.deployment.name}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: target.deployment.model,
    choices: [
      {
        index: 0,
        message: tool
          ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_mock_0', type: 'function', function: { name: tool.function.name, arguments: '{}' } }] }
          : { role: 'assistant', content: kept.join('') },
        finish_reason: tool ? 'tool_calls' : kept.length < pieces.length ? 'length' : 'stop',
      },
    ],
    usage: usageOf(wordsOf(req), kept.length),
  };
}

async function complete(req: ChatRequest, target: Target, opts: CallOptions): Promise<ChatCompletion> {
  return (await answer(req, target, opts, false)).full;
}

async function* stream(req: ChatRequest, target: Target, opts: CallOptions): AsyncGenerator<ChatCompletionChunk> {
  const { full, cut } = await answer(req, target, opts, true);
  const base = { id: full.id, object: 'chat.completion.chunk' as const, created: full.created, model: full.model };
  const message = full.choices[0]!.message;
  yield { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
  if (message.tool_calls) {
    yield { ...base, choices: [{ index: 0, delta: { tool_calls: message.tool_calls.map((c, index) => ({ index, ...c })) }, finish_reason: null }] };
  } else {
    for (const piece of (message.content ?? '').split(/(?<= )/)) {
      await abortableSleep(target.provider.mock?.tokenDelayMs ?? 0, opts.signal);
      yield { ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
      if (cut) throw new ProviderError({ kind: 'connection', message: `mock provider ${target.provider.name} cut the stream as configured` });
    }
  }
  yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: full.choices[0]!.finish_reason }] };
  yield { ...base, choices: [], usage: full.usage };
}

/** A deterministic unit vector from the text's character codes: stable, so the demo's embeddings repeat. */
function mockVector(text: string, dims = 16): number[] {
  const v = new Array<number>(dims).fill(0);
  for (let i = 0; i < text.length; i++) v[i % dims]! += ((text.charCodeAt(i) * 2654435761) % 1000) / 1000;
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

async function embed(req: EmbeddingsRequest, target: Target, opts: CallOptions): Promise<EmbeddingsResponse> {
  await misbehave(nextBehaviour(target), target, opts.signal);
  const inputs = typeof req.input === 'string' ? [req.input] : (req.input as unknown[]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  const tokens = inputs.reduce((n, s) => n + Math.ceil(s.length / 4), 0);
  return {
    object: 'list',
    data: inputs.map((s, index) => ({ object: 'embedding', index, embedding: mockVector(s) })),
    model: target.deployment.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

export const mockAdapter: ProviderAdapter = { complete, stream, embed };
