/**
 * A true sliding time window of samples: every sample younger than windowMs counts, each exactly once, and
 * nothing older does. (An EWMA or fixed buckets would blur a sudden slowdown into minutes of history.)
 * Memory is capped by maxSamples: a busy metric keeps its newest samples.
 *
 * Time is always given by the caller. A sample is live while now - at < windowMs.
 */
export interface LatencyWindowOptions {
  windowMs: number;
  maxSamples: number;
  /** Only sums and counts are asked of this window (no quantiles): it keeps no sorted copy. */
  sumOnly?: boolean;
}

export class LatencyWindow {
  readonly windowMs: number;
  readonly maxSamples: number;
  private readonly sumOnly: boolean;
  /**
   * Oldest first from `head`; times never decrease, so eviction only advances `head`. The arrays are
   * compacted once the dead prefix outgrows the live part, so removing the oldest costs no memmove each time.
   */
  private times: number[] = [];
  private values: number[] = [];
  private head = 0;
  /**
   * The live values kept sorted as they come and go (binary search + one memmove each), so a quantile is an
   * index: routing reads percentiles on every request, and re-sorting the window each time cost more than
   * the rest of the fast path's decision put together.
   */
  private sorted: number[] = [];
  private total = 0;
  /** Updates since the running sum was last recomputed; bounds floating-point drift. */
  private sinceExactSum = 0;

  constructor(opts: LatencyWindowOptions) {
    if (!(opts.windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${opts.windowMs}`);
    if (!Number.isInteger(opts.maxSamples) || opts.maxSamples < 1) throw new RangeError(`maxSamples must be a positive integer, got ${opts.maxSamples}`);
    this.windowMs = opts.windowMs;
    this.maxSamples = opts.maxSamples;
    this.sumOnly = opts.sumOnly ?? false;
  }

  private get size(): number {
    return this.times.length - this.head;
  }

  add(value: number, at: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`sample must be a finite number, got ${value}`);
    // a wall clock that steps back must not break the time order eviction relies on; the error is that step
    const last = this.times[this.times.length - 1];
    const t = last !== undefined && at < last ? last : at;
    this.times.push(t);
    this.values.push(value);
    if (!this.sumOnly) this.sorted.splice(lowerBound(this.sorted, value), 0, value);
    this.total += value;
    this.touchSum();
    const over = this.size - this.maxSamples;
    if (over > 0) this.drop(over);
    this.evict(t);
  }

  count(now: number): number {
    this.evict(now);
    return this.size;
  }

  /** Null when the window is empty. */
  mean(now: number): number | null {
    this.evict(now);
    return this.size > 0 ? this.total / this.size : null;
  }

  sum(now: number): number {
    this.evict(now);
    return this.total;
  }

  /**
   * Nearest-rank quantile: the smallest live sample with at least q of the samples at or below it
   * (rank ⌈q·n⌉, at least 1). Always an observed value, never an interpolation. Null when empty.
   */
  quantile(q: number, now: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
    if (this.sumOnly) throw new Error('this window keeps sums only');
    this.evict(now);
    const sorted = this.sorted;
    if (sorted.length === 0) return null;
    // rounding first: 0.07 × 100 is 7.000000000000001 in floating point, whose ceiling would be rank 8
    const rank = Math.max(1, Math.ceil(Math.round(q * sorted.length * 1e9) / 1e9));
    return sorted[rank - 1]!;
  }

  private evict(now: number): void {
    const cutoff = now - this.windowMs;
    let n = 0;
    while (n < this.size && this.times[this.head + n]! <= cutoff) n++;
    if (n > 0) this.drop(n);
  }

  private drop(n: number): void {
    for (let i = this.head; i < this.head + n; i++) {
      const v = this.values[i]!;
      if (!this.sumOnly) this.sorted.splice(lowerBound(this.sorted, v), 1);
      this.total -= v;
    }
    this.head += n;
    if (this.head > 64 && this.head > this.size) {
      this.times = this.times.slice(this.head);
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
    if (this.size === 0) this.total = 0;
    this.touchSum();
  }

  private touchSum(): void {
    if (++this.sinceExactSum < 4096) return;
    this.sinceExactSum = 0;
    let sum = 0;
    for (let i = this.head; i < this.values.length; i++) sum += this.values[i]!;
    this.total = sum;
  }
}

/** The first index whose value is not below `v` (the insertion point that keeps `a` sorted). */
function lowerBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
