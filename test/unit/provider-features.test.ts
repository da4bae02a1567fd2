/**
 * Provider parameter support: the declared table against what each adapter's translation really does, the
 * detection of features in a request, and planning around deployments that cannot carry one.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { NoRouteError, planRoute } from '../../src/decision/plan.js';
import { requestFeatures } from '../../src/decision/request-features.js';
import { requestTraits } from '../../src/decision/traits.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { ProviderError } from '../../src/providers/errors.js';
import { FEATURES, FEATURE_SUPPORT, type Feature, type FeatureFamily } from '../../src/providers/features.js';
import { toGeminiRequest } from '../../src/providers/gemini/request.js';
import { toOpenAIBody } from '../../src/providers/openai.js';
import type { Target } from '../../src/providers/types.js';
import { anthropicTarget, req, weatherTool } from '../support/canonical-fixtures.js';

type Loose = Partial<ChatRequest> & Record<string, unknown>;
const text = { type: 'text' as const, text: 'look' };
const withPart = (part: unknown): Loose => ({ messages: [{ role: 'user', content: [text, part] }] as ChatRequest['messages'] });
const toolTurn = (args: string): Loose => ({
  messages: [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
  ],
});
const tools = { tools: [weatherTool] };

/** Per feature: a request using it, and the same request without it. */
const FIXTURES: Record<Feature, { base: Loose; with: Loose }> = {
  n: { base: {}, with: { n: 2 } },
  tools: { base: {}, with: tools },
  parallel_tool_calls: { base: tools, with: { ...tools, parallel_tool_calls: false } },
  'tool_choice:none': { base: tools, with: { ...tools, tool_choice: 'none' } },
  'tool_choice:auto': { base: tools, with: { ...tools, tool_choice: 'auto' } },
  'tool_choice:required': { base: tools, with: { ...tools, tool_choice: 'required' } },
  'tool_choice:function': { base: tools, with: { ...tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } } },
  input_audio: { base: withPart(text), with: withPart({ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }) },
  audio_output: { base: {}, with: { modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } } },
  'file:pdf': { base: withPart(text), with: withPart({ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0x', filename: 'a.pdf' } }) },
  'file:data': { base: withPart(text), with: withPart({ type: 'file', file: { file_data: 'data:text/csv;base64,YSxi', filename: 'a.csv' } }) },
  'file:url': { base: withPart(text), with: withPart({ type: 'file', file: { file_data: 'https://example.com/a.pdf' } }) },
  'file:id': { base: withPart(text), with: withPart({ type: 'file', file: { file_id: 'file-abc123' } }) },
  'file:raw': { base: withPart(text), with: withPart({ type: 'file', file: { file_data: 'JVBERi0x', filename: 'a.pdf' } }) },
  'image:url': { base: withPart(text), with: withPart({ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }) },
  'image:base64': { base: withPart(text), with: withPart({ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } }) },
  'image:base64_other': { base: withPart(text), with: withPart({ type: 'image_url', image_url: { url: 'data:image/heic;base64,AAAAGGZ0' } }) },
  'image:other': { base: withPart(text), with: withPart({ type: 'image_url', image_url: { url: 'ftp://example.com/cat.png' } }) },
  logprobs: { base: {}, with: { logprobs: true } },
  top_logprobs: { base: { logprobs: true }, with: { logprobs: true, top_logprobs: 3 } },
  'response_format:json_object': { base: {}, with: { response_format: { type: 'json_object' } } },
  'response_format:json_schema': { base: {}, with: { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } } },
  seed: { base: {}, with: { seed: 7 } },
  stop: { base: {}, with: { stop: ['END'] } },
  presence_penalty: { base: {}, with: { presence_penalty: 0.5 } },
  frequency_penalty: { base: {}, with: { frequency_penalty: 0.5 } },
  logit_bias: { base: {}, with: { logit_bias: { '50256': -100 } } },
  prediction: { base: {}, with: { prediction: { type: 'content', content: 'draft' } } },
  reasoning_effort: { base: {}, with: { reasoning_effort: 'low' } },
  non_object_tool_arguments: { base: toolTurn('{"city":"Paris"}'), with: toolTurn('Paris') },
  no_conversation_turns: {
    base: { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] },
    with: { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: '' }] },
  },
};

const anthropic = anthropicTarget('claude-x');
const openai: Target = {
  provider: { ...anthropic.provider, name: 'oa', type: 'openai', baseUrl: 'https://api.openai.com/v1' },
  deployment: { ...anthropic.deployment, providerType: 'openai', model: 'gpt-x' },
};
const TRANSLATE: Record<Exclude<FeatureFamily, 'mock'>, (r: ChatRequest) => unknown> = {
  openai: (r) => toOpenAIBody(r, openai, false),
  anthropic: (r) => toAnthropicRequest(r, anthropic, false),
  gemini: (r) => toGeminiRequest(r),
};

