/**
 * The claim-check store of the Batch API, on disk under `batches.dir`:
 *
 *   <dir>/t_<tenant>/files/<file-id>.json         file metadata
 *   <dir>/t_<tenant>/files/<file-id>.jsonl        file content
 *   <dir>/t_<tenant>/batches/<batch-id>.json      batch record
 *   <dir>/t_<tenant>/batches/<batch-id>/index.bin byte range [start, end) of every request line (float64 pairs)
 *   <dir>/t_<tenant>/batches/<batch-id>/results/<n div 1000>/<n>.json   one line's answer, by line index
 *
 * Every path is under the tenant's own directory, so a lookup can only find the caller's own files and batches.
 * Writes go to a temporary name and are renamed into place: a reader (or a worker killed mid-write) never sees
 * half a record, and writing a line's result twice leaves exactly one.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isBatchId, isFileId } from './ids.js';
import type { BatchRecord, FileRecord, LineResult } from './types.js';

const SHARD = 1000;
const PAIR_BYTES = 16;

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export class FileStore {
  readonly root: string;
  /** Directories known to exist, so hot paths (one result per line) skip the mkdir call. */
  private readonly made = new Set<string>();

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  // ------------------------------------------------------------------------------------------- layout

  /** Tenant names are `[\w.-]+`; the prefix keeps `.` and `..` from meaning anything to the file system. */
  private tenantDir(tenant: string): string {
    return join(this.root, `t_${tenant}`);
  }

  private filesDir(tenant: string): string {
    return join(this.tenantDir(tenant), 'files');
  }

  private batchesDir(tenant: string): string {
    return join(this.tenantDir(tenant), 'batches');
  }

  private batchDir(tenant: string, batchId: string): string {
    return join(this.batchesDir(tenant), batchId);
  }

  contentPath(tenant: string, fileId: string): string {
    return join(this.filesDir(tenant), `${fileId}.jsonl`);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** Writes `data` to `path` atomically (temporary name in the same directory, then rename). */
  private async writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
    const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, data);
    await rename(tmp, path);
  }

  // ------------------------------------------------------------------------------------------- files

  /** A fresh path in the tenant's file directory for content being written; `commitFile` moves it in place. */
  async tempPath(tenant: string): Promise<string> {
    const dir = this.filesDir(tenant);
    await this.ensureDir(dir);
    return join(dir, `.upload-${randomBytes(8).toString('hex')}`);
  }

  async commitFile(tempPath: string, record: FileRecord): Promise<FileRecord> {
    await rename(tempPath, this.contentPath(record.tenant, record.id));
    await this.writeAtomic(join(this.filesDir(record.tenant), `${record.id}.json`), JSON.stringify(record));
    return record;
  }

  async discard(tempPath: string): Promise<void> {
    await rm(tempPath, { force: true });
  }

  async getFile(tenant: string, fileId: string): Promise<FileRecord | undefined> {
    if (!isFileId(fileId)) return undefined;
    return readJson<FileRecord>(join(this.filesDir(tenant), `${fileId}.json`));
  }

  /** Newest first (ids are time-ordered; output files, named by hash, by their creation second). */
  listFiles(tenant: string): Promise<FileRecord[]> {
    return listRecords<FileRecord>(this.filesDir(tenant), isFileId);
  }

  /** Whether the file's content is still there (a batch's input may have been deleted meanwhile). */
  async hasInput(tenant: string, fileId: string): Promise<boolean> {
    try {
      return (await stat(this.contentPath(tenant, fileId))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  openContent(tenant: string, fileId: string): ReadStream {
    return createReadStream(this.contentPath(tenant, fileId));
  }

  async deleteFile(tenant: string, fileId: string): Promise<boolean> {
    if (!isFileId(fileId)) return false;
    const meta = join(this.filesDir(tenant), `${fileId}.json`);
    try {
      await unlink(meta);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    await rm(this.contentPath(tenant, fileId), { force: true });
    return true;
  }

  // ------------------------------------------------------------------------------------------- batches

  async putBatch(record: BatchRecord): Promise<void> {
    const dir = this.batchesDir(record.tenant);
    await this.ensureDir(dir);
    await this.writeAtomic(join(dir, `${record.id}.json`), JSON.stringify(record));
  }

  async getBatch(tenant: string, batchId: string): Promise<BatchRecord | undefined> {
    if (!isBatchId(batchId)) return undefined;
    return readJson<BatchRecord>(join(this.batchesDir(tenant), `${batchId}.json`));
  }

  /** Newest first. */
  listBatches(tenant: string): Promise<BatchRecord[]> {
    return listRecords<BatchRecord>(this.batchesDir(tenant), isBatchId);
  }

  // ------------------------------------------------------------------------------------------- line index

  /** `ranges` holds [start, end) byte offsets of each request line, in order. */
  async putIndex(tenant: string, batchId: string, ranges: Float64Array): Promise<void> {
    const dir = this.batchDir(tenant, batchId);
    await this.ensureDir(dir);
    await this.writeAtomic(join(dir, 'index.bin'), new Uint8Array(ranges.buffer, ranges.byteOffset, ranges.byteLength));
  }

  /** The byte ranges of request lines [from, to). */
  async readIndex(tenant: string, batchId: string, from: number, to: number): Promise<Float64Array> {
    const handle = await open(join(this.batchDir(tenant, batchId), 'index.bin'), 'r');
    try {
      const out = new Float64Array((to - from) * 2);
      const bytes = new Uint8Array(out.buffer);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, from * PAIR_BYTES);
      if (bytesRead !== bytes.length) throw new Error(`index of ${batchId} is shorter than line ${to}`);
      return out;
    } finally {
      await handle.close();
    }
  }

  /** The raw request lines [from, to) of a batch's input file, in one read of the span they cover. */
  async readLines(tenant: string, batchId: string, inputFileId: string, from: number, to: number): Promise<string[]> {
    if (to <= from) return [];
    const ranges = await this.readIndex(tenant, batchId, from, to);
    const base = ranges[0]!;
    const span = ranges[ranges.length - 1]! - base;
    const handle = await open(this.contentPath(tenant, inputFileId), 'r');
    try {
      const buf = Buffer.allocUnsafe(span);
      const { bytesRead } = await handle.read(buf, 0, span, base);
      if (bytesRead !== span) throw new Error(`input file ${inputFileId} is shorter than its index`);
      const lines: string[] = [];
      for (let i = 0; i < ranges.length; i += 2) lines.push(buf.toString('utf8', ranges[i]! - base, ranges[i + 1]! - base));
      return lines;
    } finally {
      await handle.close();
    }
  }

  // ------------------------------------------------------------------------------------------- results

  private resultPath(tenant: string, batchId: string, index: number): { dir: string; path: string } {
    const dir = join(this.batchDir(tenant, batchId), 'results', String(Math.floor(index / SHARD)));
    return { dir, path: join(dir, `${index}.json`) };
  }

  /** Idempotent: a line answered twice (a retried chunk) still has exactly one result. */
  async putResult(tenant: string, batchId: string, index: number, result: LineResult): Promise<void> {
    const { dir, path } = this.resultPath(tenant, batchId, index);
    await this.ensureDir(dir);
    await this.writeAtomic(path, JSON.stringify(result));
  }

  async getResult(tenant: string, batchId: string, index: number): Promise<LineResult | undefined> {
    return readJson<LineResult>(this.resultPath(tenant, batchId, index).path);
  }

  /** Per-line results and the index: not needed once the output files are written. */
  async dropWorkingFiles(tenant: string, batchId: string): Promise<void> {
    await rm(this.batchDir(tenant, batchId), { recursive: true, force: true });
    for (const dir of this.made) if (dir.startsWith(this.batchDir(tenant, batchId))) this.made.delete(dir);
  }
}

function newestFirst(a: { created_at: number; id: string }, b: { created_at: number; id: string }): number {
  return b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** The `<id>.json` records of a directory, newest first; a missing directory is an empty list. */
async function listRecords<T extends { created_at: number; id: string }>(dir: string, isId: (id: string) => boolean): Promise<T[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const records: Array<T | undefined> = await Promise.all(names.filter((n) => n.endsWith('.json') && isId(n.slice(0, -5))).map((n) => readJson<T>(join(dir, n))));
  return records.filter((r): r is T => r !== undefined).sort(newestFirst);
}
