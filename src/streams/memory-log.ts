/**
 * The in-process stream log (the embedded default: gateway and worker in one process). Same bounds as the
 * Redis log: at most `maxEvents` entries per stream (oldest dropped), and a stream is forgotten
 * `retentionSeconds` after its last write.
 */
import { compareIds, type LoggedEntry, type StreamEntry, type StreamLog, type StreamLogConfig } from './stream-log.js';

interface Stream {
  entries: LoggedEntry[];
  seq: number;
  expiresAt: number;
  waiters: Set<() => void>;
}

export class MemoryStreamLog implements StreamLog {
  private readonly streams = new Map<string, Stream>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly config: Pick<StreamLogConfig, 'retentionSeconds' | 'maxEvents'>) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, config.retentionSeconds * 1000)).unref();
  }

  private sweep(now = Date.now()): void {
    for (const [key, s] of this.streams) if (s.expiresAt <= now && s.waiters.size === 0) this.streams.delete(key);
  }

  private live(key: string): Stream | undefined {
    const s = this.streams.get(key);
    if (s && s.expiresAt <= Date.now() && s.waiters.size === 0) {
      this.streams.delete(key);
      return undefined;
    }
    return s;
  }

  async append(key: string, entries: StreamEntry[]): Promise<void> {
    let s = this.live(key);
    if (!s) this.streams.set(key, (s = { entries: [], seq: 0, expiresAt: 0, waiters: new Set() }));
    for (const entry of entries) s.entries.push({ id: `${++s.seq}-0`, entry });
    if (s.entries.length > this.config.maxEvents) s.entries.splice(0, s.entries.length - this.config.maxEvents);
    s.expiresAt = Date.now() + this.config.retentionSeconds * 1000;
    for (const wake of [...s.waiters]) wake();
  }

  async read(key: string, after: string, blockMs: number, signal?: AbortSignal): Promise<LoggedEntry[]> {
    const newer = () => (this.live(key)?.entries ?? []).filter((e) => compareIds(e.id, after) > 0);
    const ready = newer();
    if (ready.length > 0 || blockMs <= 0 || signal?.aborted) return ready;
    let s = this.live(key);
    if (!s) this.streams.set(key, (s = { entries: [], seq: 0, expiresAt: Date.now() + this.config.retentionSeconds * 1000, waiters: new Set() }));
    const stream = s;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        stream.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, blockMs);
      signal?.addEventListener('abort', done);
      stream.waiters.add(done);
    });
    return newer();
  }

  async exists(key: string): Promise<boolean> {
    return (this.live(key)?.entries.length ?? 0) > 0;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const s of this.streams.values()) for (const wake of [...s.waiters]) wake();
    this.streams.clear();
  }
}
