/** The Redis limit store against a real redis-server: the memory store's contract, across connections too. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLimitStore } from '../../src/limits/index.js';
import { RedisLimitStore } from '../../src/limits/redis-store.js';
import { limitStoreContract } from '../support/limit-store-contract.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

limitStoreContract('redis', {
  create: () => RedisLimitStore.connect(server.url, { prefix: 'contract:' }),
  // Real time on the server's clock: a little slack covers timer and millisecond rounding.
  elapse: (ms) => new Promise((r) => setTimeout(r, ms + 25)),
  exact: false,
  shared: true,
});

it('prefixes every key and gives each one a TTL, so nothing outlives its purpose', async () => {
  const s = await createLimitStore({ kind: 'redis', url: server.url, prefix: 'custom:' });
  await s.take('rpm:a', 3, 10, 60_000);
  await s.take('rpm:a', 2, 10, 60_000);
  await s.refund('rpm:a', 4, 60_000); // rewrites the oldest entry: the log must keep its TTL
  await s.refund('rpm:b', 1, 60_000);
  await s.acquire('conc:a', 2, 60_000);
  await s.addSpend('spend:day:2026-11-25:a', 0.5, 60_000);
  const raw = new Redis(server.url);
  try {
    const keys = (await raw.keys('custom:*')).sort();
    expect(keys).toEqual(['custom:rate-used:rpm:a', 'custom:rate:rpm:a', 'custom:slots:conc:a', 'custom:spend:spend:day:2026-11-25:a']);
    for (const k of keys) expect(await raw.pttl(k)).toBeGreaterThan(0);
    expect(await raw.get('custom:rate-used:rpm:a')).toBe('1');
  } finally {
    raw.disconnect();
    await s.close();
  }
});

it('rebuilds a lost running sum from the log', async () => {
  const s = await RedisLimitStore.connect(server.url, { prefix: 'rebuild:' });
  const raw = new Redis(server.url);
  try {
    await s.take('k', 6, 10, 60_000);
    await raw.del('rebuild:rate-used:k'); // e.g. evicted under maxmemory
    expect(await s.take('k', 5, 10, 60_000)).toMatchObject({ allowed: false, remaining: 4 });
    expect(await s.take('k', 4, 10, 60_000)).toMatchObject({ allowed: true, remaining: 0 });
  } finally {
    raw.disconnect();
    await s.close();
  }
});

it('fails at connect time when Redis is not there', async () => {
  const dead = server.url.replace(/:\d+$/, ':1');
  await expect(RedisLimitStore.connect(dead, { onError: () => undefined })).rejects.toThrow();
});
