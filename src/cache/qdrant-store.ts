/**
 * The vector store on Qdrant, for gateways that run as several instances (one cache for all of them).
 *
 * Multitenancy the way Qdrant recommends it: one collection, the tenant a keyword payload index marked
 * `is_tenant` (Qdrant then keeps each tenant's points together), and HNSW built per tenant (`payload_m: 16`,
 * no global graph, `m: 0`), since every query filters by tenant. The partition (tenant + alias + context hash)
 * is finer than the tenant: it is indexed too and every search filters on both.
 * Each tenant holds at most `maxEntriesPerTenant` entries; the oldest (by createdAt) go first.
 * Expiry is a stored timestamp that every query filters by; the cache purges expired points periodically.
 *
 * Setup (collection and indexes) is idempotent and race-safe, and is redone lazily: a gateway that starts
 * while Qdrant is down, or a Qdrant that comes back with empty storage, gets its collection at the next call.
 */
import { createHash } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { checkVector, DimensionMismatchError, type SearchHit, type SearchQuery, type StoredEntry, type VectorStore } from './vector-store.js';

export type QdrantDistance = 'cosine' | 'dot' | 'euclid';

export interface QdrantStoreOptions {
  url: string;
  apiKey?: string;
  collection: string;
  dimension: number;
  distance?: QdrantDistance;
  /** Per request on the serving path (lookups, stores): a hung Qdrant costs a request this much at most. */
  timeoutMs?: number;
  /** Beyond this many entries of one tenant, its oldest are deleted. */
  maxEntriesPerTenant?: number;
}

const DISTANCE = { cosine: 'Cosine', dot: 'Dot', euclid: 'Euclid' } as const;
/** Setup may wait for index builds: it gets longer than the serving path. */
const SETUP_TIMEOUT_MS = 30_000;
/** Evictions per put are bounded so one put never turns into a long delete; the next puts continue. */
const MAX_EVICTIONS_PER_PUT = 1_000;

interface PointPayload {
  key: string;
  partition: string;
  tenant: string;
  createdAt: number;
  expiresAt: number;
  payload: unknown;
}

/** Qdrant ids are integers or UUIDs: a store id maps to a UUID by hash (the id itself rides in the payload). */
export function pointId(id: string): string {
  const h = createHash('sha256').update(id).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Most client calls throw an ApiError with `status`; some report it only in the message ("Unexpected Response: 404 …"). */
function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number') return status;
  const m = /^Unexpected Response: (\d{3})/.exec((err as Error | undefined)?.message ?? '');
  return m ? Number(m[1]) : undefined;
}

/** A mismatch between the collection and the config: retrying cannot fix it, so it fails the start. */
export class QdrantConfigMismatchError extends Error {
  override name = 'QdrantConfigMismatchError';
}

export class QdrantVectorStore<P = unknown> implements VectorStore<P> {
  readonly dimension: number;
  private readonly distance: QdrantDistance;
  private readonly name: string;
  private readonly maxPerTenant: number;
  private setup?: Promise<void>;

  private constructor(
    private readonly client: QdrantClient,
    private readonly admin: QdrantClient,
    private readonly opts: QdrantStoreOptions,
  ) {
    this.dimension = opts.dimension;
    this.distance = opts.distance ?? 'cosine';
    this.name = `Qdrant collection '${opts.collection}'`;
    this.maxPerTenant = opts.maxEntriesPerTenant ?? 100_000;
  }

  /**
   * Connects and sets the collection up. A collection that contradicts the config (dimension, distance) fails
   * here; an unreachable Qdrant does not (the store then reports `setupError` and sets up at its next call).
   */
  static async open<P = unknown>(opts: QdrantStoreOptions): Promise<QdrantVectorStore<P>> {
    const params = { url: opts.url, apiKey: opts.apiKey, checkCompatibility: false };
    const client = new QdrantClient({ ...params, timeout: opts.timeoutMs ?? 1_000 });
    const admin = new QdrantClient({ ...params, timeout: Math.max(opts.timeoutMs ?? 0, SETUP_TIMEOUT_MS) });
    const store = new QdrantVectorStore<P>(client, admin, opts);
    try {
      await store.ready();
    } catch (err) {
      if (err instanceof DimensionMismatchError || err instanceof QdrantConfigMismatchError) throw err;
      store.setupError = err as Error;
    }
    return store;
  }

  /** Why the collection could not be set up at open, if it could not (it is retried at the next call). */
  setupError?: Error;

  private ready(): Promise<void> {
    this.setup ??= this.ensureCollection().then(
      () => {
        this.setupError = undefined;
      },
      (err: unknown) => {
        this.setup = undefined;
        throw err;
      },
    );
    return this.setup;
  }

