import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { backoffDelay, nextMove } from '../../src/decision/fallback.js';
import { planRoute, weightedOrder } from '../../src/decision/plan.js';
import { retryAfterMs } from '../../src/decision/retry-after.js';
import type { RequestTraits } from '../../src/decision/traits.js';

const yaml = `
providers:
  a: { type: mock }
  b: { type: mock }
deployments:
  a1: { provider: a, model: m, contextWindow: 8000 }
  a2: { provider: a, model: m, contextWindow: 8000, weight: 3 }
  b1: { provider: b, model: m, contextWindow: 200000, capabilities: [streaming] }
  small: { provider: b, model: s, tier: 3 }
models:
  big:
    groups:
      - deployments: [a1, a2]
      - deployments: [b1]
    downgrade: little
    fallback: { attemptsPerDeployment: 3, backoff: { baseMs: 100, capMs: 1000 }, maxRetryAfterMs: 5000 }
  little:
    groups: [{ deployments: [small] }]
`;
const cfg = parseConfig(yaml, 'test');
const plain: RequestTraits = { stream: false, needs: [], estimatedInputTokens: 10 };
const fixed = (v: number) => () => v;

describe('planRoute', () => {
  it('orders groups, then the downgrade alias, with stages named', () => {
    const plan = planRoute(cfg, 'big', plain, fixed(0.5));
    expect(plan.steps.map((s) => [s.deployment, s.stage])).toEqual([
      ['a2', 'primary'],
      ['a1', 'switch'],
      ['b1', 'switch'],
      ['small', 'downgrade'],
    ]);
    expect(plan.policies.little).toBeDefined();
  });

  it('leaves out deployments lacking a needed capability and says why', () => {
    const plan = planRoute(cfg, 'big', { ...plain, needs: ['tools'] }, fixed(0.5));
    expect(plan.steps.map((s) => s.deployment)).not.toContain('b1');
    expect(plan.skipped).toEqual([{ deployment: 'b1', reason: 'lacks tools' }]);
  });

  it('rejects an unknown alias', () => {
    expect(() => planRoute(cfg, 'nope', plain, Math.random)).toThrow(/does not exist/);
  });

  it('weights inside a group: heavier members come first more often', () => {
    let seed = 1;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let heavyFirst = 0;
    for (let i = 0; i < 4000; i++) {
      if (weightedOrder([{ id: 'x', weight: 1 }, { id: 'y', weight: 3 }], lcg)[0]!.id === 'y') heavyFirst++;
    }
    expect(heavyFirst / 4000).toBeGreaterThan(0.7);
    expect(heavyFirst / 4000).toBeLessThan(0.8);
  });
});

describe('nextMove', () => {
  const plan = planRoute(cfg, 'big', plain, fixed(0.5));

  it('retries transient errors with jittered backoff until attempts run out, then switches', () => {
    expect(nextMove(cfg, plan, 0, 1, { kind: 'server' }, fixed(1))).toEqual({ action: 'retry', delayMs: 100, reason: 'server' });
    expect(nextMove(cfg, plan, 0, 2, { kind: 'timeout' }, fixed(1))).toEqual({ action: 'retry', delayMs: 200, reason: 'timeout' });
    expect(nextMove(cfg, plan, 0, 3, { kind: 'server' }, fixed(1))).toMatchObject({ action: 'advance', step: 1 });
  });

  it('never retries sooner than Retry-After, and moves on when it is too long', () => {
    expect(nextMove(cfg, plan, 0, 1, { kind: 'rate_limited', retryAfterMs: 1200 }, fixed(0.1))).toMatchObject({ action: 'retry', delayMs: 1200 });
    expect(nextMove(cfg, plan, 0, 1, { kind: 'rate_limited', retryAfterMs: 60_000 }, fixed(0.1))).toMatchObject({ action: 'advance', step: 1 });
  });

  it('gives client errors straight back and never retries them', () => {
    expect(nextMove(cfg, plan, 0, 1, { kind: 'bad_request' }, fixed(0))).toMatchObject({ action: 'return_error' });
    expect(nextMove(cfg, plan, 0, 1, { kind: 'content_filter' }, fixed(0))).toMatchObject({ action: 'return_error' });
  });

  it('skips a misconfigured deployment (auth, not found) without retrying it', () => {
    expect(nextMove(cfg, plan, 0, 1, { kind: 'auth' }, fixed(0))).toMatchObject({ action: 'advance', step: 1 });
  });

  it('jumps to a larger context window on context-length errors', () => {
    expect(nextMove(cfg, plan, 0, 1, { kind: 'context_length' }, fixed(0))).toMatchObject({ action: 'advance', step: 2 });
    expect(nextMove(cfg, plan, 2, 1, { kind: 'context_length' }, fixed(0))).toMatchObject({ action: 'return_error' });
  });

  it('falls to the catch-all after the last step', () => {
    expect(nextMove(cfg, plan, 3, 3, { kind: 'server' }, fixed(0))).toMatchObject({ action: 'catch_all' });
  });

  it('does not fail over once output has reached the client', () => {
    expect(nextMove(cfg, plan, 0, 1, { kind: 'connection', afterOutput: true }, fixed(0))).toMatchObject({ action: 'return_error' });
  });
});

describe('backoff and retry hints', () => {
  it('full jitter stays within the capped exponential ceiling', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** (attempt - 1));
      expect(backoffDelay(attempt, 100, 1000, fixed(0.999))).toBeLessThanOrEqual(ceiling);
      expect(backoffDelay(attempt, 100, 1000, fixed(0))).toBe(0);
    }
  });

  it('reads retry-after seconds, HTTP dates and the millisecond headers', () => {
    const h = (o: Record<string, string>) => (n: string) => o[n];
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3000);
    expect(retryAfterMs(h({ 'retry-after': '2', 'retry-after-ms': '150' }), now)).toBe(150);
    expect(retryAfterMs(h({ 'x-ms-retry-after-ms': '750' }), now)).toBe(750);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(h({}), now)).toBeUndefined();
  });
});

describe('upstream error bodies', () => {
  it('classifies each family and reads Gemini RetryInfo from the body', async () => {
    const { readErrorBody, kindFromStatus } = await import('../../src/providers/classify.js');
    const gemini = readErrorBody(
      JSON.stringify({
        error: {
          code: 429,
          status: 'RESOURCE_EXHAUSTED',
          message: 'Quota exceeded',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.5s' }],
        },
      }),
    );
    expect(gemini).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryDelayMs: 2500 });
    expect(kindFromStatus(429, gemini)).toBe('rate_limited');
    const anthropic = readErrorBody(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    expect(kindFromStatus(529, anthropic)).toBe('overloaded');
    const tooLong = readErrorBody(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } }));
    expect(kindFromStatus(400, tooLong)).toBe('context_length');
    const openai = readErrorBody(JSON.stringify({ error: { message: 'x', type: 'invalid_request_error', code: 'context_length_exceeded' } }));
    expect(kindFromStatus(400, openai)).toBe('context_length');
    const azureFilter = readErrorBody(JSON.stringify({ error: { message: 'filtered', code: 'content_filter', innererror: { code: 'ResponsibleAIPolicyViolation' } } }));
    expect(kindFromStatus(400, azureFilter)).toBe('content_filter');
    expect(kindFromStatus(400, readErrorBody('not json at all'))).toBe('bad_request');
    expect(kindFromStatus(401, readErrorBody('{}'))).toBe('auth');
    expect(kindFromStatus(502, readErrorBody(''))).toBe('server');
  });
});
