/**
 * Health is what upstreams did: a call the gateway fails to build or send (a body too deep to serialise, a
 * translation that throws, a URL undici refuses) is that request's own 4xx/5xx and feeds no breaker, latency
 * window or last error. Reached below the JSON reader (whose depth limit stops such bodies at the door), through
 * the executor and the real adapters, as the durable activity reaches them too.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_HEALTH } from '../../src/config/health-schema.js';
import { nextMove } from '../../src/decision/fallback.js';
import { requestTraits } from '../../src/decision/traits.js';
import { FastPathExecutor, UpstreamRejected } from '../../src/execution/fast-executor.js';
import { openStream } from '../../src/execution/open-stream.js';
import { HealthState } from '../../src/health/health-state.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import { ProviderError } from '../../src/providers/errors.js';
import { httpRequest, transportError } from '../../src/providers/http.js';

// Nothing listens on port 9: a call that got as far as connecting would fail as `connection`, so a `gateway`
// verdict proves the gateway stopped before sending.
const yaml = `
health: { breaker: { consecutiveFailures: 3, minRequests: 3 } }
providers:
  oa: { type: openai, baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-test-openai-0123456789" }
  an: { type: anthropic, baseUrl: "http://127.0.0.1:9", apiKey: "sk-ant-test-0123456789" }
  gm: { type: gemini, baseUrl: "http://127.0.0.1:9", apiKey: "AIzaTest0123456789abcdefghij" }
deployments:
  oa1: { provider: oa, model: m }
  an1: { provider: an, model: m }
  gm1: { provider: gm, model: m }
models:
  openai: { groups: [{ deployments: [oa1] }, { deployments: [an1] }] }
  anthropic: { groups: [{ deployments: [an1] }] }
  gemini: { groups: [{ deployments: [gm1] }] }
`;
const cfg = parseConfig(yaml, 'test');

function deep(levels: number): unknown {
  let v: unknown = { type: 'string' };
  for (let i = 0; i < levels; i++) v = { type: 'object', properties: { x: v } };
  return v;
}

/** A canonical request that passes validation but nests 5,000 deep inside a tool's JSON schema. */
const deepRequest = (model: string, stream = false): ChatRequest => ({
  model,
  stream,
  messages: [{ role: 'user', content: 'hi' }],
  tools: [{ type: 'function', function: { name: 'f', parameters: deep(5_000) as Record<string, unknown> } }],
});

function setup() {
  const health = new HealthState({ config: cfg.health, deployments: Object.keys(cfg.deployments) });
  const ex = new FastPathExecutor(cfg, { health, random: () => 0.5, sleep: async () => undefined });
  return { health, ex };
}

function expectUntouched(health: HealthState, deployment: string) {
  const d = health.view().deployments[deployment]!;
  expect(d.breaker).toMatchObject({ state: 'closed', failures: 0, requests: 0, consecutiveFailures: 0, opens: 0 });
  expect(d.lastError).toBeNull();
  expect(d.samples.latency).toBe(0);
  expect(d.inFlight).toBe(0);
}

