/**
 * The stream log in Redis Streams (standalone Redis >= 5 or valkey), shared by every gateway and worker: XADD
 * with an exact MAXLEN bound and an EXPIRE renewed at each write; XREAD BLOCK on a connection of the reader's
 * own (a blocked read holds its connection), so followers never delay publishers.
 */
import { Redis } from 'ioredis';
import type { LoggedEntry, StreamEntry, StreamLog, StreamLogConfig } from './stream-log.js';

export class RedisStreamLog implements StreamLog {
  private readonly readers = new Set<Redis>();
  /** Reader connections between blocking reads, reused (a follower reads once per burst of chunks). */
  private readonly idle: Redis[] = [];

  private constructor(
    private readonly redis: Redis,
    private readonly config: Pick<StreamLogConfig, 'retentionSeconds' | 'maxEvents' | 'prefix'>,
  ) {}

  /** Connects first, so a wrong URL fails at start, not on the first stream. */
  static async connect(url: string, config: Pick<StreamLogConfig, 'retentionSeconds' | 'maxEvents' | 'prefix'>): Promise<RedisStreamLog> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on('error', () => undefined); // ioredis reconnects by itself; failed commands reject where they are awaited
    await redis.connect();
    return new RedisStreamLog(redis, config);
  }

  private keyOf(key: string): string {
    return `${this.config.prefix ?? 'llmgw:'}stream:${key}`;
  }

  async append(key: string, entries: StreamEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const k = this.keyOf(key);
    const tx = this.redis.multi();
    for (const entry of entries) tx.xadd(k, 'MAXLEN', String(this.config.maxEvents), '*', 'e', JSON.stringify(entry));
    tx.expire(k, this.config.retentionSeconds);
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async read(key: string, after: string, blockMs: number, signal?: AbortSignal): Promise<LoggedEntry[]> {
    if (blockMs <= 0) return parse(await this.redis.xread('COUNT', 1000, 'STREAMS', this.keyOf(key), after));
    if (signal?.aborted) return [];
    // a blocked XREAD holds its connection: each blocking read gets one, dropped if the reader leaves
    const reader = this.idle.pop() ?? this.newReader();
    let broken = false;
    const abort = () => {
      broken = true;
      reader.disconnect();
    };
    signal?.addEventListener('abort', abort);
    try {
      return parse(await reader.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', this.keyOf(key), after));
    } catch (err) {
      broken = true;
      if (signal?.aborted) return [];
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
      if (broken || this.idle.length >= 16) {
        this.readers.delete(reader);
        reader.disconnect();
      } else this.idle.push(reader);
    }
  }

  private newReader(): Redis {
    const reader = this.redis.duplicate();
    reader.on('error', () => undefined);
    this.readers.add(reader);
    return reader;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.redis.exists(this.keyOf(key))) === 1;
  }

  async close(): Promise<void> {
    for (const r of this.readers) r.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

type XReadReply = Array<[string, Array<[string, string[]]>]> | null;

function parse(reply: XReadReply): LoggedEntry[] {
  const out: LoggedEntry[] = [];
  for (const [, items] of reply ?? []) {
    for (const [id, fields] of items) {
      const i = fields.indexOf('e');
      if (i >= 0) out.push({ id, entry: JSON.parse(fields[i + 1]!) as StreamEntry });
    }
  }
  return out;
}
