import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import {
  DEFAULT_SEMANTIC_THRESHOLD,
  MODEL_SEMANTIC_THRESHOLD,
  semanticThreshold,
  checkSemanticReferences,
  semanticRoutingSchema,
  type SemanticRoutingConfigInput,
} from '../../src/config/semantic-routing-schema.js';
import type { RoutingConfig } from '../../src/config/types.js';
import { aliasPool } from '../../src/decision/capability.js';
import { aggregate, routeByExamples, toRuleMatch, type RouteVectors } from '../../src/decision/semantic-router.js';
import type { EmbedderConfig } from '../../src/embeddings/schema.js';
import { OfflineEmbedder } from '../../src/embeddings/offline.js';
import type { Embedder } from '../../src/embeddings/types.js';
import { SemanticIndex, embedderSource, lastUserText } from '../../src/routing/semantic-index.js';
import { req } from '../support/canonical-fixtures.js';

const vec = (...xs: number[]) => {
  const v = Float32Array.from(xs);
  const n = Math.hypot(...xs);
  return v.map((x) => x / n);
};

describe('semantic router (pure)', () => {
  const routes: RouteVectors[] = [
    { name: 'a', vectors: [vec(1, 0, 0), vec(0.9, 0.1, 0), vec(0, 1, 0)] },
    { name: 'b', vectors: [vec(0, 0, 1), vec(0.2, 0, 1)] },
  ];

  it('aggregates the top k similarities by mean or max', () => {
    expect(aggregate([0.1, 0.9, 0.5, 0.7], { topK: 2, aggregate: 'mean' })).toBeCloseTo(0.8);
    expect(aggregate([0.1, 0.9, 0.5, 0.7], { topK: 2, aggregate: 'max' })).toBeCloseTo(0.9);
    // Fewer examples than k: the mean over those there are.
    expect(aggregate([0.4, 0.2], { topK: 5, aggregate: 'mean' })).toBeCloseTo(0.3);
    expect(aggregate([], { topK: 3, aggregate: 'mean' })).toBe(-1);
  });

  it('picks the best route above the threshold and reports every score', () => {
    const d = routeByExamples(vec(1, 0.05, 0), routes, { topK: 2, aggregate: 'mean', threshold: 0.5 });
    expect(d.route).toBe('a');
    expect(d.scores.a).toBeGreaterThan(0.95);
    expect(d.scores.b).toBeLessThan(0.2);
    expect(d.score).toBe(d.scores.a);
    expect(d.reason).toMatch(/^semantic route 'a' \(0\.\d{3} ≥ 0\.5; next 'b' 0\.\d{3}\)$/);
  });

  it('top-k matters: one stray close example does not carry a route under mean of 2, but does under max', () => {
    const q = vec(0, 1, 0.3); // close to a's odd example only
    expect(routeByExamples(q, routes, { topK: 2, aggregate: 'mean', threshold: 0.6 }).route).toBeUndefined();
    expect(routeByExamples(q, routes, { topK: 2, aggregate: 'max', threshold: 0.6 }).route).toBe('a');
  });

  it('names no route below the threshold; the threshold itself is enough; ties go to the first route', () => {
    const below = routeByExamples(vec(1, 1, 1), routes, { topK: 1, aggregate: 'max', threshold: 0.99 });
    expect(below.route).toBeUndefined();
    expect(below.reason).toMatch(/^no semantic route: best '.' 0\.\d{3} < 0\.99$/);
    const exact = routeByExamples(vec(1, 0, 0), [{ name: 'x', vectors: [vec(1, 0, 0)] }], { topK: 1, aggregate: 'max', threshold: 1 });
    expect(exact.route).toBe('x');
    const tie = routeByExamples(vec(1, 0, 0), [{ name: 'first', vectors: [vec(1, 0, 0)] }, { name: 'second', vectors: [vec(1, 0, 0)] }], { topK: 1, aggregate: 'max', threshold: 0 });
    expect(tie.route).toBe('first');
    expect(routeByExamples(vec(1, 0, 0), [], { topK: 1, aggregate: 'max', threshold: 0 })).toEqual({ score: -1, scores: {}, reason: 'no semantic routes' });
  });
});

