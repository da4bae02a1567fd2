/** One tenant's durable requests do not exist for another: 404, never 403, so ids leak nothing. */
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { SA } from '../../src/durable/search-attributes.js';
import { useDurableHarness } from '../support/durable-harness.js';

const A = 'gw-tenant-a-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'gw-tenant-b-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbb';

const h = useDurableHarness(`
auth:
  keys:
    - { id: a, tenant: alpha, hash: "${hashKey(A)}" }
    - { id: b, tenant: bravo, hash: "${hashKey(B)}" }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`);

const call = (key: string, path: string, init: RequestInit = {}) =>
  fetch(`${h.gateway.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });

describe('tenant isolation of durable requests', () => {
  it('a request of tenant alpha is 404 for tenant bravo, on read and cancel, and the same idempotency key is per tenant', async () => {
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'alpha only' }] });
    const submitted = (await (await call(A, '/v1/requests', { method: 'POST', body, headers: { 'idempotency-key': 'shared-key' } })).json()) as { id: string };
    const done = (await (await call(A, `/v1/requests/${submitted.id}?wait=20s`)).json()) as { status: string };
    expect(done.status).toBe('succeeded');

    const read = await call(B, `/v1/requests/${submitted.id}`);
    expect(read.status).toBe(404);
    expect(((await read.json()) as { error: { code: string } }).error.code).toBe('request_not_found');
    expect((await call(B, `/v1/requests/${submitted.id}`, { method: 'DELETE' })).status).toBe(404);

    const bravo = (await (await call(B, '/v1/requests', { method: 'POST', body, headers: { 'idempotency-key': 'shared-key' } })).json()) as { id: string };
    expect(bravo.id).not.toBe(submitted.id);
    const desc = await h.temporal.workflow.getHandle(submitted.id).describe();
    expect(desc.typedSearchAttributes.get(SA.tenant)).toBe('alpha');
  });

  it('keeps gateway keys out of workflow history', async () => {
    const { id } = (await (
      await call(A, '/v1/requests', { method: 'POST', body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) })
    ).json()) as { id: string };
    await call(A, `/v1/requests/${id}?wait=20s`);
    const history = JSON.stringify(await h.temporal.workflow.getHandle(id).fetchHistory(), (k, v) =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
    );
    expect(history.includes('alpha')).toBe(true);
    expect(history.includes(A)).toBe(false);
    expect(history.includes(hashKey(A))).toBe(false);
  });
});
