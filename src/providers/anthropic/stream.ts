/**
 * Anthropic stream events to canonical chunks. Pure and stateful: feed parsed events in order with `push`,
 * call `end` when the body ends. Holds the stream contract of ../types.ts.
 */
import type { ChatCompletionChunk, ChunkChoice, FinishReason, Usage } from '../../protocol/chat-response.js';
import { kindFromStatus } from '../classify.js';
import { ProviderError } from '../errors.js';
import { finishReasonOf, usageFrom } from './response.js';
import type { AnthropicErrorDetail, AnthropicStreamEvent, AnthropicUsage } from './wire.js';

/**
 * The HTTP status Anthropic documents for each error type. A mid-stream error has no status of its own, so
 * this lets classify.ts judge it exactly as it would the same error before the stream began.
 */
const STATUS_OF_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function streamError(error: AnthropicErrorDetail | undefined): ProviderError {
  const code = error?.type;
  const message = error?.message || 'upstream reported an error mid-stream';
  const status = (code && STATUS_OF_ERROR_TYPE[code]) || 500;
  return new ProviderError({ kind: kindFromStatus(status, { message, code }), message, upstreamCode: code });
}

export class AnthropicStreamTranslator {
  private id = '';
  private model: string;
  private started = false;
  private finished = false;
  private stopped = false;
  private usage: AnthropicUsage = {};
  /** Content block index to tool-call index: clients expect tool calls numbered 0, 1, ... among themselves. */
  private readonly toolIndexByBlock = new Map<number, number>();

  constructor(
    private readonly created: number,
    fallbackModel: string,
  ) {
    this.model = fallbackModel;
  }

  /** True once message_stop arrived: nothing more will follow. */
  get done(): boolean {
    return this.stopped;
  }

  push(event: AnthropicStreamEvent): ChatCompletionChunk[] {
    switch (event.type) {
      case 'message_start': {
        const msg = event.message;
        if (msg?.id) this.id = msg.id;
        if (msg?.model) this.model = msg.model;
        this.addUsage(msg?.usage);
        this.started = true;
        return [this.chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])];
      }
      case 'content_block_start':
        return this.blockStart(event);
      case 'content_block_delta':
        return this.blockDelta(event);
      case 'message_delta':
        this.addUsage(event.usage);
        if (event.delta?.stop_reason != null) return [this.finish(finishReasonOf(event.delta.stop_reason))];
        return [];
      case 'message_stop': {
        this.stopped = true;
        // A finish chunk is owed even if the upstream skipped message_delta: the choice must end explicitly.
        const out = this.finished ? [] : [this.finish('stop')];
        out.push(this.chunk([], usageFrom(this.usage)));
        return out;
      }
      case 'error':
        throw streamError(event.error);
      default:
        // ping, content_block_stop and event types newer than this code carry nothing for the client.
        return [];
    }
  }

  /** Call when the body ends: a stream that never reached message_stop was cut, not finished. */
  end(): void {
    if (!this.stopped) {
      throw new ProviderError({ kind: 'connection', message: 'upstream stream ended before message_stop' });
    }
  }

  private blockStart(event: AnthropicStreamEvent): ChatCompletionChunk[] {
    const block = event.content_block;
    if (block?.type === 'tool_use' && event.index !== undefined) {
      const index = this.toolIndexByBlock.size;
      this.toolIndexByBlock.set(event.index, index);
      const call = { index, id: block.id ?? '', type: 'function' as const, function: { name: block.name ?? '', arguments: '' } };
      return [this.delta({ tool_calls: [call] })];
    }
    if (block?.type === 'text' && block.text) return [this.delta({ content: block.text })];
    return [];
  }

  private blockDelta(event: AnthropicStreamEvent): ChatCompletionChunk[] {
    const delta = event.delta;
    if (delta?.type === 'text_delta' && delta.text) return [this.delta({ content: delta.text })];
    if (delta?.type === 'input_json_delta' && delta.partial_json) {
      const index = event.index === undefined ? undefined : this.toolIndexByBlock.get(event.index);
      if (index === undefined) return [];
      return [this.delta({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] })];
    }
    // thinking, signature and citation deltas have no place in the chat completions shape.
    return [];
  }

  /** message_start reports input tokens, message_delta the running output count; later values win. */
  private addUsage(u: AnthropicUsage | undefined): void {
    if (!u) return;
    for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
      if (u[key] != null) this.usage[key] = u[key];
    }
  }

  private finish(reason: FinishReason): ChatCompletionChunk {
    this.finished = true;
    return this.chunk([{ index: 0, delta: {}, finish_reason: reason }]);
  }

  private delta(delta: ChunkChoice['delta']): ChatCompletionChunk {
    if (!this.started) {
      throw new ProviderError({ kind: 'server', message: 'upstream stream sent content before message_start' });
    }
    return this.chunk([{ index: 0, delta, finish_reason: null }]);
  }

  private chunk(choices: ChunkChoice[], usage?: Usage): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices };
    if (usage) chunk.usage = usage;
    return chunk;
  }
}
