/**
 * Embeddings from a configured provider's embeddings endpoint, through the same adapters (and so the same
 * keys, base URLs, timeouts and pooled connections) that /v1/embeddings uses.
 */
import type { DeploymentConfig, ProviderConfig } from '../config/types.js';
import { ProviderError } from '../providers/errors.js';
import { adapterFor } from '../providers/registry.js';
import type { Target } from '../providers/types.js';
import { type Embedder, EmbedderError, checkDimension, normalise } from './types.js';

export interface ProviderEmbedderOptions {
  provider: ProviderConfig;
  model: string;
  dimension: number;
  /** Sends `dimensions` upstream, for models that shorten their vectors on request (OpenAI's -3 family). */
  requestDimensions?: boolean;
}

export class ProviderEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  private readonly target: Target;

  constructor(private readonly opts: ProviderEmbedderOptions) {
    this.dimension = opts.dimension;
    this.id = `provider:${opts.provider.name}/${opts.model}/${opts.dimension}`;
    const deployment: DeploymentConfig = {
      name: `embedder:${opts.provider.name}`,
      provider: opts.provider.name,
      providerType: opts.provider.type,
      model: opts.model,
      tier: 1,
      price: { inputPerMTok: 0, outputPerMTok: 0 },
      contextWindow: 8192,
      capabilities: ['embeddings'],
      weight: 1,
    };
    this.target = { deployment, provider: opts.provider };
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const adapter = adapterFor(this.target.provider.type);
    if (!adapter.embed) throw new EmbedderError(`provider '${this.opts.provider.name}' (${this.opts.provider.type}) has no embeddings API`);
    let res;
    try {
      res = await adapter.embed(
        {
          model: this.opts.model,
          input: [...texts],
          encoding_format: 'float',
          ...(this.opts.requestDimensions ? { dimensions: this.dimension } : {}),
        },
        this.target,
        { signal },
      );
    } catch (err) {
      // The adapter's error names the provider and kind, never the key.
      const what = err instanceof ProviderError ? `${err.kind}${err.status ? ` ${err.status}` : ''}: ${err.message}` : String(err);
      throw new EmbedderError(`embedding with provider '${this.opts.provider.name}' failed (${what})`, { cause: err });
    }
    const out = new Array<Float32Array>(texts.length);
    for (const d of res.data) {
      if (d.index < 0 || d.index >= texts.length) throw new EmbedderError(`provider '${this.opts.provider.name}' returned an embedding for unknown index ${d.index}`);
      out[d.index] = normalise(typeof d.embedding === 'string' ? fromBase64(d.embedding) : Float32Array.from(d.embedding));
    }
    for (let i = 0; i < out.length; i++) {
      if (!out[i]) throw new EmbedderError(`provider '${this.opts.provider.name}' returned no embedding for input ${i}`);
    }
    checkDimension(out, this.dimension, `provider '${this.opts.provider.name}' model '${this.opts.model}'`);
    return out;
  }
}

/** OpenAI's base64 encoding: little-endian float32s. */
function fromBase64(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
