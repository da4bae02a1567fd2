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
 * Slack for the early exits of a score: the bound is exact arithmetic (Cauchy–Schwarz), the sums are float64
 * with errors near 1e-15, so an entry is dropped early only when it misses by more than that, by far.
 */
const BOUND_SLACK = 1e-9;

/**
 * Adds `query[i] · v[at + i]` for i in [from, to) to the four lanes in `acc`, four lanes at a time, in place (no
 * subarray per slot). Run over consecutive ranges it sums in the same order as one pass, so the score is the same
 * number whether a search stops at a checkpoint or not. `to - from` is a multiple of 4 except for the last range.
 */
function addLanes(query: Float32Array, v: Float32Array, at: number, from: number, to: number, acc: Float64Array): number {
  let s0 = acc[0]!;
  let s1 = acc[1]!;
  let s2 = acc[2]!;
  let s3 = acc[3]!;
  let i = from;
  for (; i + 3 < to; i += 4) {
    s0 += query[i]! * v[at + i]!;
    s1 += query[i + 1]! * v[at + i + 1]!;
    s2 += query[i + 2]! * v[at + i + 2]!;
    s3 += query[i + 3]! * v[at + i + 3]!;
  }
  for (; i < to; i++) s0 += query[i]! * v[at + i]!;
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
  return s0 + s1 + (s2 + s3);
}

/** The norm of `v[from .. to)`. */
function normOf(v: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

export class Partition {
  private ids: string[] = [];
  private vectors: Float32Array;
  private sigs: Uint32Array;
  private expires: Float64Array;
  /**
   * Per slot, the norm of its vector past each checkpoint: a score summed up to a checkpoint plus the product
   * of the two vectors' remaining norms bounds the whole score, so an entry that cannot reach the cut-off
   * (the threshold, or the worst of the best so far) is left before its last coordinates.
   */
  private tails: Float64Array;
  private readonly checkpoints: [number, number];
  private readonly slots = new Map<string, number>();

  constructor(
    private readonly dim: number,
    private readonly signer: Signer,
  ) {
    this.vectors = new Float32Array(16 * dim);
    this.sigs = new Uint32Array(16 * SIGNATURE_WORDS);
    this.expires = new Float64Array(16);
    this.tails = new Float64Array(16 * 2);
    // Multiples of 4, so the four-lane sum runs in the same order as in one pass: the score is the same number.
    const quarter = Math.floor(dim / 16) * 4;
    this.checkpoints = [2 * quarter, 3 * quarter];
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
    this.tails[slot * 2] = normOf(vector, this.checkpoints[0], this.dim);
    this.tails[slot * 2 + 1] = normOf(vector, this.checkpoints[1], this.dim);
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
      this.tails.copyWithin(slot * 2, last * 2, last * 2 + 2);
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
    const dim = this.dim;
    const vectors = this.vectors;
    const expires = this.expires;
    // The best so far, best first, kept by insertion: thousands of near-duplicates may pass minScore, and each
    // would otherwise cost an object and a sort.
    const scores = new Float64Array(limit);
    const slots = new Int32Array(limit);
    let found = 0;
    const tails = this.tails;
    const [c1, c2] = this.checkpoints;
    const qTail1 = normOf(query, c1, dim);
    const qTail2 = normOf(query, c2, dim);
    // query · vector with the early exits above
    const acc = new Float64Array(4);
    const consider = (slot: number) => {
      if (expires[slot]! <= expiresAfter) return;
      const cut = (found === limit ? scores[limit - 1]! : minScore) - BOUND_SLACK;
      const at = slot * dim;
      acc.fill(0);
      if (addLanes(query, vectors, at, 0, c1, acc) + qTail1 * tails[slot * 2]! < cut) return;
      if (addLanes(query, vectors, at, c1, c2, acc) + qTail2 * tails[slot * 2 + 1]! < cut) return;
      const score = addLanes(query, vectors, at, c2, dim, acc);
      if (score < minScore) return;
      // A tie goes to the earlier slot, whatever order the slots are looked at in.
      if (found === limit && (score < scores[limit - 1]! || (score === scores[limit - 1]! && slot > slots[limit - 1]!))) return;
      let r = found < limit ? found++ : limit - 1;
      while (r > 0 && (scores[r - 1]! < score || (scores[r - 1]! === score && slots[r - 1]! > slot))) {
        scores[r] = scores[r - 1]!;
        slots[r] = slots[r - 1]!;
        r--;
      }
      scores[r] = score;
      slots[r] = slot;
    };
    if (exhaustive || n <= EXACT_SCAN_MAX) {
      for (let s = 0; s < n; s++) consider(s);
    } else {
      const q = new Uint32Array(SIGNATURE_WORDS);
      this.signer.sign(query, q, 0);
      const budget = hammingBudget(minScore);
      const [q0, q1, q2, q3] = q as unknown as [number, number, number, number];
      const sigs = this.sigs;
      // Nearest signatures first (a counting sort by distance): the best candidates come early, the cut-off
      // rises at once, and more of the rest are left at a checkpoint.
      const distance = new Uint8Array(n);
      const count = new Int32Array(budget + 2);
      for (let s = 0, o = 0; s < n; s++, o += SIGNATURE_WORDS) {
        const h = popcount(sigs[o]! ^ q0) + popcount(sigs[o + 1]! ^ q1) + popcount(sigs[o + 2]! ^ q2) + popcount(sigs[o + 3]! ^ q3);
        distance[s] = h;
        if (h <= budget) count[h + 1]!++;
      }
      for (let h = 1; h < count.length; h++) count[h]! += count[h - 1]!;
      const order = new Int32Array(count[budget + 1]!);
      for (let s = 0; s < n; s++) if (distance[s]! <= budget) order[count[distance[s]!]!++] = s;
      for (let k = 0; k < order.length; k++) consider(order[k]!);
    }
    const out: ScoredSlot[] = [];
    for (let i = 0; i < found; i++) out.push({ id: this.ids[slots[i]!]!, score: scores[i]! });
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
    const t = new Float64Array(cap * 2);
    t.set(this.tails);
    this.tails = t;
  }
}