const cfg = parseConfig(
  `
providers:
  oa: { type: openai, apiKey: k }
deployments:
  big:   { provider: oa, model: gpt-4.1 }
  small: { provider: oa, model: gpt-4.1-mini, tier: 2 }
  tiny:  { provider: oa, model: gpt-4.1-nano, tier: 3 }
models:
  assistant:
    groups: [{ deployments: [big] }]
    downgrade: lite
  lite: { groups: [{ deployments: [small, tiny] }] }
  coder: { groups: [{ deployments: [big] }] }
`,
  'test',
) as RoutingConfig;

describe('toRuleMatch', () => {
  const pool = aliasPool(cfg, 'assistant');
  const won = { route: 'code', score: 0.4, scores: { code: 0.4 }, reason: "semantic route 'code'" };

  it('resolves the three target shapes like a capability rule', () => {
    expect(toRuleMatch(won, { alias: 'coder' }, 'prefer', cfg.deployments, pool)).toMatchObject({ rule: 'semantic:code', alias: 'coder', mode: 'prefer' });
    expect(toRuleMatch(won, ['ghost', 'small'], 'only', cfg.deployments, pool)).toMatchObject({ rule: 'semantic:code', deployments: ['small'], mode: 'only' });
    expect(toRuleMatch(won, { tier: [3, 2] }, 'prefer', cfg.deployments, pool)).toMatchObject({ deployments: ['tiny', 'small'] });
    expect(toRuleMatch(won, { tier: [3] }, 'prefer', cfg.deployments, pool).reason).toBe("semantic route 'code' → tiny");
  });

  it('is no match without a target or when the target reaches nothing', () => {
    expect(toRuleMatch(won, undefined, 'prefer', cfg.deployments, pool)).toEqual({ reason: "semantic route 'code'" });
    expect(toRuleMatch(won, { tier: [9] }, 'prefer', cfg.deployments, pool)).toEqual({ reason: "semantic route 'code'; its target names no reachable deployment" });
    const below = { score: 0.1, scores: {}, reason: 'no semantic route: …' };
    expect(toRuleMatch(below, ['tiny'], 'prefer', cfg.deployments, pool)).toMatchObject({ rule: 'semantic:default', deployments: ['tiny'] });
  });
});

const ROUTES: SemanticRoutingConfigInput['routes'] = [
  {
    name: 'code',
    examples: [
      'Why does my Python function return None instead of the list?',
      'Fix this TypeScript compile error: type string is not assignable to number',
      'How do I reverse a linked list in Java?',
      'My JavaScript async function never resolves, what is wrong with the code?',
      'Write a SQL query that joins orders and customers',
      'Refactor this function to avoid the nested loops',
    ],
    use: { alias: 'coder' },
  },
  {
    name: 'billing',
    examples: [
      'I was charged twice for my subscription this month',
      'How do I update the credit card on my account?',
      "Can I get a refund for last month's invoice?",
      'Where can I download my invoices and receipts?',
      'Why is my bill higher than my plan price?',
      'Cancel my subscription and stop the payments',
    ],
    use: { tier: [3] },
    mode: 'only',
  },
  {
    name: 'chitchat',
    examples: [
      'Hi there, how are you doing today?',
      'Tell me a joke about cats',
      'What is your favourite movie?',
      'Good morning! Have a nice day',
      'Thanks, you have been really helpful',
      'Do you like music?',
    ],
    use: ['tiny'],
  },
];