/** The translated body, or 'refused' when the adapter throws its bad_request. */
function translate(family: keyof typeof TRANSLATE, partial: Loose): unknown {
  try {
    return TRANSLATE[family](req(partial as Partial<ChatRequest>));
  } catch (err) {
    if (err instanceof ProviderError && err.kind === 'bad_request') return 'refused';
    throw err;
  }
}

describe('the declared table matches each adapter translation', () => {
  for (const family of Object.keys(TRANSLATE) as Array<keyof typeof TRANSLATE>) {
    for (const feature of FEATURES) {
      const support = FEATURE_SUPPORT[family][feature];
      const level = typeof support === 'object' ? 'no' : support;
      it(`${family} ${feature}: ${level}`, () => {
        const { base, with: used } = FIXTURES[feature];
        const without = translate(family, base);
        expect(without).not.toBe('refused');
        const got = translate(family, used);
        if (level === 'native' || level === 'emulated') {
          // Carried: accepted, and the upstream body says something it did not say without the feature.
          expect(got).not.toBe('refused');
          expect(got).not.toEqual(without);
        } else if (level === 'ignored') {
          expect(got).toEqual(without);
        } else {
          // Not carried: refused by the adapter, or dropped on the way so the client would not get it.
          if (got !== 'refused') expect(got).toEqual(without);
        }
      });
    }
  }
});

describe('requestFeatures', () => {
  it.each(FEATURES)('%s: found where it is used, not in the request without it', (feature) => {
    const { base, with: used } = FIXTURES[feature];
    expect(requestFeatures(req(used as Partial<ChatRequest>)).map((u) => u.feature)).toContain(feature);
    expect(requestFeatures(req(base as Partial<ChatRequest>)).map((u) => u.feature)).not.toContain(feature);
  });

  it('names the field that uses a feature, first use only', () => {
    const r = req({
      n: 3,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'user', content: [text, { type: 'input_audio', input_audio: { data: 'x', format: 'mp3' } }] },
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'y', format: 'wav' } }] },
      ],
    });
    expect(requestFeatures(r)).toEqual([
      { feature: 'n', param: 'n' },
      { feature: 'input_audio', param: 'messages[1].content[1]' },
    ]);
  });

  it('defaults every provider gives are not features', () => {
    const r = req({ n: 1, parallel_tool_calls: true, stop: [], ...({ logit_bias: {} } as object), tool_call_args: 'x' } as Partial<ChatRequest>);
    expect(requestFeatures(r)).toEqual([]);
    expect(requestFeatures(req(toolTurn('')))).toEqual([]);
  });

  it('traits carry them', () => {
    expect(requestTraits(req({ n: 2 })).features).toEqual([{ feature: 'n', param: 'n' }]);
  });
});

const cfg = parseConfig(
  `
providers:
  oa: { type: openai, apiKey: k }
  an: { type: anthropic, apiKey: k }
  ge: { type: gemini, apiKey: k }
  mk: { type: mock }
deployments:
  oa-1: { provider: oa, model: gpt }
  an-1: { provider: an, model: claude }
  an-2: { provider: an, model: claude-2 }
  ge-1: { provider: ge, model: gemini }
  an-nt: { provider: an, model: claude, capabilities: [streaming] }
  oa-nt: { provider: oa, model: gpt, capabilities: [streaming] }
  mk-1: { provider: mk, model: m }
models:
  mixed: { groups: [{ deployments: [an-1, oa-1] }] }
  claude: { groups: [{ deployments: [an-1] }, { deployments: [an-2] }] }
  claude-down: { groups: [{ deployments: [an-1] }], downgrade: gpt }
  gpt: { groups: [{ deployments: [oa-1] }] }
  no-openai: { groups: [{ deployments: [an-1, ge-1] }] }
  untooled: { groups: [{ deployments: [an-nt, oa-nt] }] }
  split: { groups: [{ deployments: [an-1, oa-nt] }] }
  claude-mixed: { groups: [{ deployments: [an-1] }, { deployments: [an-nt] }] }
  demo: { groups: [{ deployments: [mk-1] }] }
`,
  'test',
);
const first = () => 0.99;
const plan = (alias: string, r: Loose) => planRoute(cfg, alias, requestTraits(req(r as Partial<ChatRequest>)), first);
const noRoute = (alias: string, r: Loose): NoRouteError => {
  try {
    plan(alias, r);
  } catch (err) {
    expect(err).toBeInstanceOf(NoRouteError);
    return err as NoRouteError;
  }
  throw new Error('expected NoRouteError');
};

