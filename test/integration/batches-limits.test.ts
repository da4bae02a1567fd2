/**
 * Batch lines share a deployment politely: at most `maxConcurrentPerDeployment` of their provider calls are in
 * flight at once on a worker, however many lines the batch itself would run in parallel.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'gateway-batch-limits-'));
const h = useDurableHarness(`
batches: { dir: "${dir}", linesPerChunk: 6, maxConcurrentLines: 6, maxConcurrentPerDeployment: 2 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-batch-limits }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`);

describe('batch concurrency per deployment', () => {
  it('never has more provider calls in flight on one deployment than its limit', async () => {
    const openai = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    h.fake.scriptFor('gpt-main', ...Array.from({ length: 6 }, () => ({ kind: 'hold' as const })));
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ custom_id: `p${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: `line ${i}` }] } }));
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'in.jsonl'), purpose: 'batch' });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    let peak = 0;
    for (let round = 0; round < 3; round++) {
      await expect.poll(() => h.fake.held, { timeout: 10_000 }).toBe(2);
      // the batch would run six at once: give it time to try
      await new Promise((r) => setTimeout(r, 300));
      peak = Math.max(peak, h.fake.held, h.fake.openRequests);
      expect(h.fake.requests.filter((r) => r.kind === 'chat')).toHaveLength(2 * (round + 1));
      h.fake.release();
    }
    expect(peak).toBe(2);
    await expect
      .poll(async () => (await openai.batches.retrieve(batch.id)).status, { timeout: 10_000 })
      .toBe('completed');
    expect((await openai.batches.retrieve(batch.id)).request_counts).toMatchObject({ total: 6, completed: 6, failed: 0 });
  });
});
