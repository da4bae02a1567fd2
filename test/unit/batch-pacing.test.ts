/**
 * Batch lines count against the limits of the key that created the batch: each line is admitted by the pacer
 * over the same limit store as the key's synchronous requests, and waits (on a fake clock here) for capacity
 * instead of failing. A 5-rpm key's 12-line batch runs five lines a minute and every line is answered; a key
 * already at its limit runs nothing until the window frees up; a tokens-per-minute key is paced by the
 * lines' estimates.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/keys.js';
import { KeyedLimits, runChunk } from '../../src/batches/chunk.js';
import { newBatchId, newFileId } from '../../src/batches/ids.js';
import { scanInputFile } from '../../src/batches/scan.js';
import { FileStore } from '../../src/batches/store.js';
import type { GatewayConfig } from '../../src/config/types.js';
import type { FastPathExecutor } from '../../src/execution/fast-executor.js';
import { Admission } from '../../src/limits/admission.js';
import { MemoryLimitStore } from '../../src/limits/memory-store.js';
import { Pacer } from '../../src/limits/pace.js';

const store = new FileStore(mkdtempSync(join(tmpdir(), 'batch-pacing-')));
const TENANT = 'unit';
const MINUTE = 60_000;

/** A fake clock shared by the limit store, admission and the pacer's waits, and an executor stamping each call with it. */
function world(limits: Principal['limits'], usage = { prompt_tokens: 3, completion_tokens: 2 }, onWait?: () => void) {
  const clock = { now: 1_764_000_000_000 };
  const limitStore = new MemoryLimitStore({ now: () => clock.now });
  const admission = new Admission(limitStore, () => new Date(clock.now));
  const principal: Principal = { keyId: 'batch-key', tenant: TENANT, limits };
  const pacer = new Pacer(admission, (id) => (id === principal.keyId ? principal : undefined), {
    sleep: async (ms, signal) => {
      onWait?.();
      signal.throwIfAborted();
      clock.now += ms;
    },
  });
  const callsAt: number[] = [];
  const executor = {
    plan: (alias: string) => ({ alias, route: { strategy: 'stub' } }),
    async run() {
      callsAt.push(clock.now);
      const value = { object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'ok' } }], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } };
      return { kind: 'answered', value, attempts: [], timing: { upstreamMs: 0, waitedMs: 0 }, target: { deployment: { name: 'stub', price: { inputPerMTok: 0, outputPerMTok: 0 } }, provider: { name: 'stub' } } };
    },
  };
  const config = { models: { a: { rules: [], groups: [], fallback: { catchAll: {} } } }, deployments: {} } as unknown as GatewayConfig;
  const deps = {
    store,
    answer: { pipeline: { config, executor: executor as unknown as FastPathExecutor, logger: pino({ level: 'silent' }) } },
    aliasLimits: new KeyedLimits(8),
    pacer,
  };
  return { clock, admission, principal, deps, callsAt };
}

