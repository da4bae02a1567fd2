/**
 * The completion window: a batch still running when it closes stops its lines in flight and ends `expired`,
 * with what was answered in the output file and every other line in the error file as `batch_expired`.
 * (`batches.expireAfterMs` shortens the window here; clients still send OpenAI's `24h`.)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toFile } from 'openai';
import { expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';

const h = useDurableHarness(() => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-batch-expiry-'));
  return `
batches: { dir: "${dir}", linesPerChunk: 1, maxConcurrentLines: 2, expireAfterMs: 3000 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-expiry }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;
});

it('expires a batch that outlives its completion window, keeping the answered lines', async () => {
  h.fake.scriptFor('gpt-main', { kind: 'reply' }, { kind: 'reply' }, { kind: 'hold' }, { kind: 'hold' });
  const lines = Array.from({ length: 6 }, (_, i) =>
    JSON.stringify({ custom_id: `e${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: `expiring ${i}` }] } }),
  );
  const file = await h.openai.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'expiry.jsonl'), purpose: 'batch' });
  const batch = await h.openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  expect(batch.expires_at! - batch.created_at).toBe(3);

  let done = batch;
  for (let i = 0; i < 200 && !['expired', 'completed', 'failed', 'cancelled'].includes(done.status); i++) {
    await new Promise((r) => setTimeout(r, 100));
    done = await h.openai.batches.retrieve(batch.id);
  }
  expect(done.status).toBe('expired');
  expect(done.expired_at).toBeGreaterThan(0);
  expect(done.request_counts).toEqual({ total: 6, completed: 2, failed: 0 });
  expect(h.fake.held).toBe(0);
  expect(h.fake.requests).toHaveLength(4);

  const read = async (id: string | null | undefined) => (await (await h.openai.files.content(id!)).text()).trim().split('\n').map((l) => JSON.parse(l));
  const output = await read(done.output_file_id);
  const errors = await read(done.error_file_id);
  expect(output.map((o) => o.custom_id)).toEqual(['e0', 'e1']);
  expect(errors.map((e) => [e.custom_id, e.error.code])).toEqual(['e2', 'e3', 'e4', 'e5'].map((id) => [id, 'batch_expired']));
});
