import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { planRoute } from '../../src/decision/plan.js';
import type { RequestTraits } from '../../src/decision/traits.js';
import type { HealthSnapshot } from '../../src/health/health-state.js';

const cfg = parseConfig(
  `
providers:
  p: { type: mock }
deployments:
  a: { provider: p, model: m, contextWindow: 8000 }
  b: { provider: p, model: m, contextWindow: 8000 }
  long: { provider: p, model: m, contextWindow: 200000 }
  mini: { provider: p, model: s, tier: 3 }
models:
  main:
    groups: [{ deployments: [a] }, { deployments: [b] }]
    downgrade: small
    rules:
      - { name: long, when: { minInputTokens: 50000 }, use: [long], mode: only }
      - { name: cheap, when: { tags: [classify] }, use: { tier: [3] } }
      - { name: other, when: { tags: [route-elsewhere] }, use: { alias: small } }
  small: { groups: [{ deployments: [mini] }] }
`,
  'test',
);
const traits = (t: Partial<RequestTraits> = {}): RequestTraits => ({ stream: false, needs: [], estimatedInputTokens: 10, ...t });
const half = () => 0.5;
const steps = (p: { steps: Array<{ deployment: string; stage: string }> }) => p.steps.map((s) => `${s.deployment}:${s.stage}`);

/** A snapshot where only `allowed` matters to planning. */
function snapshot(refused: string[]): HealthSnapshot {
  const deployments: HealthSnapshot['deployments'] = {};
  for (const d of Object.keys(cfg.deployments)) {
    deployments[d] = { allowed: !refused.includes(d) } as HealthSnapshot['deployments'][string];
  }
  return { at: 0, deployments };
}

describe('planRoute composition', () => {
  it('plans groups then the downgrade alias, and names the strategy', () => {
    const plan = planRoute(cfg, 'main', traits(), half);
    expect(steps(plan)).toEqual(['a:primary', 'b:switch', 'mini:downgrade']);
    expect(plan.route).toMatchObject({ strategy: 'weighted' });
  });

  it('puts a deployment whose breaker refuses calls last, after the downgrade, and says so', () => {
    const plan = planRoute(cfg, 'main', traits(), half, { snapshot: snapshot(['a']), orderGroup: (m) => ({ order: [...m], strategy: 'fixed' }) });
    expect(steps(plan)).toEqual(['b:primary', 'mini:downgrade', 'a:switch']);
    expect(plan.route.reason).toMatch(/breaker open: a tried last/);
  });

  it('leaves out deployments whose context window cannot hold the input plus the output budget', () => {
    const plan = planRoute(cfg, 'main', traits({ inputTokens: 7000, maxOutputTokens: 2000 }), half);
    // still labelled a downgrade: the request is answered by a smaller model than asked for
    expect(steps(plan)).toEqual(['mini:downgrade']);
    expect(plan.skipped.map((s) => s.deployment)).toEqual(['a', 'b']);
    expect(plan.skipped[0]!.reason).toMatch(/needs ~9000 tokens, context window is 8000/);
  });

  it('an `only` rule on token count uses just its deployments', () => {
    const plan = planRoute(cfg, 'main', traits({ inputTokens: 60000 }), half);
    expect(steps(plan)).toEqual(['long:primary']);
    expect(plan.route).toMatchObject({ strategy: 'capability', rule: 'long' });
  });

  it('a `prefer` rule puts its choice first and keeps the alias chain as fallback', () => {
    const plan = planRoute(cfg, 'main', traits({ tags: ['classify'] }), half);
    expect(steps(plan)).toEqual(['mini:primary', 'a:switch', 'b:switch']);
  });

  it('a rule naming another alias plans that alias first', () => {
    const plan = planRoute(cfg, 'main', traits({ tags: ['route-elsewhere'] }), half);
    expect(plan.steps[0]).toMatchObject({ deployment: 'mini', alias: 'small', stage: 'primary' });
    expect(plan.policies.small).toBeDefined();
  });

  it('a semantic match takes precedence over the capability rules', () => {
    const semantic = { rule: 'semantic:billing', deployments: ['b'], mode: 'only' as const, reason: 'semantic route billing' };
    const plan = planRoute(cfg, 'main', traits({ tags: ['classify'] }), half, { semantic });
    expect(steps(plan)).toEqual(['b:primary']);
    expect(plan.route).toMatchObject({ strategy: 'semantic', rule: 'billing' });
  });
});
