/**
 * Durable work is charged once, by the worker, and a failed charge is retried as a charge — never by calling
 * the provider again: a spend store that fails once after the provider answered must leave exactly one provider
 * call and exactly one charge (durable requests, batch chunks). And a `x-gateway-durable: true` call is charged
 * when its workflow ends, whether or not its client stayed.
 */
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { hashKey, KeyRegistry } from '../../src/auth/keys.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { spendBuckets } from '../../src/limits/budget.js';
import { MemoryLimitStore } from '../../src/limits/memory-store.js';
import type { LimitStore } from '../../src/limits/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { useDurableHarness } from '../support/durable-harness.js';
import { until } from '../support/until.js';

const KEY = 'key-charge-once-00000000000000000';
const dir = mkdtempSync(join(tmpdir(), 'gateway-charge-once-'));
const PRICE = { inputPerMTok: 1000, outputPerMTok: 2000 };

const yaml = `
auth:
  keys:
    - { id: payer, tenant: acme, hash: "${hashKey(KEY)}", limits: { dailyBudgetUsd: 1000 } }
batches: { dir: "${dir}", linesPerChunk: 2, maxConcurrentLines: 1 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-charge-once }
deployments:
  main: { provider: oa, model: gpt-charge, price: { inputPerMTok: ${PRICE.inputPerMTok}, outputPerMTok: ${PRICE.outputPerMTok} } }
models:
  chat: { groups: [{ deployments: [main] }] }
`;

/** The shared spend store failing the next `failures` charges before writing anything (a Redis timeout). */
class FlakyStore extends MemoryLimitStore {
  failures = 0;
  failed = 0;
  override async addSpendOnce(...args: Parameters<LimitStore['addSpendOnce']>): Promise<boolean> {
    if (this.failures > 0) {
      this.failures--;
      this.failed++;
      throw new Error('spend store unavailable');
    }
    return super.addSpendOnce(...args);
  }
}

const store = new FlakyStore();
const charges: Array<{ chargeId: string; costUsd: number; keyId?: string }> = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const l of String(chunk).split('\n')) if (l && JSON.parse(l).msg === 'charge') charges.push(JSON.parse(l));
    done();
  },
});

const h = useDurableHarness(yaml, {
  worker: (config) => ({ ledger: new Ledger({ store, keys: new KeyRegistry(config.auth), logger: createLogger('info', sink) }) }),
});

const spent = () => store.getSpend(spendBuckets('payer', new Date()).day);
const costOf = (usage: { prompt_tokens: number; completion_tokens: number }) => (usage.prompt_tokens * PRICE.inputPerMTok + usage.completion_tokens * PRICE.outputPerMTok) / 1e6;
const chatCalls = () => h.fake.requests.filter((r) => r.kind === 'chat').length;
const auth = { authorization: `Bearer ${KEY}` };


function reset(failures: number) {
  h.fake.reset();
  charges.length = 0;
  store.failures = failures;
  store.failed = 0;
}

describe('charged once, retried as a charge', () => {
  it('a durable request whose charge fails once: the provider is called once and the key charged once', async () => {
    reset(1);
    const before = await spent();
    const submit = await fetch(`${h.gateway.url}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'charge me once' }] }),
    });
    expect(submit.status).toBe(202);
    const { id } = (await submit.json()) as { id: string };
    const view = (await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=30s`, { headers: auth })).json()) as {
      status: string;
      result: { usage: { prompt_tokens: number; completion_tokens: number } };
    };
    expect(view.status).toBe('succeeded');
    expect(store.failed).toBe(1);
    expect(chatCalls()).toBe(1);
    const cost = costOf(view.result.usage);
    expect(cost).toBeGreaterThan(0);
    expect((await spent()) - before).toBeCloseTo(cost, 12);
    expect(charges.filter((c) => c.chargeId === id)).toEqual([expect.objectContaining({ keyId: 'payer', costUsd: cost })]);
    expect(charges).toHaveLength(1);
  });

  it('a batch chunk whose line charge fails once: the retried chunk charges the stored line and never calls the provider again', async () => {
    reset(1);
    const before = await spent();
    const openai = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
    const lines = [0, 1].map((i) => ({ custom_id: `l${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: `line ${i}` }] } }));
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n')), 'in.jsonl'), purpose: 'batch' });
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await until('the batch to finish', async () => {
      const b = await openai.batches.retrieve(batch.id);
      return ['completed', 'failed', 'cancelled', 'expired'].includes(b.status) ? b : undefined;
    }, 60_000);
    expect(done.request_counts).toMatchObject({ total: 2, completed: 2, failed: 0 });
    expect(store.failed).toBe(1);
    expect(chatCalls()).toBe(2);
    const out = (await (await openai.files.content(done.output_file_id!)).text()).trim().split('\n').map((l) => JSON.parse(l));
    const cost = out.reduce((sum, l) => sum + costOf(l.response.body.usage), 0);
    expect((await spent()) - before).toBeCloseTo(cost, 12);
    expect(charges.map((c) => c.chargeId).sort()).toEqual([`batch:${batch.id}:0`, `batch:${batch.id}:1`]);
  });

  it('a cancelled durable request is charged too (the charge runs outside the cancelled scope)', async () => {
    reset(0);
    h.fake.scriptFor('gpt-charge', { kind: 'hold' });
    const submit = await fetch(`${h.gateway.url}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'cancel me' }] }),
    });
    const { id } = (await submit.json()) as { id: string };
    await until('the provider call to be held', () => (h.fake.held === 1 ? true : undefined));
    expect((await fetch(`${h.gateway.url}/v1/requests/${id}`, { method: 'DELETE', headers: auth })).ok).toBe(true);
    const charge = await until('the cancelled workflow to charge', () => charges.find((c) => c.chargeId === id));
    expect(charge).toMatchObject({ keyId: 'payer' });
    h.fake.release();
    const desc = await until('the workflow to end', async () => {
      const d = await h.temporal.workflow.getHandle(id).describe();
      return d.status.name === 'RUNNING' ? undefined : d;
    });
    expect(desc.status.name).toBe('CANCELLED');
    expect(charges.filter((c) => c.chargeId === id)).toHaveLength(1);
  });

  it('a x-gateway-durable call whose client disconnects is charged when its workflow ends', async () => {
    reset(0);
    const before = await spent();
    h.fake.scriptFor('gpt-charge', { kind: 'hold' });
    const abort = new AbortController();
    const call = fetch(`${h.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gateway-durable': 'true', ...auth },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'I will not wait' }] }),
      signal: abort.signal,
    });
    await until('the provider call to be held', () => (h.fake.held === 1 ? true : undefined));
    abort.abort();
    await expect(call).rejects.toThrow();
    h.fake.release();
    const charge = await until('the workflow to charge the request', () => charges[0], 30_000);
    expect(chatCalls()).toBe(1);
    expect(charge).toMatchObject({ keyId: 'payer' });
    expect(charge.costUsd).toBeGreaterThan(0);
    expect((await spent()) - before).toBeCloseTo(charge.costUsd, 12);
  });
});
