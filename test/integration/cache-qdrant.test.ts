/**
 * The semantic cache on a real Qdrant (`cache.store.kind: qdrant`), through the gateway's HTTP API in front of
 * the fake provider: hits on the fast and the durable path, tenant isolation, the catch-all answering from
 * Qdrant while every provider fails, two gateways sharing one cache, and a Qdrant killed under traffic (requests
 * keep being answered, the cache bypassed and counted) and brought back (hits again, no gateway restart).
 * The embedder is the real all-MiniLM-L6-v2 (384 dimensions), so hits are paraphrases, not case variants.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { freePort } from '../../src/durable/dev-server.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { startHarness, type Harness } from '../support/harness.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';
import { startQdrant, type QdrantServer } from '../support/qdrant-server.js';
import { sharedQdrantUrl } from '../support/shared-qdrant.js';
import { modelDirForTests } from '../support/model-dir.js';
import { operatorFetch, TEST_ADMIN_KEY_HASH } from '../support/operator.js';

const A = 'gw-qdrant-tenant-a-key-aaaaaaaaaaaaaaaaaaaa';
const B = 'gw-qdrant-tenant-b-key-bbbbbbbbbbbbbbbbbbbb';
const asA = { authorization: `Bearer ${A}` };
const asB = { authorization: `Bearer ${B}` };
const DURABLE = { 'x-gateway-durable': 'true' };

const MODEL_DIR = modelDirForTests();

const collectionName = () => `gateway_it_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

/** Everything but the `durable` block (the durable harness brings its own). */
const body = (url: string, collection: string, cacheExtra = '') => `
auth:
  adminKeyHash: "${TEST_ADMIN_KEY_HASH}"
  keys:
    - { id: a, tenant: alpha, hash: "${hashKey(A)}" }
    - { id: b, tenant: bravo, hash: "${hashKey(B)}" }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  chat: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 1 }
cache:
  enabled: true
  store: { kind: qdrant, url: "${url}", collection: ${collection}, timeoutMs: 500 }
  embedder: { kind: local, dir: "${MODEL_DIR}" }
  threshold: 0.85
  catchAllThreshold: 0.5
${cacheExtra}`;

const fastYaml = (url: string, collection: string, cacheExtra = '') => `server: { host: 127.0.0.1 }\ndurable: { enabled: false }\n${body(url, collection, cacheExtra)}`;

interface Reply {
  status: number;
  cache: string | null;
  similarity: number;
  content: string | undefined;
  headers: Headers;
}

async function post(gatewayUrl: string, question: string, headers: Record<string, string>): Promise<Reply> {
  const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: question }] }),
  });
  const json = (await res.json()) as { choices?: Array<{ message: { content: string } }> };
  return {
    status: res.status,
    cache: res.headers.get('x-gateway-cache'),
    similarity: Number(res.headers.get('x-gateway-cache-similarity')),
    content: json.choices?.[0]?.message.content,
    headers: res.headers,
  };
}