describe('gateway-side failures feed no health state', () => {
  for (const [alias, deployment] of [
    ['openai', 'oa1'],
    ['anthropic', 'an1'],
    ['gemini', 'gm1'],
  ] as const) {
    for (const stream of [false, true]) {
      it(`a 5,000-deep tool schema, ${alias} ${stream ? 'stream' : 'sync'}: the request's 400, five times, breaker closed`, async () => {
        const { health, ex } = setup();
        for (let i = 0; i < 5; i++) {
          const req = deepRequest(alias, stream);
          const plan = ex.plan(alias, requestTraits({ ...req, tools: undefined }));
          const run = ex.run<unknown>(plan, (adapter, target, signal) => (stream ? openStream(adapter, req, target, signal) : adapter.complete(req, target, { signal })));
          const err = await run.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(UpstreamRejected);
          const rejected = (err as UpstreamRejected).error;
          expect(rejected).toMatchObject({ kind: 'gateway', status: 400 });
          expect(rejected.message).toMatch(/nested too deeply/);
          // not passed to the next group: no other deployment would send it either
          expect((err as UpstreamRejected).attempts.map((a) => [a.deployment, a.kind])).toEqual([[deployment, 'gateway']]);
        }
        expectUntouched(health, deployment);
      });
    }
  }

  it('a translation that throws (synchronously or not) is a gateway fault: 500, no verdict, nothing left in flight', async () => {
    const { health, ex } = setup();
    const req: ChatRequest = { model: 'anthropic', messages: [{ role: 'user', content: 'hi' }] };
    const plan = ex.plan('anthropic', requestTraits(req));
    const calls = [
      () => {
        throw new TypeError("Cannot read properties of undefined (reading 'text')");
      },
      async () => {
        throw new Error('translation bug');
      },
    ];
    for (let i = 0; i < 6; i++) {
      const err = await ex.run(plan, calls[i % 2]!).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamRejected);
      expect((err as UpstreamRejected).error).toMatchObject({ kind: 'gateway', status: 500 });
    }
    expectUntouched(health, 'an1');
  });

  it('a client that leaves mid-call is no failure of the deployment', async () => {
    const { health, ex } = setup();
    const req: ChatRequest = { model: 'anthropic', messages: [{ role: 'user', content: 'hi' }] };
    const plan = ex.plan('anthropic', requestTraits(req));
    for (let i = 0; i < 5; i++) {
      const client = new AbortController();
      // the socket torn down under the call surfaces as a transport error of the adapter
      const run = ex.run(plan, (_a, _t, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new ProviderError({ kind: 'connection', message: 'socket closed' })))), client.signal);
      setTimeout(() => client.abort(new Error('client went away')), 5);
      await expect(run).rejects.toThrow('client went away');
    }
    expectUntouched(health, 'an1');
  });

  it('upstream failures still count: three connection failures open the breaker', async () => {
    const { health, ex } = setup();
    const req: ChatRequest = { model: 'anthropic', messages: [{ role: 'user', content: 'hi' }] };
    for (let i = 0; i < 3; i++) {
      const plan = ex.plan('anthropic', requestTraits(req));
      await ex.run(plan, (adapter, target, signal) => adapter.complete(req, target, { signal }));
    }
    expect(health.view().deployments.an1!.breaker.state).toBe('open');
    expect(health.view().deployments.an1!.lastError?.kind).toBe('connection');
  });
});

describe('the gateway kind', () => {
  it('the HTTP client: an unserialisable body, an invalid URL and bad headers are gateway faults, network errors are not', async () => {
    const timeouts = { connectMs: 500, firstByteMs: 500, idleMs: 500, totalMs: 1_000 };
    const nested: unknown[] = [];
    let cur = nested;
    for (let i = 0; i < 10_000; i++) cur = (cur[0] = []) as unknown[];
    await expect(httpRequest('http://127.0.0.1:9/', nested, { headers: {}, timeouts })).rejects.toMatchObject({ kind: 'gateway', status: 400 });
    await expect(httpRequest('not a url', {}, { headers: {}, timeouts })).rejects.toMatchObject({ kind: 'gateway', status: 500 });
    await expect(httpRequest('http://127.0.0.1:9/', {}, { headers: { 'x-bad': 'a\r\nb' }, timeouts })).rejects.toMatchObject({ kind: 'gateway' });
    await expect(httpRequest('http://127.0.0.1:9/', {}, { headers: {}, timeouts })).rejects.toMatchObject({ kind: 'connection' });
    expect(transportError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toMatchObject({ kind: 'connection' });
    expect(transportError(new TypeError('x is not a function'))).toMatchObject({ kind: 'gateway', status: 500 });
  });

  it('goes back to the client at once, and the health state ignores it even when told', () => {
    const plan = new FastPathExecutor(cfg).plan('openai', requestTraits({ model: 'openai', messages: [{ role: 'user', content: 'hi' }] }));
    expect(nextMove(cfg, plan, 0, 1, { kind: 'gateway' }, () => 0.5)).toMatchObject({ action: 'return_error' });
    const health = new HealthState({ config: { ...DEFAULT_HEALTH, breaker: { ...DEFAULT_HEALTH.breaker, consecutiveFailures: 1 } } });
    health.end(health.begin('x'), { ok: false, kind: 'gateway', latencyMs: 3 });
    expect(health.view().deployments.x).toMatchObject({ breaker: { state: 'closed', requests: 0 }, lastError: null });
  });
});
