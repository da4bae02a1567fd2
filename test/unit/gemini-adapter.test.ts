import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletionChunk } from '../../src/protocol/chat-response.js';
import { fromBatchEmbedResponse, toBatchEmbedRequest } from '../../src/providers/gemini/embeddings.js';
import { modelPath, toGeminiRequest } from '../../src/providers/gemini/request.js';
import { fromGeminiResponse, type ResponseMeta } from '../../src/providers/gemini/response.js';
import { toolParameters } from '../../src/providers/gemini/schema.js';
import { GeminiStreamTranslator } from '../../src/providers/gemini/stream.js';
import type { GeminiResponse } from '../../src/providers/gemini/wire.js';
import { assemble, providerError, req, weatherTool } from '../support/canonical-fixtures.js';

const meta: ResponseMeta = { created: 1_700_000_000, fallbackId: 'chatcmpl-fallback', model: 'gemini-2.5-flash' };




describe('toGeminiRequest', () => {
  it('moves system and developer messages into systemInstruction and uses user/model roles', () => {
    const body = toGeminiRequest(
      req({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: 'Answer in French.' },
          { role: 'user', content: 'Hello' },
          { role: 'assistant', content: 'Bonjour' },
          { role: 'user', content: 'Again' },
        ],
      }),
    );
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.\n\nAnswer in French.' }] });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hello' }] },
      { role: 'model', parts: [{ text: 'Bonjour' }] },
      { role: 'user', parts: [{ text: 'Again' }] },
    ]);
    expect(body.generationConfig).toBeUndefined();
  });

  it('translates data-URL images to inlineData and URLs to fileData', () => {
    const body = toGeminiRequest(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Compare' },
              { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png?x=1' } },
              { type: 'image_url', image_url: { url: 'https://example.com/image' } },
            ],
          },
        ],
      }),
    );
    expect(body.contents[0]!.parts).toEqual([
      { text: 'Compare' },
      { inlineData: { mimeType: 'image/jpeg', data: '/9j/4AAQ' } },
      { fileData: { fileUri: 'https://example.com/a.png?x=1', mimeType: 'image/png' } },
      { fileData: { fileUri: 'https://example.com/image' } },
    ]);
  });

  it('round-trips tool calls: functionCall parts, then functionResponse parts in one user turn', () => {
    const body = toGeminiRequest(
      req({
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'Weather in Paris and Tokyo?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"tempC":18}' },
          { role: 'tool', tool_call_id: 'call_2', content: 'noon' },
        ],
      }),
    );
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Tokyo?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_time', args: {} } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { tempC: 18 } } },
          { functionResponse: { name: 'get_time', response: { content: 'noon' } } },
        ],
      },
    ]);
    expect(body.tools).toEqual([
      { functionDeclarations: [{ name: 'get_weather', description: 'Weather for a city', parameters: weatherTool.function.parameters }] },
    ]);
  });

  it('rejects a tool result for an unknown call id and unparseable arguments', () => {
    expect(providerError(() => toGeminiRequest(req({ messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }))).kind).toBe(
      'bad_request',
    );
    const bad = req({
      messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{' } }] }],
    });
    expect(providerError(() => toGeminiRequest(bad)).kind).toBe('bad_request');
  });

  it('rejects a conversation with nothing but system messages', () => {
    expect(providerError(() => toGeminiRequest(req({ messages: [{ role: 'system', content: 'S' }] }))).kind).toBe('bad_request');
  });

  it('maps tool_choice to functionCallingConfig', () => {
    const cfg = (tc: ChatRequest['tool_choice']) => toGeminiRequest(req({ tools: [weatherTool], tool_choice: tc })).toolConfig;
    expect(cfg('auto')).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(cfg('required')).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(cfg('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(cfg({ type: 'function', function: { name: 'get_weather' } })).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    });
    expect(cfg(undefined)).toBeUndefined();
  });

  it('maps generation parameters and response_format', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, additionalProperties: false };
    const body = toGeminiRequest(
      req({
        temperature: 1.5,
        top_p: 0.8,
        max_completion_tokens: 300,
        stop: ['END', 'STOP'],
        n: 2,
        seed: 42,
        presence_penalty: 0.5,
        frequency_penalty: 0.25,
        logprobs: true,
        top_logprobs: 3,
        user: 'ignored',
        parallel_tool_calls: false,
        response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } },
      }),
    );
    expect(body.generationConfig).toEqual({
      temperature: 1.5,
      topP: 0.8,
      maxOutputTokens: 300,
      stopSequences: ['END', 'STOP'],
      candidateCount: 2,
      seed: 42,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      responseMimeType: 'application/json',
      responseJsonSchema: schema,
      responseLogprobs: true,
      logprobs: 3,
    });
    expect(Object.keys(body).sort()).toEqual(['contents', 'generationConfig']);
    expect(toGeminiRequest(req({ response_format: { type: 'json_object' } })).generationConfig).toEqual({ responseMimeType: 'application/json' });
  });

  it('reduces tool parameter schemas to what Gemini parses', () => {
    expect(
      toolParameters({
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        additionalProperties: false,
        properties: {
          url: { type: 'string', format: 'uri' },
          when: { type: ['string', 'null'], format: 'date-time' },
          tags: { type: 'array', items: { type: 'string', minLength: 1, const: 'x' } },
        },
        required: ['url'],
      }),
    ).toEqual({
      type: 'object',
      properties: {
        url: { type: 'string' },
        when: { type: 'string', format: 'date-time', nullable: true },
        tags: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
      required: ['url'],
    });
    expect(toolParameters({ type: 'object', properties: {} })).toBeUndefined();
    expect(toolParameters({ type: 'object', properties: { n: { type: 'integer', enum: [1, 2] }, s: { type: 'string', enum: ['a'] } } })).toEqual({
      type: 'object',
      properties: { n: { type: 'integer' }, s: { type: 'string', enum: ['a'] } },
    });
  });

  it('strips a models/ prefix from the model path', () => {
    expect(modelPath('models/gemini-2.5-flash')).toBe('gemini-2.5-flash');
    expect(modelPath('gemini-2.5-pro')).toBe('gemini-2.5-pro');
  });
});

