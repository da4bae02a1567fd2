/** A lost worker is the gateway's failure, not a provider's: its labels must not read as a fallback. */
import { describe, expect, it } from 'vitest';
import { outcomeLabel, type Attempt } from '../../src/decision/attempt.js';
import { fallbackLevel } from '../../src/pipeline/headers.js';
import { fallbackTriggers } from '../../src/observability/request-record.js';
import { isUnreachable } from '../../src/durable/connection.js';
import { TemporalUnavailable } from '../../src/durable/errors.js';
import { unavailableError } from '../../src/pipeline/durable-errors.js';

const at = (deployment: string, outcome: Attempt['outcome'], extra: Partial<Attempt> = {}): Attempt => ({
  deployment,
  provider: 'p',
  alias: 'chat',
  stage: 'primary',
  attempt: 1,
  outcome,
  latencyMs: 1,
  ...extra,
});

describe('worker_lost labels', () => {
  it('a call re-run after its worker died: outcome worker_lost, header worker_lost, trigger reason worker_lost', () => {
    const attempts = [at('a', 'worker_lost', { workerLost: true }), at('a', 'ok')];
    expect(outcomeLabel(attempts, true, false)).toBe('worker_lost');
    expect(fallbackLevel(attempts, false)).toBe('worker_lost');
    expect(fallbackTriggers(attempts, false)).toEqual([{ stage: 'retry', reason: 'worker_lost' }]);
  });

  it('a provider failure as well is still a fallback', () => {
    const attempts = [at('a', 'worker_lost'), at('a', 'error', { kind: 'server' }), at('a', 'ok')];
    expect(outcomeLabel(attempts, true, false)).toBe('fallback');
    expect(fallbackLevel(attempts, false)).toBe('retry');
    expect(fallbackTriggers(attempts, false).map((t) => t.reason)).toEqual(['worker_lost', 'server']);
    expect(outcomeLabel([at('a', 'ok')], true, false)).toBe('success');
  });
});

describe('Temporal unreachable', () => {
  it('recognises UNAVAILABLE and DEADLINE_EXCEEDED through wrapping causes, nothing else', () => {
    expect(isUnreachable({ code: 14 })).toBe(true);
    expect(isUnreachable(new Error('wrapped', { cause: { code: 4 } }))).toBe(true);
    expect(isUnreachable({ code: 5 })).toBe(false);
    expect(isUnreachable(new Error('plain'))).toBe(false);
  });

  it('answers 503 with Retry-After, and the request id when the outcome is unknown', () => {
    const unknown = unavailableError(new TemporalUnavailable('lost', 'req-123'));
    expect(unknown.status).toBe(503);
    expect(unknown.headers).toEqual({ 'retry-after': '2', 'x-gateway-request-id': 'req-123' });
    expect(unknown.message).toContain('req-123');
    expect(unknown.body().error).toMatchObject({ type: 'service_unavailable', code: 'durable_unavailable' });
    expect(unavailableError(new TemporalUnavailable('down')).headers).toEqual({ 'retry-after': '2' });
  });
});
