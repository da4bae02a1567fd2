/**
 * Do durable retries wait what the fallback policy computed? A deployment scripted to fail once with a 500
 * (and `retry-after-ms`, so the computed delay is known exactly), the request submitted and awaited over HTTP;
 * the gap is read from the workflow history: the retried callProvider's ActivityTaskStarted (attempt 2, its
 * event time is that attempt's start) minus the end of attempt 1 (ActivityTaskScheduled + attempt 1's own
 * latency). That end is an upper bound on where attempt 1 really ended (its dispatch and the work around the
 * upstream call count as gap), so the gap measured is, if anything, longer than the wait. While the retry waits,
 * the workflow is described every few ms: the pending activity's lastAttemptCompleteTime (the server's time of
 * attempt 1's failure) gives the exact gap, failure → next start, when the poll caught the wait.
 */
import type { Pool } from 'undici';
import type { Client } from '@temporalio/client';
import { BenchError } from './children.js';
import { round3, summarize, type Summary } from './stats.js';

export const RETRY_ALIAS = 'bench-retry';
export const RETRY_DEPLOYMENT = 'bench-retry-dep';
export const RETRY_UPSTREAM_MODEL = 'bench-retry-model';
export const RETRY_AFTER_MS = 200;

/** The gateway config lines for the retry alias (its own deployment, so only its requests are scripted to fail). */
export function withRetryAlias(yaml: string, deployment: string, alias: string): string {
  return yaml
    .replace(new RegExp(`^(  ${deployment}: .*)$`, 'm'), `$1\n  ${RETRY_DEPLOYMENT}: { provider: fake, model: ${RETRY_UPSTREAM_MODEL} }`)
    .replace(
      new RegExp(`^(  ${alias}: .*)$`, 'm'),
      // backoff 1 ms: the wait is the provider's retry-after-ms, exactly
      `$1\n  ${RETRY_ALIAS}: { groups: [{ deployments: [${RETRY_DEPLOYMENT}] }], fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 1, capMs: 1 }, maxRetryAfterMs: 5000 } }`,
    );
}

interface ViewAttempt {
  outcome?: string;
  latencyMs?: number;
  retryDelayMs?: number;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const tsMs = (ts: Ts) => (ts ? Number((ts.seconds as { toString(): string })?.toString() ?? 0) * 1000 + (ts.nanos ?? 0) / 1e6 : NaN);

export interface RetrySample {
  computedMs: number;
  /** Attempt 1 failed (server's lastAttemptCompleteTime) → attempt 2 started; when a describe caught the wait. */
  serverGapMs?: number;
  /** Upper bound: attempt 2 started − (scheduled + attempt 1's latency). */
  measuredMs: number;
  /** measured − computed. */
  lateMs: number;
}

export interface RetryDelayResult {
  n: number;
  computedMs: Summary;
  measuredMs: Summary;
  lateMs: Summary;
  /** serverGapMs − computed, over the samples that have it. */
  serverLateMs: Summary;
  samples: RetrySample[];
}

/** Describes the workflow until it closes: the first lastAttemptCompleteTime of a pending activity past attempt 1. */
async function watchFailedAttempt(client: Client, id: string, done: { closed: boolean }): Promise<number | undefined> {
  const handle = client.workflow.getHandle(id);
  while (!done.closed) {
    try {
      const desc = await handle.describe();
      const pending = (desc.raw.pendingActivities ?? []).find((a) => (a.attempt ?? 1) >= 2 && a.lastAttemptCompleteTime);
      if (pending) return tsMs(pending.lastAttemptCompleteTime as Ts);
      if (desc.status.name !== 'RUNNING') return undefined;
    } catch {
      // not visible yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

export async function measureRetryDelay(opts: { gw: Pool; headers: Record<string, string>; fake: Pool; client: Client; n: number }): Promise<RetryDelayResult> {
  const samples: RetrySample[] = [];
  const json = async (res: { statusCode: number; body: { text(): Promise<string> } }, what: string) => {
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new BenchError(`${what}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as { id?: string; status?: string; attempts?: ViewAttempt[] };
  };
  for (let i = 0; i < opts.n; i++) {
    const step = { kind: 'error', status: 500, retryAfterMs: RETRY_AFTER_MS };
    await json(await opts.fake.request({ path: '/__script', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: RETRY_UPSTREAM_MODEL, steps: [step] }) }), 'script the fake');
    const body = JSON.stringify({ model: RETRY_ALIAS, messages: [{ role: 'user', content: `retry ${i}` }] });
    let view = await json(await opts.gw.request({ path: '/v1/requests', method: 'POST', headers: opts.headers, body }), 'POST /v1/requests (retry)');
    const id = view.id!;
    const done = { closed: false };
    const watching = watchFailedAttempt(opts.client, id, done);
    try {
      for (let polls = 0; view.status !== 'succeeded'; polls++) {
        if (polls > 5 || (view.status !== 'queued' && view.status !== 'running')) throw new BenchError(`retry request ${id} ended ${view.status}: ${JSON.stringify((view as { error?: unknown }).error)}`);
        view = await json(await opts.gw.request({ path: `/v1/requests/${id}?wait=30s`, method: 'GET', headers: opts.headers }), `GET /v1/requests/${id}`);
      }
    } finally {
      done.closed = true;
    }
    const failedAt = await watching;
    const [failed, ok] = view.attempts ?? [];
    if (failed?.outcome !== 'error' || ok?.outcome !== 'ok' || failed.retryDelayMs === undefined)
      throw new BenchError(`retry request ${id}: expected a failed attempt with a retry delay, then an answer: ${JSON.stringify(view.attempts)}`);
    const events = ((await opts.client.workflow.getHandle(id).fetchHistory()).events ?? []) as Array<Record<string, unknown> & { eventTime?: Ts }>;
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes != null);
    const started = events.find((e) => e.activityTaskStartedEventAttributes != null);
    const attempt = (started?.activityTaskStartedEventAttributes as { attempt?: number } | undefined)?.attempt;
    if (!scheduled || !started || attempt !== 2) throw new BenchError(`retry request ${id}: no retried callProvider in its history (attempt ${attempt})`);
    const measuredMs = tsMs(started.eventTime) - tsMs(scheduled.eventTime) - (failed.latencyMs ?? 0);
    const serverGapMs = failedAt === undefined ? undefined : round3(tsMs(started.eventTime) - failedAt);
    samples.push({ computedMs: failed.retryDelayMs, ...(serverGapMs !== undefined && { serverGapMs }), measuredMs: round3(measuredMs), lateMs: round3(measuredMs - failed.retryDelayMs) });
  }
  const caught = samples.filter((s) => s.serverGapMs !== undefined);
  return {
    n: samples.length,
    computedMs: summarize(samples.map((s) => s.computedMs)),
    measuredMs: summarize(samples.map((s) => s.measuredMs)),
    lateMs: summarize(samples.map((s) => s.lateMs)),
    serverLateMs: summarize(caught.map((s) => s.serverGapMs! - s.computedMs)),
    samples,
  };
}