  private async ensureCollection(): Promise<void> {
    const { collection } = this.opts;
    const qd = this.admin;
    if (!(await qd.collectionExists(collection)).exists) {
      try {
        await qd.createCollection(collection, {
          vectors: { size: this.dimension, distance: DISTANCE[this.distance] },
          // Every query filters by tenant: graphs per tenant, none across them.
          hnsw_config: { payload_m: 16, m: 0 },
        });
      } catch (err) {
        // Another gateway created it first (409); anything else is real.
        if (httpStatusOf(err) !== 409 && !(await qd.collectionExists(collection)).exists) throw err;
      }
    }
    const info = await qd.getCollection(collection);
    const vectors = info.config.params.vectors as { size?: number; distance?: string } | undefined;
    if (vectors?.size !== undefined && vectors.size !== this.dimension) throw new DimensionMismatchError(this.name, vectors.size, this.dimension);
    if (vectors?.distance !== undefined && vectors.distance !== DISTANCE[this.distance]) {
      throw new QdrantConfigMismatchError(`${this.name} uses distance ${vectors.distance}, the config says ${DISTANCE[this.distance]}`);
    }
    const indexed = info.payload_schema ?? {};
    // Creating an index that exists is a no-op in Qdrant, so two gateways racing here both succeed.
    const wanted = [
      { field_name: 'tenant', field_schema: { type: 'keyword', is_tenant: true } },
      { field_name: 'partition', field_schema: 'keyword' },
      { field_name: 'expiresAt', field_schema: 'integer' },
      // order_by (eviction of a tenant's oldest) needs a range index on the field.
      { field_name: 'createdAt', field_schema: { type: 'integer', lookup: false, range: true } },
    ] as const;
    for (const index of wanted) {
      if (!indexed[index.field_name]) await qd.createPayloadIndex(collection, { ...index, wait: true });
    }
  }

  /** Runs a call after setup; a collection gone missing (Qdrant back with empty storage) is set up again next time. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await fn();
    } catch (err) {
      if (httpStatusOf(err) === 404) this.setup = undefined;
      throw err;
    }
  }

  async put(entry: StoredEntry<P>): Promise<void> {
    checkVector(this.name, this.dimension, entry.vector);
    const payload: PointPayload = { key: entry.id, partition: entry.partition, tenant: entry.tenant, createdAt: entry.createdAt, expiresAt: entry.expiresAt, payload: entry.payload };
    await this.call(() =>
      this.client.upsert(this.opts.collection, {
        wait: true,
        points: [{ id: pointId(entry.id), vector: Array.from(entry.vector), payload: payload as unknown as Record<string, unknown> }],
      }),
    );
    await this.bound(entry.tenant);
  }

  /** Deletes the tenant's oldest entries beyond the bound. */
  private async bound(tenant: string): Promise<void> {
    const filter = { must: [{ key: 'tenant', match: { value: tenant } }] };
    const { count } = await this.call(() => this.client.count(this.opts.collection, { filter, exact: true }));
    const excess = Math.min(count - this.maxPerTenant, MAX_EVICTIONS_PER_PUT);
    if (excess <= 0) return;
    const { points } = await this.call(() =>
      this.client.scroll(this.opts.collection, { filter, limit: excess, order_by: { key: 'createdAt', direction: 'asc' }, with_payload: false, with_vector: false }),
    );
    if (points.length > 0) await this.call(() => this.client.delete(this.opts.collection, { wait: true, points: points.map((p) => p.id) }));
  }

  async get(id: string, expiresAfter: number): Promise<Omit<StoredEntry<P>, 'vector'> | undefined> {
    const [point] = await this.call(() => this.client.retrieve(this.opts.collection, { ids: [pointId(id)], with_payload: true, with_vector: false }));
    const p = point?.payload as PointPayload | undefined;
    if (!p || p.key !== id || p.expiresAt <= expiresAfter) return undefined;
    return entryOf<P>(p);
  }

  async search(q: SearchQuery): Promise<SearchHit<P>[]> {
    checkVector(this.name, this.dimension, q.vector);
    const res = await this.call(() =>
      this.client.query(this.opts.collection, {
        query: Array.from(q.vector),
        filter: {
          must: [
            { key: 'tenant', match: { value: q.tenant } },
            { key: 'partition', match: { value: q.partition } },
            { key: 'expiresAt', range: { gt: q.expiresAfter } },
          ],
        },
        limit: q.limit ?? 1,
        with_payload: true,
        score_threshold: this.toQdrantScore(q.minScore),
        params: { exact: q.exhaustive ?? false },
      }),
    );
    return res.points
      .map((pt) => ({ entry: entryOf<P>(pt.payload as unknown as PointPayload), score: this.toSimilarity(pt.score) }))
      .filter((h) => h.score >= q.minScore);
  }

  async delete(id: string): Promise<void> {
    await this.call(() => this.client.delete(this.opts.collection, { wait: true, points: [pointId(id)] }));
  }

  async purgeExpired(before: number): Promise<number> {
    await this.call(() => this.client.delete(this.opts.collection, { wait: true, filter: { must: [{ key: 'expiresAt', range: { lte: before } }] } }));
    return -1;
  }

  /** Reachable, and the collection is there (set up again if Qdrant lost it). */
  async ping(): Promise<void> {
    await this.ready();
    if (!(await this.client.collectionExists(this.opts.collection)).exists) {
      this.setup = undefined;
      await this.ready();
    }
  }

  async close(): Promise<void> {
    // The REST client holds no connection of its own to release.
  }

  /** Euclid scores are distances: for unit vectors, d² = 2 − 2·cos. */
  private toQdrantScore(similarity: number): number {
    return this.distance === 'euclid' ? Math.sqrt(Math.max(0, 2 - 2 * similarity)) : similarity;
  }

  private toSimilarity(score: number): number {
    return this.distance === 'euclid' ? 1 - (score * score) / 2 : score;
  }
}

function entryOf<P>(p: PointPayload): Omit<StoredEntry<P>, 'vector'> {
  return { id: p.key, partition: p.partition, tenant: p.tenant, createdAt: p.createdAt, expiresAt: p.expiresAt, payload: p.payload as P };
}
