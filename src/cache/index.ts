/** Builds the configured cache: embedder, store, policy. */
import type { Logger } from 'pino';
import type { CacheConfig } from '../config/cache-schema.js';
import type { ProviderConfig } from '../config/types.js';
import { createEmbedder } from '../embeddings/index.js';
import { EmbeddedVectorStore } from './embedded/store.js';
import { QdrantVectorStore } from './qdrant-store.js';
import { SemanticCache, type CachedAnswer } from './semantic-cache.js';
import type { VectorStore } from './vector-store.js';

export { SemanticCache, type CacheHit, type CacheTicket, type CachedAnswer } from './semantic-cache.js';

export interface CacheDeps {
  providers: Record<string, ProviderConfig>;
  logger: Logger;
  now?: () => number;
}

export async function createSemanticCache(config: CacheConfig, deps: CacheDeps): Promise<SemanticCache> {
  const embedder = createEmbedder(config.embedder, { providers: deps.providers });
  const s = config.store;
  let store: VectorStore<CachedAnswer>;
  if (s.kind === 'embedded') {
    const embedded = await EmbeddedVectorStore.open<CachedAnswer>({
      dir: s.dir,
      dimension: embedder.dimension,
      maxEntries: s.maxEntries,
      maxEntriesPerTenant: s.maxEntriesPerTenant,
    });
    if (embedded.replay.skipped > 0 || embedded.replay.truncatedBytes > 0) {
      deps.logger.warn({ dir: s.dir, ...embedded.replay }, 'cache file had damaged records; they were skipped');
    }
    deps.logger.info({ dir: s.dir, entries: embedded.size, embedder: embedder.id }, 'semantic cache opened');
    store = embedded;
  } else {
    const qdrant = await QdrantVectorStore.open<CachedAnswer>({
      url: s.url,
      apiKey: s.apiKey,
      collection: s.collection,
      dimension: embedder.dimension,
      distance: s.distance,
      timeoutMs: s.timeoutMs,
      maxEntriesPerTenant: s.maxEntriesPerTenant,
    });
    if (qdrant.setupError) {
      deps.logger.warn({ err: qdrant.setupError, collection: s.collection }, 'Qdrant is unreachable: requests bypass the cache until it answers');
    }
    deps.logger.info({ collection: s.collection, embedder: embedder.id }, 'semantic cache on Qdrant');
    store = qdrant;
  }
  return new SemanticCache(config, store, embedder, { logger: deps.logger, now: deps.now });
}
