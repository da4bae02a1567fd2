/**
 * Where cached answers live: vectors grouped by partition, each with an expiry and an opaque payload.
 * Two implementations share one contract (test/support/vector-store-contract.ts): the embedded store
 * (in-process, on disk under .data/) and Qdrant. Both bound each tenant's entries (`maxEntriesPerTenant`, its
 * oldest out first), so one tenant's writes never evict another tenant's answers.
 */

export interface StoredEntry<P = unknown> {
  /** Unique; putting an entry with an existing id replaces it. */
  id: string;
  /** Entries are only ever compared within their partition. */
  partition: string;
  /**
   * Whose entry it is. A partition belongs to one tenant (the tenant is part of its hash), but stores keep the
   * tenant too: Qdrant indexes it as its tenant key, and the per-tenant bound counts by it.
   */
  tenant: string;
  vector: Float32Array;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms; searches and gets name the instant before which an entry counts as gone. */
  expiresAt: number;
  payload: P;
}

export interface SearchQuery {
  partition: string;
  /** Only this tenant's entries are returned (checked alongside the partition). */
  tenant: string;
  vector: Float32Array;
  /** Cosine similarity, -1..1; nothing below it is returned. */
  minScore: number;
  /** Only entries with expiresAt > this (epoch ms) are returned. */
  expiresAfter: number;
  /** Default 1. */
  limit?: number;
  /**
   * Look at every entry of the partition. Without it a store may use an approximate index (the embedded store
   * does for large partitions), trading a rare miss for speed; rare paths like the catch-all ask for exactness.
   */
  exhaustive?: boolean;
}

export interface SearchHit<P = unknown> {
  entry: Omit<StoredEntry<P>, 'vector'>;
  /** Cosine similarity to the query. */
  score: number;
}

export interface VectorStore<P = unknown> {
  readonly dimension: number;
  /** Inserts or replaces by id. */
  put(entry: StoredEntry<P>): Promise<void>;
  /** The entry with this id, unless it expired at or before `expiresAfter`. */
  get(id: string, expiresAfter: number): Promise<Omit<StoredEntry<P>, 'vector'> | undefined>;
  /** Best matches first. */
  search(query: SearchQuery): Promise<SearchHit<P>[]>;
  delete(id: string): Promise<void>;
  /** Removes entries with expiresAt <= before; returns how many went (Qdrant: -1 when it does not say). */
  purgeExpired(before: number): Promise<number>;
  /** Resolves when the store can serve; throws (quickly) when it cannot, e.g. a Qdrant that is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DimensionMismatchError extends Error {
  constructor(store: string, expected: number, got: number) {
    super(`${store} holds vectors of dimension ${expected}, got one of dimension ${got}: the embedder changed? (point the store at a new directory or collection)`);
    this.name = 'DimensionMismatchError';
  }
}

export function checkVector(store: string, expected: number, v: Float32Array): void {
  if (v.length !== expected) throw new DimensionMismatchError(store, expected, v.length);
}
