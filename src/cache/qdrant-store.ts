/**
 * The vector store on Qdrant, for gateways that run as several instances (one cache for all of them).
 * The collection is created on first use with the configured dimension and distance, with payload indexes on
 * the fields every query filters on (partition, expiry). Expiry is a stored timestamp that every query
 * filters by; the cache purges expired points periodically.
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
  timeoutMs?: number;
}

const DISTANCE = { cosine: 'Cosine', dot: 'Dot', euclid: 'Euclid' } as const;

interface PointPayload {
  key: string;
  partition: string;
  createdAt: number;
  expiresAt: number;
  payload: unknown;
}

/** Qdrant ids are integers or UUIDs: a store id maps to a UUID by hash (the id itself rides in the payload). */
export function pointId(id: string): string {
  const h = createHash('sha256').update(id).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class QdrantVectorStore<P = unknown> implements VectorStore<P> {
  readonly dimension: number;
  private readonly distance: QdrantDistance;
  private readonly name: string;

  private constructor(
    private readonly client: QdrantClient,
    private readonly opts: QdrantStoreOptions,
  ) {
    this.dimension = opts.dimension;
    this.distance = opts.distance ?? 'cosine';
    this.name = `Qdrant collection '${opts.collection}'`;
  }

  static async open<P = unknown>(opts: QdrantStoreOptions): Promise<QdrantVectorStore<P>> {
    const client = new QdrantClient({ url: opts.url, apiKey: opts.apiKey, timeout: opts.timeoutMs ?? 5_000, checkCompatibility: false });
    const store = new QdrantVectorStore<P>(client, opts);
    await store.ensureCollection();
    return store;
  }

  private async ensureCollection(): Promise<void> {
    const { collection } = this.opts;
    const { exists } = await this.client.collectionExists(collection);
    if (!exists) {
      try {
        await this.client.createCollection(collection, { vectors: { size: this.dimension, distance: DISTANCE[this.distance] } });
      } catch (err) {
        // Another instance may have created it first.
        if (!(await this.client.collectionExists(collection)).exists) throw err;
      }
    }
    const info = await this.client.getCollection(collection);
    const vectors = info.config.params.vectors as { size?: number; distance?: string } | undefined;
    if (vectors?.size !== undefined && vectors.size !== this.dimension) throw new DimensionMismatchError(this.name, vectors.size, this.dimension);
    if (vectors?.distance !== undefined && vectors.distance !== DISTANCE[this.distance]) {
      throw new Error(`${this.name} uses distance ${vectors.distance}, the config says ${DISTANCE[this.distance]}`);
    }
    const indexed = info.payload_schema ?? {};
    if (!indexed.partition) await this.client.createPayloadIndex(collection, { field_name: 'partition', field_schema: 'keyword', wait: true });
    if (!indexed.expiresAt) await this.client.createPayloadIndex(collection, { field_name: 'expiresAt', field_schema: 'integer', wait: true });
  }

  async put(entry: StoredEntry<P>): Promise<void> {
    checkVector(this.name, this.dimension, entry.vector);
    const payload: PointPayload = { key: entry.id, partition: entry.partition, createdAt: entry.createdAt, expiresAt: entry.expiresAt, payload: entry.payload };
    await this.client.upsert(this.opts.collection, {
      wait: true,
      points: [{ id: pointId(entry.id), vector: Array.from(entry.vector), payload: payload as unknown as Record<string, unknown> }],
    });
  }

  async get(id: string, expiresAfter: number): Promise<Omit<StoredEntry<P>, 'vector'> | undefined> {
    const [point] = await this.client.retrieve(this.opts.collection, { ids: [pointId(id)], with_payload: true, with_vector: false });
    const p = point?.payload as PointPayload | undefined;
    if (!p || p.key !== id || p.expiresAt <= expiresAfter) return undefined;
    return entryOf<P>(p);
  }

  async search(q: SearchQuery): Promise<SearchHit<P>[]> {
    checkVector(this.name, this.dimension, q.vector);
    const res = await this.client.query(this.opts.collection, {
      query: Array.from(q.vector),
      filter: {
        must: [
          { key: 'partition', match: { value: q.partition } },
          { key: 'expiresAt', range: { gt: q.expiresAfter } },
        ],
      },
      limit: q.limit ?? 1,
      with_payload: true,
      score_threshold: this.toQdrantScore(q.minScore),
      params: { exact: q.exhaustive ?? false },
    });
    return res.points
      .map((pt) => ({ entry: entryOf<P>(pt.payload as unknown as PointPayload), score: this.toSimilarity(pt.score) }))
      .filter((h) => h.score >= q.minScore);
  }

  async delete(id: string): Promise<void> {
    await this.client.delete(this.opts.collection, { wait: true, points: [pointId(id)] });
  }

  async purgeExpired(before: number): Promise<number> {
    await this.client.delete(this.opts.collection, { wait: true, filter: { must: [{ key: 'expiresAt', range: { lte: before } }] } });
    return -1;
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
  return { id: p.key, partition: p.partition, createdAt: p.createdAt, expiresAt: p.expiresAt, payload: p.payload as P };
}