const HELD_OUT: Array<[string, string]> = [
  ['code', 'My Python script throws a KeyError when I read the dictionary, how do I fix the code?'],
  ['code', 'How can I sort an array of objects by a field in JavaScript?'],
  ['code', 'Why does this Java function throw a NullPointerException?'],
  ['code', 'Write a query in SQL to count customers per country'],
  ['billing', 'I think I was charged two times on my credit card'],
  ['billing', 'Please send me a refund, the invoice is wrong'],
  ['billing', 'How do I change the payment method for my subscription?'],
  ['billing', 'My bill this month is too high'],
  ['chitchat', 'Hey, how is your day going?'],
  ['chitchat', 'Tell me a funny joke'],
  ['chitchat', 'Thanks a lot, have a good day!'],
  ['chitchat', 'What kind of music do you like?'],
];

const semantic = (over: Partial<SemanticRoutingConfigInput> = {}) => semanticRoutingSchema.parse({ routes: ROUTES, default: ['small'], ...over });

/** Wraps an embedder to count calls and fail on demand. */
class ScriptedEmbedder implements Embedder {
  readonly inner = new OfflineEmbedder();
  readonly id = this.inner.id;
  readonly dimension = this.inner.dimension;
  calls: number[] = [];
  failNext = 0;
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    this.calls.push(texts.length);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('embedder down');
    }
    return this.inner.embed(texts, signal);
  }
}

