/**
 * What goes upstream is the operator's choice: per adapter, a field the client invents is dropped, a field the
 * alias lists in `passthrough` is forwarded, and the account fields (`store`, `service_tier`, `metadata`,
 * `user`) stay behind unless listed. The config side: the list is parsed, checked and reaches the fast path's target.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { FastPathExecutor } from '../../src/execution/fast-executor.js';
import type { ChatRequest, EmbeddingsRequest } from '../../src/protocol/chat-request.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { toGeminiRequest } from '../../src/providers/gemini/request.js';
import { toOpenAIBody, toOpenAIEmbeddingsBody } from '../../src/providers/openai.js';
import type { Target } from '../../src/providers/types.js';
import { anthropicTarget, req } from '../support/canonical-fixtures.js';

const anthropic = anthropicTarget('claude-x');
const openai: Target = {
  provider: { ...anthropic.provider, name: 'oa', type: 'openai', baseUrl: 'https://api.openai.com/v1' },
  deployment: { ...anthropic.deployment, providerType: 'openai', model: 'gpt-x' },
};
const azure: Target = { ...openai, provider: { ...openai.provider, type: 'azure-openai', apiVersion: '2024-10-21' } };
const gemini: Target = {
  provider: { ...anthropic.provider, name: 'g', type: 'gemini', baseUrl: 'https://generativelanguage.googleapis.com' },
  deployment: { ...anthropic.deployment, providerType: 'gemini', model: 'gemini-x' },
};
const allow = (t: Target, ...passthrough: string[]): Target => ({ ...t, passthrough });

/** A client body carrying an invented field, the account fields and a canonical one. */
const hostile = (): ChatRequest =>
  req({
    temperature: 0.5,
    user: 'end-user-1',
    metadata: { tags: 'x' },
    ...({ store: true, service_tier: 'priority', web_search_options: {}, x_secret_switch: 1 } as Record<string, unknown>),
  });

describe('OpenAI family', () => {
  it('drops fields it does not know and the account fields, keeps the canonical ones', () => {
    for (const target of [openai, azure]) {
      const body = toOpenAIBody(hostile(), target, false);
      expect(body).not.toHaveProperty('store');
      expect(body).not.toHaveProperty('service_tier');
      expect(body).not.toHaveProperty('metadata');
      expect(body).not.toHaveProperty('user');
      expect(body).not.toHaveProperty('web_search_options');
      expect(body).not.toHaveProperty('x_secret_switch');
      expect(body).toMatchObject({ messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 });
    }
    expect(toOpenAIBody(hostile(), openai, false).model).toBe('gpt-x');
    expect(toOpenAIBody(hostile(), azure, false)).not.toHaveProperty('model');
  });

  it('keeps the OpenAI parameters it knows outside the schema (planning reads them)', () => {
    const extra = { logit_bias: { '1': -100 }, prediction: { type: 'content', content: 'd' }, reasoning_effort: 'low', modalities: ['text'], audio: { voice: 'alloy' } };
    const body = toOpenAIBody(req(extra as Partial<ChatRequest>), openai, false);
    expect(body).toMatchObject(extra);
  });

  it('forwards what the alias lets through: an invented field, and store only when listed', () => {
    const body = toOpenAIBody(hostile(), allow(openai, 'store', 'x_secret_switch'), true);
    expect(body).toMatchObject({ store: true, x_secret_switch: 1, stream: true });
    expect(body).not.toHaveProperty('service_tier');
    expect(body).not.toHaveProperty('web_search_options');
    const all = toOpenAIBody(hostile(), allow(openai, 'service_tier', 'metadata', 'user'), false);
    expect(all).toMatchObject({ service_tier: 'priority', metadata: { tags: 'x' }, user: 'end-user-1' });
    expect(all).not.toHaveProperty('store');
  });

  it('never lets a listed name replace what the adapter writes itself', () => {
    const body = toOpenAIBody(req({ max_tokens: 9, stream: false }), allow(openai, 'model', 'stream', 'max_tokens'), true);
    expect(body).toMatchObject({ model: 'gpt-x', max_tokens: 9, stream: true, stream_options: { include_usage: true } });
  });

  it('embeddings: canonical fields go, user and invented fields only when listed', () => {
    const embed = { model: 'alias', input: 'hi', dimensions: 8, user: 'u', store: true, extra_body: 1 } as EmbeddingsRequest;
    expect(toOpenAIEmbeddingsBody(embed, openai)).toEqual({ model: 'gpt-x', input: 'hi', dimensions: 8 });
    expect(toOpenAIEmbeddingsBody(embed, allow(azure, 'user', 'extra_body'))).toEqual({ input: 'hi', dimensions: 8, user: 'u', extra_body: 1 });
  });
});

