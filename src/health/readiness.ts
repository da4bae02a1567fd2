/**
 * Readiness (`/readyz`): can this process do its whole job right now? A list of named checks, each bounded by a
 * deadline, run together; the report is cached briefly so frequent probes (several load balancers, a status
 * page) do not each cost the dependencies a round trip. Liveness (`/healthz`) is separate: a process that is
 * alive but not ready must not be restarted for it.
 */

export interface ReadinessCheck {
  name: string;
  /** Throws (or rejects) when not ready; may return a short detail for the report. */
  run(): Promise<string | void>;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  detail?: string;
  error?: string;
}

export interface ReadinessReport {
  status: 'ready' | 'not_ready';
  checks: Record<string, CheckResult>;
}

export interface ReadinessOptions {
  /** How long one report is reused. */
  cacheMs?: number;
  /** A check that has not answered by then counts as failed. */
  timeoutMs?: number;
  /** The clock (tests); performance.now by default. */
  now?: () => number;
}

export class Readiness {
  private cached?: { at: number; report: Promise<ReadinessReport> };
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly checks: ReadinessCheck[],
    opts: ReadinessOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 1_000;
    this.timeoutMs = opts.timeoutMs ?? 1_500;
    this.now = opts.now ?? (() => performance.now());
  }

  get names(): string[] {
    return this.checks.map((c) => c.name);
  }

  /** Concurrent probes share one run: the promise is cached, not only its result. */
  report(): Promise<ReadinessReport> {
    const at = this.now();
    if (this.cached && at - this.cached.at < this.cacheMs) return this.cached.report;
    const report = this.runAll();
    this.cached = { at, report };
    return report;
  }

  private async runAll(): Promise<ReadinessReport> {
    const results = await Promise.all(this.checks.map((c) => this.runOne(c)));
    const checks: Record<string, CheckResult> = {};
    this.checks.forEach((c, i) => (checks[c.name] = results[i]!));
    return { status: results.every((r) => r.ok) ? 'ready' : 'not_ready', checks };
  }

  private async runOne(check: ReadinessCheck): Promise<CheckResult> {
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const detail = await Promise.race([check.run(), timeout]);
      return { ok: true, ms: round(this.now() - started), ...(detail && { detail }) };
    } catch (err) {
      return { ok: false, ms: round(this.now() - started), error: (err as Error)?.message ?? String(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
