/**
 * The stream events the gateway adds to a durable stream, in each protocol's shape, chosen so the official SDKs
 * pass them through instead of failing:
 * - the restart notice: the openai SDK yields every `data:` event that is not `[DONE]` as a chunk (whatever its
 *   `event:` name), so ours is a chunk with no choices (client loops reading `choices[0]?.delta` skip it) and a
 *   `gateway.restart` extension field; the anthropic SDK yields named events as objects of that `type`, which
 *   clients switching on `type` ignore.
 * - the failure of a request whose stream had begun: OpenAI's `data: {"error": …}` (the SDK raises APIError),
 *   Anthropic's `event: error` (the SDK raises it too).
 * Pure.
 */
import type { ChatCompletionChunk } from '../protocol/chat-response.js';
import { sseData, sseNamed } from '../protocol/sse.js';
import type { StreamEntry, StreamProtocol } from './stream-log.js';

export const RESTART_EVENT = 'gateway.restart';

export interface RestartNotice {
  /** Why the answer starts again: `worker_lost`, the failed call's error kind, or `catch_all`. */
  reason: string;
  /** Chunks of the abandoned answer the client received and should discard. */
  discarded_chunks: number;
  /** The how-manieth answer this is (2 after the first restart). */
  answer: number;
}

export function restartEvent(p: StreamProtocol, notice: RestartNotice, last?: ChatCompletionChunk): string {
  if (p.protocol === 'anthropic') return sseNamed(RESTART_EVENT, { type: RESTART_EVENT, ...notice });
  const chunk = { id: last?.id ?? 'chatcmpl-restart', object: 'chat.completion.chunk', created: last?.created ?? Math.floor(Date.now() / 1000), model: last?.model ?? '', choices: [], [RESTART_EVENT]: notice };
  return `event: ${RESTART_EVENT}\n${sseData(chunk)}`;
}

type Failure = Extract<StreamEntry, { t: 'error' }>;

function anthropicErrorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 404) return 'not_found_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status >= 500) return status === 529 || status === 503 ? 'overloaded_error' : 'api_error';
  return 'invalid_request_error';
}

export function failureEvent(p: StreamProtocol, f: Failure): string {
  if (p.protocol === 'anthropic') return sseNamed('error', { type: 'error', error: { type: anthropicErrorType(f.status), message: f.message } });
  return sseData({ error: { message: f.message, type: f.type, param: null, code: f.code } });
}