describe('semantic index with the offline embedder', () => {
  it('sends held-out utterances to the right route with the default scoring', async () => {
    const index = await SemanticIndex.build({ assistant: { semantic: semantic() } }, { embedderFor: embedderSource({ env: {} }) });
    for (const [want, text] of HELD_OUT) {
      const d = await index.classify('assistant', text);
      expect(d?.route, `${text} → ${d?.reason}`).toBe(want);
      expect(d?.score).toBeGreaterThanOrEqual(DEFAULT_SEMANTIC_THRESHOLD);
    }
    expect(await index.classify('assistant', HELD_OUT[4]![1])).toMatchObject({ route: 'billing', target: { tier: [3] }, mode: 'only', usedDefault: false });
  });

  it('sends an off-topic message below the threshold to the default target', async () => {
    const index = await SemanticIndex.build({ assistant: { semantic: semantic() } }, { embedderFor: embedderSource({ env: {} }) });
    for (const text of ['What is the capital of Mongolia?', 'What are the health benefits of green tea?']) {
      const d = await index.classify('assistant', text);
      expect(d, text).toMatchObject({ target: ['small'], mode: 'prefer', usedDefault: true });
      expect(d!.route).toBeUndefined();
      expect(d!.score).toBeLessThan(DEFAULT_SEMANTIC_THRESHOLD);
      expect(d!.reason).toMatch(/< 0\.12 → default$/);
    }
    const noDefault = await SemanticIndex.build({ assistant: { semantic: semantic({ default: undefined }) } }, { embedderFor: embedderSource({ env: {} }) });
    const none = await noDefault.classify('assistant', 'What is the capital of Mongolia?');
    expect(none).toMatchObject({ usedDefault: false, mode: 'prefer' });
    expect(none!.route).toBeUndefined();
    expect(none!.target).toBeUndefined();
  });

  it('routes on the last user message, not the system prompt or earlier turns', async () => {
    const index = await SemanticIndex.build({ assistant: { semantic: semantic() } }, { embedderFor: embedderSource({ env: {} }) });
    const request = req({
      messages: [
        { role: 'system', content: 'You are a billing assistant for invoices and refunds.' },
        { role: 'user', content: 'I was charged twice for my subscription' },
        { role: 'assistant', content: 'Sorry to hear that.' },
        { role: 'user', content: [{ type: 'text', text: 'Also, tell me a funny joke' }] },
      ],
    });
    expect(lastUserText(request)).toBe('Also, tell me a funny joke');
    expect((await index.classifyRequest('assistant', request))?.route).toBe('chitchat');
    expect(await index.classifyRequest('other-alias', request)).toBeUndefined();
    expect(index.has('assistant')).toBe(true);
    expect(index.size).toBe(1);
  });

  it('a message with no text goes to the default without calling the embedder', async () => {
    const e = new ScriptedEmbedder();
    const index = await SemanticIndex.build({ assistant: { semantic: semantic() } }, { embedderFor: () => e });
    const calls = e.calls.length;
    const d = await index.classifyRequest('assistant', req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }));
    expect(d).toMatchObject({ usedDefault: true, target: ['small'], reason: 'no semantic route: no user text to route on → default' });
    expect(d!.route).toBeUndefined();
    expect(e.calls.length).toBe(calls);
  });

  it('embeds the examples once, in batches, and each message once', async () => {
    const e = new ScriptedEmbedder();
    const many = semanticRoutingSchema.parse({
      routes: [
        { name: 'x', examples: Array.from({ length: 200 }, (_, i) => `example number ${i} about rockets`), use: ['big'] },
        { name: 'y', examples: ['a question about gardens'], use: ['tiny'] },
      ],
    });
    const index = await SemanticIndex.build({ assistant: { semantic: many } }, { embedderFor: () => e });
    expect(e.calls).toEqual([128, 73]);
    expect((await index.classify('assistant', 'how do rockets fly'))?.route).toBe('x');
    expect((await index.classify('assistant', 'caring for my gardens'))?.route).toBe('y');
    expect(e.calls).toEqual([128, 73, 1, 1]);
  });

  it('an embedder that fails never fails the request: default now, examples retried in the background later', async () => {
    const e = new ScriptedEmbedder();
    e.failNext = 1;
    let now = 1_000;
    const warnings: unknown[] = [];
    const index = await SemanticIndex.build(
      { assistant: { semantic: semantic() } },
      { embedderFor: () => e, now: () => now, retryAfterMs: 30_000, logger: { warn: (o: unknown) => warnings.push(o), info: () => {} } },
    );
    expect(warnings).toHaveLength(1);
    const first = await index.classify('assistant', 'Tell me a funny joke');
    expect(first).toMatchObject({ usedDefault: true, target: ['small'] });
    expect(first!.route).toBeUndefined();
    expect(first!.reason).toMatch(/unavailable \(embedder down\)/);
    expect(e.calls).toHaveLength(1); // not retried before retryAfterMs

    now += 30_000;
    const during = await index.classify('assistant', 'Tell me a funny joke');
    expect(during?.route).toBeUndefined(); // this request does not wait for the rebuild
    await new Promise((r) => setImmediate(r));
    expect((await index.classify('assistant', 'Tell me a funny joke'))?.route).toBe('chitchat');

    e.failNext = 1;
    const failedQuery = await index.classify('assistant', 'Tell me a funny joke');
    expect(failedQuery).toMatchObject({ usedDefault: true, target: ['small'] });
    expect(failedQuery!.route).toBeUndefined();
    expect(failedQuery!.reason).toMatch(/embedding the message failed \(embedder down\)/);
  });

  it("rethrows the client's abort instead of routing", async () => {
    const index = await SemanticIndex.build({ assistant: { semantic: semantic() } }, { embedderFor: embedderSource({ env: {} }) });
    const ac = new AbortController();
    ac.abort();
    await expect(index.classify('assistant', 'Tell me a funny joke', ac.signal)).rejects.toThrow();
  });
});

