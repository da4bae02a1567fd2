/**
 * The zero-setup vector store: everything in memory, every change appended to a log under the data
 * directory, replayed at start so a restart keeps the cache. One process owns a directory; gateways that
 * share a cache across instances use Qdrant.
 */
import { checkVector, DimensionMismatchError, type SearchHit, type SearchQuery, type StoredEntry, type VectorStore } from '../vector-store.js';
import { Signer } from '../signature.js';
import { AppendLog, decodeVector, encodeVector, type LogRecord, type ReplayStats } from './append-log.js';
import { Partition } from './partition.js';

export interface EmbeddedStoreOptions {
  dir: string;
  dimension: number;
  /** Beyond this many entries in all (memory stays bounded), the largest tenant's oldest go. */
  maxEntries?: number;
  /** Beyond this many entries of one tenant, that tenant's oldest go; other tenants are untouched. */
  maxEntriesPerTenant?: number;
}

type Meta<P> = Omit<StoredEntry<P>, 'vector'>;

export class EmbeddedVectorStore<P = unknown> implements VectorStore<P> {
  readonly dimension: number;
  private readonly log: AppendLog;
  private readonly signer: Signer;
  private readonly maxEntries: number;
  private readonly maxPerTenant: number;
  /** Insertion order is age order: the first entries are the oldest. */
  private readonly entries = new Map<string, Meta<P>>();
  /** Each tenant's ids, oldest first: eviction happens within a tenant, so one tenant never pushes out another's. */
  private readonly byTenant = new Map<string, Set<string>>();
  private readonly partitions = new Map<string, Partition>();
  /** Records in the file that no longer describe a live entry; the file is rewritten when they dominate. */
  private deadRecords = 0;
  replay: ReplayStats = { records: 0, skipped: 0, truncatedBytes: 0 };

  private constructor(opts: EmbeddedStoreOptions) {
    this.dimension = opts.dimension;
    this.maxEntries = opts.maxEntries ?? 200_000;
    this.maxPerTenant = opts.maxEntriesPerTenant ?? 100_000;
    this.log = new AppendLog(opts.dir);
    this.signer = new Signer(opts.dimension);
  }

  static async open<P = unknown>(opts: EmbeddedStoreOptions): Promise<EmbeddedVectorStore<P>> {
    const store = new EmbeddedVectorStore<P>(opts);
    let header: number | undefined;
    store.replay = await store.log.open((r) => {
      if (r.op === 'header') header = r.dimension;
      else store.apply(r);
    });
    if (header !== undefined && header !== opts.dimension) {
      await store.log.close();
      throw new DimensionMismatchError(`the embedded cache in ${opts.dir}`, header, opts.dimension);
    }
    if (header === undefined) await store.log.append({ op: 'header', format: 1, dimension: opts.dimension });
    // bounds lowered since the file was written apply from the start
    const evicted = store.evictBeyondBounds(store.byTenant.keys());
    if (evicted.length > 0) await store.log.append(...evicted);
    return store;
  }

  get size(): number {
    return this.entries.size;
  }

  async put(entry: StoredEntry<P>): Promise<void> {
    checkVector('the embedded cache', this.dimension, entry.vector);
    const record: LogRecord = { op: 'put', id: entry.id, p: entry.partition, t: entry.tenant, c: entry.createdAt, e: entry.expiresAt, v: encodeVector(entry.vector), d: entry.payload };
    this.apply(record, entry.vector);
    await this.log.append(record, ...this.evictBeyondBounds([entry.tenant]));
  }

  /** Entries of one tenant (tests, diagnostics). */
  sizeOf(tenant: string): number {
    return this.byTenant.get(tenant)?.size ?? 0;
  }

  /**
   * Drops the oldest entries of each named tenant beyond its quota, then, while the store holds more than
   * `maxEntries` in all, the oldest of whichever tenant holds the most: a tenant within its share of the
   * store is never evicted by another's writes.
   */
  private evictBeyondBounds(tenants: Iterable<string>): LogRecord[] {
    const evicted: LogRecord[] = [];
    const drop = (ids: Set<string>, excess: number) => {
      for (const id of ids) {
        if (excess-- <= 0) break;
        this.remove(id);
        evicted.push({ op: 'del', id });
      }
    };
    for (const tenant of [...tenants]) {
      const ids = this.byTenant.get(tenant);
      if (ids && ids.size > this.maxPerTenant) drop(ids, ids.size - this.maxPerTenant);
    }
    while (this.entries.size > this.maxEntries) {
      let largest: Set<string> | undefined;
      for (const ids of this.byTenant.values()) if (!largest || ids.size > largest.size) largest = ids;
      drop(largest!, 1);
    }
    return evicted;
  }

