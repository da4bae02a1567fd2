/**
 * A small least-recently-used map of text → vector, keyed by the text's SHA-256, so the same prompt is
 * embedded once however often it comes (a retried request, a popular question) while memory stays bounded:
 * 1024 entries of 384 floats are 1.5 MB whatever the texts' lengths. Keys include the caller's scope (the
 * tenant): a text one tenant sent is never a fast hit for another.
 */
import { createHash } from 'node:crypto';

/** The memo key of a text within a scope (a tenant); the scope's length keeps `a`+`bc` apart from `ab`+`c`. */
export function textKey(text: string, scope = ''): string {
  return createHash('sha256').update(`${scope.length}:${scope}:`).update(text).digest('base64');
}

export class VectorLru {
  private readonly entries = new Map<string, Float32Array>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Float32Array | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    // Map keeps insertion order: re-inserting makes it the most recent.
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  set(key: string, v: Float32Array): void {
    if (this.capacity <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, v);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
