import { describe, expect, it } from 'vitest';
import {
  cascadeSchema,
  checkCascadeReferences,
  judgeEvaluatorSchema,
  logprobsEvaluatorSchema,
  rulesEvaluatorSchema,
  type CascadeConfigInput,
} from '../../src/config/cascade-schema.js';
import { evaluateLocally, evaluateLogprobs, evaluateRules, judgeRequest, readJudgeVerdict } from '../../src/decision/evaluators/index.js';
import { quantile } from '../../src/decision/evaluators/logprobs.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletion, FinishReason, TokenLogprob } from '../../src/protocol/chat-response.js';
import { req } from '../support/canonical-fixtures.js';

function answer(content: string | null, extra: { finish?: FinishReason; refusal?: string; tools?: boolean; logprobs?: number[] } = {}): ChatCompletion {
  return {
    id: 'c1',
    object: 'chat.completion',
    created: 0,
    model: 'm',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content,
          ...(extra.refusal ? { refusal: extra.refusal } : {}),
          ...(extra.tools ? { tool_calls: [{ id: 't1', type: 'function' as const, function: { name: 'get', arguments: '{}' } }] } : {}),
        },
        finish_reason: extra.finish ?? 'stop',
        ...(extra.logprobs ? { logprobs: { content: extra.logprobs.map((l): TokenLogprob => ({ token: 'x', logprob: l })) } } : {}),
      },
    ],
  };
}

const rules = rulesEvaluatorSchema.parse({ type: 'rules' });
const plain = req({});

