import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { capabilityRulesSchema, checkRuleReferences, type CapabilityRuleInput } from '../../src/config/routing-rules-schema.js';
import { aliasPool, applyCapabilityRules, filterByContext, tagsOf, type RequestFacts } from '../../src/decision/capability.js';
import { countInputTokens } from '../../src/decision/tokens.js';
import type { RoutingConfig } from '../../src/config/types.js';

const cfg = parseConfig(
  `
providers:
  oa: { type: openai, apiKey: k }
  an: { type: anthropic, apiKey: k }
  gm: { type: gemini, apiKey: k }
deployments:
  oa-4o:   { provider: oa, model: gpt-4o, contextWindow: 128000 }
  an-main: { provider: an, model: claude-sonnet-4-5, contextWindow: 200000 }
  oa-41:   { provider: oa, model: gpt-4.1, contextWindow: 1000000 }
  gem-pro: { provider: gm, model: gemini-2.5-pro, contextWindow: 1048576 }
  oa-mini: { provider: oa, model: gpt-4o-mini, tier: 2, contextWindow: 128000 }
  tiny:    { provider: oa, model: gpt-4.1-nano, tier: 3, contextWindow: 16000 }
  vis:     { provider: oa, model: gpt-4o, capabilities: [vision, streaming] }
models:
  main:
    groups:
      - deployments: [oa-4o, an-main]
      - deployments: [oa-41]
    downgrade: mini
  mini:
    groups: [{ deployments: [oa-mini] }]
    downgrade: nano
  nano:
    groups: [{ deployments: [tiny] }]
  vision:
    groups: [{ deployments: [vis] }]
`,
  'test',
) as RoutingConfig;

const input: CapabilityRuleInput[] = [
  { name: 'long-context', when: { minInputTokens: 100_000 }, use: ['oa-41', 'gem-pro'], mode: 'only' },
  { name: 'classify', when: { tags: ['Classify', 'extract'] }, use: { tier: [3, 2] } },
  { when: { needs: ['vision'] }, use: { alias: 'vision' } },
];
const rules = capabilityRulesSchema.parse(input);
const pool = aliasPool(cfg, 'main');
const facts = (f: Partial<RequestFacts>): RequestFacts => ({ tags: [], inputTokens: 1_000, needs: [], ...f });
const apply = (f: Partial<RequestFacts>) => applyCapabilityRules(rules, facts(f), cfg.deployments, pool);

describe('capability rules', () => {
  it('sends a long prompt to the long-context deployments, alone', () => {
    expect(apply({ inputTokens: 150_000 })).toMatchObject({ rule: 'long-context', deployments: ['oa-41', 'gem-pro'], mode: 'only' });
    expect(apply({ inputTokens: 150_000 }).reason).toContain('input 150000 ≥ 100000 tokens');
  });

  it('sends a classify task to the smallest models this alias reaches, smallest tier first', () => {
    expect(pool).toEqual(['oa-4o', 'an-main', 'oa-41', 'oa-mini', 'tiny']);
    expect(apply({ tags: ['classify'] })).toMatchObject({ rule: 'classify', deployments: ['tiny', 'oa-mini'], mode: 'prefer' });
  });

  it('sends a request with images to the vision alias; an unnamed rule is named by position', () => {
    expect(apply({ needs: ['streaming', 'vision'] })).toMatchObject({ rule: 'rules[2]', alias: 'vision', mode: 'prefer' });
  });

  it('lets the first matching rule win', () => {
    expect(apply({ inputTokens: 150_000, tags: ['classify'], needs: ['vision'] }).rule).toBe('long-context');
    expect(apply({ tags: ['extract'], needs: ['vision'] }).rule).toBe('classify');
  });

  it('matches nothing when no rule applies: the alias routes as usual', () => {
    const m = apply({ tags: ['chat'], needs: ['tools'] });
    expect(m).toEqual({ reason: 'no rule matched' });
    expect(applyCapabilityRules([], facts({}), cfg.deployments, pool)).toEqual({ reason: 'no rule matched' });
  });

  it('requires every condition of a rule, and passes over a rule that resolves to nothing', () => {
    const r = capabilityRulesSchema.parse([
      { name: 'huge', when: { tags: ['batch'] }, use: { tier: [9] } },
      { name: 'short-classify', when: { tags: ['classify'], maxInputTokens: 2_000, minOutputTokens: 10 }, use: ['tiny'] },
      { name: 'fallback', when: { tags: ['batch', 'classify'] }, use: ['oa-mini'] },
    ]);
    const run = (f: Partial<RequestFacts>) => applyCapabilityRules(r, facts(f), cfg.deployments, pool);
    expect(run({ tags: ['classify'], inputTokens: 500, maxOutputTokens: 50 }).deployments).toEqual(['tiny']);
    expect(run({ tags: ['classify'], inputTokens: 5_000, maxOutputTokens: 50 }).rule).toBe('fallback');
    expect(run({ tags: ['classify'], inputTokens: 500 }).rule).toBe('fallback');
    const batch = run({ tags: ['batch'] });
    expect(batch.rule).toBe('fallback');
    const none = applyCapabilityRules(r.slice(0, 1), facts({ tags: ['batch'] }), cfg.deployments, pool);
    expect(none.rule).toBeUndefined();
    expect(none.reason).toContain("'huge' matched but names no reachable deployment");
  });

  it('feeds on real token counts', () => {
    const big = { model: 'main', messages: [{ role: 'user' as const, content: 'lorem ipsum dolor sit amet '.repeat(25_000) }] };
    const { tokens } = countInputTokens(big, 'openai', 'gpt-4o');
    expect(apply({ inputTokens: tokens }).rule).toBe('long-context');
  });
});

