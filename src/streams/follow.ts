/**
 * Follows a request's stream log and writes it to one client as it grows: each log entry becomes the
 * protocol's events with the entry's id as the SSE `id:`, so the client can resume after any of them. A
 * resumed reader renders the log from its start and writes only what comes after the client's last id: the
 * encoders are stateful (Anthropic's block indexes), and so the continuation is exactly what the first
 * connection would have sent.
 *
 * A new answer in the log (another activity attempt: the worker was lost, the call failed and was retried or
 * switched, or the catch-all answered) after output began is announced in-band (events.ts) and then sent from
 * its start: never spliced onto the abandoned one.
 */
import { chunksOf } from '../protocol/chunks-of.js';
import type { ChatCompletionChunk, Usage } from '../protocol/chat-response.js';
import { failureEvent, restartEvent } from './events.js';
import { compareIds, isTerminal, START, type LoggedEntry, type StreamEntry, type StreamLog, type StreamProtocol } from './stream-log.js';

/** A protocol's stateful stream encoder (the pipeline's dialects provide them). */
export interface ChunkEncoder {
  chunk(chunk: ChatCompletionChunk): string;
  end(): string;
}

/** Turns log entries into the client's wire text, one entry at a time. */
export class StreamRenderer {
  private encoder: ChunkEncoder;
  private current: string | undefined;
  private delivered = 0;
  private answers = 0;
  private lastChunk: ChatCompletionChunk | undefined;
  private readonly failedKinds = new Map<string, string>();
  usage: Usage | undefined;
  restarts = 0;

  constructor(
    private readonly protocol: StreamProtocol,
    private readonly newEncoder: () => ChunkEncoder,
  ) {
    this.encoder = newEncoder();
  }

  private restart(reason: string): string {
    const notice = restartEvent(this.protocol, { reason, discarded_chunks: this.delivered, answer: this.answers + 1 }, this.lastChunk);
    this.restarts++;
    this.encoder = this.newEncoder();
    this.delivered = 0;
    this.usage = undefined;
    return notice;
  }

  private chunk(c: ChatCompletionChunk): string {
    this.lastChunk = c;
    if (c.usage) this.usage = c.usage;
    const text = this.encoder.chunk(structuredClone(c));
    if (text) this.delivered++;
    return text;
  }

  render(entry: StreamEntry): string {
    switch (entry.t) {
      case 'chunk': {
        let out = '';
        if (entry.a !== this.current) {
          if (this.delivered > 0) out += this.restart((this.current && this.failedKinds.get(this.current)) ?? 'worker_lost');
          this.current = entry.a;
          this.answers++;
        }
        return out + this.chunk(entry.c);
      }
      case 'attempt_end':
        if (!entry.ok) this.failedKinds.set(entry.a, entry.kind ?? 'server');
        return '';
      case 'done': {
        let out = '';
        // the streamed chunks are the answer unless none were, or the catch-all answered instead
        if (this.delivered === 0 || entry.catchAll) {
          if (this.delivered > 0) out += this.restart('catch_all');
          this.answers++;
          for (const c of chunksOf(entry.completion)) out += this.chunk(c);
        }
        return out + this.encoder.end();
      }
      case 'error':
        return failureEvent(this.protocol, entry);
      default:
        return '';
    }
  }

  /** Nothing of an answer has reached the client yet (an error now can still be an HTTP status). */
  get pristine(): boolean {
    return this.answers === 0 && this.delivered === 0;
  }
}

/** The SSE `id:` goes on the last event of an entry's text: a client that saw it saw the whole entry. */
export function withId(text: string, id: string): string {
  return `${text.slice(0, -1)}id: ${id}\n\n`;
}

export interface FollowOptions {
  protocol: StreamProtocol;
  newEncoder: () => ChunkEncoder;
  /** The client's Last-Event-ID: entries up to it are rendered but not written. */
  after?: string;
  /**
   * The request's end as a log entry: the workflow's answer or error (`shared`: appended to the log for every
   * reader, unless one is there already), or this reader's own end (e.g. its Temporal connection failed).
   */
  ending: Promise<{ entry: StreamEntry; shared: boolean }>;
  signal: AbortSignal;
  /** The first call commits the response (200, event stream). */
  write(text: string): Promise<void>;
  gone(): boolean;
  /** How long one read waits for the log to grow before looking at the request's end again. */
  blockMs?: number;
}

export interface FollowResult {
  /** The request failed before any of its answer was written: the caller can still answer with a status. */
  failedFirst?: Extract<StreamEntry, { t: 'error' }>;
  ended: boolean;
  entries: number;
  restarts: number;
  usage?: Usage;
}

export async function followStream(log: StreamLog, key: string, o: FollowOptions): Promise<FollowResult> {
  const renderer = new StreamRenderer(o.protocol, o.newEncoder);
  let cursor = START;
  let entries = 0;
  let ended = false;
  // the request's end, held here too in case the log cannot take it (the client still gets its end)
  let unlogged: StreamEntry | undefined;
  void o.ending.then(
    ({ entry, shared }) => {
      if (ended) return;
      if (!shared) unlogged = entry;
      else void log.append(key, [entry]).catch(() => (unlogged = entry));
    },
    () => undefined,
  );
  const emit = async (id: string | undefined, entry: StreamEntry): Promise<FollowResult | undefined> => {
    if (entry.t === 'error' && renderer.pristine && !o.after) return { failedFirst: entry, ended: true, entries, restarts: renderer.restarts };
    const text = renderer.render(entry);
    const resumed = o.after !== undefined && id !== undefined && compareIds(id, o.after) <= 0;
    if (text && !resumed) await o.write(id ? withId(text, id) : text);
    entries++;
    return undefined;
  };
  while (!ended && !o.signal.aborted && !o.gone()) {
    let batch: LoggedEntry[];
    try {
      batch = await log.read(key, cursor, o.blockMs ?? 2_000, o.signal);
    } catch {
      // the log is unreachable: this reader ends with the request's own end, when it comes
      batch = [];
      unlogged ??= await o.ending.then((e) => e.entry, () => undefined);
      if (!unlogged) break;
    }
    for (const { id, entry } of batch) {
      cursor = id;
      const early = await emit(id, entry);
      if (early) return early;
      if (isTerminal(entry)) {
        ended = true;
        break;
      }
    }
    if (!ended && batch.length === 0 && unlogged) {
      const early = await emit(undefined, unlogged);
      if (early) return early;
      ended = true;
    }
  }
  return { ended, entries, restarts: renderer.restarts, usage: renderer.usage };
}