describe('rules evaluator', () => {
  it('accepts an ordinary answer', () => {
    expect(evaluateRules(plain, answer('Paris is the capital of France.'), rules)).toMatchObject({ pass: true, evaluator: 'rules' });
  });

  it('rejects an empty answer, but not one made of tool calls', () => {
    expect(evaluateRules(plain, answer('   '), rules)).toMatchObject({ pass: false, check: 'empty' });
    expect(evaluateRules(plain, answer(null), rules)).toMatchObject({ pass: false, check: 'empty' });
    expect(evaluateRules(plain, answer(null, { tools: true }), rules).pass).toBe(true);
    expect(evaluateRules(plain, { ...answer('x'), choices: [] }, rules)).toMatchObject({ pass: false, check: 'empty' });
  });

  it('rejects an answer cut off by the output budget', () => {
    expect(evaluateRules(plain, answer('The first three steps are', { finish: 'length' }), rules)).toMatchObject({ pass: false, check: 'length' });
    const lenient = rulesEvaluatorSchema.parse({ type: 'rules', length: false });
    expect(evaluateRules(plain, answer('The first three steps are', { finish: 'length' }), lenient).pass).toBe(true);
  });

  it('rejects refusals by field, by content filter and by the default patterns at the start of the text', () => {
    expect(evaluateRules(plain, answer(null, { refusal: 'I cannot help with that.' }), rules)).toMatchObject({ pass: false, check: 'refusal' });
    expect(evaluateRules(plain, answer('partial', { finish: 'content_filter' }), rules)).toMatchObject({ pass: false, check: 'refusal' });
    for (const text of [
      "I'm sorry, but I can't help with that.",
      'I apologize, but that is not something I can do.',
      "I can't assist with that request.",
      'I am unable to provide that information.',
      'Unfortunately, I cannot share that.',
      'As an AI language model, I do not have opinions.',
    ]) {
      expect(evaluateRules(plain, answer(text), rules), text).toMatchObject({ pass: false, check: 'refusal' });
    }
  });

  it('does not take a refusal phrase deep inside a real answer for a refusal', () => {
    const text = `${'Here is the migration plan. '.repeat(15)}Note: I cannot help you roll back once step 3 is done.`;
    expect(evaluateRules(plain, answer(text), rules).pass).toBe(true);
    expect(evaluateRules(plain, answer('Sorry for the delay — here is the answer: 42.'), rules).pass).toBe(true);
  });

  it('takes custom refusal patterns, and [] keeps only the field checks', () => {
    const custom = rulesEvaluatorSchema.parse({ type: 'rules', refusalPatterns: ['^no comment'] });
    expect(evaluateRules(plain, answer('No comment.'), custom)).toMatchObject({ pass: false, check: 'refusal' });
    expect(evaluateRules(plain, answer("I'm sorry, I can't help."), custom).pass).toBe(true);
    expect(() => rulesEvaluatorSchema.parse({ type: 'rules', refusalPatterns: ['(unclosed'] })).toThrow(/regular expression/);
  });

  it('rejects an answer shorter than minChars', () => {
    const min = rulesEvaluatorSchema.parse({ type: 'rules', minChars: 10 });
    expect(evaluateRules(plain, answer('  ok  '), min)).toMatchObject({ pass: false, check: 'min_chars', reason: '2 characters, fewer than 10' });
    expect(evaluateRules(plain, answer('a sufficiently long answer'), min).pass).toBe(true);
  });

  it('checks JSON only when response_format asks for it', () => {
    const asked = req({ response_format: { type: 'json_object' } });
    expect(evaluateRules(asked, answer('{"a": 1}'), rules).pass).toBe(true);
    expect(evaluateRules(asked, answer('{"a": 1'), rules)).toMatchObject({ pass: false, check: 'json' });
    expect(evaluateRules(asked, answer('[1, 2]'), rules)).toMatchObject({ pass: false, check: 'json', reason: 'JSON but not an object' });
    // A fenced object would break the client's JSON.parse just the same.
    expect(evaluateRules(asked, answer('```json\n{"a": 1}\n```'), rules)).toMatchObject({ pass: false, check: 'json' });
    expect(evaluateRules(plain, answer('not json at all'), rules).pass).toBe(true);
  });

  it('validates against a json_schema with ajv, formats and $defs included', () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        email: { type: 'string', format: 'email' },
        tags: { type: 'array', items: { $ref: '#/$defs/tag' } },
      },
      required: ['name', 'email'],
      additionalProperties: false,
      $defs: { tag: { type: 'string', minLength: 2 } },
    };
    const asked = req({ response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } });
    expect(evaluateRules(asked, answer('{"name":"Ada","email":"ada@example.com","tags":["math"]}'), rules).pass).toBe(true);
    expect(evaluateRules(asked, answer('{"name":"Ada"}'), rules)).toMatchObject({ pass: false, check: 'json' });
    expect(evaluateRules(asked, answer('{"name":"Ada"}'), rules).reason).toMatch(/email/);
    expect(evaluateRules(asked, answer('{"name":"Ada","email":"not-an-email"}'), rules)).toMatchObject({ pass: false, check: 'json' });
    expect(evaluateRules(asked, answer('{"name":"Ada","email":"a@b.co","tags":["x"]}'), rules).reason).toMatch(/\/tags\/0/);
    expect(evaluateRules(asked, answer('{"name":"Ada","email":"a@b.co","age":3}'), rules).pass).toBe(false);
    // The same schema again comes from the validator cache and still validates.
    expect(evaluateRules({ ...asked }, answer('{"name":"Bo","email":"bo@example.com"}'), rules).pass).toBe(true);
  });

  it('passes (and says so) when the client schema cannot be compiled: it says nothing about the answer', () => {
    const broken = req({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } } } });
    expect(evaluateRules(broken, answer('{"a": 1}'), rules)).toMatchObject({ pass: true, check: 'json', reason: expect.stringMatching(/schema not checkable/) });
    expect(evaluateRules(broken, answer('nope'), rules)).toMatchObject({ pass: false, check: 'json' });
  });

  it('a schema with an $id can be checked on many requests (ajv would refuse to add it twice)', () => {
    const schema = { $id: 'https://example.com/s.json', type: 'object', required: ['a'] };
    for (let i = 0; i < 3; i++) {
      const r = req({ response_format: { type: 'json_schema', json_schema: { name: 's', schema: { ...schema } } } });
      expect(evaluateRules(r, answer('{"a":1}'), rules).pass).toBe(true);
      expect(evaluateRules(r, answer('{"b":1}'), rules).pass).toBe(false);
    }
  });
});

