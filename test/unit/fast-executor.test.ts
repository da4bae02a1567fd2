import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { FastPathExecutor, UpstreamRejected } from '../../src/execution/fast-executor.js';
import { openStream } from '../../src/execution/open-stream.js';
import { requestTraits } from '../../src/decision/traits.js';
import { resetMockCounters } from '../../src/providers/mock.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';

const yaml = `
providers:
  flaky: { type: mock, mock: { pattern: [429, 500, ok], retryAfterSeconds: 0.3 } }
  down: { type: mock, mock: { pattern: [503] } }
  bad: { type: mock, mock: { pattern: [400] } }
  cutter: { type: mock, mock: { pattern: [cut] } }
  fine: { type: mock }
deployments:
  flaky1: { provider: flaky, model: m }
  down1: { provider: down, model: m }
  bad1: { provider: bad, model: m }
  cut1: { provider: cutter, model: m }
  fine1: { provider: fine, model: small }
models:
  retrying: { groups: [{ deployments: [flaky1] }], fallback: { attemptsPerDeployment: 3 } }
  switching: { groups: [{ deployments: [down1] }, { deployments: [fine1] }] }
  downgrading: { groups: [{ deployments: [down1] }], downgrade: small }
  small: { groups: [{ deployments: [fine1] }] }
  rejecting: { groups: [{ deployments: [bad1] }, { deployments: [fine1] }] }
  preset: { groups: [{ deployments: [down1] }], fallback: { catchAll: { presetAnswer: busy } } }
  busy: { groups: [{ deployments: [down1] }] }
  streamcut: { groups: [{ deployments: [cut1] }, { deployments: [fine1] }] }
defaults:
  fallback: { backoff: { baseMs: 100, capMs: 1000 } }
`;
const cfg = parseConfig(yaml, 'test');
const req = (model: string, stream = false): ChatRequest => ({ model, stream, messages: [{ role: 'user', content: 'hi there' }] });

function executor() {
  const sleeps: number[] = [];
  const ex = new FastPathExecutor(cfg, { random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
  return { ex, sleeps };
}

async function complete(model: string) {
  const { ex, sleeps } = executor();
  const plan = ex.plan(model, requestTraits(req(model)));
  const out = await ex.run(plan, (adapter, target, signal) => adapter.complete(req(model), target, { signal }));
  return { out, sleeps };
}

describe('fast-path executor over the mock provider', () => {
  beforeEach(() => resetMockCounters());

  it('retries 429 (honouring Retry-After) and 500 with backoff on the same deployment', async () => {
    const { out, sleeps } = await complete('retrying');
    expect(out.kind).toBe('answered');
    expect(out.attempts.map((a) => [a.deployment, a.outcome, a.kind])).toEqual([
      ['flaky1', 'error', 'rate_limited'],
      ['flaky1', 'error', 'server'],
      ['flaky1', 'ok', undefined],
    ]);
    // attempt 1: max(retry-after 300, jitter 0.5*100); attempt 2: jitter 0.5*200
    expect(sleeps).toEqual([300, 100]);
  });

  it('switches to the next group after the attempts on a deployment are spent', async () => {
    const { out } = await complete('switching');
    expect(out.kind === 'answered' && out.target.deployment.name).toBe('fine1');
    expect(out.attempts.map((a) => a.stage)).toEqual(['primary', 'primary', 'switch']);
  });

  it('downgrades to the downgrade alias', async () => {
    const { out } = await complete('downgrading');
    expect(out.kind === 'answered' && out.step).toMatchObject({ deployment: 'fine1', alias: 'small', stage: 'downgrade' });
  });

  it('returns a 400-class error at once, without retry or switch', async () => {
    await expect(complete('rejecting')).rejects.toSatisfy((e) => e instanceof UpstreamRejected && e.attempts.length === 1 && e.error.kind === 'bad_request');
  });

  it('ends in the catch-all with the preset answer, or without one', async () => {
    const preset = await complete('preset');
    expect(preset.out).toMatchObject({ kind: 'catch_all', presetAnswer: 'busy' });
    const busy = await complete('busy');
    expect(busy.out).toMatchObject({ kind: 'catch_all', presetAnswer: undefined });
    expect(busy.out.kind === 'catch_all' && busy.out.lastError?.kind).toBe('overloaded');
  });

  it('a stream cut after its first content is not failed over by openStream: the rest throws', async () => {
    const { ex } = executor();
    const r = req('streamcut', true);
    const out = await ex.run(ex.plan('streamcut', requestTraits(r)), (a, t, s) => openStream(a, r, t, s));
    expect(out.kind === 'answered' && out.target.deployment.name).toBe('cut1');
    if (out.kind !== 'answered') return;
    expect(out.value.head.at(-1)!.choices[0]!.delta.content).toBeTruthy();
    await expect(out.value.rest!.next()).rejects.toMatchObject({ kind: 'connection' });
  });

  it('stops when the client aborts during a backoff', async () => {
    const ex = new FastPathExecutor(cfg, { random: () => 0.5 });
    const controller = new AbortController();
    const plan = ex.plan('retrying', requestTraits(req('retrying')));
    const run = ex.run(plan, (a, t, s) => a.complete(req('retrying'), t, { signal: s }), controller.signal);
    setTimeout(() => controller.abort(new Error('gone')), 20);
    await expect(run).rejects.toThrow('gone');
  });
});