async function batchOf(n: number, body: Record<string, unknown> = {}): Promise<{ batchId: string; fileId: string }> {
  const text = Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `c${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'a', messages: [{ role: 'user', content: `line ${i}` }], ...body } })).join('\n');
  const tmp = await store.tempPath(TENANT);
  writeFileSync(tmp, text);
  const fileId = newFileId();
  await store.commitFile(tmp, { id: fileId, object: 'file', bytes: text.length, created_at: 1, filename: 'f.jsonl', purpose: 'batch', status: 'processed', expires_at: null, status_details: null, tenant: TENANT });
  const scan = await scanInputFile(store.contentPath(TENANT, fileId), { endpoint: '/v1/chat/completions', knownModels: new Set(['a']), maxLines: 100 });
  expect(scan.errors).toEqual([]);
  const batchId = newBatchId();
  await store.putIndex(TENANT, batchId, scan.ranges);
  return { batchId, fileId };
}

/** The most calls that started inside any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  return Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + windowMs).length));
}

describe('batch lines paced by the key’s limits', () => {
  it('a 5-rpm key’s 12-line batch runs at five lines a minute, and every line is answered', async () => {
    const w = world({ requestsPerMinute: 5 });
    const { batchId, fileId } = await batchOf(12);
    const start = w.clock.now;
    const counts = await runChunk(w.deps, { batchId, tenant: TENANT, from: 0, to: 12, concurrency: 12 }, fileId, new AbortController().signal, w.principal.keyId);
    expect(counts).toEqual({ completed: 12, failed: 0 });
    expect(w.callsAt).toHaveLength(12);
    expect(busiestWindow(w.callsAt, MINUTE)).toBe(5);
    // three minutes' worth of windows: 5 at once, 5 a minute later, the last 2 a minute after that
    expect(w.callsAt.filter((t) => t < start + MINUTE)).toHaveLength(5);
    expect(Math.max(...w.callsAt) - start).toBeGreaterThanOrEqual(2 * MINUTE);
    for (let i = 0; i < 12; i++) expect((await store.getResult(TENANT, batchId, i))?.status_code).toBe(200);
  });

  it('a key already refused runs none of its lines until its window frees, and its own requests are refused while the batch uses it', async () => {
    const w = world({ requestsPerMinute: 5 });
    for (let i = 0; i < 5; i++) await w.admission.admit(w.principal, 1);
    await expect(w.admission.admit(w.principal, 1)).rejects.toMatchObject({ status: 429 });
    const refusedAt = w.clock.now;
    const { batchId, fileId } = await batchOf(3);
    const counts = await runChunk(w.deps, { batchId, tenant: TENANT, from: 0, to: 3, concurrency: 3 }, fileId, new AbortController().signal, w.principal.keyId);
    expect(counts).toEqual({ completed: 3, failed: 0 });
    expect(Math.min(...w.callsAt)).toBeGreaterThanOrEqual(refusedAt + MINUTE);
    // the three lines took three of this window's five requests: the key has two left
    await w.admission.admit(w.principal, 1);
    await w.admission.admit(w.principal, 1);
    await expect(w.admission.admit(w.principal, 1)).rejects.toMatchObject({ status: 429 });
  });

  it('tokens per minute: lines are admitted by their estimate (input + max_tokens) and settled to their real use', async () => {
    // each line's estimate is 2 input + 40 max_tokens = 42 and it uses all of it: two lines fit in a 100-token minute
    const w = world({ tokensPerMinute: 100 }, { prompt_tokens: 2, completion_tokens: 40 });
    const { batchId, fileId } = await batchOf(6, { max_tokens: 40 });
    const start = w.clock.now;
    const counts = await runChunk(w.deps, { batchId, tenant: TENANT, from: 0, to: 6, concurrency: 6 }, fileId, new AbortController().signal, w.principal.keyId);
    expect(counts).toEqual({ completed: 6, failed: 0 });
    expect(busiestWindow(w.callsAt, MINUTE)).toBe(2);
    expect(Math.max(...w.callsAt) - start).toBeGreaterThanOrEqual(2 * MINUTE);
  });

  it('real use below the estimate is given back: small answers do not hold the window', async () => {
    const w = world({ tokensPerMinute: 100 }, { prompt_tokens: 2, completion_tokens: 3 });
    const { batchId, fileId } = await batchOf(6, { max_tokens: 40 });
    const start = w.clock.now;
    // one line at a time, so each is settled before the next is admitted
    const counts = await runChunk(w.deps, { batchId, tenant: TENANT, from: 0, to: 6, concurrency: 1 }, fileId, new AbortController().signal, w.principal.keyId);
    expect(counts).toEqual({ completed: 6, failed: 0 });
    expect(w.callsAt.every((t) => t === start)).toBe(true);
  });

  it('a cancelled batch stops waiting: the lines still paced are not run', async () => {
    const controller = new AbortController();
    // the batch is cancelled while its lines wait for the next minute
    const w = world({ requestsPerMinute: 1 }, undefined, () => controller.abort(new Error('batch cancelled')));
    const { batchId, fileId } = await batchOf(3);
    const counts = await runChunk(w.deps, { batchId, tenant: TENANT, from: 0, to: 3, concurrency: 3 }, fileId, controller.signal, w.principal.keyId);
    expect(counts).toEqual({ completed: 1, failed: 0 });
    expect(w.callsAt).toHaveLength(1);
    expect(await store.getResult(TENANT, batchId, 1)).toBeUndefined();
  });
});
