/**
 * The embedded store's file: one JSON record per line, appended as entries come and go, rewritten whole
 * (to a temporary file, then renamed over) when most of it is dead. A crash can only tear the last line; on
 * open that line is dropped and cut off the file, and a damaged line elsewhere is skipped, never fatal.
 */
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { open, rename, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface PutRecord {
  op: 'put';
  id: string;
  p: string;
  /** The tenant; absent in files written before it was recorded. */
  t?: string;
  c: number;
  e: number;
  /** The vector: little-endian float32s, base64. */
  v: string;
  d: unknown;
}
export interface DeleteRecord {
  op: 'del';
  id: string;
}
export interface HeaderRecord {
  op: 'header';
  format: 1;
  dimension: number;
}
export type LogRecord = PutRecord | DeleteRecord | HeaderRecord;

export interface ReplayStats {
  records: number;
  /** Lines that did not parse (a torn tail or damage); skipped. */
  skipped: number;
  /** Bytes cut off the end: a record a crash left half-written. */
  truncatedBytes: number;
}

export const LOG_FILE = 'entries.jsonl';

export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function decodeVector(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  // A copy: the Buffer may share a pool slab whose offset is not 4-byte aligned.
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export class AppendLog {
  private handle?: FileHandle;
  private chain: Promise<unknown> = Promise.resolve();
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, LOG_FILE);
  }

  /** Reads every record in order (calling `onRecord`), repairs a torn tail and opens the file for appending. */
  async open(onRecord: (r: LogRecord) => void): Promise<ReplayStats> {
    mkdirSync(this.dir, { recursive: true });
    const stats: ReplayStats = { records: 0, skipped: 0, truncatedBytes: 0 };
    if (existsSync(this.path)) {
      const size = (await stat(this.path)).size;
      let offset = 0;
      let goodEnd = 0;
      const lines = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
      for await (const line of lines) {
        offset += Buffer.byteLength(line) + 1;
        // The last line has no newline only if its write was cut short.
        const complete = offset <= size;
        let record: LogRecord | undefined;
        if (complete && line.length > 0) {
          try {
            record = JSON.parse(line) as LogRecord;
          } catch {
            record = undefined;
          }
        }
        if (record && typeof record === 'object' && typeof record.op === 'string') {
          onRecord(record);
          stats.records++;
          goodEnd = offset;
        } else if (line.length > 0) {
          stats.skipped++;
        } else if (complete) {
          goodEnd = offset;
        }
      }
      if (goodEnd < size) {
        stats.truncatedBytes = size - goodEnd;
        await truncate(this.path, goodEnd);
      }
    }
    this.handle = await open(this.path, 'a');
    return stats;
  }

  /** Appends records in call order; each line is one write, so a crash tears at most the last. */
  append(...records: LogRecord[]): Promise<void> {
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    return this.enqueue(async () => {
      await this.handle!.write(text);
    });
  }

  /** Replaces the file with exactly these records (crash-safe: written aside, synced, renamed over). */
  rewrite(records: () => Iterable<LogRecord>): Promise<void> {
    return this.enqueue(async () => {
      const tmp = `${this.path}.tmp`;
      const out = await open(tmp, 'w');
      try {
        let batch = '';
        for (const r of records()) {
          batch += `${JSON.stringify(r)}\n`;
          if (batch.length > 1 << 20) {
            await out.write(batch);
            batch = '';
          }
        }
        if (batch) await out.write(batch);
        await out.sync();
      } finally {
        await out.close();
      }
      await this.handle?.close();
      await rename(tmp, this.path);
      this.handle = await open(this.path, 'a');
    });
  }

  async flush(): Promise<void> {
    await this.chain;
  }

  async close(): Promise<void> {
    await this.enqueue(async () => {
      await this.handle?.sync().catch(() => undefined);
      await this.handle?.close();
      this.handle = undefined;
    });
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