describe('logprobs evaluator', () => {
  const q10 = logprobsEvaluatorSchema.parse({ type: 'logprobs', threshold: -2 });
  const meanCfg = logprobsEvaluatorSchema.parse({ type: 'logprobs', stat: 'mean', threshold: -0.5 });

  it('computes quantiles by linear interpolation', () => {
    expect(quantile([5, 1, 3, 2, 4], 0)).toBe(1);
    expect(quantile([5, 1, 3, 2, 4], 1)).toBe(5);
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3);
    expect(quantile([-Infinity, -Infinity, -1], 0.25)).toBe(-Infinity);
  });

  it('rejects an answer with a few very unsure tokens by its low quantile while its mean stays high', () => {
    const q05 = logprobsEvaluatorSchema.parse({ type: 'logprobs', q: 0.05, threshold: -2 });
    const lps = [...Array(37).fill(-0.02), -4, -4.5, -5];
    const c = answer('The treaty was signed in 1648 by Ferdinand III.', { logprobs: lps });
    // Rank 39 × 0.05 = 1.95: between the second and third lowest (-4.5, -4).
    expect(evaluateLogprobs(plain, c, q05)).toMatchObject({ pass: false, evaluator: 'logprobs' });
    expect(evaluateLogprobs(plain, c, q05).score).toBeCloseTo(-4.025);
    expect(evaluateLogprobs(plain, c, q05).reason).toBe('q0.05 logprob -4.025 < -2 over 40 tokens');
    expect(evaluateLogprobs(plain, c, meanCfg)).toMatchObject({ pass: true });
    expect(evaluateLogprobs(plain, c, meanCfg).score).toBeCloseTo((37 * -0.02 - 13.5) / 40);
  });

  it('accepts a confident answer and rejects a uniformly unsure one on the mean', () => {
    expect(evaluateLogprobs(plain, answer('yes', { logprobs: [-0.01, -0.2, -0.1] }), meanCfg).pass).toBe(true);
    expect(evaluateLogprobs(plain, answer('maybe', { logprobs: [-0.9, -1.2, -0.7] }), meanCfg).pass).toBe(false);
  });

  it('abstains when the answer carries no logprobs', () => {
    expect(evaluateLogprobs(plain, answer('hi'), q10)).toMatchObject({ pass: true, abstained: true });
  });
});

describe('judge', () => {
  const judge = judgeEvaluatorSchema.parse({ type: 'judge', alias: 'grader', minScore: 7 });
  const conversation: ChatRequest = req({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is 6 times 7?' },
    ],
    stream: true,
    tools: [{ type: 'function', function: { name: 'calc' } }],
  });

  it('builds a JSON-mode grading request to the judge alias that quotes the conversation and the answer', () => {
    const r = judgeRequest(conversation, answer('It is 42.'), judge);
    expect(r).toMatchObject({ model: 'grader', response_format: { type: 'json_object' }, temperature: 0, max_tokens: 200, stream: false });
    expect(r.tools).toBeUndefined();
    expect(r.messages[0]).toMatchObject({ role: 'system', content: expect.stringMatching(/"score"/) });
    const user = r.messages[1]!.content as string;
    expect(user).toContain('USER: What is 6 times 7?');
    expect(user).toContain('<answer>\nIt is 42.\n</answer>');
  });

  it('fills a custom prompt in one pass, so placeholders inside the answer are not expanded', () => {
    const custom = judgeEvaluatorSchema.parse({ type: 'judge', alias: 'grader', prompt: 'Q: {{question}}\nA: {{answer}}\nIs A correct?' });
    const r = judgeRequest(conversation, answer('see {{question}}'), custom);
    expect(r.messages[1]!.content).toBe('Q: What is 6 times 7?\nA: see {{question}}\nIs A correct?');
    expect(r.messages[0]!.content).toMatch(/only a JSON object/);
    expect(() => judgeEvaluatorSchema.parse({ type: 'judge', alias: 'g', prompt: 'no placeholder' })).toThrow(/answer/);
  });

  it('keeps the end of a very long conversation and the start of a very long answer', () => {
    const long = req({ messages: [{ role: 'user', content: `${'old '.repeat(10_000)}LATEST QUESTION` }] });
    const user = judgeRequest(long, answer(`START ${'x'.repeat(20_000)}`), judge).messages[1]!.content as string;
    expect(user).toContain('LATEST QUESTION');
    expect(user).toContain('START');
    expect(user.length).toBeLessThan(25_000);
  });

  it('reads the score from JSON, JSON in prose, "score: n" and "n/10"', () => {
    const read = (text: string) => readJudgeVerdict(answer(text), judge);
    expect(read('{"score": 8, "reason": "correct"}')).toMatchObject({ pass: true, score: 8, evaluator: 'judge', reason: expect.stringMatching(/correct/) });
    expect(read('{"score": "6"}')).toMatchObject({ pass: false, score: 6 });
    expect(read('Here you go:\n```json\n{"rating": 9}\n```')).toMatchObject({ pass: true, score: 9 });
    expect(read('Score: 3. The answer is wrong.')).toMatchObject({ pass: false, score: 3 });
    expect(read('I would give this 7/10.')).toMatchObject({ pass: true, score: 7 });
    expect(read('{"score": 7.5}')).toMatchObject({ pass: true, score: 7.5 });
  });

  it('treats a reply without a 1-10 score as the configured default, pass unless told otherwise', () => {
    for (const text of ['Looks good to me!', '{"score": 0}', '{"score": 42}', '']) {
      expect(readJudgeVerdict(answer(text), judge), text).toMatchObject({ pass: true, check: 'unparseable' });
    }
    const strict = judgeEvaluatorSchema.parse({ type: 'judge', alias: 'grader', onUnparseable: 'reject' });
    expect(readJudgeVerdict(answer('Looks good to me!'), strict)).toMatchObject({ pass: false, check: 'unparseable' });
  });
});

