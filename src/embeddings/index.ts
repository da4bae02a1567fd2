/** Builds the configured embedder. */
import type { ProviderConfig } from '../config/types.js';
import { LocalEmbedder } from './local.js';
import { OfflineEmbedder } from './offline.js';
import { ProviderEmbedder } from './provider.js';
import { embedderSchema, type EmbedderConfig, type EmbedderConfigInput } from './schema.js';
import { type Embedder, EmbedderError } from './types.js';

export type { Embedder, EmbedOptions } from './types.js';
export { EmbedderError, dot, normalise } from './types.js';
export { embedderSchema, defaultEmbedderConfig, OFFLINE_EMBEDDER, type EmbedderConfig, type EmbedderConfigInput } from './schema.js';
export { MODEL_DIR_ENV, HOW_TO_GET_THE_MODEL } from './model-dir.js';
export { LocalEmbedder } from './local.js';

export interface EmbedderDeps {
  /** The gateway's providers (config.providers), for `kind: provider`. */
  providers?: Record<string, ProviderConfig>;
  /** Where `kind: local` without a `dir` finds GATEWAY_EMBEDDING_MODEL_DIR; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Takes a parsed config or a literal one (`{ kind: 'local', dir }`): defaults are filled in here. */
export function createEmbedder(input: EmbedderConfig | EmbedderConfigInput, deps: EmbedderDeps = {}): Embedder {
  const config = embedderSchema.parse(input);
  switch (config.kind) {
    case 'offline':
      return new OfflineEmbedder({ dimension: config.dimension });
    case 'provider': {
      const provider = deps.providers?.[config.provider];
      if (!provider) throw new EmbedderError(`embedder: unknown provider '${config.provider}'`);
      return new ProviderEmbedder({ provider, model: config.model, dimension: config.dimension, requestDimensions: config.requestDimensions });
    }
    case 'local':
      return new LocalEmbedder({ dir: config.dir, quantized: config.quantized, dimension: config.dimension, pooling: config.pooling, threads: config.threads, env: deps.env });
  }
}