describe('fromGeminiResponse', () => {
  const base: GeminiResponse = {
    responseId: 'resp1',
    modelVersion: 'gemini-2.5-flash-001',
    candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'Hel' }, { text: 'lo' }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 2, totalTokenCount: 10 },
  };

  it('translates text, id, model and usage', () => {
    expect(fromGeminiResponse(base, meta)).toEqual({
      id: 'resp1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gemini-2.5-flash-001',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 },
    });
  });

  it('translates function calls with deterministic ids and finish_reason tool_calls', () => {
    const res: GeminiResponse = {
      ...base,
      candidates: [
        {
          content: {
            parts: [
              { text: 'thinking...', thought: true },
              { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
              { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } } },
            ],
          },
          finishReason: 'STOP',
        },
      ],
    };
    const out = fromGeminiResponse(res, meta);
    expect(out.choices[0]!.message).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_resp1_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_resp1_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
      ],
    });
    expect(out.choices[0]!.finish_reason).toBe('tool_calls');
    expect(fromGeminiResponse(res, meta).choices[0]!.message.tool_calls![0]!.id).toBe('call_resp1_0');
  });

  it('maps finish reasons', () => {
    const reason = (r: string) =>
      fromGeminiResponse({ ...base, candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: r }] }, meta).choices[0]!.finish_reason;
    expect(reason('STOP')).toBe('stop');
    expect(reason('MAX_TOKENS')).toBe('length');
    for (const r of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII']) expect(reason(r)).toBe('content_filter');
  });

  it('counts thinking tokens as completion tokens and reports cached prompt tokens', () => {
    const out = fromGeminiResponse(
      { ...base, usageMetadata: { promptTokenCount: 100, cachedContentTokenCount: 60, candidatesTokenCount: 10, thoughtsTokenCount: 30 } },
      meta,
    );
    expect(out.usage).toEqual({
      prompt_tokens: 100,
      completion_tokens: 40,
      total_tokens: 140,
      prompt_tokens_details: { cached_tokens: 60 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
  });

  it('turns a blocked prompt into a content_filter error', () => {
    const err = providerError(() => fromGeminiResponse({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3 } }, meta));
    expect(err.kind).toBe('content_filter');
    expect(err.upstreamCode).toBe('SAFETY');
  });

  it('uses the fallback id and model when the upstream omits them', () => {
    const out = fromGeminiResponse({ candidates: base.candidates }, meta);
    expect(out.id).toBe('chatcmpl-fallback');
    expect(out.model).toBe('gemini-2.5-flash');
  });

  it('translates logprobs', () => {
    const out = fromGeminiResponse(
      {
        ...base,
        candidates: [
          {
            content: { parts: [{ text: 'Hi' }] },
            finishReason: 'STOP',
            logprobsResult: {
              chosenCandidates: [{ token: 'Hi', logProbability: -0.1 }],
              topCandidates: [{ candidates: [{ token: 'Hi', logProbability: -0.1 }, { token: 'Hey', logProbability: -2 }] }],
            },
          },
        ],
      },
      meta,
    );
    expect(out.choices[0]!.logprobs).toEqual({
      content: [{ token: 'Hi', logprob: -0.1, top_logprobs: [{ token: 'Hi', logprob: -0.1 }, { token: 'Hey', logprob: -2 }] }],
    });
  });
});

