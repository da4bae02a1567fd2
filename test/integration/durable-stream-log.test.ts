/** The stream log's contract, in process and on a real Redis-compatible server (valkey): order, blocking reads, bounds. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { MemoryStreamLog } from '../../src/streams/memory-log.js';
import { RedisStreamLog } from '../../src/streams/redis-log.js';
import { compareIds, START, type StreamEntry, type StreamLog } from '../../src/streams/stream-log.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

const chunk = (a: string, text: string): StreamEntry => ({ t: 'chunk', a, c: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] } });
const textOf = (e: StreamEntry) => (e.t === 'chunk' ? e.c.choices[0]!.delta.content : e.t);

function contract(name: string, open: (bounds: { retentionSeconds: number; maxEvents: number }) => Promise<StreamLog>) {
  describe(`${name} stream log`, () => {
    it('keeps entries in order with increasing ids, reads after an id, and tells opened logs from others', async () => {
      const log = await open({ retentionSeconds: 60, maxEvents: 100 });
      try {
        expect(await log.exists('r1')).toBe(false);
        await log.append('r1', [{ t: 'open', protocol: 'openai' }, chunk('1.1', 'a'), chunk('1.1', 'b')]);
        await log.append('r1', [chunk('1.1', 'c')]);
        expect(await log.exists('r1')).toBe(true);
        expect(await log.exists('r2')).toBe(false);
        const all = await log.read('r1', START, 0);
        expect(all.map((e) => textOf(e.entry))).toEqual(['open', 'a', 'b', 'c']);
        for (let i = 1; i < all.length; i++) expect(compareIds(all[i - 1]!.id, all[i]!.id)).toBeLessThan(0);
        expect((await log.read('r1', all[1]!.id, 0)).map((e) => textOf(e.entry))).toEqual(['b', 'c']);
        expect(await log.read('r1', all[3]!.id, 0)).toEqual([]);
      } finally {
        await log.close();
      }
    });

    it('a blocked read wakes when an entry is appended, from another connection too', async () => {
      const reader = await open({ retentionSeconds: 60, maxEvents: 100 });
      const writer = name === 'redis' ? await open({ retentionSeconds: 60, maxEvents: 100 }) : reader;
      try {
        await writer.append('r3', [{ t: 'open', protocol: 'openai' }]);
        const [head] = await reader.read('r3', START, 0);
        const started = Date.now();
        const waiting = reader.read('r3', head!.id, 10_000);
        setTimeout(() => void writer.append('r3', [chunk('1.1', 'late')]), 150);
        const got = await waiting;
        expect(got.map((e) => textOf(e.entry))).toEqual(['late']);
        expect(Date.now() - started).toBeLessThan(5_000);
        // nothing new: the read gives up after its block time
        const t0 = Date.now();
        expect(await reader.read('r3', got[0]!.id, 200)).toEqual([]);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      } finally {
        if (writer !== reader) await writer.close();
        await reader.close();
      }
    });

    it('an aborted read returns at once', async () => {
      const log = await open({ retentionSeconds: 60, maxEvents: 100 });
      try {
        const ac = new AbortController();
        const t0 = Date.now();
        const waiting = log.read('r4', START, 10_000, ac.signal);
        setTimeout(() => ac.abort(), 100);
        expect(await waiting).toEqual([]);
        expect(Date.now() - t0).toBeLessThan(3_000);
      } finally {
        await log.close();
      }
    });

    it('keeps at most maxEvents per stream and forgets a stream retentionSeconds after its last write', async () => {
      const log = await open({ retentionSeconds: 1, maxEvents: 16 });
      try {
        await log.append('r5', [{ t: 'open', protocol: 'openai' }, ...Array.from({ length: 30 }, (_, i) => chunk('1.1', String(i)))]);
        const kept = await log.read('r5', START, 0);
        expect(kept).toHaveLength(16);
        expect(textOf(kept[0]!.entry)).toBe('14'); // the oldest went first: the open entry too
        await new Promise((r) => setTimeout(r, 2_200));
        expect(await log.exists('r5')).toBe(false);
        expect(await log.read('r5', START, 0)).toEqual([]);
      } finally {
        await log.close();
      }
    });
  });
}

contract('memory', async (b) => new MemoryStreamLog(b));
contract('redis', (b) => RedisStreamLog.connect(server.url, { ...b, prefix: 'streamtest:' }));

it('redis: one stream per request under the prefix, each with a TTL', async () => {
  const log = await RedisStreamLog.connect(server.url, { retentionSeconds: 600, maxEvents: 100, prefix: 'ttl:' });
  const raw = new Redis(server.url);
  try {
    await log.append('req-abc', [{ t: 'open', protocol: 'anthropic', model: 'claude' }]);
    expect(await raw.keys('ttl:*')).toEqual(['ttl:stream:req-abc']);
    expect(await raw.type('ttl:stream:req-abc')).toBe('stream');
    const ttl = await raw.ttl('ttl:stream:req-abc');
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  } finally {
    raw.disconnect();
    await log.close();
  }
});
