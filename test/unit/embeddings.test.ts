/** Embedders: the offline one's properties, the provider embedder over the fake provider (the local model: embeddings-model.test.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createEmbedder, defaultEmbedderConfig, dot, EmbedderError, embedderSchema } from '../../src/embeddings/index.js';
import { defaultThreads } from '../../src/embeddings/local.js';
import { OfflineEmbedder, stem, tokenize } from '../../src/embeddings/offline.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

const norm = (v: Float32Array) => Math.sqrt(dot(v, v));

describe('offline embedder', () => {
  const e = new OfflineEmbedder();

  it('is deterministic, unit-length and of the configured dimension', async () => {
    const [a, b] = await e.embed(['How do I reset my password?', 'How do I reset my password?']);
    expect(a!.length).toBe(256);
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect([...a!]).toEqual([...b!]);
    const [c] = await new OfflineEmbedder({ dimension: 64 }).embed(['x y z']);
    expect(c!.length).toBe(64);
    expect(new OfflineEmbedder({ dimension: 64 }).id).not.toBe(e.id);
  });

  it('scores a paraphrase above near misses that change a number, an entity or add a negation', async () => {
    const sim = async (x: string, y: string) => {
      const [a, b] = await e.embed([x, y]);
      return dot(a!, b!);
    };
    const para = await sim('How can I reset my password?', "how do i reset my passwords");
    expect(para).toBeGreaterThan(0.9);
    expect(await sim('What is 15% of 80?', 'What is 15% of 90?')).toBeLessThan(para - 0.3);
    expect(await sim('What is the capital of France?', 'What is the capital of Germany?')).toBeLessThan(para - 0.3);
    expect(await sim('Is it safe to eat raw eggs?', 'Is it not safe to eat raw eggs?')).toBeLessThan(para - 0.2);
  });

  it('folds inflections, contractions, number words and listed synonyms', () => {
    expect(stem('creating')).toBe(stem('created'));
    expect(stem('babies')).toBe('baby');
    expect(tokenize("What's")).toEqual([
      { term: 'what', kind: 'question' },
      { term: 'is', kind: 'stop' },
    ]);
    expect(tokenize('Which')[0]).toEqual({ term: 'what', kind: 'question' });
    expect(tokenize("I can't")[2]).toEqual({ term: 'not', kind: 'negation' });
    expect(tokenize('three cars')[0]).toEqual({ term: '3', kind: 'number' });
    expect(tokenize('buy')[0]!.term).toBe(tokenize('purchasing')[0]!.term);
  });

  it('honours an abort signal', async () => {
    await expect(e.embed(['x'], AbortSignal.abort())).rejects.toThrow();
  });
});

describe('provider embedder', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider();
  });
  afterAll(async () => {
    await fake.close();
  });
  const configWith = (url: string) =>
    parseConfig(
      `auth: { mode: none }
providers:
  oa: { type: openai, baseUrl: "${url}/v1", apiKey: sk-embed-key }
deployments: { d: { provider: oa, model: m } }
models: { chat: { groups: [{ deployments: [d] }] } }
`,
      'test',
      {},
    );

  it('calls the provider through its adapter, with its key, and returns normalised vectors in order', async () => {
    const config = configWith(fake.url);
    const embedder = createEmbedder(embedderSchema.parse({ kind: 'provider', provider: 'oa', model: 'emb-small', dimension: 12, requestDimensions: true }), { providers: config.providers });
    const vectors = await embedder.embed(['alpha', 'beta', 'alpha']);
    expect(vectors).toHaveLength(3);
    for (const v of vectors) expect(norm(v)).toBeCloseTo(1, 5);
    expect([...vectors[0]!]).toEqual([...vectors[2]!]);
    expect([...vectors[0]!]).not.toEqual([...vectors[1]!]);
    const sent = fake.requests.filter((r) => r.kind === 'embeddings').at(-1)!;
    expect(sent.headers.authorization).toBe('Bearer sk-embed-key');
    expect((sent.body as { dimensions: number; model: string }).dimensions).toBe(12);
    expect(embedder.id).toBe('provider:oa/emb-small/12');
  });

  it('rejects vectors of another dimension with a clear error', async () => {
    const config = configWith(fake.url);
    // the fake answers 8 dimensions unless asked for more
    const embedder = createEmbedder(embedderSchema.parse({ kind: 'provider', provider: 'oa', model: 'emb', dimension: 1536 }), { providers: config.providers });
    await expect(embedder.embed(['x'])).rejects.toThrow(/dimension 8, expected 1536/);
  });

  it('names the provider, not its key, when the call fails', async () => {
    const config = configWith('http://127.0.0.1:9');
    const embedder = createEmbedder(embedderSchema.parse({ kind: 'provider', provider: 'oa', model: 'emb', dimension: 8 }), { providers: config.providers });
    const err = (await embedder.embed(['x']).then(() => undefined, (e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(EmbedderError);
    expect(err.message).toMatch(/provider 'oa' failed/);
    expect(err.message).not.toContain('sk-embed-key');
  });

  it('refuses an unknown provider', () => {
    expect(() => createEmbedder(embedderSchema.parse({ kind: 'provider', provider: 'nope', model: 'm', dimension: 8 }), { providers: {} })).toThrow(/unknown provider 'nope'/);
  });
});

describe('local embedder defaults', () => {
  it('runs the int8 export, from config or from GATEWAY_EMBEDDING_MODEL_DIR alike', () => {
    expect(embedderSchema.parse({ kind: 'local' })).toMatchObject({ kind: 'local', quantized: true });
    expect(defaultEmbedderConfig({ GATEWAY_EMBEDDING_MODEL_DIR: '/models/minilm' })).toMatchObject({ kind: 'local', dir: '/models/minilm', quantized: true });
    expect(embedderSchema.parse({ kind: 'local', quantized: false })).toMatchObject({ quantized: false });
  });

  it('gives onnxruntime half the CPUs, one on two, at most four', () => {
    expect([1, 2, 3, 4, 8, 64].map((cpus) => defaultThreads(cpus))).toEqual([1, 1, 1, 2, 4, 4]);
  });
});
