/**
 * Batches count against the requests-per-minute of the key that created them, on the same counters as its
 * synchronous requests: a 5-rpm key already refused with 429 runs none of its 12 lines while its window is
 * full (the lines wait; none fails), and a 3-rpm key's batch runs exactly three lines in its first minute.
 * (The pacing over whole minutes is test/unit/batch-pacing.test.ts, on a fake clock.)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { useDurableHarness } from '../support/durable-harness.js';

const KEYS = { five: 'gw-test-batch-rpm-five', three: 'gw-test-batch-rpm-three' };
const dir = mkdtempSync(join(tmpdir(), 'gateway-batch-rpm-'));
const h = useDurableHarness(`
auth:
  keys:
    - { id: five, tenant: acme, hash: "${hashKey(KEYS.five)}", limits: { requestsPerMinute: 5 } }
    - { id: three, tenant: acme, hash: "${hashKey(KEYS.three)}", limits: { requestsPerMinute: 3 } }
batches: { dir: "${dir}", linesPerChunk: 12, maxConcurrentLines: 12 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-batch-rpm }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`);

const client = (key: string) => new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: key, maxRetries: 0 });
const batchCalls = (tag: string) => h.fake.requests.filter((r) => r.kind === 'chat' && JSON.stringify(r.body).includes(tag)).length;

async function startBatch(openai: OpenAI, tag: string, n: number) {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `${tag}-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: `${tag} line ${i}` }] } }));
  const file = await openai.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'in.jsonl'), purpose: 'batch' });
  return openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
}

describe('batches and the key’s requests per minute', () => {
  it('a 5-rpm key already refused with 429 does not run its 12-line batch: the lines wait, none fails', async () => {
    const openai = client(KEYS.five);
    for (let i = 0; i < 5; i++) await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `sync ${i}` }] });
    await expect(openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'one too many' }] })).rejects.toMatchObject({ status: 429 });

    const batch = await startBatch(openai, 'refused-key', 12);
    await expect.poll(async () => (await openai.batches.retrieve(batch.id)).status, { timeout: 15_000 }).toBe('in_progress');
    // time enough for 12 lines against an instant fake provider
    await new Promise((r) => setTimeout(r, 3_000));
    const now = await openai.batches.retrieve(batch.id);
    expect(now.status).toBe('in_progress');
    expect(now.request_counts).toMatchObject({ total: 12, completed: 0, failed: 0 });
    expect(batchCalls('refused-key')).toBe(0);
    await openai.batches.cancel(batch.id);
    await expect.poll(async () => (await openai.batches.retrieve(batch.id)).status, { timeout: 15_000 }).toBe('cancelled');
  }, 40_000);

  it('a 3-rpm key’s batch runs at its limit: three lines in the first minute, the rest waiting', async () => {
    const openai = client(KEYS.three);
    const batch = await startBatch(openai, 'paced-key', 6);
    await expect.poll(() => batchCalls('paced-key'), { timeout: 15_000 }).toBe(3);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(batchCalls('paced-key')).toBe(3);
    expect((await openai.batches.retrieve(batch.id)).status).toBe('in_progress');
    // the batch holds the key's window: its own requests are refused too
    await expect(openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'sync' }] })).rejects.toMatchObject({ status: 429 });
    await openai.batches.cancel(batch.id);
    await expect.poll(async () => (await openai.batches.retrieve(batch.id)).status, { timeout: 15_000 }).toBe('cancelled');
    // the three answered lines are kept; none of the waiting ones ran
    expect((await openai.batches.retrieve(batch.id)).request_counts).toMatchObject({ completed: 3 });
  }, 40_000);
});
