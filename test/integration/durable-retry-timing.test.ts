/**
 * A durable retry waits the delay the fallback policy computed, not the server's timer granularity: the Temporal
 * server fires a new timer or retry backoff no sooner than now + history.timerProcessorMaxTimeShift (1 s by
 * default), so a 200 ms retry used to wait a second. The embedded dev server sets the shift to 10 ms
 * (src/durable/dev-server.ts); this reads the gap from the workflow history. The bound is loose (machine
 * load); the benchmark (bench/durable.ts) measures the 50 ms target.
 */
import { describe, expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';
import type { RequestView } from '../../src/durable/requests.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-retry-timing }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  solo: { groups: [{ deployments: [oa-main] }], fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 1, capMs: 1 }, maxRetryAfterMs: 5000 } }
`;

const h = useDurableHarness(yaml);

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const ms = (ts: Ts) => Number(String(ts?.seconds ?? 0)) * 1000 + (ts?.nanos ?? 0) / 1e6;

async function submitAndWait(content: string): Promise<RequestView> {
  const post = await fetch(`${h.gateway.url}/v1/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'solo', messages: [{ role: 'user', content }] }) });
  const { id } = (await post.json()) as { id: string };
  for (let i = 0; i < 10; i++) {
    const view = (await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=10s`)).json()) as RequestView;
    if (view.status !== 'running' && view.status !== 'queued') return view;
  }
  throw new Error(`request ${id} did not finish`);
}

describe('durable retry timing', () => {
  it('retries after the computed delay (200 ms from retry-after-ms), not after a second', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'error', status: 500, retryAfterMs: 200 });
    const view = await submitAndWait('retry on time');
    expect(view.status).toBe('succeeded');
    const [failed, ok] = view.attempts;
    expect(failed).toMatchObject({ outcome: 'error', kind: 'server', retryDelayMs: 200 });
    expect(ok).toMatchObject({ outcome: 'ok' });

    // server-side retry: one ActivityTaskScheduled, and the started event of the attempt that answered
    const events = (await h.temporal.workflow.getHandle(view.id).fetchHistory()).events ?? [];
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes);
    const started = events.find((e) => e.activityTaskStartedEventAttributes);
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(2);
    // attempt 1 ended no earlier than its scheduling plus its own latency: the gap is at most this
    const gapMs = ms(started!.eventTime as Ts) - ms(scheduled!.eventTime as Ts) - failed!.latencyMs;
    expect(gapMs).toBeGreaterThanOrEqual(200);
    expect(gapMs).toBeLessThan(600);
  });
});
