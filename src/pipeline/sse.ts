/**
 * Writes a committed stream to the client. Streams commit only when the first content arrives
 * (execution/open-stream.ts); a failure after that ends the stream with the dialect's in-band error event and
 * no clean end (the OpenAI SDKs raise it as an APIError), and the request counts as failed, not answered. We
 * do not splice another deployment's answer onto a half-sent one: the client would receive text no single
 * model wrote, with no way to tell.
 */
import type { Logger } from 'pino';
import type { Attempt } from '../decision/attempt.js';
import type { OpenedStream } from '../execution/open-stream.js';
import type { ChatCompletionChunk, Usage } from '../protocol/chat-response.js';
import { isUpstreamAttributable, ProviderError } from '../providers/errors.js';
import type { StreamEncoder } from './dialect.js';
import type { Reply } from './reply.js';
import type { Trail } from './trail.js';

export interface StreamWrite {
  reply: Reply;
  trail: Trail;
  encoder: StreamEncoder;
  signal: AbortSignal;
  logger: Logger;
  /** The answering call's record, when a provider is streaming (not a replayed answer). */
  answering?: Attempt;
}

/** Writes `opened` to the client; returns the usage the stream reported, if it did. */
export async function writeSse(opened: OpenedStream, w: StreamWrite): Promise<Usage | undefined> {
  const { reply, encoder, signal } = w;
  reply.openStream();
  let usage: Usage | undefined;
  const forward = async (chunk: ChatCompletionChunk) => {
    if (chunk.usage) usage = chunk.usage;
    const text = encoder.chunk(chunk);
    if (text) await reply.write(text);
  };
  try {
    for (const chunk of opened.head) await forward(chunk);
    // Node corks a response's socket until the next tick; when the upstream sent a burst, the loop below would
    // otherwise run in microtasks and hold the first token back until the whole burst is re-encoded.
    await new Promise<void>((resolve) => process.nextTick(resolve));
    if (opened.rest) {
      for (let next = await opened.rest.next(); !next.done; next = await opened.rest.next()) {
        if (reply.gone) break;
        await forward(next.value);
      }
    }
    if (!reply.gone) reply.end(encoder.end());
    // a client that left early says nothing about the deployment; what the upstream reported is still its cost
    opened.settle?.(reply.gone && signal.aborted ? { ok: false } : { ok: true, outputTokens: usage?.completion_tokens, usage });
    return usage;
  } catch (err) {
    const failure = err instanceof ProviderError ? err : undefined;
    // only the upstream's own failure is its health's business: the client leaving, or the gateway failing
    // to relay (an encoder throwing), is no verdict
    opened.settle?.({ ok: false, kind: !signal.aborted && isUpstreamAttributable(failure) ? failure.kind : undefined });
    if (signal.aborted) return usage;
    if (failure) failure.afterOutput = true;
    const kind = failure?.kind ?? 'server';
    w.trail.interrupted = { kind };
    if (w.answering) Object.assign(w.answering, { outcome: 'error', kind, message: `stream interrupted after output began: ${failure?.message ?? String(err)}` });
    w.logger.warn({ deployment: w.answering?.deployment, kind, err: failure ? undefined : err }, 'stream failed after output was sent; ending it with an error event');
    reply.end(encoder.error(failure));
    return usage;
  } finally {
    // Closes the upstream generator (and so its socket) when the client left before the end.
    await opened.rest?.return?.(undefined).catch(() => undefined);
  }
}