describe('Anthropic', () => {
  it('drops invented and account fields, and sends user as metadata.user_id only when allowed', () => {
    const body = toAnthropicRequest(hostile(), anthropic, false) as unknown as Record<string, unknown>;
    for (const f of ['store', 'service_tier', 'metadata', 'user', 'web_search_options', 'x_secret_switch']) expect(body, f).not.toHaveProperty(f);
    expect(body.temperature).toBe(0.5);
    expect(toAnthropicRequest(hostile(), allow(anthropic, 'user'), false).metadata).toEqual({ user_id: 'end-user-1' });
  });

  it('copies fields the alias lets through verbatim, never over its own translation', () => {
    const r = req({ temperature: 1.7, ...({ service_tier: 'standard_only', thinking: { type: 'enabled', budget_tokens: 1024 }, store: true } as Record<string, unknown>) });
    const body = toAnthropicRequest(r, allow(anthropic, 'service_tier', 'thinking', 'temperature'), false) as unknown as Record<string, unknown>;
    expect(body).toMatchObject({ service_tier: 'standard_only', thinking: { type: 'enabled', budget_tokens: 1024 }, temperature: 1 });
    expect(body).not.toHaveProperty('store');
  });
});

describe('Gemini', () => {
  it('drops invented and account fields; copies the fields the alias lets through', () => {
    const body = toGeminiRequest(hostile()) as unknown as Record<string, unknown>;
    for (const f of ['store', 'service_tier', 'metadata', 'user', 'web_search_options', 'x_secret_switch']) expect(body, f).not.toHaveProperty(f);
    const safety = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }];
    const allowed = toGeminiRequest({ ...hostile(), ...({ safetySettings: safety, contents: 'overwrite?' } as Record<string, unknown>) }, allow(gemini, 'safetySettings', 'store', 'contents').passthrough);
    expect(allowed).toMatchObject({ safetySettings: safety, store: true, contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
  });
});

describe('models.<alias>.passthrough in the config', () => {
  const yaml = (passthrough: string) => `
providers: { oa: { type: openai, apiKey: k } }
deployments: { d: { provider: oa, model: gpt-x } }
models:
  open: { groups: [{ deployments: [d] }], passthrough: ${passthrough} }
  closed: { groups: [{ deployments: [d] }] }
`;

  it("reaches the target the fast path calls with, per the step's alias", () => {
    const config = parseConfig(yaml('[store, x_flag]'), 'test.yaml');
    const executor = new FastPathExecutor(config);
    const step = (alias: string) => ({ deployment: 'd', alias }) as Parameters<FastPathExecutor['targetOf']>[0];
    expect(executor.targetOf(step('open')).passthrough).toEqual(['store', 'x_flag']);
    expect(executor.targetOf(step('closed')).passthrough).toBeUndefined();
  });

  it('refuses names that are not field names', () => {
    expect(() => parseConfig(yaml('[__proto__]'), 'test.yaml')).toThrow(/passthrough/);
    expect(() => parseConfig(yaml('["a.b"]'), 'test.yaml')).toThrow(/passthrough/);
  });
});