describe('rules schema', () => {
  it('defaults mode to prefer and normalises tags', () => {
    expect(rules[1]).toMatchObject({ mode: 'prefer', when: { tags: ['classify', 'extract'] } });
  });

  it('refuses rules that would shadow the rest or cannot match', () => {
    expect(capabilityRulesSchema.safeParse([{ when: {}, use: ['x'] }]).success).toBe(false);
    expect(capabilityRulesSchema.safeParse([{ when: { minInputTokens: 10, maxInputTokens: 5 }, use: ['x'] }]).success).toBe(false);
    expect(capabilityRulesSchema.safeParse([{ when: { tags: ['no spaces'] }, use: ['x'] }]).success).toBe(false);
    expect(capabilityRulesSchema.safeParse([{ when: { needs: ['telepathy'] }, use: ['x'] }]).success).toBe(false);
    expect(capabilityRulesSchema.safeParse([{ when: { tags: ['a'] }, use: [] }]).success).toBe(false);
    expect(capabilityRulesSchema.safeParse([{ when: { tags: ['a'] }, use: { tier: [1], alias: 'x' } }]).success).toBe(false);
  });

  it('checks what rules point at', () => {
    const bad = capabilityRulesSchema.parse([
      { when: { tags: ['a'] }, use: ['oa-4o', 'nope'] },
      { when: { tags: ['b'] }, use: { alias: 'main' } },
      { when: { tags: ['c'] }, use: { alias: 'ghost' } },
      { when: { tags: ['d'] }, use: { alias: 'vision' } },
    ]);
    expect(checkRuleReferences('main', bad, cfg)).toEqual([
      { path: ['models', 'main', 'rules', 0, 'use', 1], message: "unknown deployment 'nope'" },
      { path: ['models', 'main', 'rules', 1, 'use', 'alias'], message: 'a rule cannot send an alias to itself' },
      { path: ['models', 'main', 'rules', 2, 'use', 'alias'], message: "unknown model alias 'ghost'" },
    ]);
  });
});

describe('filterByContext', () => {
  it('drops deployments whose window cannot hold input plus output, with reasons', () => {
    const r = filterByContext(['oa-4o', 'an-main', 'tiny', 'ghost'], 150_000, cfg.deployments);
    expect(r.kept).toEqual(['an-main']);
    expect(r.skipped).toEqual([
      { deployment: 'oa-4o', reason: 'needs 150000 tokens, context window is 128000' },
      { deployment: 'tiny', reason: 'needs 150000 tokens, context window is 16000' },
      { deployment: 'ghost', reason: 'unknown deployment' },
    ]);
    expect(filterByContext(['tiny'], 16_000, cfg.deployments).kept).toEqual(['tiny']);
  });

  it('takes each provider’s own count', () => {
    // ~190k o200k tokens: fits Claude's 200k window by OpenAI's count, not by Anthropic's estimate (×1.3).
    const req = { model: 'main', messages: [{ role: 'user' as const, content: 'the quick brown fox jumps over the lazy dog '.repeat(19_000) }] };
    const perProvider = (d: { providerType: Parameters<typeof countInputTokens>[1]; model: string }) =>
      countInputTokens(req, d.providerType, d.model).tokens + 1_000;
    expect(countInputTokens(req, 'openai', 'gpt-4o').tokens).toBeLessThan(199_000);
    const r = filterByContext(['an-main', 'oa-41'], perProvider, cfg.deployments);
    expect(r.kept).toEqual(['oa-41']);
    expect(r.skipped[0]).toMatchObject({ deployment: 'an-main' });
  });
});

describe('tagsOf', () => {
  it('merges the header and metadata.tags, trimmed, lower-cased, deduplicated', () => {
    expect(tagsOf({ 'x-gateway-tags': ' Classify, fast ' }, { tags: 'fast,EXTRACT' })).toEqual(['classify', 'fast', 'extract']);
  });

  it('reads repeated headers and any header-name casing', () => {
    expect(tagsOf({ 'x-gateway-tags': ['a', 'b,c'] }, undefined)).toEqual(['a', 'b', 'c']);
    expect(tagsOf({ 'X-Gateway-Tags': 'a' }, undefined)).toEqual(['a']);
  });

  it('ignores what is missing or malformed, and bounds the work', () => {
    expect(tagsOf(undefined, undefined)).toEqual([]);
    expect(tagsOf({}, { user: 'x' })).toEqual([]);
    expect(tagsOf({ 'x-gateway-tags': 'ok, has space, ,-lead, über, x'.concat('y'.repeat(70)) }, undefined)).toEqual(['ok']);
    expect(tagsOf({ 'x-gateway-tags': Array.from({ length: 100 }, (_, i) => `t${i}`).join(',') }, undefined)).toHaveLength(16);
  });
});

describe('aliasPool', () => {
  it('walks the downgrade chain once even if it loops', () => {
    const looped: RoutingConfig = {
      deployments: cfg.deployments,
      models: {
        a: { ...cfg.models.mini!, name: 'a', downgrade: 'b' },
        b: { ...cfg.models.nano!, name: 'b', downgrade: 'a' },
      },
    };
    expect(aliasPool(looped, 'a')).toEqual(['oa-mini', 'tiny']);
    expect(aliasPool(cfg, 'unknown')).toEqual([]);
  });
});
