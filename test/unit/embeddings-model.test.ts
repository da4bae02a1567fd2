/**
 * The local embedder on the real all-MiniLM-L6-v2 (GATEWAY_EMBEDDING_MODEL_DIR; .ci/run points it at
 * ../shared/models/all-MiniLM-L6-v2). Reference vectors in test/fixtures/minilm-reference.json were computed
 * once in Python with the Rust tokenizers and numpy pooling (see that file's header).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbedder, dot, type Embedder } from '../../src/embeddings/index.js';
import { LocalEmbedder } from '../../src/embeddings/local.js';
import { modelDirForTests } from '../support/model-dir.js';

const dir = modelDirForTests();
const fp32 = createEmbedder({ kind: 'local', dir, quantized: false });
// int8 is the default: what the gateway runs when the config names no precision.
const int8 = createEmbedder({ kind: 'local', dir });
afterAll(async () => {
  await fp32.close?.();
  await int8.close?.();
});

const one = async (e: Embedder, text: string) => (await e.embed([text]))[0]!;
const sim = async (e: Embedder, a: string, b: string) => dot(await one(e, a), await one(e, b));

describe('local embedder on all-MiniLM-L6-v2', () => {
  it('makes unit vectors of 384 dimensions, named by model and precision', async () => {
    const [v] = await fp32.embed(['How do I reset my password?']);
    expect(fp32.dimension).toBe(384);
    expect(v).toHaveLength(384);
    expect(Math.sqrt(dot(v!, v!))).toBeCloseTo(1, 5);
    expect(fp32.id).toBe('local:all-MiniLM-L6-v2/384');
    expect(int8.id).toBe('local:all-MiniLM-L6-v2-int8/384');
  });

  it('scores a paraphrase high and an unrelated sentence low', async () => {
    expect(await sim(fp32, 'How do I reset my password?', 'What are the steps to change my password?')).toBeGreaterThan(0.8);
    expect(await sim(fp32, 'What is the capital of France?', 'Which city is the capital of France?')).toBeGreaterThan(0.9);
    expect(await sim(fp32, 'How do I reset my password?', 'The weather in Paris is sunny today.')).toBeLessThan(0.3);
    expect(await sim(fp32, 'Write a poem about the sea', 'How many calories are in an apple?')).toBeLessThan(0.3);
  });

  it('gives the same text the same vector, alone or in a batch', async () => {
    const e = new LocalEmbedder({ dir, memoEntries: 0 });
    try {
      const alone = await one(e, 'Translate this sentence into German');
      const [, inBatch] = await e.embed(['a much longer text that would need padding if it were batched with the other one', 'Translate this sentence into German']);
      expect([...inBatch!]).toEqual([...alone]);
    } finally {
      await e.close();
    }
  });

  it('cuts a long input at 256 tokens instead of failing', async () => {
    const head = 'The quick brown fox jumps over the lazy dog. '.repeat(30); // ~300 tokens
    const [long, longer] = await fp32.embed([head, `${head}${'Completely different words about databases and indexes. '.repeat(50)}`]);
    // Everything past the limit is ignored, so the extra tail changes nothing.
    expect([...longer!]).toEqual([...long!]);
  });

  it('int8 vectors stay close to fp32', async () => {
    for (const t of ['How do I reset my password?', 'Summarise this article in three bullet points', 'Quel temps fait-il à Paris ?']) {
      expect(dot(await one(fp32, t), await one(int8, t))).toBeGreaterThan(0.97);
    }
  });

  it('matches reference vectors from the Rust tokenizer and numpy pooling (accents, CJK, code, 256+ tokens)', async () => {
    const ref = JSON.parse(readFileSync(new URL('../fixtures/minilm-reference.json', import.meta.url), 'utf8')) as { items: Array<{ text: string; vector: number[] }> };
    expect(ref.items.length).toBeGreaterThanOrEqual(5);
    for (const item of ref.items) {
      const v = await one(fp32, item.text);
      expect(dot(v, Float32Array.from(item.vector))).toBeGreaterThan(0.9999);
    }
  });

  it('embeds an identical text once (memo), returning copies', async () => {
    const e = new LocalEmbedder({ dir, threads: 1 });
    try {
      await e.ready();
      const text = `memo check ${Date.now()}`;
      const before = e.runs;
      const a = await one(e, text);
      a.fill(0);
      const b = await one(e, text);
      expect(e.runs - before).toBe(1);
      expect(Math.sqrt(dot(b, b))).toBeCloseTo(1, 5);
    } finally {
      await e.close();
    }
  });

  it('leaves the event loop free while the model runs (it runs on its own thread)', async () => {
    const e = new LocalEmbedder({ dir, memoEntries: 0, quantized: false });
    try {
      await e.ready();
      // 256-token inputs: each takes tens of ms of inference, which would stall the loop as long on this thread.
      const texts = Array.from({ length: 8 }, (_, i) => `${i} ${'a fairly long question about distributed systems and consensus protocols '.repeat(40)}`);
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t0 = performance.now();
      await e.embed(texts);
      const took = performance.now() - t0;
      h.disable();
      expect(took / texts.length).toBeGreaterThan(10);
      expect(h.max / 1e6).toBeLessThan(took / texts.length / 2);
    } finally {
      await e.close();
    }
  });

  it('fails clearly without a model directory', () => {
    expect(() => new LocalEmbedder({ env: {} })).toThrow(/GATEWAY_EMBEDDING_MODEL_DIR.*npm run fetch-model/);
    expect(() => new LocalEmbedder({ dir: '/nonexistent/model' })).toThrow(/does not exist/);
  });
});
