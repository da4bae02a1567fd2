/**
 * The `cache` block: a semantic cache of answers, looked up before any provider is called and again (with
 * a looser threshold) when every provider failed. Off unless `enabled: true`; every other field has a default.
 */
import { z } from 'zod';
import { embedderSchema, OFFLINE_EMBEDDER } from '../embeddings/schema.js';

/**
 * For the offline (hashed) embedder, chosen before the verifier: the lowest threshold from which precision on the
 * calibration half stays 1.0 without it. With the verifier, bench/cache-verify.ts would pick 0.90 (held-out
 * precision 1.0 either way, recall 0.43 rather than 0.36); it reports both.
 */
export const DEFAULT_CACHE_THRESHOLD = 0.94;
/** For the catch-all, where the alternative is an error: with the verifier, held-out precision 1.0 (target 0.97). */
export const DEFAULT_CATCH_ALL_THRESHOLD = 0.87;

/**
 * The defaults per embedder family, with the verifier (src/cache/verify.ts) checking every hit: calibrated by
 * bench/cache-verify.ts on test/fixtures/cache-pairs.json (normal: precision ≥ 0.99; catch-all: ≥ 0.97). `model`
 * is all-MiniLM-L6-v2 in fp32 (`kind: local, quantized: false`), also used for `kind: provider` until that model
 * is calibrated; `modelInt8` is its int8 export (`kind: local`, the default). A value set in the config wins.
 */
export const CACHE_THRESHOLD_DEFAULTS = {
  offline: { threshold: DEFAULT_CACHE_THRESHOLD, catchAllThreshold: DEFAULT_CATCH_ALL_THRESHOLD },
  model: { threshold: 0.79, catchAllThreshold: 0.79 },
  modelInt8: { threshold: 0.81, catchAllThreshold: 0.81 },
} as const;

/** The thresholds a cache runs with: the config's, else the defaults for the embedder that made the vectors. */
export function cacheThresholds(config: Pick<CacheConfig, 'threshold' | 'catchAllThreshold'>, embedderId: string): { threshold: number; catchAllThreshold: number } {
  const defaults = embedderId.startsWith('offline')
    ? CACHE_THRESHOLD_DEFAULTS.offline
    : /^local:[^/]*-int8\//.test(embedderId)
      ? CACHE_THRESHOLD_DEFAULTS.modelInt8
      : CACHE_THRESHOLD_DEFAULTS.model;
  return { threshold: config.threshold ?? defaults.threshold, catchAllThreshold: config.catchAllThreshold ?? defaults.catchAllThreshold };
}

const similarity = z.number().min(-1).max(1);

export const cacheStoreSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('embedded'),
    /** A relative path is inside `dataDir`. */
    dir: z.string().min(1).default('cache'),
    /** Beyond this many entries in all, the oldest of the tenant holding the most are dropped. */
    maxEntries: z.number().int().positive().default(200_000),
    /** Beyond this many entries of one tenant, its oldest are dropped; other tenants are untouched. */
    maxEntriesPerTenant: z.number().int().positive().default(100_000),
  }),
  z.strictObject({
    kind: z.literal('qdrant'),
    url: z.url({ protocol: /^https?$/ }),
    apiKey: z.string().min(1).optional(),
    collection: z.string().min(1).regex(/^[\w-]+$/).default('gateway_cache'),
    distance: z.enum(['cosine', 'dot', 'euclid']).default('cosine'),
    /** Per call on the serving path: the most a hung Qdrant adds to a request before the cache is bypassed. */
    timeoutMs: z.number().int().positive().default(1_000),
    /** Beyond this many entries of one tenant, its oldest are deleted. */
    maxEntriesPerTenant: z.number().int().positive().default(100_000),
  }),
]);

export const cacheSchema = z.strictObject({
  enabled: z.boolean().default(false),
  store: cacheStoreSchema.default({ kind: 'embedded', dir: 'cache', maxEntries: 200_000, maxEntriesPerTenant: 100_000 }),
  /**
   * The offline one here; a config file loaded without an `embedder` gets the local sentence model when
   * GATEWAY_EMBEDDING_MODEL_DIR names one (src/config/load.ts), so the schema stays independent of the environment.
   */
  embedder: embedderSchema.default(OFFLINE_EMBEDDER),
  /** Exact-match tier (hash of the canonical request) before the semantic one. */
  exact: z.boolean().default(true),
  /** Semantic tier: the least cosine similarity that counts as the same question; unset: per embedder (above). */
  threshold: similarity.optional(),
  /** Per model alias; aliases not named use `threshold`. A value above 1 turns the semantic tier off for it. */
  thresholds: z.record(z.string().min(1), z.number().min(-1).max(2)).default({}),
  /** The catch-all's threshold (when every provider failed); entries up to `staleSeconds` past expiry count. */
  catchAllThreshold: similarity.optional(),
  /** Requests with a higher temperature (unset counts as 1) are neither looked up nor stored. */
  maxTemperature: z.number().min(0).max(2).default(1),
  /** How long an answer is served as fresh. */
  ttlSeconds: z.number().int().positive().default(86_400),
  /** The longest TTL a client may ask for with `x-gateway-cache: ttl=…`; longer asks are cut to this. */
  maxTtlSeconds: z.number().int().positive().default(7 * 86_400),
  /** How long after expiry the catch-all may still serve an answer, marked stale. */
  staleSeconds: z.number().int().min(0).default(7 * 86_400),
  /** Answers that call tools depend on the world at the time; off by default. */
  storeToolCalls: z.boolean().default(false),
  /** What is embedded: the last user turn (everything before it must match exactly) or every user turn. */
  embed: z.enum(['last_user', 'all_user']).default('last_user'),
  /** Texts longer than this (characters) are not embedded: only the exact tier applies. */
  maxEmbedChars: z.number().int().positive().default(8_000),
  /** How often expired entries are purged from the store. */
  purgeIntervalSeconds: z.number().int().positive().default(300),
  /** After a store failure, requests bypass the cache for this long before one tries the store again. */
  storeBackoffMs: z.number().int().min(0).default(2_000),
});

export type CacheConfig = z.output<typeof cacheSchema>;
export type CacheStoreConfig = z.output<typeof cacheStoreSchema>;
export const DEFAULT_CACHE: CacheConfig = cacheSchema.parse({});
