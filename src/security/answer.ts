/**
 * A model's answer is the tenant's data, so it is not run through the key shapes (an answer may rightly show
 * an example `sk-…` key or a JWT); but an upstream that echoes the credential it was sent into the answer
 * itself (a misconfigured proxy, a test server) must not hand it to the client, the cache or Temporal history.
 * So the exact known secrets (configured keys; on the fast path also the key the client presented) are
 * scrubbed from an answer's text, tool-call arguments and refusal. Streams are scrubbed chunk by chunk: a
 * secret split across two chunks is not caught there (echoing servers send it whole; a model reciting a key
 * token by token is not what this guards against).
 */
import type { ChatCompletion, ChatCompletionChunk } from '../protocol/chat-response.js';
import { redactKnownSecrets } from './secrets.js';

export function scrubCompletion(c: ChatCompletion): ChatCompletion {
  for (const choice of c.choices ?? []) {
    const m = choice.message;
    if (!m) continue;
    if (typeof m.content === 'string') m.content = redactKnownSecrets(m.content);
    if (typeof m.refusal === 'string') m.refusal = redactKnownSecrets(m.refusal);
    for (const call of m.tool_calls ?? []) {
      if (typeof call.function?.arguments === 'string') call.function.arguments = redactKnownSecrets(call.function.arguments);
    }
  }
  return c;
}

export function scrubChunk(chunk: ChatCompletionChunk): ChatCompletionChunk {
  for (const choice of chunk.choices ?? []) {
    const d = choice.delta;
    if (!d) continue;
    if (typeof d.content === 'string' && d.content) d.content = redactKnownSecrets(d.content);
    if (typeof d.refusal === 'string' && d.refusal) d.refusal = redactKnownSecrets(d.refusal);
    for (const call of d.tool_calls ?? []) {
      if (call.function?.arguments) call.function.arguments = redactKnownSecrets(call.function.arguments);
    }
  }
  return chunk;
}

/** The same stream with every chunk scrubbed (an iterator over the upstream's, no extra buffering). */
export function scrubStream(source: AsyncIterable<ChatCompletionChunk>): AsyncIterable<ChatCompletionChunk> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        next: async () => {
          const r = await it.next();
          if (!r.done) scrubChunk(r.value);
          return r;
        },
        return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
        throw: async (err?: unknown) => {
          if (it.throw) return it.throw(err);
          throw err;
        },
      };
    },
  };
}
