import { describe, expect, it } from 'vitest';
import { ConfigError, configPathFrom, loadConfig, parseConfig } from '../../src/config/load.js';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const base = `
providers:
  oa: { type: openai, apiKey: "\${OA_KEY}" }
deployments:
  d1: { provider: oa, model: gpt-4o-mini }
models:
  chat: { groups: [{ deployments: [d1] }] }
`;

describe('config', () => {
  it('loads the shipped example and demo configs', () => {
    const env = { OPENAI_API_KEY: 'x', AZURE_OPENAI_API_KEY: 'x', ANTHROPIC_API_KEY: 'x', GEMINI_API_KEY: 'x', GROQ_API_KEY: 'x' };
    const example = loadConfig('gateway.example.yaml', env);
    expect(example.providers.vllm!.baseUrl).toBe('http://vllm.internal:8000/v1');
    expect(example.providers.ollama!.baseUrl).toBe('http://localhost:11434/v1');
    expect(example.providers.groq!.baseUrl).toBe('https://api.groq.com/openai/v1');
    expect(example.models['gpt-4o']!.groups[0]).toEqual([
      { deployment: 'gpt-4o@openai', weight: 3 },
      { deployment: 'gpt-4o@azure', weight: 1 },
    ]);
    const demo = loadConfig('config/demo.yaml', {});
    expect(Object.keys(demo.models)).toContain('demo');
  });

  it('substitutes ${ENV} secrets and names a missing variable with its path', () => {
    const cfg = parseConfig(base, 't', { OA_KEY: 'sk-test' });
    expect(cfg.providers.oa!.apiKey).toBe('sk-test');
    expect(problems(base)).toEqual(['providers.oa.apiKey: environment variable OA_KEY is not set']);
  });

  it('names the exact path of schema problems', () => {
    const bad = base.replace('model: gpt-4o-mini', 'model: gpt-4o-mini, tier: zero');
    expect(problems(bad, { OA_KEY: 'k' }).join('\n')).toMatch(/^deployments\.d1\.tier: /m);
    const unknownField = base.replace('type: openai,', 'type: openai, colour: red,');
    expect(problems(unknownField, { OA_KEY: 'k' }).join('\n')).toMatch(/providers\.oa.*colour/);
  });

  it('checks cross references: unknown deployment, provider, downgrade loop', () => {
    const yaml = `
providers:
  m: { type: mock }
deployments:
  d1: { provider: nope, model: x }
models:
  a: { groups: [{ deployments: [d1, ghost] }], downgrade: b }
  b: { groups: [{ deployments: [d1] }], downgrade: a }
`;
    const p = problems(yaml);
    expect(p).toContain("deployments.d1.provider: unknown provider 'nope'");
    expect(p).toContain("models.a.groups[0].deployments[1]: unknown deployment 'ghost'");
    expect(p).toContain('models.a.downgrade: downgrade chain loops back to itself');
  });

  it('requires keys for hosted providers but not local presets', () => {
    const yaml = `
providers:
  g: { type: gemini }
  v: { type: openai-compatible, preset: vllm }
deployments: {}
models: {}
`;
    expect(problems(yaml)).toEqual(['providers.g.apiKey: required for type gemini']);
  });

  it('merges per-alias fallback policy over defaults', () => {
    const yaml = `${base}
defaults:
  fallback: { attemptsPerDeployment: 4, backoff: { baseMs: 50 } }
`.replace('models:\n  chat: { groups: [{ deployments: [d1] }] }', 'models:\n  chat: { groups: [{ deployments: [d1] }], fallback: { backoff: { capMs: 900 } } }');
    const cfg = parseConfig(yaml, 't', { OA_KEY: 'k' });
    expect(cfg.models.chat!.fallback.attemptsPerDeployment).toBe(4);
    expect(cfg.models.chat!.fallback.backoff).toEqual({ baseMs: 50, capMs: 900 });
  });

  it('takes the path from --config or GATEWAY_CONFIG', () => {
    expect(configPathFrom(['--config', 'a.yaml'], {})).toBe('a.yaml');
    expect(configPathFrom(['--config=b.yaml'], { GATEWAY_CONFIG: 'c.yaml' })).toBe('b.yaml');
    expect(configPathFrom([], { GATEWAY_CONFIG: 'c.yaml' })).toBe('c.yaml');
  });
});
