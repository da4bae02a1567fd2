/**
 * The chunk runner without Temporal, over a stub executor: answers stored by line index, lines already answered
 * not run again (what makes a retried chunk exactly-once), cancellation leaving in-flight lines unanswered, and
 * the per-alias limit holding across chunks that run at the same time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { KeyedLimits, runChunk } from '../../src/batches/chunk.js';
import { newBatchId, newFileId } from '../../src/batches/ids.js';
import { scanInputFile } from '../../src/batches/scan.js';
import { FileStore } from '../../src/batches/store.js';
import type { FastPathExecutor } from '../../src/execution/fast-executor.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { abortableSleep } from '../../src/util/sleep.js';

const store = new FileStore(mkdtempSync(join(tmpdir(), 'batch-chunk-')));
const TENANT = 'unit';

/** Answers "Echo: <text>" after `delayMs`, counting calls and the most lines in flight per alias. */
function stubExecutor(delayMs: number) {
  const calls: string[] = [];
  const active = new Map<string, number>();
  const peak = new Map<string, number>();
  const executor = {
    plan: (alias: string) => ({ alias, route: { strategy: 'stub' } }),
    async run(plan: { alias: string }, _call: unknown, signal: AbortSignal) {
      calls.push(plan.alias);
      const now = (active.get(plan.alias) ?? 0) + 1;
      active.set(plan.alias, now);
      peak.set(plan.alias, Math.max(peak.get(plan.alias) ?? 0, now));
      try {
        await abortableSleep(delayMs, signal);
      } finally {
        active.set(plan.alias, active.get(plan.alias)! - 1);
      }
      const value = { object: 'chat.completion', choices: [{ message: { content: `answer ${calls.length}` } }] };
      return { kind: 'answered', value, attempts: [], timing: { upstreamMs: 0, waitedMs: 0 }, target: { deployment: { name: 'stub', price: { inputPerMTok: 0, outputPerMTok: 0 } }, provider: { name: 'stub' } } };
    },
  };
  // every alias exists as a plain alias, planned by the stub
  const alias = { rules: [], groups: [], fallback: { catchAll: {} } };
  // own properties too: the pipeline looks aliases up prototype-safely (Object.hasOwn)
  const models = new Proxy({}, {
    get: (_t, name) => (typeof name === 'string' ? alias : undefined),
    getOwnPropertyDescriptor: (_t, name) => (typeof name === 'string' ? { value: alias, configurable: true, enumerable: true, writable: false } : undefined),
  });
  const config = { models, deployments: {} } as unknown as GatewayConfig;
  const answer = { pipeline: { config, executor: executor as unknown as FastPathExecutor, logger: pino({ level: 'silent' }) } };
  return { answer, calls, peak };
}

async function batchOf(models: string[]): Promise<{ batchId: string; fileId: string }> {
  const text = models.map((model, i) => JSON.stringify({ custom_id: `c${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `line ${i}` }] } })).join('\n');
  const tmp = await store.tempPath(TENANT);
  writeFileSync(tmp, text);
  const fileId = newFileId();
  await store.commitFile(tmp, { id: fileId, object: 'file', bytes: text.length, created_at: 1, filename: 'f.jsonl', purpose: 'batch', status: 'processed', expires_at: null, status_details: null, tenant: TENANT });
  const scan = await scanInputFile(store.contentPath(TENANT, fileId), { endpoint: '/v1/chat/completions', knownModels: new Set(['a', 'b']), maxLines: 100 });
  expect(scan.errors).toEqual([]);
  const batchId = newBatchId();
  await store.putIndex(TENANT, batchId, scan.ranges);
  return { batchId, fileId };
}

describe('runChunk', () => {
  it('stores every answer by line index and does not run answered lines again', async () => {
    const { batchId, fileId } = await batchOf(['a', 'a', 'a', 'a']);
    const first = stubExecutor(1);
    // Line 1 was answered by an earlier attempt of this chunk (a worker that died afterwards).
    await store.putResult(TENANT, batchId, 1, { custom_id: 'c1', status_code: 429, body: { error: { message: 'earlier' } } });
    const deps = { store, answer: first.answer, aliasLimits: new KeyedLimits(8) };
    const counts = await runChunk(deps, { batchId, tenant: TENANT, from: 0, to: 4, concurrency: 4 }, fileId, new AbortController().signal);
    expect(counts).toEqual({ completed: 3, failed: 1 });
    expect(first.calls).toHaveLength(3);
    expect((await store.getResult(TENANT, batchId, 1))?.status_code).toBe(429);
    for (const i of [0, 2, 3]) expect(await store.getResult(TENANT, batchId, i)).toMatchObject({ custom_id: `c${i}`, status_code: 200 });

    // A retry of the whole chunk finds every line answered: nothing reaches the provider.
    const retry = stubExecutor(1);
    const again = await runChunk({ ...deps, answer: retry.answer }, { batchId, tenant: TENANT, from: 0, to: 4, concurrency: 4 }, fileId, new AbortController().signal);
    expect(again).toEqual(counts);
    expect(retry.calls).toHaveLength(0);
  });

  it('leaves the lines in flight unanswered when the batch is cancelled, and starts no more', async () => {
    const { batchId, fileId } = await batchOf(['a', 'a', 'a', 'a', 'a', 'a']);
    const slow = stubExecutor(10_000);
    const abort = new AbortController();
    const run = runChunk({ store, answer: slow.answer, aliasLimits: new KeyedLimits(8) }, { batchId, tenant: TENANT, from: 0, to: 6, concurrency: 2 }, fileId, abort.signal);
    while (slow.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect(await run).toEqual({ completed: 0, failed: 0 });
    expect(slow.calls).toHaveLength(2);
    for (let i = 0; i < 6; i++) expect(await store.getResult(TENANT, batchId, i)).toBeUndefined();
  });

  it('keeps each alias within its limit across chunks running at once, leaving other aliases their share', async () => {
    const { batchId, fileId } = await batchOf(['a', 'a', 'a', 'a', 'b', 'a', 'a', 'b', 'a', 'a']);
    const stub = stubExecutor(20);
    const deps = { store, answer: stub.answer, aliasLimits: new KeyedLimits(2) };
    const signal = new AbortController().signal;
    await Promise.all([
      runChunk(deps, { batchId, tenant: TENANT, from: 0, to: 5, concurrency: 5 }, fileId, signal),
      runChunk(deps, { batchId, tenant: TENANT, from: 5, to: 10, concurrency: 5 }, fileId, signal),
    ]);
    expect(stub.peak.get('a')).toBe(2);
    expect(stub.peak.get('b')).toBe(2);
    expect(stub.calls).toHaveLength(10);
  });
});
