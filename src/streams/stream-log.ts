/**
 * The stream log: what a durable stream's provider calls produced, in order, keyed by request id, so any
 * gateway instance can forward it live and a client can resume it after its connection (or its gateway) died.
 * The worker's provider-call activity appends chunks as they arrive; a gateway following the stream appends its
 * end (the workflow's answer or error), so a late reader gets the whole stream. In process for the embedded
 * default (role `all`), Redis Streams when gateways and workers are separate processes.
 *
 * Entry ids compare like Redis stream ids (`<ms>-<seq>`); they are the SSE event ids the client resumes from.
 * The log holds answer text outside Temporal (and so outside the payload codec): its retention is bounded.
 */
import type { ChatCompletion, ChatCompletionChunk } from '../protocol/chat-response.js';

/** How the client asked, so a reader on another instance spells the stream the same way. */
export interface StreamProtocol {
  protocol: 'openai' | 'anthropic';
  /** Anthropic's messages carry the client's model name. */
  model?: string;
  /** OpenAI: `stream_options.include_usage`. */
  includeUsage?: boolean;
}

export type StreamEntry =
  /** Written by the gateway before the workflow starts: the request wants a live stream. */
  | ({ t: 'open' } & StreamProtocol)
  /** One provider chunk; `a` names the activity attempt that produced it (a re-run has a new `a`). */
  | { t: 'chunk'; a: string; c: ChatCompletionChunk }
  /** The attempt `a` ended: answered (`ok`) or failed with `kind` after `chunks` chunks. */
  | { t: 'attempt_end'; a: string; ok: boolean; chunks: number; kind?: string }
  /** The request's answer (the workflow's result), appended by whichever gateway saw it end. */
  | { t: 'done'; completion: ChatCompletion; catchAll?: boolean }
  /** The request failed or was cancelled. */
  | { t: 'error'; status: number; type: string; code: string; message: string };

export interface LoggedEntry {
  id: string;
  entry: StreamEntry;
}

export interface StreamLog {
  append(key: string, entries: StreamEntry[]): Promise<void>;
  /**
   * Entries after `after` (`0-0`: from the start), waiting up to `blockMs` for one to arrive; [] when none did
   * (or `signal` aborted).
   */
  read(key: string, after: string, blockMs: number, signal?: AbortSignal): Promise<LoggedEntry[]>;
  /** A log was opened for `key` and has not expired: the request wants its chunks published. */
  exists(key: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface StreamLogConfig {
  kind: 'memory' | 'redis';
  url?: string;
  prefix?: string;
  retentionSeconds: number;
  maxEvents: number;
}

export const START = '0-0';
const ID = /^(\d{1,16})-(\d{1,16})$/;

export function isEntryId(s: string): boolean {
  return ID.test(s);
}

/** Orders two entry ids (negative: a before b). */
export function compareIds(a: string, b: string): number {
  const [, am, as] = ID.exec(a) ?? [, '0', '0'];
  const [, bm, bs] = ID.exec(b) ?? [, '0', '0'];
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

export const isTerminal = (e: StreamEntry) => e.t === 'done' || e.t === 'error';

export async function createStreamLog(config: StreamLogConfig): Promise<StreamLog> {
  if (config.kind === 'memory') {
    const { MemoryStreamLog } = await import('./memory-log.js');
    return new MemoryStreamLog(config);
  }
  if (!config.url) throw new Error('durable.streamLog.kind redis needs durable.streamLog.url');
  // Loaded only when asked for, as the limit store does.
  const { RedisStreamLog } = await import('./redis-log.js');
  return RedisStreamLog.connect(config.url, config);
}