  async get(id: string, expiresAfter: number): Promise<Meta<P> | undefined> {
    const e = this.entries.get(id);
    return e && e.expiresAt > expiresAfter ? e : undefined;
  }

  async search(q: SearchQuery): Promise<SearchHit<P>[]> {
    checkVector('the embedded cache', this.dimension, q.vector);
    const part = this.partitions.get(q.partition);
    if (!part) return [];
    // A partition's entries are one tenant's (its hash includes the tenant), so filtering after the limit loses
    // nothing. Records from files written before the tenant was recorded have '': the partition alone decides.
    return part
      .search(q.vector, q.minScore, q.expiresAfter, q.limit ?? 1, q.exhaustive ?? false)
      .map((s) => ({ entry: this.entries.get(s.id)!, score: s.score }))
      .filter((h) => h.entry.tenant === q.tenant || h.entry.tenant === '');
  }

  async delete(id: string): Promise<void> {
    if (!this.entries.has(id)) return;
    this.remove(id);
    await this.log.append({ op: 'del', id });
  }

  async purgeExpired(before: number): Promise<number> {
    const gone: LogRecord[] = [];
    for (const [id, e] of this.entries) {
      if (e.expiresAt <= before) {
        this.remove(id);
        gone.push({ op: 'del', id });
      }
    }
    if (this.deadRecords > 1_000 && this.deadRecords > this.entries.size) await this.compact();
    else if (gone.length > 0) await this.log.append(...gone);
    return gone.length;
  }

  /** Rewrites the file with only the live entries. */
  async compact(): Promise<void> {
    const dimension = this.dimension;
    const entries = this.entries;
    const partitions = this.partitions;
    await this.log.rewrite(function* () {
      yield { op: 'header', format: 1, dimension };
      for (const e of entries.values()) {
        yield { op: 'put', id: e.id, p: e.partition, t: e.tenant, c: e.createdAt, e: e.expiresAt, v: encodeVector(partitions.get(e.partition)!.vector(e.id)!), d: e.payload };
      }
    });
    this.deadRecords = 0;
  }

  /** In-process: it serves as long as it is open. */
  async ping(): Promise<void> {}

  /** Waits until every change so far is in the file (tests and shutdown). */
  flush(): Promise<void> {
    return this.log.flush();
  }

  async close(): Promise<void> {
    await this.log.close();
  }

  private apply(r: LogRecord, vector?: Float32Array): void {
    if (r.op === 'del') {
      if (this.entries.has(r.id)) this.remove(r.id);
      this.deadRecords++;
      return;
    }
    if (r.op !== 'put') return;
    const v = vector ?? decodeVector(r.v);
    // A record from another dimension cannot be searched; the header check reports the directory as a whole.
    if (v.length !== this.dimension) return;
    const previous = this.entries.get(r.id);
    const tenant = r.t ?? '';
    if (previous) {
      this.deadRecords++;
      if (previous.partition !== r.p || previous.tenant !== tenant) this.remove(r.id);
      else {
        // re-inserted below, so it counts as the newest
        this.entries.delete(r.id);
        this.byTenant.get(tenant)!.delete(r.id);
      }
    }
    this.entries.set(r.id, { id: r.id, partition: r.p, tenant, createdAt: r.c, expiresAt: r.e, payload: r.d as P });
    let own = this.byTenant.get(tenant);
    if (!own) this.byTenant.set(tenant, (own = new Set()));
    own.add(r.id);
    let part = this.partitions.get(r.p);
    if (!part) this.partitions.set(r.p, (part = new Partition(this.dimension, this.signer)));
    part.upsert(r.id, v, r.e);
  }

  private remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    const own = this.byTenant.get(e.tenant);
    own?.delete(id);
    if (own && own.size === 0) this.byTenant.delete(e.tenant);
    const part = this.partitions.get(e.partition);
    part?.remove(id);
    if (part && part.size === 0) this.partitions.delete(e.partition);
    this.deadRecords++;
  }
}