describe('embedderSource', () => {
  it('shares one instance per distinct config, and the cache embedder for `cache`', () => {
    const made: EmbedderConfig[] = [];
    const cacheEmbedder = new OfflineEmbedder({ dimension: 512 });
    const source = embedderSource({
      cache: { config: { kind: 'offline', dimension: 512 }, embedder: cacheEmbedder },
      env: {}, // no model directory: `default` is the offline embedder
      create: (c) => {
        made.push(c);
        return new OfflineEmbedder({ dimension: c.kind === 'offline' ? c.dimension : 16 });
      },
    });
    const d1 = source('default');
    expect(source('default')).toBe(d1);
    expect(source({ kind: 'offline', dimension: 256 })).toBe(d1);
    expect(d1.dimension).toBe(256);
    expect(source('cache')).toBe(cacheEmbedder);
    expect(source({ kind: 'offline', dimension: 512 })).toBe(cacheEmbedder);
    const other = source({ kind: 'offline', dimension: 64 });
    expect(other.dimension).toBe(64);
    expect(made).toEqual([{ kind: 'offline', dimension: 256 }, { kind: 'offline', dimension: 64 }]);
    expect(source.created).toEqual([d1, other]);
  });
});

describe('semantic routing config', () => {
  it('fills defaults and accepts every embedder reference', () => {
    const c = semanticRoutingSchema.parse({ routes: [{ name: 'r', examples: ['x'], use: ['a'] }] });
    expect(c).toMatchObject({ embedder: 'default', topK: 3, aggregate: 'mean' });
    // unset, the threshold follows the embedder that scores the routes
    expect(c.threshold).toBeUndefined();
    expect(semanticThreshold(c, 'offline-hash-v1/256')).toBe(DEFAULT_SEMANTIC_THRESHOLD);
    expect(semanticThreshold(c, 'local:all-MiniLM-L6-v2/384')).toBe(MODEL_SEMANTIC_THRESHOLD);
    expect(semanticThreshold({ threshold: 0.5 }, 'local:all-MiniLM-L6-v2/384')).toBe(0.5);
    expect(c.routes[0]!.mode).toBe('prefer');
    expect(semanticRoutingSchema.parse({ ...c, embedder: 'cache' }).embedder).toBe('cache');
    expect(semanticRoutingSchema.parse({ ...c, embedder: { kind: 'offline' } }).embedder).toEqual({ kind: 'offline', dimension: 256 });
  });

  it('refuses duplicate route names, routes without examples and thresholds out of range', () => {
    const r = { name: 'r', examples: ['x'], use: ['a'] };
    expect(() => semanticRoutingSchema.parse({ routes: [r, r] })).toThrow(/unique/);
    expect(() => semanticRoutingSchema.parse({ routes: [{ ...r, examples: [] }] })).toThrow();
    expect(() => semanticRoutingSchema.parse({ routes: [{ ...r, examples: ['   '] }] })).toThrow();
    expect(() => semanticRoutingSchema.parse({ routes: [r], threshold: 1.5 })).toThrow();
    expect(() => semanticRoutingSchema.parse({ routes: [r], embedder: 'bogus' })).toThrow();
  });

  it('names unknown deployments, aliases and providers, and an alias routing to itself', () => {
    const c = semanticRoutingSchema.parse({
      embedder: { kind: 'provider', provider: 'nope', model: 'text-embedding-3-small', dimension: 1536 },
      routes: [
        { name: 'a', examples: ['x'], use: ['big', 'ghost'] },
        { name: 'b', examples: ['y'], use: { alias: 'assistant' } },
        { name: 'c', examples: ['z'], use: { alias: 'missing' } },
        { name: 'd', examples: ['w'], use: { tier: [2] } },
      ],
      default: { alias: 'coder' },
    });
    expect(checkSemanticReferences('assistant', c, { deployments: cfg.deployments, models: cfg.models, providers: { oa: {} } })).toEqual([
      { path: ['models', 'assistant', 'semantic', 'routes', 0, 'use', 1], message: "unknown deployment 'ghost'" },
      { path: ['models', 'assistant', 'semantic', 'routes', 1, 'use', 'alias'], message: 'a semantic route cannot send an alias to itself' },
      { path: ['models', 'assistant', 'semantic', 'routes', 2, 'use', 'alias'], message: "unknown model alias 'missing'" },
      { path: ['models', 'assistant', 'semantic', 'embedder', 'provider'], message: "unknown provider 'nope'" },
    ]);
  });
});
