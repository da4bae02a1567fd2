/**
 * The provider-call activity's side of the stream log: chunks are appended as the provider sends them, in
 * order, batched while an append is in flight (so a fast provider costs one round trip per burst, not per
 * token). Best effort: a log that fails stops publishing and the call goes on (the client then gets the
 * answer whole at the end, from the workflow's result).
 */
import type { ChatCompletionChunk } from '../protocol/chat-response.js';
import type { StreamEntry, StreamLog } from './stream-log.js';

export class StreamPublisher {
  private buffer: StreamEntry[] = [];
  private flushing: Promise<void> | undefined;
  private failed = false;
  /** Chunks published by this attempt. */
  chunks = 0;

  private constructor(
    private readonly log: StreamLog,
    private readonly key: string,
    /** Names this activity attempt in every entry, so readers tell a re-run from its predecessor. */
    readonly attempt: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** A publisher when the request's gateway opened a log for it (a live stream was asked for), else none. */
  static async open(log: StreamLog | undefined, key: string | undefined, attempt: string, onError: (err: unknown) => void): Promise<StreamPublisher | undefined> {
    if (!log || !key) return undefined;
    try {
      return (await log.exists(key)) ? new StreamPublisher(log, key, attempt, onError) : undefined;
    } catch (err) {
      onError(err);
      return undefined;
    }
  }

  chunk(c: ChatCompletionChunk): void {
    this.chunks++;
    this.push({ t: 'chunk', a: this.attempt, c });
  }

  /** The attempt's last entry; resolves once everything it published is in the log. */
  async end(ok: boolean, kind?: string): Promise<void> {
    this.push({ t: 'attempt_end', a: this.attempt, ok, chunks: this.chunks, ...(kind && { kind }) });
    while (this.flushing) await this.flushing;
  }

  private push(entry: StreamEntry): void {
    if (this.failed) return;
    this.buffer.push(entry);
    this.flushing ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.buffer.length > 0 && !this.failed) {
        const batch = this.buffer;
        this.buffer = [];
        await this.log.append(this.key, batch);
      }
    } catch (err) {
      this.failed = true;
      this.buffer = [];
      this.onError(err);
    } finally {
      this.flushing = undefined;
    }
  }
}
