/**
 * Issue #13's answer defects on the durable path, against a real Temporal dev server and the fake provider:
 * POST /v1/requests with a cascade alias, error answers of `x-gateway-durable: true` calls (headers, the
 * request id, the same error code as the fast path), and an overhead that does not count retry waits.
 */
import { describe, expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-pipe-durable-upstream }
deployments:
  casc-small: { provider: oa, model: m-casc-small }
  casc-large: { provider: oa, model: m-casc-large }
  err-oa: { provider: oa, model: m-err }
  wait-oa: { provider: oa, model: m-wait }
models:
  tier-small: { groups: [{ deployments: [casc-small] }] }
  tier-large: { groups: [{ deployments: [casc-large] }] }
  auto:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: rules, minChars: 60 }]
  errs: { groups: [{ deployments: [err-oa] }], fallback: { attemptsPerDeployment: 1 } }
  waits: { groups: [{ deployments: [wait-oa] }], fallback: { attemptsPerDeployment: 2 } }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 5, capMs: 20 }, maxRetryAfterMs: 3000 }
`;

const h = useDurableHarness(yaml);

const ask = (model: string, content: string) => ({ model, messages: [{ role: 'user' as const, content }] });

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

const DURABLE = { 'x-gateway-durable': 'true' };

describe('POST /v1/requests with a cascade alias', () => {
  it('is accepted (202) and runs the cascade to an answer', async () => {
    const submitted = await post('/v1/requests', ask('auto', 'a cascade, durably'));
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    let view: any;
    for (let i = 0; i < 6; i++) {
      view = await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=10s`)).json();
      if (view.status !== 'queued' && view.status !== 'running') break;
    }
    expect(view.status).toBe('succeeded');
    expect(view.result.choices[0].message.content).toBe('Echo: a cascade, durably');
    // the small answer is short, so the cascade escalated to the large stage
    expect(h.fake.requests.filter((r) => r.kind === 'chat').map((r) => r.model)).toEqual(['m-casc-small', 'm-casc-large']);
  });
});

describe('error answers of durable calls', () => {
  const flagged = { kind: 'error' as const, status: 400, code: 'invalid_prompt', message: 'Your prompt was flagged as potentially violating our usage policy.' };

  it('a passed-through upstream 400 gets the same status and code on the fast path and with x-gateway-durable: true', async () => {
    h.fake.scriptFor('m-err', flagged, flagged);
    const fast = await post('/v1/chat/completions', ask('errs', 'flag me'));
    const durable = await post('/v1/chat/completions', ask('errs', 'flag me'), DURABLE);
    type ErrorBody = { error: { code: string; type: string } };
    const [fastBody, durableBody] = (await Promise.all([fast.json(), durable.json()])) as [ErrorBody, ErrorBody];
    expect(fast.status).toBe(400);
    expect(fastBody.error.code).toBe('invalid_prompt');
    expect({ status: durable.status, code: durableBody.error.code, type: durableBody.error.type }).toEqual({
      status: fast.status,
      code: fastBody.error.code,
      type: fastBody.error.type,
    });
  });

  it('carries the request id, attempts, fallback level and the deployment that gave the error', async () => {
    h.fake.scriptFor('m-err', flagged);
    const res = await post('/v1/chat/completions', ask('errs', 'flag me durably'), DURABLE);
    expect(res.status).toBe(400);
    const id = res.headers.get('x-gateway-request-id');
    expect(id).toEqual(expect.stringMatching(/^req-/));
    expect(res.headers.get('x-gateway-attempts')).toBe('1');
    expect(res.headers.get('x-gateway-fallback')).toBe('none');
    expect(res.headers.get('x-gateway-deployment')).toBe('err-oa');
    // the id names the workflow that ran it: GET /v1/requests/{id} reads the same failure again
    const view = (await (await fetch(`${h.gateway.url}/v1/requests/${id}`)).json()) as { status: string };
    expect(view.status).toBe('failed');
  });
});

describe('durable x-gateway-overhead-ms', () => {
  it('excludes the wait a 429 Retry-After: 1 asked for', async () => {
    h.fake.scriptFor('m-wait', { kind: 'error', status: 429, retryAfter: '1' });
    const started = performance.now();
    const res = await post('/v1/chat/completions', ask('waits', 'patience'), DURABLE);
    const total = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-attempts')).toBe('2');
    expect(total).toBeGreaterThanOrEqual(1000); // the wait really happened
    const overhead = Number(res.headers.get('x-gateway-overhead-ms'));
    expect(Number.isFinite(overhead)).toBe(true);
    expect(overhead).toBeLessThan(500);
  });
});
