/**
 * Provider parameter support end to end: a request using a field some provider family cannot carry is routed
 * to a deployment that can, and only an alias with no such deployment answers 400, naming the field.
 * Weighted groups make the old behaviour (the adapter's own 400) appear at random, hence the repetitions.
 */
import { describe, expect, it } from 'vitest';
import { APIError } from 'openai';
import { useHarness } from '../support/harness.js';

const yaml = `
server: { host: 127.0.0.1 }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream }
  ge: { type: gemini, baseUrl: "{{FAKE}}/v1beta", apiKey: gem-upstream-key }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
  ge-main: { provider: ge, model: gemini-main }
models:
  mixed: { groups: [{ deployments: [{ deployment: an-main, weight: 3 }, { deployment: oa-main, weight: 1 }] }] }
  claude: { groups: [{ deployments: [an-main] }] }
  no-openai: { groups: [{ deployments: [an-main, ge-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 1, backoff: { baseMs: 1, capMs: 5 } }
`;

const h = useHarness(yaml);
const user = (content: string) => [{ role: 'user' as const, content }];

async function rejection(p: Promise<unknown>): Promise<APIError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(APIError);
  return err as APIError;
}

describe('a field only some providers carry', () => {
  it('n=2 on a weighted Anthropic + OpenAI group is always answered by OpenAI', async () => {
    const answeredBy: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { data, response } = await h.openai.chat.completions.create({ model: 'mixed', n: 2, messages: user(`hi ${i}`) }).withResponse();
      expect(data.choices[0]!.message.content).toBe(`Echo: hi ${i}`);
      answeredBy.push(response.headers.get('x-gateway-deployment')!);
    }
    expect(new Set(answeredBy)).toEqual(new Set(['oa-main']));
    // Anthropic was never tried: planning left it out rather than letting its adapter refuse.
    expect(h.fake.requests.map((r) => r.protocol)).toEqual(Array(20).fill('openai'));
  });

  it('n=2 on Anthropic + Gemini goes to Gemini, which returns several candidates', async () => {
    for (let i = 0; i < 10; i++) {
      const { response } = await h.openai.chat.completions.create({ model: 'no-openai', n: 2, messages: user('hi') }).withResponse();
      expect(response.headers.get('x-gateway-deployment')).toBe('ge-main');
    }
    const sent = h.fake.requests.at(-1)!.body as { generationConfig?: { candidateCount?: number } };
    expect(sent.generationConfig?.candidateCount).toBe(2);
  });

  it('without the field, the same alias still uses both deployments', async () => {
    const answeredBy = new Set<string>();
    for (let i = 0; i < 30 && answeredBy.size < 2; i++) {
      const { response } = await h.openai.chat.completions.create({ model: 'mixed', messages: user('hi') }).withResponse();
      answeredBy.add(response.headers.get('x-gateway-deployment')!);
    }
    expect(answeredBy).toEqual(new Set(['an-main', 'oa-main']));
  });
});

describe('no deployment of the alias carries the field', () => {
  it('n=2 on an Anthropic-only alias: 400 naming n, nothing sent upstream', async () => {
    const err = await rejection(h.openai.chat.completions.create({ model: 'claude', n: 2, messages: user('hi') }));
    expect(err.status).toBe(400);
    expect(err.code).toBe('unsupported_parameter');
    expect(err.param).toBe('n');
    expect(err.message).toMatch(/'n' > 1 is not supported by any deployment of 'claude' \(anthropic cannot return several choices\)/);
    expect(h.fake.requests).toEqual([]);
  });

  it('logit_bias on an Anthropic + Gemini alias: 400 naming logit_bias with both reasons', async () => {
    const err = await rejection(h.openai.chat.completions.create({ model: 'no-openai', logit_bias: { '50256': -100 }, messages: user('hi') }));
    expect(err.status).toBe(400);
    expect(err.code).toBe('unsupported_parameter');
    expect(err.param).toBe('logit_bias');
    expect(err.message).toMatch(/'logit_bias' is not supported by any deployment of 'no-openai'/);
    expect(err.message).toMatch(/anthropic/);
    expect(err.message).toMatch(/gemini/);
    expect(h.fake.requests).toEqual([]);
  });

  it('audio input on an Anthropic-only alias: 400 naming the content part', async () => {
    const err = await rejection(
      h.openai.chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'listen' }, { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] }],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.code).toBe('unsupported_parameter');
    expect(err.param).toBe('messages[0].content[1]');
    expect(err.message).toMatch(/^400 audio input \(input_audio parts\) in 'messages\[0\]\.content\[1\]' is not supported by any deployment of 'claude' \(anthropic does not accept audio input\)/);
    expect(h.fake.requests).toEqual([]);
  });
});
