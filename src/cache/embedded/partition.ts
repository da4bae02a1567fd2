/**
 * One partition's vectors in flat typed arrays: a swap-remove on delete keeps them dense, so a scan touches
 * only live entries. Small partitions are scanned exactly; large ones first by signature Hamming distance.
 */
import { SIGNATURE_WORDS, hammingBudget, popcount, type Signer } from '../signature.js';

/** Below this many entries an exact scan is as fast as the signature pass. */
const EXACT_SCAN_MAX = 256;

export interface ScoredSlot {
  id: string;
  score: number;
}

/**
 * `query` · `v[at .. at + dim)`, in place (no subarray per slot) and four lanes at a time: a lookup among
 * near-duplicates scores every entry of its partition, thousands of these.
 */
function dotAt(query: Float32Array, v: Float32Array, at: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    s0 += query[i]! * v[at + i]!;
    s1 += query[i + 1]! * v[at + i + 1]!;
    s2 += query[i + 2]! * v[at + i + 2]!;
    s3 += query[i + 3]! * v[at + i + 3]!;
  }
  for (; i < dim; i++) s0 += query[i]! * v[at + i]!;
  return s0 + s1 + (s2 + s3);
}

export class Partition {
  private ids: string[] = [];
  private vectors: Float32Array;
  private sigs: Uint32Array;
  private expires: Float64Array;
  private readonly slots = new Map<string, number>();

  constructor(
    private readonly dim: number,
    private readonly signer: Signer,
  ) {
    this.vectors = new Float32Array(16 * dim);
    this.sigs = new Uint32Array(16 * SIGNATURE_WORDS);
    this.expires = new Float64Array(16);
  }

  get size(): number {
    return this.ids.length;
  }

  upsert(id: string, vector: Float32Array, expiresAt: number): void {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.ids.length;
      if (slot === this.expires.length) this.grow();
      this.ids.push(id);
      this.slots.set(id, slot);
    }
    this.vectors.set(vector, slot * this.dim);
    this.signer.sign(vector, this.sigs, slot * SIGNATURE_WORDS);
    this.expires[slot] = expiresAt;
  }

  remove(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    const last = this.ids.length - 1;
    if (slot !== last) {
      const moved = this.ids[last]!;
      this.ids[slot] = moved;
      this.slots.set(moved, slot);
      this.vectors.copyWithin(slot * this.dim, last * this.dim, (last + 1) * this.dim);
      this.sigs.copyWithin(slot * SIGNATURE_WORDS, last * SIGNATURE_WORDS, (last + 1) * SIGNATURE_WORDS);
      this.expires[slot] = this.expires[last]!;
    }
    this.ids.pop();
    this.slots.delete(id);
  }

  /** A view of the stored vector (valid until the next change to this partition). */
  vector(id: string): Float32Array | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : this.vectors.subarray(slot * this.dim, (slot + 1) * this.dim);
  }

  /** The best `limit` entries scoring at least minScore and expiring after `expiresAfter`, best first. */
  search(query: Float32Array, minScore: number, expiresAfter: number, limit: number, exhaustive: boolean): ScoredSlot[] {
    const n = this.ids.length;
    const out: ScoredSlot[] = [];
    const consider = (slot: number) => {
      if (this.expires[slot]! <= expiresAfter) return;
      const score = dotAt(query, this.vectors, slot * this.dim, this.dim);
      if (score < minScore) return;
      if (out.length === limit && score <= out[limit - 1]!.score) return;
      out.push({ id: this.ids[slot]!, score });
      out.sort((a, b) => b.score - a.score);
      if (out.length > limit) out.pop();
    };
    if (exhaustive || n <= EXACT_SCAN_MAX) {
      for (let s = 0; s < n; s++) consider(s);
      return out;
    }
    const q = new Uint32Array(SIGNATURE_WORDS);
    this.signer.sign(query, q, 0);
    const budget = hammingBudget(minScore);
    const [q0, q1, q2, q3] = q as unknown as [number, number, number, number];
    const sigs = this.sigs;
    for (let s = 0, o = 0; s < n; s++, o += SIGNATURE_WORDS) {
      const h = popcount(sigs[o]! ^ q0) + popcount(sigs[o + 1]! ^ q1) + popcount(sigs[o + 2]! ^ q2) + popcount(sigs[o + 3]! ^ q3);
      if (h <= budget) consider(s);
    }
    return out;
  }

  private grow(): void {
    const cap = this.expires.length * 2;
    const v = new Float32Array(cap * this.dim);
    v.set(this.vectors);
    this.vectors = v;
    const g = new Uint32Array(cap * SIGNATURE_WORDS);
    g.set(this.sigs);
    this.sigs = g;
    const e = new Float64Array(cap);
    e.set(this.expires);
    this.expires = e;
  }
}
