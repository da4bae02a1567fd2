/**
 * The demo's semantic routes (`demo-semantic` in config/demo.yaml) on the real all-MiniLM-L6-v2, through the
 * gateway's SemanticIndex: held-out utterances of test/fixtures/semantic-routes.json (odd indexes, never used to
 * tune the examples or the threshold) that the lexical offline embedder gets wrong because they share few words
 * with the route examples. bench/semantic-routing.ts measures the whole held-out half.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { aliasPool } from '../../src/decision/capability.js';
import { toRuleMatch } from '../../src/decision/semantic-router.js';
import { createEmbedder } from '../../src/embeddings/index.js';
import { SemanticIndex } from '../../src/routing/semantic-index.js';
import { req } from '../support/canonical-fixtures.js';
import { modelDirForTests } from '../support/model-dir.js';

const ALIAS = 'demo-semantic';
const config = loadConfig(new URL('../../config/demo.yaml', import.meta.url).pathname, {});
const semantic = config.models[ALIAS]!.semantic!;
const fixture = JSON.parse(readFileSync(new URL('../fixtures/semantic-routes.json', import.meta.url), 'utf8')) as {
  utterances: { text: string; route: string | null }[];
};

/** Held-out indexes: two per route and three that belong to none (they must reach the default). */
const HELD_OUT = [7, 21, 73, 93, 119, 139, 163, 183, 185, 207];
const cases = HELD_OUT.map((i) => ({ i, ...fixture.utterances[i]! }));

const model = createEmbedder({ kind: 'local', dir: modelDirForTests() });
afterAll(() => model.close?.());

const indexWith = (embedder: ReturnType<typeof createEmbedder>) => SemanticIndex.build({ [ALIAS]: config.models[ALIAS]! }, { embedderFor: () => embedder });
const routedTo = (d: Awaited<ReturnType<SemanticIndex['classify']>>) => (d!.usedDefault ? null : (d!.route ?? 'none'));

describe('demo semantic routes on all-MiniLM-L6-v2', () => {
  it('the held-out cases are odd-indexed and cover every route and the default', () => {
    expect(HELD_OUT.every((i) => i % 2 === 1)).toBe(true);
    expect(new Set(cases.map((c) => c.route))).toEqual(new Set([...semantic.routes.map((r) => r.name), null]));
  });

  it('routes held-out utterances by meaning, and sends off-route ones to the default', async () => {
    const index = await indexWith(model);
    for (const c of cases) {
      const d = await index.classifyRequest(ALIAS, req({ model: ALIAS, messages: [{ role: 'user', content: c.text }] }));
      expect({ i: c.i, text: c.text, routedTo: routedTo(d), reason: d!.reason }).toMatchObject({ i: c.i, routedTo: c.route });
    }
  });

  it('a routed message plans onto its route target; an unrouted one onto the default (the small deployment)', async () => {
    const index = await indexWith(model);
    const code = (await index.classify(ALIAS, fixture.utterances[7]!.text))!;
    expect(toRuleMatch(code, code.target, code.mode, config.deployments, aliasPool(config, ALIAS))).toMatchObject({ rule: 'semantic:code', deployments: ['large-east', 'large-west'] });
    const none = (await index.classify(ALIAS, fixture.utterances[185]!.text))!;
    expect(toRuleMatch(none, none.target, none.mode, config.deployments, aliasPool(config, ALIAS))).toMatchObject({ rule: 'semantic:default', deployments: ['small'] });
  });

  it('the lexical offline embedder misroutes most of the same cases (what the real model is for)', async () => {
    const index = await indexWith(createEmbedder({ kind: 'offline' }));
    let right = 0;
    for (const c of cases) if (routedTo(await index.classify(ALIAS, c.text)) === c.route) right++;
    expect(right).toBeLessThanOrEqual(cases.length / 2);
  });
});
