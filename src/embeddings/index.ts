/** Builds the configured embedder. */
import type { ProviderConfig } from '../config/types.js';
import { LocalEmbedder, type ExtractorFactory } from './local.js';
import { OfflineEmbedder } from './offline.js';
import { ProviderEmbedder } from './provider.js';
import type { EmbedderConfig } from './schema.js';
import { type Embedder, EmbedderError } from './types.js';

export type { Embedder } from './types.js';
export { EmbedderError, dot, normalise } from './types.js';
export { embedderSchema, type EmbedderConfig, type EmbedderConfigInput } from './schema.js';

export interface EmbedderDeps {
  /** The gateway's providers (config.providers), for `kind: provider`. */
  providers?: Record<string, ProviderConfig>;
  /** For tests of `kind: local`. */
  localFactory?: ExtractorFactory;
}

export function createEmbedder(config: EmbedderConfig, deps: EmbedderDeps = {}): Embedder {
  switch (config.kind) {
    case 'offline':
      return new OfflineEmbedder({ dimension: config.dimension });
    case 'provider': {
      const provider = deps.providers?.[config.provider];
      if (!provider) throw new EmbedderError(`embedder: unknown provider '${config.provider}'`);
      return new ProviderEmbedder({ provider, model: config.model, dimension: config.dimension, requestDimensions: config.requestDimensions });
    }
    case 'local':
      return new LocalEmbedder({ dir: config.dir, dimension: config.dimension, pooling: config.pooling, factory: deps.localFactory });
  }
}