/** Stores happen after the answer is sent: repeats (that store nothing themselves) show when it landed. */
async function untilCached(gatewayUrl: string, question: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await post(gatewayUrl, question, { ...headers, 'x-gateway-cache': 'no-store' });
    if (r.cache === 'hit') return r;
    if (Date.now() > deadline) throw new Error(`'${question}' was never served from the cache (last: ${r.status} ${r.cache})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const chatCalls = (h: { fake: Harness['fake'] }) => h.fake.requests.filter((r) => r.kind === 'chat').length;
const allProvidersDown = (h: { fake: Harness['fake'] }) => {
  h.fake.scriptFor('gpt-main', { kind: 'error', status: 503 });
  h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
};
const cacheResults = async (gatewayUrl: string, result: string) =>
  valueOf(parsePrometheus(await (await operatorFetch(`${gatewayUrl}/metrics`)).text()), 'llm_gateway_cache_requests_total', { result });

describe('semantic cache on the run’s Qdrant', () => {
  let h: DurableHarness;
  let collection: string;
  beforeAll(async () => {
    collection = collectionName();
    h = await startDurableHarness(body(sharedQdrantUrl(), collection));
  });
  afterAll(async () => {
    await h?.close();
    // the run's Qdrant may be one that outlives the run (QDRANT_URL)
    if (collection) await new QdrantClient({ url: sharedQdrantUrl(), apiKey: process.env.QDRANT_API_KEY, checkCompatibility: false }).deleteCollection(collection);
  });

  it('answers a paraphrase from Qdrant on the fast path', async () => {
    h.fake.reset();
    expect((await post(h.gateway.url, 'Who painted the Mona Lisa?', asA)).cache).toBe('miss');
    await untilCached(h.gateway.url, 'Who painted the Mona Lisa?', asA);
    const calls = chatCalls(h);
    const para = await post(h.gateway.url, 'Who was the painter of the Mona Lisa?', asA);
    expect(para).toMatchObject({ status: 200, cache: 'hit', content: 'Echo: Who painted the Mona Lisa?' });
    expect(para.similarity).toBeGreaterThan(0.85);
    expect(para.similarity).toBeLessThan(1);
    expect(chatCalls(h)).toBe(calls);
    const info = await new QdrantClient({ url: sharedQdrantUrl(), apiKey: process.env.QDRANT_API_KEY, checkCompatibility: false }).getCollection(collection);
    expect(info.config.params.vectors).toMatchObject({ size: 384 });
  });

  it('stores a durable answer in Qdrant and answers a durable paraphrase from it without calling a provider', async () => {
    h.fake.reset();
    const first = await post(h.gateway.url, 'How tall is the Eiffel Tower?', { ...asA, ...DURABLE });
    expect(first).toMatchObject({ status: 200, cache: 'miss', content: 'Echo: How tall is the Eiffel Tower?' });
    await h.temporal.workflow.getHandle(first.headers.get('x-gateway-request-id')!).result();
    await untilCached(h.gateway.url, 'How tall is the Eiffel Tower?', { ...asA, ...DURABLE });
    const calls = chatCalls(h);
    const para = await post(h.gateway.url, 'Do you know how tall the Eiffel Tower is?', { ...asA, ...DURABLE });
    expect(para).toMatchObject({ status: 200, cache: 'hit', content: 'Echo: How tall is the Eiffel Tower?' });
    expect(para.similarity).toBeLessThan(1);
    expect(chatCalls(h)).toBe(calls);
  });

  it("never gives tenant B tenant A's answer, neither as a hit nor through the catch-all", async () => {
    h.fake.reset();
    await post(h.gateway.url, 'What is our refund policy?', asA);
    await untilCached(h.gateway.url, 'What is our refund policy?', asA);
    const other = await post(h.gateway.url, 'What is our refund policy?', { ...asB, 'x-gateway-cache': 'no-store' });
    expect(other).toMatchObject({ status: 200, cache: 'miss' });
    for (const headers of [asB, { ...asB, ...DURABLE }]) {
      allProvidersDown(h);
      const r = await post(h.gateway.url, 'What is our refund policy, exactly?', headers);
      expect(r.status).toBe(503);
      expect(r.content).toBeUndefined();
    }
    expect((await post(h.gateway.url, 'What is our refund policy?', asA)).cache).toBe('hit');
  });

  it('answers from Qdrant (stale tier) when every provider fails, on both paths', async () => {
    h.fake.reset();
    await post(h.gateway.url, 'What are the opening hours of the museum?', asA);
    await untilCached(h.gateway.url, 'What are the opening hours of the museum?', asA);
    for (const headers of [asA, { ...asA, ...DURABLE }]) {
      allProvidersDown(h);
      // looser than any fresh hit would accept (threshold 0.85); the catch-all's threshold is 0.5
      const r = await post(h.gateway.url, 'when does the museum open', headers);
      expect(r).toMatchObject({ status: 200, cache: 'stale', content: 'Echo: What are the opening hours of the museum?' });
      expect(r.headers.get('x-gateway-fallback')).toBe('catch_all');
      expect(r.similarity).toBeGreaterThan(0.5);
      expect(r.similarity).toBeLessThan(0.85);
    }
  });

  it('shares one cache between two gateway instances', async () => {
    const second = await startHarness(fastYaml(sharedQdrantUrl(), collection));
    try {
      h.fake.reset();
      await post(h.gateway.url, 'What is the capital of Australia?', asA);
      await untilCached(h.gateway.url, 'What is the capital of Australia?', asA);
      const there = await post(second.gateway.url, 'Which city is the capital of Australia?', asA);
      expect(there).toMatchObject({ status: 200, cache: 'hit', content: 'Echo: What is the capital of Australia?' });
      expect(chatCalls(second)).toBe(0);
      // and the other way round
      await post(second.gateway.url, 'How many moons does Mars have?', asA);
      await untilCached(second.gateway.url, 'How many moons does Mars have?', asA);
      expect((await post(h.gateway.url, 'how many moons does mars have', asA)).cache).toBe('hit');
      expect(second.fake.violations).toEqual([]);
    } finally {
      await second.close();
    }
  });
});

/** Four clients asking in a loop while `meanwhile` runs; the replies that started after it began. */
async function underTraffic(url: string, meanwhile: () => Promise<void>): Promise<Array<Reply & { ms: number }>> {
  let stop = false;
  let started = false;
  const replies: Array<Reply & { ms: number }> = [];
  const questions = ['boiling point of water, please', 'Tell me a fact about owls', 'What rhymes with orange?', 'Name a prime above 100'];
  const client = async (q: string) => {
    while (!stop) {
      const during = started;
      const t0 = performance.now();
      const r = await post(url, q, asA);
      if (during) replies.push({ ...r, ms: performance.now() - t0 });
    }
  };
  const traffic = Promise.all(questions.map(client));
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    started = true;
    await meanwhile();
  } finally {
    stop = true;
    await traffic;
  }
  return replies;
}

describe('a Qdrant that dies under traffic and comes back', () => {
  let qdrant: QdrantServer | undefined;
  let h: Harness | undefined;
  // Storage outlives the first server, so the test owns it.
  const dataDir = mkdtempSync(join(tmpdir(), 'qdrant-restart-'));
  afterAll(async () => {
    await h?.close();
    await qdrant?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps answering with the cache bypassed (counted), and serves hits again once it is back', async () => {
    qdrant = await startQdrant({ dataDir });
    const { httpPort, grpcPort } = qdrant;
    h = await startHarness(fastYaml(qdrant.url, collectionName(), '  storeBackoffMs: 300'));
    const url = h.gateway.url;
    await post(url, 'What is the boiling point of water?', asA);
    await untilCached(url, 'What is the boiling point of water?', asA);

    const bypassBefore = await cacheResults(url, 'bypass');
    const during = await underTraffic(url, async () => {
      await qdrant!.kill();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    });

    expect(during.length).toBeGreaterThan(20);
    expect(during.filter((r) => r.status !== 200)).toEqual([]);
    expect(during.every((r) => r.content?.startsWith('Echo: '))).toBe(true);
    const bypassed = during.filter((r) => r.cache === 'bypass').length;
    expect(bypassed).toBeGreaterThan(during.length / 2);
    expect((await cacheResults(url, 'bypass')) - bypassBefore).toBeGreaterThanOrEqual(bypassed);
    const slowest = Math.max(...during.map((r) => r.ms));
    // a refused connection fails at once; the 500 ms timeout bounds a hung one
    expect(slowest).toBeLessThan(1_500);
    console.log(`Qdrant down: ${during.length} requests, all 200, ${bypassed} with the cache bypassed, slowest ${slowest.toFixed(0)} ms`);

    // Back on the same port and storage: the gateway finds it by itself.
    const t0 = performance.now();
    qdrant = await startQdrant({ httpPort, grpcPort, dataDir });
    const ready = performance.now();
    const back = await untilCached(url, 'What is the boiling point of water?', asA);
    expect(back.content).toBe('Echo: What is the boiling point of water?');
    console.log(`Qdrant restarted in ${(ready - t0).toFixed(0)} ms; first cache hit ${(performance.now() - ready).toFixed(0)} ms after it was ready`);
    // and new answers are stored again
    await post(url, 'Which planet is known as the red planet?', asA);
    await untilCached(url, 'Which planet is known as the red planet?', asA);
    expect(h.fake.violations).toEqual([]);
  }, 60_000);

  it('starts a gateway while Qdrant is down (answering, cache bypassed) and uses the cache once Qdrant is up', async () => {
    const port = await freePort();
    const gw = await startHarness(fastYaml(`http://127.0.0.1:${port}`, collectionName(), '  storeBackoffMs: 200'));
    let late: QdrantServer | undefined;
    try {
      const early = await post(gw.gateway.url, 'What is the tallest mountain?', asA);
      expect(early).toMatchObject({ status: 200, cache: 'bypass', content: 'Echo: What is the tallest mountain?' });
      late = await startQdrant({ httpPort: port });
      // requests bypass until the back-off after the last failure ends; the first one after it reaches Qdrant
      const deadline = Date.now() + 5_000;
      while ((await post(gw.gateway.url, 'What is the tallest mountain?', asA)).cache === 'bypass') {
        if (Date.now() > deadline) throw new Error('the cache still bypassed 5 s after Qdrant was up');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect((await untilCached(gw.gateway.url, 'What is the tallest mountain?', asA)).content).toBe('Echo: What is the tallest mountain?');
    } finally {
      await gw.close();
      await late?.stop();
    }
  });

  it('bounds what a hung Qdrant (frozen, connections open) costs a request, and recovers when it thaws', async () => {
    const frozen = await startQdrant();
    const gw = await startHarness(fastYaml(frozen.url, collectionName(), '  storeBackoffMs: 300'));
    try {
      await post(gw.gateway.url, 'What is the speed of light?', asA);
      await untilCached(gw.gateway.url, 'What is the speed of light?', asA);
      const during = await underTraffic(gw.gateway.url, async () => {
        process.kill(frozen.pid, 'SIGSTOP');
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      });
      process.kill(frozen.pid, 'SIGCONT');
      expect(during.length).toBeGreaterThan(10);
      expect(during.filter((r) => r.status !== 200)).toEqual([]);
      expect(during.some((r) => r.cache === 'bypass')).toBe(true);
      const slowest = Math.max(...during.map((r) => r.ms));
      // timeoutMs is 500: one timed-out call, then the back-off; never the 30 s of an unbounded wait
      expect(slowest).toBeLessThan(1_500);
      console.log(`Qdrant frozen: ${during.length} requests, all 200, ${during.filter((r) => r.cache === 'bypass').length} bypassed, slowest ${slowest.toFixed(0)} ms`);
      expect((await untilCached(gw.gateway.url, 'What is the speed of light?', asA)).content).toBe('Echo: What is the speed of light?');
    } finally {
      await gw.close();
      await frozen.stop();
    }
  }, 60_000);
});
