/**
 * Text → vector. Shared by the semantic cache and semantic routing, so it knows nothing of either: an embedder
 * turns texts into unit-length vectors of a fixed dimension, and says who made them (`id`), because vectors of
 * two embedders (or two versions of one) are not comparable even when their dimensions match.
 */
export interface Embedder {
  /** Identifies the model and its version; vectors with different ids must never be compared. */
  readonly id: string;
  /** Length of every vector this embedder returns. */
  readonly dimension: number;
  /** One L2-normalised vector per text, in order. */
  embed(texts: readonly string[], signal?: AbortSignal, opts?: EmbedOptions): Promise<Float32Array[]>;
  /** Releases what the embedder holds (a loaded model); optional. */
  close?(): Promise<void>;
}

export interface EmbedOptions {
  /**
   * Whose text this is (the tenant). An embedder that remembers vectors (the local one) shares a remembered or
   * running embedding only within one scope: otherwise how fast a text embeds would tell one tenant whether
   * another sent that text recently. Texts without a scope (routing examples, configuration) share one scope.
   */
  scope?: string;
}

export class EmbedderError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbedderError';
  }
}

/** Scales `v` in place to unit length (a zero vector stays zero) and returns it. */
export function normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
  }
  return v;
}

/** Dot product; the cosine similarity of two normalised vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Throws a clear error unless every vector has the expected length. */
export function checkDimension(vectors: readonly Float32Array[], expected: number, who: string): void {
  for (const v of vectors) {
    if (v.length !== expected) throw new EmbedderError(`${who} returned a vector of dimension ${v.length}, expected ${expected}`);
  }
}
