/**
 * 128-bit sign signatures of vectors (SimHash): the fraction of differing bits estimates the angle between
 * two vectors (P[bit differs] = angle / π). The embedded store scans these with popcounts before it computes
 * any exact similarity, which makes a lookup in a large partition cheap.
 *
 * Projections are a seeded pseudo-random rotation built from sign flips and fast Walsh–Hadamard transforms:
 * O(d log d) per vector instead of O(128 d) for dense random hyperplanes, and the same bits on every run.
 */

import { mulberry32 } from '../util/seeded-random.js';

export const SIGNATURE_WORDS = 4;
const BITS = SIGNATURE_WORDS * 32;
const ROUNDS = 3;

/** In-place unnormalised Walsh–Hadamard transform; length must be a power of two. */
function fwht(a: Float32Array): void {
  for (let h = 1; h < a.length; h <<= 1) {
    for (let i = 0; i < a.length; i += h << 1) {
      for (let j = i; j < i + h; j++) {
        const x = a[j]!;
        const y = a[j + h]!;
        a[j] = x + y;
        a[j + h] = x - y;
      }
    }
  }
}

export class Signer {
  private readonly signs: Float32Array[];
  /** Which rotated coordinates become the signature's bits. */
  private readonly picks: Uint32Array;
  private readonly buf: Float32Array;

  constructor(readonly dimension: number, seed = 0x5eed) {
    let size = 1;
    while (size < Math.max(dimension, BITS)) size <<= 1;
    const rand = mulberry32(seed);
    this.signs = Array.from({ length: ROUNDS }, () => Float32Array.from({ length: size }, () => (rand() < 0.5 ? -1 : 1)));
    // A random subset of the rotated coordinates (a partial Fisher–Yates shuffle).
    const order = Uint32Array.from({ length: size }, (_, i) => i);
    for (let i = 0; i < BITS; i++) {
      const j = i + Math.floor(rand() * (size - i));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    this.picks = order.slice(0, BITS);
    this.buf = new Float32Array(size);
  }

  /** Writes the signature of `v` into `out` at word offset `at`. */
  sign(v: Float32Array, out: Uint32Array, at: number): void {
    const b = this.buf;
    b.fill(0);
    b.set(v);
    for (const s of this.signs) {
      for (let i = 0; i < b.length; i++) b[i]! *= s[i]!;
      fwht(b);
    }
    for (let w = 0; w < SIGNATURE_WORDS; w++) {
      let word = 0;
      for (let k = 0; k < 32; k++) if (b[this.picks[w * 32 + k]!]! > 0) word |= 1 << k;
      out[at + w] = word >>> 0;
    }
  }
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/**
 * The largest Hamming distance worth scoring exactly for a similarity threshold: the expected distance at
 * the threshold's angle plus four standard deviations, so a true match is skipped well under 1 time in 10,000.
 */
export function hammingBudget(minScore: number): number {
  const p = Math.acos(Math.max(-1, Math.min(1, minScore))) / Math.PI;
  return Math.ceil(BITS * p + 4 * Math.sqrt(BITS * p * (1 - p)) + 1);
}
