/**
 * Where claim-checked payloads live: a directory, on this machine (`local`, inside the data dir) or on a volume
 * every gateway and worker mounts (`shared`, e.g. NFS or EFS). A blob is named by the sha256 of its bytes and
 * sharded by its first two hex digits:
 *
 *   <dir>/<ab>/<ab…64 hex>
 *
 * Writes go to a temporary name and are renamed into place, so a reader (or a process killed mid-write) never
 * sees half a blob, and two instances writing the same blob leave one. Reading a blob refreshes its mtime: the
 * sweeper deletes by age since last use, so the blobs of a workflow that is still replayed stay.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const BLOB_NAME = /^[0-9a-f]{64}$/;
const TMP_MARK = '.tmp-';

export class BlobNotFound extends Error {
  override readonly name = 'BlobNotFound';
}

export interface ClaimCheckStore {
  /** Where the store is, for logs. */
  readonly where: string;
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Deletes blobs not written or read for `maxAgeMs`; returns how many. */
  sweep(maxAgeMs: number, now?: number): Promise<number>;
}

export class DirectoryBlobStore implements ClaimCheckStore {
  readonly root: string;
  private readonly made = new Set<string>();

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  get where(): string {
    return this.root;
  }

  pathOf(key: string): string {
    if (!BLOB_NAME.test(key)) throw new Error(`claim-check key '${key.slice(0, 80)}' is not a sha256 in hex`);
    return join(this.root, key.slice(0, 2), key);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    const dir = join(this.root, key.slice(0, 2));
    if (!this.made.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.made.add(dir);
    }
    const tmp = `${path}${TMP_MARK}${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }

  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    try {
      const bytes = await readFile(path);
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return bytes;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFound(`claim-check blob ${key} is not in ${this.root} (swept after its retention, or this process does not see the store the writer used)`);
      throw err;
    }
  }

  async sweep(maxAgeMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    let shards: string[];
    try {
      shards = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    for (const shard of shards) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const dir = join(this.root, shard);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!BLOB_NAME.test(name) && !name.includes(TMP_MARK)) continue;
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (!info || now - info.mtimeMs < maxAgeMs) continue;
        // another instance sweeping the same shared volume may have removed it first
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
