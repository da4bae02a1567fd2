/** Percentile summaries and failed-request counting shared by the benchmarks. */
import { BenchError } from './children.js';

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  /** Only with `withP999` (enough samples for it to mean something). */
  p999?: number;
  max: number;
  mean: number;
}

export const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Nearest-rank percentiles, rounded to `digits` decimals. */
export function summarize(values: number[], { digits = 3, withP999 = false }: { digits?: number; withP999?: boolean } = {}): Summary {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { n, min: NaN, p50: NaN, p90: NaN, p99: NaN, ...(withP999 ? { p999: NaN } : {}), max: NaN, mean: NaN };
  const q = (p: number) => s[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  const f = 10 ** digits;
  const r = (x: number) => Math.round(x * f) / f;
  return {
    n,
    min: r(s[0]!),
    p50: r(q(50)),
    p90: r(q(90)),
    p99: r(q(99)),
    ...(withP999 ? { p999: r(q(99.9)) } : {}),
    max: r(s[n - 1]!),
    mean: r(s.reduce((a, b) => a + b, 0) / n),
  };
}

/**
 * Failed requests are counted (and left out of the latency statistics) instead of ending the run at the first
 * one; more than ERROR_LIMIT of them in a measurement means something is broken, and the run stops.
 */
export const ERROR_LIMIT = 25;

/** Failures of one measurement, in total and, when `record` is given a key, per key (e.g. per target). */
export class Errors<K extends string = string> {
  readonly count: Partial<Record<K, number>> = {};
  readonly first: Partial<Record<K, string>> = {};
  total = 0;
  firstMessage?: string;
  constructor(private readonly what: string) {}
  record(err: unknown, key?: K): void {
    const message = err instanceof Error ? err.message : String(err);
    this.total++;
    this.firstMessage ??= message;
    if (key !== undefined) {
      this.count[key] = (this.count[key] ?? 0) + 1;
      this.first[key] ??= message;
    }
    if (this.total > ERROR_LIMIT) {
      const first = key === undefined ? `first: ${this.firstMessage}` : `first ${key} error: ${this.first[key]}`;
      throw new BenchError(`${this.what}: more than ${ERROR_LIMIT} failed requests; ${first}`);
    }
  }
  toJSON() {
    return { count: this.count, first: this.first };
  }
}
