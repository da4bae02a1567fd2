/**
 * Canonical stream chunks as Anthropic stream events. Pure and stateful: `push` each chunk in order, then
 * `end` once the upstream finished cleanly; a stream that fails instead ends with `errorEvent` and no
 * message_stop, which Anthropic's SDKs raise as an error.
 *
 * Anthropic content blocks are strictly sequential (start, deltas, stop, then the next block), while OpenAI
 * chunks may interleave deltas of several tool calls, and of text. One block is open at a time; data for
 * blocks not yet opened is buffered and sent when the open block is known to be complete: text always is
 * (as soon as something else begins), a tool call once its arguments parse as a whole JSON value. At the end
 * every buffered block is flushed in order of first appearance. In the common sequential case nothing waits.
 */
import type { AnthropicStreamEvent, AnthropicUsage } from '../../providers/anthropic/wire.js';
import type { ErrorKind } from '../../providers/errors.js';
import type { ChatCompletionChunk, FinishReason, ToolCallDelta, Usage } from '../chat-response.js';
import { anthropicUsage, messageIdOf, stopReasonOf } from './response.js';

interface Block {
  kind: 'text' | 'tool';
  /** Everything received for the block: text, or the tool call's argument JSON so far. */
  data: string;
  /** How much of `data` the client has; the rest is buffered. */
  sent: number;
  index?: number;
  id?: string;
  name?: string;
}

function isCompleteJson(text: string): boolean {
  if (text.trim() === '') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export class AnthropicStreamEncoder {
  private started = false;
  private pinged = false;
  private nextIndex = 0;
  private open: Block | undefined;
  private readonly pending: Block[] = [];
  private readonly tools = new Map<number, Block>();
  private finish: FinishReason | null = null;
  private usage: Usage | null = null;
  private id = '';

  /** `model` is the alias the client asked for. */
  constructor(private readonly model: string) {}

  push(chunk: ChatCompletionChunk): AnthropicStreamEvent[] {
    const out: AnthropicStreamEvent[] = [];
    this.start(chunk.id, out);
    if (chunk.usage) this.usage = chunk.usage;
    // Anthropic answers have one choice; the request translation never asks for more.
    const choice = chunk.choices.find((c) => c.index === 0);
    if (!choice) return out;
    const text = (choice.delta.content ?? '') + (choice.delta.refusal ?? '');
    if (text) this.text(text, out);
    for (const call of choice.delta.tool_calls ?? []) this.toolCall(call, out);
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return out;
  }

  /** The clean end: closes and flushes every block, then message_delta and message_stop. */
  end(): AnthropicStreamEvent[] {
    const out: AnthropicStreamEvent[] = [];
    this.start('', out);
    this.closeOpen(out);
    for (const block of this.pending.splice(0)) {
      this.openBlock(block, out);
      this.closeOpen(out);
    }
    const usage: AnthropicUsage = anthropicUsage(this.usage);
    out.push({
      type: 'message_delta',
      delta: { stop_reason: stopReasonOf(this.finish, this.tools.size > 0), stop_sequence: null },
      usage,
    });
    out.push({ type: 'message_stop' });
    return out;
  }

  private start(chunkId: string, out: AnthropicStreamEvent[]): void {
    if (this.started) return;
    this.started = true;
    this.id = messageIdOf(chunkId || 'gateway');
    out.push({
      type: 'message_start',
      message: {
        id: this.id,
        type: 'message',
        role: 'assistant',
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Input tokens are known only at the end for most upstreams; message_delta carries the real counts.
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private text(text: string, out: AnthropicStreamEvent[]): void {
    if (this.open?.kind === 'text') {
      this.open.data += text;
      this.sendRest(this.open, out);
      return;
    }
    const last = this.pending.at(-1);
    if (last?.kind === 'text') last.data += text;
    else this.pending.push({ kind: 'text', data: text, sent: 0 });
    this.advance(out);
  }

  private toolCall(delta: ToolCallDelta, out: AnthropicStreamEvent[]): void {
    let block = this.tools.get(delta.index);
    if (!block) {
      block = { kind: 'tool', data: '', sent: 0 };
      this.tools.set(delta.index, block);
      this.pending.push(block);
    }
    block.id ||= delta.id;
    block.name ||= delta.function?.name;
    block.data += delta.function?.arguments ?? '';
    if (block === this.open) this.sendRest(block, out);
    this.advance(out);
  }

  /** Opens pending blocks while the open one is complete and the next has what its start event needs. */
  private advance(out: AnthropicStreamEvent[]): void {
    while (this.pending.length > 0) {
      const open = this.open;
      if (open && open.kind === 'tool' && !isCompleteJson(open.data)) return;
      const next = this.pending[0]!;
      if (next.kind === 'tool' && (!next.id || !next.name)) return;
      this.closeOpen(out);
      this.pending.shift();
      this.openBlock(next, out);
    }
  }

  private openBlock(block: Block, out: AnthropicStreamEvent[]): void {
    block.index = this.nextIndex++;
    const content_block =
      block.kind === 'text'
        ? { type: 'text', text: '' }
        : { type: 'tool_use', id: block.id || `toolu_${this.id}_${block.index}`, name: block.name ?? '', input: {} };
    out.push({ type: 'content_block_start', index: block.index, content_block });
    // Where Anthropic sends its first ping; clients ignore it, but some proxies and tests expect the shape.
    if (!this.pinged) {
      this.pinged = true;
      out.push({ type: 'ping' });
    }
    this.open = block;
    this.sendRest(block, out);
  }

  private sendRest(block: Block, out: AnthropicStreamEvent[]): void {
    if (block.sent === block.data.length) return;
    const piece = block.data.slice(block.sent);
    block.sent = block.data.length;
    const delta = block.kind === 'text' ? { type: 'text_delta', text: piece } : { type: 'input_json_delta', partial_json: piece };
    out.push({ type: 'content_block_delta', index: block.index!, delta });
  }

  private closeOpen(out: AnthropicStreamEvent[]): void {
    if (!this.open) return;
    out.push({ type: 'content_block_stop', index: this.open.index! });
    this.open = undefined;
  }
}

/** The in-band error that ends a stream after output began; `overloaded_error` tells clients to retry later. */
export function errorEvent(kind: ErrorKind | undefined): AnthropicStreamEvent {
  const type = kind === 'overloaded' || kind === 'rate_limited' ? 'overloaded_error' : 'api_error';
  return {
    type: 'error',
    error: { type, message: `The upstream stream was interrupted after output began (${kind ?? 'internal error'}); the answer is incomplete.` },
  };
}