describe('planning around provider parameter support', () => {
  it('leaves out a deployment that cannot carry a used feature, saying why', () => {
    const p = plan('mixed', { n: 2 });
    expect(p.steps.map((s) => [s.deployment, s.stage])).toEqual([['oa-1', 'primary']]);
    expect(p.skipped).toEqual([{ deployment: 'an-1', reason: "cannot carry 'n' > 1 (anthropic cannot return several choices)" }]);
  });

  it('keeps every deployment for a request without such features, and for features only ignored', () => {
    expect(plan('mixed', {}).steps.map((s) => s.deployment).sort()).toEqual(['an-1', 'oa-1']);
    expect(plan('mixed', { seed: 1, presence_penalty: 1, reasoning_effort: 'low' }).steps).toHaveLength(2);
  });

  it('a downgrade alias that can carry the feature serves the request', () => {
    const p = plan('claude-down', { n: 2 });
    expect(p.steps.map((s) => [s.deployment, s.stage])).toEqual([['oa-1', 'downgrade']]);
  });

  it('no deployment can: unsupported_parameter naming the field and each family once', () => {
    const n = noRoute('claude', { n: 2 });
    expect(n.reason).toBe('unsupported_parameter');
    expect(n.param).toBe('n');
    expect(n.message).toBe("'n' > 1 is not supported by any deployment of 'claude' (anthropic cannot return several choices)");

    const bias = noRoute('no-openai', { logit_bias: { '1': 5 } });
    expect(bias.param).toBe('logit_bias');
    expect(bias.message).toBe("'logit_bias' is not supported by any deployment of 'no-openai' (anthropic has no logit bias; gemini has no logit bias)");

    const file = noRoute('claude', FIXTURES['file:data'].with);
    expect(file.param).toBe('messages[0].content[1]');
    expect(file.message).toBe("an inline file part that is not a PDF in 'messages[0].content[1]' is not supported by any deployment of 'claude' (anthropic accepts only PDF files)");

    const audio = noRoute('no-openai', { modalities: ['text', 'audio'] });
    expect(audio.message).toBe("audio output in 'modalities' is not supported by any deployment of 'no-openai' (anthropic cannot answer with audio; gemini cannot answer with audio through this gateway)");
  });

  it('the feature every deployment lacks is named, not one that another could carry', () => {
    // Gemini carries n, neither carries logit_bias: logit_bias is to blame.
    const e = noRoute('no-openai', { n: 2, logit_bias: { '1': 5 } });
    expect(e.param).toBe('logit_bias');
  });

  it('features and capabilities both ruling deployments out: unsupported_parameter listing each reason', () => {
    // an-1 could take the tools but not n; oa-nt could take n but lacks tools.
    const e = noRoute('split', { n: 2, tools: [weatherTool] });
    expect(e.reason).toBe('unsupported_parameter');
    expect(e.param).toBe('n');
    expect(e.message).toBe("No deployment of 'split' supports this request (an-1 cannot carry 'n' > 1 (anthropic cannot return several choices); oa-nt lacks tools)");
  });

  it('capabilities alone keep their no_capable_deployment answer, without a param', () => {
    const e = noRoute('untooled', { tools: [weatherTool] });
    expect(e.reason).toBe('no_capable_deployment');
    expect(e.param).toBeUndefined();
    // n has a taker (oa-nt) and is not what rules it out: still the capability's answer.
    expect(noRoute('untooled', { n: 2, tools: [weatherTool] }).reason).toBe('no_capable_deployment');
  });

  it('a feature no deployment carries is named even where a capability ruled a deployment out first', () => {
    // an-nt lacks tools and cannot carry n; an-1 cannot carry n.
    const e = noRoute('claude-mixed', { n: 2, tools: [weatherTool] });
    expect(e.reason).toBe('unsupported_parameter');
    expect(e.message).toBe("'n' > 1 is not supported by any deployment of 'claude-mixed' (anthropic cannot return several choices)");
  });

  it('the demo mock answers everything, as before', () => {
    expect(plan('demo', { n: 4, logit_bias: { '1': 1 }, modalities: ['audio'] }).steps).toHaveLength(1);
  });

  it('traits without features (older callers) are not filtered', () => {
    const p = planRoute(cfg, 'claude', { stream: false, needs: [], estimatedInputTokens: 10 }, first);
    expect(p.steps.length).toBe(2);
  });
});
