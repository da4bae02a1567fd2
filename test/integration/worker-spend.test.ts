/**
 * Spend of work answered after its HTTP request ended — batch lines, `POST /v1/requests` — is charged to the
 * key that submitted it, so a spend budget cannot be walked around through the durable endpoints.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { useDurableHarness } from '../support/durable-harness.js';
import { until } from '../support/until.js';

const KEYS = { batch: 'key-spend-batch-0000000000000000', submit: 'key-spend-submit-000000000000000', admin: 'key-spend-admin-0000000000000000' };
const dir = mkdtempSync(join(tmpdir(), 'gateway-spend-'));

// A deliberately absurd price: one answer of the fake provider costs far more than either budget.
const yaml = `
auth:
  adminKeyHash: "${hashKey(KEYS.admin)}"
  keys:
    - { id: batcher, tenant: acme, hash: "${hashKey(KEYS.batch)}", limits: { dailyBudgetUsd: 0.2 } }
    - { id: submitter, tenant: acme, hash: "${hashKey(KEYS.submit)}", limits: { dailyBudgetUsd: 0.2 } }
batches: { dir: "${dir}", linesPerChunk: 1, maxConcurrentLines: 1 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-spend-upstream }
deployments:
  pricey: { provider: oa, model: gpt-pricey, price: { inputPerMTok: 100000, outputPerMTok: 100000 } }
models:
  chat: { groups: [{ deployments: [pricey] }] }
`;

const h = useDurableHarness(yaml);

const client = (key: string) => new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: 30_000 });

async function spentToday(keyId: string): Promise<number> {
  const res = await fetch(`${h.gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
  const body = (await res.json()) as { data: Array<{ id: string; spend_usd: { today: number } }> };
  return body.data.find((k) => k.id === keyId)!.spend_usd.today;
}


describe('spend of work answered by the worker', () => {
  it('batch lines are charged to the key that created the batch; once its budget is spent the rest are refused, and so is a new batch', async () => {
    const openai = client(KEYS.batch);
    const lines = Array.from({ length: 4 }, (_, i) => ({ custom_id: `l${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: `line ${i}` }] } }));
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n')), 'in.jsonl'), purpose: 'batch' });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await until('the batch to finish', async () => {
      const b = await openai.batches.retrieve(batch.id);
      return ['completed', 'failed', 'cancelled', 'expired'].includes(b.status) ? b : undefined;
    });
    // one line at a time: the first answer spends the budget, the other three are refused without a call
    expect(done.request_counts).toMatchObject({ total: 4, completed: 1, failed: 3 });
    expect(h.fake.requests.filter((r) => r.kind === 'chat')).toHaveLength(1);
    const errors = (await (await openai.files.content(done.error_file_id!)).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.map((e) => [e.response.status_code, e.response.body.error.code])).toEqual(Array(3).fill([429, 'budget_exceeded']));
    expect(await spentToday('batcher')).toBeGreaterThanOrEqual(0.2);

    await expect(openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({
      status: 429,
      code: 'budget_exceeded',
    });
  });

  it('a request submitted to POST /v1/requests is charged when the worker answers it', async () => {
    const submit = await fetch(`${h.gateway.url}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.submit}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(submit.status).toBe(202);
    const { id } = (await submit.json()) as { id: string };
    const view = await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=20s`, { headers: { authorization: `Bearer ${KEYS.submit}` } })).json();
    expect((view as { status: string }).status).toBe('succeeded');
    expect(await spentToday('submitter')).toBeGreaterThanOrEqual(0.2);
    // the budget is spent: the next request of this key is refused
    await expect(client(KEYS.submit).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'again' }] })).rejects.toMatchObject({
      status: 429,
      code: 'budget_exceeded',
    });
  });
});
