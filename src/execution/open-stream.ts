/**
 * Opening a stream is an attempt like any other until the first content arrives: role-only and empty
 * chunks are held back, so a stream that fails before saying anything can fail over invisibly.
 */
import type { ChatRequest } from '../protocol/chat-request.js';
import { chunkHasContent, type ChatCompletionChunk } from '../protocol/chat-response.js';
import type { ProviderAdapter, Target } from '../providers/types.js';
import type { StreamEnd } from './fast-executor.js';

export interface OpenedStream {
  /** Chunks read up to and including the first with content. */
  head: ChatCompletionChunk[];
  /** The rest of the upstream stream; undefined when the upstream already finished inside the head. */
  rest?: AsyncIterator<ChatCompletionChunk>;
  /** Set by the route once the executor hands the stream over: reports how the body ended to the health state. */
  settle?: (end: StreamEnd) => void;
}

export async function openStream(adapter: ProviderAdapter, req: ChatRequest, target: Target, signal: AbortSignal): Promise<OpenedStream> {
  const it = adapter.stream(req, target, { signal })[Symbol.asyncIterator]();
  const head: ChatCompletionChunk[] = [];
  for (;;) {
    const next = await it.next();
    if (next.done) return { head };
    head.push(next.value);
    if (chunkHasContent(next.value)) return { head, rest: it };
  }
}