function run(events: GeminiResponse[]): { chunks: ChatCompletionChunk[]; translator: GeminiStreamTranslator } {
  const translator = new GeminiStreamTranslator(meta);
  const chunks = events.flatMap((e) => translator.push(e));
  return { chunks, translator };
}


describe('GeminiStreamTranslator', () => {
  it('streams text with role first, a finish chunk, then usage at the end', () => {
    const { chunks, translator } = run([
      { responseId: 'r1', modelVersion: 'gemini-x', candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] } }], usageMetadata: { promptTokenCount: 4 } },
      {
        responseId: 'r1',
        modelVersion: 'gemini-x',
        candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 },
      },
    ]);
    const all = [...chunks, ...translator.end()];
    expect(all[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(all.filter((c) => c.choices.some((ch) => ch.delta.role)).length).toBe(1);
    expect(assemble(all)).toEqual({ text: 'Hello', calls: [], finish: 'stop' });
    const last = all[all.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
    expect(new Set(all.map((c) => `${c.id}|${c.model}|${c.created}`))).toEqual(new Set(['r1|gemini-x|1700000000']));
  });

  it('gives each whole function call its own tool index, across events', () => {
    const { chunks, translator } = run([
      { responseId: 'r2', candidates: [{ content: { parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] } }] },
      {
        responseId: 'r2',
        candidates: [
          {
            content: {
              parts: [
                { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } } },
                { functionCall: { name: 'get_time', args: {}, id: 'fc-upstream' } },
              ],
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 9 },
      },
    ]);
    const all = [...chunks, ...translator.end()];
    const deltas = all.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(deltas.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(deltas.every((d) => d.id && d.type === 'function' && d.function?.name)).toBe(true);
    expect(assemble(all)).toEqual({
      text: '',
      calls: [
        { id: 'call_r2_0', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'call_r2_1', name: 'get_weather', arguments: '{"city":"Tokyo"}' },
        { id: 'fc-upstream', name: 'get_time', arguments: '{}' },
      ],
      finish: 'tool_calls',
    });
  });

  it('throws a connection error when the body ends without a finishReason', () => {
    const { translator } = run([{ responseId: 'r3', candidates: [{ content: { parts: [{ text: 'Hel' }] } }] }]);
    expect(providerError(() => translator.end()).kind).toBe('connection');
    expect(providerError(() => new GeminiStreamTranslator(meta).end()).kind).toBe('connection');
  });

  it('turns an in-stream error object into a typed ProviderError', () => {
    const t = new GeminiStreamTranslator(meta);
    t.push({ responseId: 'r4', candidates: [{ content: { parts: [{ text: 'a' }] } }] });
    const err = providerError(() => t.push({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }));
    expect(err.kind).toBe('overloaded');
    expect(err.upstreamCode).toBe('UNAVAILABLE');
    const quota = providerError(() => new GeminiStreamTranslator(meta).push({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }));
    expect(quota.kind).toBe('rate_limited');
  });

  it('turns a blocked prompt into a content_filter error', () => {
    const t = new GeminiStreamTranslator(meta);
    expect(providerError(() => t.push({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } })).kind).toBe('content_filter');
  });
});

describe('Gemini embeddings', () => {
  it('builds a batchEmbedContents request and an OpenAI list back', () => {
    const body = toBatchEmbedRequest({ model: 'alias', input: ['a', 'b'], dimensions: 256 }, 'text-embedding-004');
    expect(body).toEqual({
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'a' }] }, outputDimensionality: 256 },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'b' }] }, outputDimensionality: 256 },
      ],
    });
    const out = fromBatchEmbedResponse({ embeddings: [{ values: [0.5, -1] }, { values: [1, 0] }] }, { model: 'alias', input: ['a', 'b'] }, 'text-embedding-004');
    expect(out).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -1] },
        { object: 'embedding', index: 1, embedding: [1, 0] },
      ],
      model: 'text-embedding-004',
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
    const b64 = fromBatchEmbedResponse({ embeddings: [{ values: [0.5] }] }, { model: 'x', input: 'a', encoding_format: 'base64' }, 'm');
    expect(Buffer.from(b64.data[0]!.embedding as string, 'base64').readFloatLE(0)).toBe(0.5);
  });

  it('rejects token-id input', () => {
    expect(providerError(() => toBatchEmbedRequest({ model: 'x', input: [1, 2, 3] }, 'm')).kind).toBe('bad_request');
  });
});
