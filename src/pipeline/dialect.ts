/**
 * How answers are spelled for the client. The pipeline produces canonical completions and chunks; a dialect
 * turns them into the client's protocol (OpenAI's here; the Messages route brings Anthropic's).
 */
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion, ChatCompletionChunk } from '../protocol/chat-response.js';
import type { ProviderError } from '../providers/errors.js';
import { sseData } from '../protocol/sse.js';
import type { StreamProtocol } from '../streams/stream-log.js';

/** How a committed stream is written in the client's protocol. */
export interface StreamEncoder {
  /** The wire text for one chunk; '' writes nothing. */
  chunk(chunk: ChatCompletionChunk): string;
  /** The clean end of the stream. */
  end(): string;
  /** The in-band error that ends a stream whose output already began. */
  error(failure: ProviderError | undefined): string;
}

export interface Dialect {
  completion(c: ChatCompletion): unknown;
  stream(): StreamEncoder;
  /** How a live durable stream records this dialect, so a reader on another instance spells it alike. */
  live?: StreamProtocol;
}

function openAIStream(includeUsage: boolean): StreamEncoder {
  return {
    chunk(chunk) {
      if (chunk.choices.length === 0 && !includeUsage) return '';
      if (!includeUsage) delete chunk.usage;
      return sseData(chunk);
    },
    end: () => 'data: [DONE]\n\n',
    error: (failure) =>
      sseData({
        error: {
          message: `The upstream stream was interrupted after output began (${failure?.kind ?? 'internal error'}); the answer is incomplete.`,
          type: 'server_error',
          param: null,
          code: 'stream_interrupted',
        },
      }),
  };
}

export function openAIDialect(request: ChatRequest): Dialect {
  const includeUsage = request.stream_options?.include_usage === true;
  return { completion: (c) => c, stream: () => openAIStream(includeUsage), live: { protocol: 'openai', includeUsage } };
}