describe('evaluateLocally', () => {
  it('gives one verdict per free evaluator in order and leaves judges to the driver', () => {
    const cfg = cascadeSchema.parse({
      stages: ['a', 'b'],
      evaluators: [{ type: 'rules' }, { type: 'judge', alias: 'g' }, { type: 'logprobs', threshold: -1 }],
    } satisfies CascadeConfigInput);
    const v = evaluateLocally(plain, answer('fine answer', { logprobs: [-3, -3] }), cfg.evaluators);
    expect(v.map((x) => [x.evaluator, x.pass])).toEqual([
      ['rules', true],
      ['logprobs', false],
    ]);
  });
});

describe('cascade config', () => {
  const base: CascadeConfigInput = { stages: ['nano', 'mini', 'big'], evaluators: [{ type: 'rules' }] };

  it('fills defaults', () => {
    const c = cascadeSchema.parse(base);
    expect(c).toMatchObject({ combine: 'all', onLastStageReject: 'last' });
    expect(c.evaluators[0]).toMatchObject({ empty: true, length: true, refusal: true, minChars: 0, json: true });
    expect((c.evaluators[0] as { refusalPatterns: string[] }).refusalPatterns.length).toBeGreaterThan(3);
  });

  it('refuses a single stage, a repeated stage, no evaluators, and a positive logprob threshold', () => {
    expect(() => cascadeSchema.parse({ ...base, stages: ['nano'] })).toThrow();
    expect(() => cascadeSchema.parse({ ...base, stages: ['nano', 'nano'] })).toThrow(/twice/);
    expect(() => cascadeSchema.parse({ ...base, evaluators: [] })).toThrow();
    expect(() => cascadeSchema.parse({ ...base, evaluators: [{ type: 'logprobs', threshold: 0.5 }] })).toThrow();
    expect(() => cascadeSchema.parse({ ...base, evaluators: [{ type: 'judge', alias: 'g', minScore: 11 }] })).toThrow();
  });

  it('names unknown stage and judge aliases, and the alias naming itself', () => {
    const c = cascadeSchema.parse({ stages: ['nano', 'smart', 'ghost'], evaluators: [{ type: 'rules' }, { type: 'judge', alias: 'nobody' }] });
    const issues = checkCascadeReferences('smart', c, { models: { smart: {}, nano: {} } });
    expect(issues).toEqual([
      { path: ['models', 'smart', 'cascade', 'stages', 1], message: 'a cascade cannot name its own alias as a stage' },
      { path: ['models', 'smart', 'cascade', 'stages', 2], message: "unknown model alias 'ghost'" },
      { path: ['models', 'smart', 'cascade', 'evaluators', 1, 'alias'], message: "unknown model alias 'nobody'" },
    ]);
    expect(checkCascadeReferences('smart', cascadeSchema.parse(base), { models: { nano: {}, mini: {}, big: {} } })).toEqual([]);
  });
});
