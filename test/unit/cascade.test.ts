import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cascadeSchema, type CascadeConfigInput } from '../../src/config/cascade-schema.js';
import { parseConfig } from '../../src/config/load.js';
import type { RoutingConfig } from '../../src/config/types.js';
import type { Attempt } from '../../src/decision/attempt.js';
import {
  CascadeFailedError,
  accepts,
  describeCascade,
  formatUsd,
  runCascade,
  stageRequest,
  type CascadeIO,
} from '../../src/decision/cascade.js';
import { logprobsStages } from '../../src/decision/cascade-stages.js';
import { evaluateLocally, type Verdict } from '../../src/decision/evaluators/index.js';
import type { ChatRequest } from '../../src/protocol/chat-request.js';
import type { ChatCompletion } from '../../src/protocol/chat-response.js';
import { req } from '../support/canonical-fixtures.js';

function answer(content: string, logprobs?: number[]): ChatCompletion {
  return {
    id: 'c',
    object: 'chat.completion',
    created: 0,
    model: 'm',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content },
        finish_reason: 'stop',
        ...(logprobs ? { logprobs: { content: logprobs.map((l) => ({ token: 't', logprob: l })) } } : {}),
      },
    ],
  };
}

type Script = Record<string, { text?: string; logprobs?: number[]; cost?: number; fail?: Error }>;

class StageError extends Error {
  constructor(
    message: string,
    readonly attempts: Attempt[],
  ) {
    super(message);
  }
}
class ClientFault extends Error {}

const attempt = (deployment: string, outcome: 'ok' | 'error', costUsd?: number): Attempt => ({
  deployment,
  provider: 'p',
  alias: deployment,
  stage: 'primary',
  attempt: 1,
  outcome,
  latencyMs: 1,
  ...(costUsd !== undefined ? { costUsd } : {}),
});

/** A scripted io that records every call, with the real evaluators. */
function fakeIO(script: Script, opts: { judgeReply?: string | Error; judgeCost?: number; logprobs?: string[] } = {}) {
  const calls = { stages: [] as Array<{ alias: string; request: ChatRequest }>, judges: [] as ChatRequest[], evaluated: [] as string[] };
  const io: CascadeIO = {
    async runStage(alias, request) {
      calls.stages.push({ alias, request });
      const s = script[alias]!;
      if (s.fail) throw s.fail;
      return { completion: answer(s.text ?? '', s.logprobs), attempts: [attempt(alias, 'ok', s.cost ?? 0)], costUsd: s.cost ?? 0 };
    },
    async judge(request) {
      calls.judges.push(request);
      if (opts.judgeReply instanceof Error) throw opts.judgeReply;
      return { completion: answer(opts.judgeReply ?? '{"score": 9}'), costUsd: opts.judgeCost ?? 0 };
    },
    evaluate(request, completion, evaluators) {
      calls.evaluated.push(completion.choices[0]!.message.content ?? '');
      return evaluateLocally(request, completion, evaluators);
    },
    supportsLogprobs: (alias) => (opts.logprobs ?? []).includes(alias),
    isFinal: (err) => err instanceof ClientFault,
  };
  return { io, calls };
}

const cfg = (c: Partial<CascadeConfigInput> = {}) =>
  cascadeSchema.parse({ stages: ['nano', 'mini', 'big'], evaluators: [{ type: 'rules', minChars: 10 }], ...c });
const question = req({ messages: [{ role: 'user', content: 'Explain DNS in two sentences.' }] });
const good = 'DNS maps names to addresses. Resolvers ask authoritative servers.';

describe('runCascade', () => {
  it('returns the cheapest stage when its answer is accepted, calling nothing else', async () => {
    const { io, calls } = fakeIO({ nano: { text: good, cost: 0.0001 }, mini: { text: good }, big: { text: good } });
    const r = await runCascade(cfg(), question, io);
    expect(r).toMatchObject({ stage: 'nano', stageIndex: 0, totalCostUsd: 0.0001, reason: 'accepted' });
    expect(r.completion.choices[0]!.message.content).toBe(good);
    expect(calls.stages.map((s) => s.alias)).toEqual(['nano']);
    expect(r.stageResults).toEqual([
      expect.objectContaining({ alias: 'nano', outcome: 'accepted', accepted: true, costUsd: 0.0001, attempts: [attempt('nano', 'ok', 0.0001)] }),
    ]);
  });

  it('escalates past a rejected answer and a failed stage, recording each, and sums the cost', async () => {
    const { io, calls } = fakeIO({
      nano: { text: "I'm sorry, I can't help with that.", cost: 0.0001 },
      mini: { fail: new StageError('every deployment of mini failed', [attempt('mini-a', 'error'), attempt('mini-b', 'error')]) },
      big: { text: good, cost: 0.01 },
    });
    const r = await runCascade(cfg({ onLastStageReject: 'best' }), question, io);
    expect(r).toMatchObject({ stage: 'big', stageIndex: 2, reason: 'accepted at the last stage' });
    expect(r.totalCostUsd).toBeCloseTo(0.0101, 10);
    expect(calls.stages.map((s) => s.alias)).toEqual(['nano', 'mini', 'big']);
    const [nano, mini, big] = r.stageResults;
    expect(nano).toMatchObject({ outcome: 'rejected', accepted: false, verdicts: [expect.objectContaining({ pass: false, check: 'refusal' })] });
    expect(mini).toMatchObject({ outcome: 'failed', error: 'every deployment of mini failed', costUsd: 0, verdicts: [] });
    expect(mini!.attempts.map((a) => a.deployment)).toEqual(['mini-a', 'mini-b']);
    expect(big).toMatchObject({ outcome: 'accepted', costUsd: 0.01 });
    expect(describeCascade(r)).toBe('nano:rejected(rules/refusal),mini:failed,big:accepted');
  });

  it('returns the last stage unevaluated under onLastStageReject: last (no judge paid for it)', async () => {
    const { io, calls } = fakeIO({ nano: { text: 'short' }, mini: { text: 'tiny' }, big: { text: 'ok' } });
    const withJudge = cfg({ evaluators: [{ type: 'rules', minChars: 10 }, { type: 'judge', alias: 'grader' }] });
    const r = await runCascade(withJudge, question, io);
    expect(r).toMatchObject({ stage: 'big', reason: 'last stage (not evaluated)' });
    expect(r.stageResults.map((s) => s.outcome)).toEqual(['rejected', 'rejected', 'unevaluated']);
    expect(calls.evaluated).toEqual(['short', 'tiny']);
    expect(calls.judges).toHaveLength(0);
  });

  it('under onLastStageReject: best, returns the answer that passed the most checks, the later stage on a tie', async () => {
    const twoRules = cfg({
      onLastStageReject: 'best',
      evaluators: [{ type: 'rules', minChars: 10, refusalPatterns: [] }, { type: 'logprobs', stat: 'mean', threshold: -1 }],
    });
    // nano and mini each pass one of their two checks (the later stage wins the tie); big passes none.
    const { io } = fakeIO(
      {
        nano: { text: 'short', logprobs: [-0.1] },
        mini: { text: 'long enough but unsure', logprobs: [-3] },
        big: { text: 'no', logprobs: [-3] },
      },
      { logprobs: ['nano', 'mini', 'big'] },
    );
    const r = await runCascade(twoRules, question, io);
    expect(r.stageResults.map((s) => s.outcome)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(r).toMatchObject({ stage: 'mini', reason: 'every stage rejected; best answer' });

    const { io: io2 } = fakeIO({ nano: { text: 'short' }, mini: { text: 'tiny' }, big: { text: 'wee' } });
    expect((await runCascade(cfg({ onLastStageReject: 'best' }), question, io2)).stage).toBe('big');
  });

  it('when the last stage fails, returns the best rejected answer instead of an error', async () => {
    const { io } = fakeIO({ nano: { text: 'short', cost: 1 }, mini: { text: 'tiny', cost: 2 }, big: { fail: new Error('down') } });
    const r = await runCascade(cfg(), question, io);
    expect(r).toMatchObject({ stage: 'mini', reason: 'the last stage failed; best rejected answer', totalCostUsd: 3 });
  });

  it('throws CascadeFailedError with the trail when no stage answers', async () => {
    const { io } = fakeIO({ nano: { fail: new Error('a') }, mini: { fail: new Error('b') }, big: { fail: new Error('c') } });
    const err = await runCascade(cfg(), question, io).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CascadeFailedError);
    expect((err as CascadeFailedError).stageResults.map((s) => [s.alias, s.outcome, s.error])).toEqual([
      ['nano', 'failed', 'a'],
      ['mini', 'failed', 'b'],
      ['big', 'failed', 'c'],
    ]);
    expect(((err as CascadeFailedError).lastError as Error).message).toBe('c');
  });

  it('does not escalate an error the caller marks final (the client\'s own fault fails on every stage)', async () => {
    const fault = new ClientFault('bad request');
    const { io, calls } = fakeIO({ nano: { fail: fault }, mini: { text: good }, big: { text: good } });
    await expect(runCascade(cfg(), question, io)).rejects.toBe(fault);
    expect(calls.stages).toHaveLength(1);
  });

  it('asks for logprobs only from stages that support them, never streams, and hides logprobs the client did not ask for', async () => {
    const lp = cfg({ evaluators: [{ type: 'logprobs', threshold: -1 }] });
    const { io, calls } = fakeIO({ nano: { text: good, logprobs: [-2] }, mini: { text: good, logprobs: [-0.1] }, big: { text: good } }, { logprobs: ['nano', 'mini'] });
    const streaming = { ...question, stream: true, stream_options: { include_usage: true } };
    const r = await runCascade(lp, streaming, io);
    expect(r.stage).toBe('mini');
    for (const s of calls.stages) {
      expect(s.request).toMatchObject({ model: s.alias, stream: false, logprobs: true });
      expect(s.request.stream_options).toBeUndefined();
    }
    expect(r.completion.choices[0]!.logprobs).toBeUndefined();
    expect(r.stageResults.map((s) => s.logprobsRequested)).toEqual([true, true]);

    // The client's own logprobs request is kept, and so are the logprobs in its answer.
    const { io: io2, calls: calls2 } = fakeIO({ nano: { text: good, logprobs: [-0.1] }, mini: { text: good }, big: { text: good } }, { logprobs: [] });
    const r2 = await runCascade(lp, { ...question, logprobs: true }, io2);
    expect(r2.stage).toBe('nano');
    expect(calls2.stages[0]!.request.logprobs).toBe(true);
    expect(r2.completion.choices[0]!.logprobs?.content).toHaveLength(1);
  });

  it('accepts on abstention when a stage cannot return logprobs and nothing else objects', async () => {
    const lp = cfg({ evaluators: [{ type: 'logprobs', threshold: -1 }] });
    const { io, calls } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { logprobs: [] });
    const r = await runCascade(lp, question, io);
    expect(r.stage).toBe('nano');
    expect(calls.stages[0]!.request.logprobs).toBeUndefined();
    expect(r.stageResults[0]).toMatchObject({ logprobsRequested: false, verdicts: [expect.objectContaining({ abstained: true })] });
  });

  it('does not ask for logprobs when no logprobs evaluator wants them', async () => {
    const { io, calls } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { logprobs: ['nano'] });
    await runCascade(cfg(), question, io);
    expect(calls.stages[0]!.request.logprobs).toBeUndefined();
  });

  it('calls the judge only for answers the free checks let through, and adds its cost to the stage', async () => {
    const judged = cfg({ evaluators: [{ type: 'rules', minChars: 10 }, { type: 'judge', alias: 'grader', minScore: 7 }] });
    const { io, calls } = fakeIO({ nano: { text: 'short', cost: 0.001 }, mini: { text: good, cost: 0.002 }, big: { text: good } }, { judgeReply: '{"score": 8}', judgeCost: 0.0005 });
    const r = await runCascade(judged, question, io);
    expect(r.stage).toBe('mini');
    expect(calls.judges).toHaveLength(1);
    expect(calls.judges[0]!.messages[1]!.content).toContain(good);
    expect(r.stageResults[1]).toMatchObject({ judgeCostUsd: 0.0005, verdicts: [expect.objectContaining({ evaluator: 'rules' }), expect.objectContaining({ evaluator: 'judge', score: 8 })] });
    expect(r.stageResults[1]!.costUsd).toBeCloseTo(0.0025, 10);
    expect(r.totalCostUsd).toBeCloseTo(0.0035, 10);
  });

  it('escalates on a low judge score', async () => {
    const judged = cfg({ evaluators: [{ type: 'judge', alias: 'grader', minScore: 7 }] });
    const { io, calls } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { judgeReply: '{"score": 3, "reason": "wrong"}' });
    const r = await runCascade(judged, question, io);
    expect(r.stage).toBe('big');
    expect(calls.evaluated).toEqual([]); // no free evaluators: no evaluate round-trip
    expect(calls.judges).toHaveLength(2);
    expect(describeCascade(r)).toBe('nano:rejected(judge),mini:rejected(judge),big:unevaluated');
  });

  it('counts a failed judge call as the configured default; a final error from it still ends the cascade', async () => {
    const pass = cfg({ evaluators: [{ type: 'judge', alias: 'grader' }] });
    const { io } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { judgeReply: new Error('judge down') });
    const r = await runCascade(pass, question, io);
    expect(r.stage).toBe('nano');
    expect(r.stageResults[0]!.verdicts[0]).toMatchObject({ pass: true, check: 'error', reason: expect.stringMatching(/judge down.*counted as pass/) });

    const strict = cfg({ evaluators: [{ type: 'judge', alias: 'grader', onUnparseable: 'reject' }] });
    const { io: io2 } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { judgeReply: new Error('judge down') });
    expect((await runCascade(strict, question, io2)).stage).toBe('big');

    const { io: io3, calls } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { judgeReply: new ClientFault('aborted') });
    await expect(runCascade(pass, question, io3)).rejects.toBeInstanceOf(ClientFault);
    expect(calls.stages).toHaveLength(1);
  });

  it('combine any: one accepting evaluator is enough, and the judge is then skipped', async () => {
    const any = cfg({ combine: 'any', evaluators: [{ type: 'rules', minChars: 10 }, { type: 'judge', alias: 'grader', minScore: 7 }] });
    const { io, calls } = fakeIO({ nano: { text: good }, mini: { text: good }, big: { text: good } }, { judgeReply: '{"score": 1}' });
    expect((await runCascade(any, question, io)).stage).toBe('nano');
    expect(calls.judges).toHaveLength(0);

    const { io: io2, calls: calls2 } = fakeIO({ nano: { text: 'short' }, mini: { text: 'short' }, big: { text: good } }, { judgeReply: '{"score": 9}' });
    expect((await runCascade(any, question, io2)).stage).toBe('nano');
    expect(calls2.judges).toHaveLength(1);
  });
});

describe('verdict combination', () => {
  const v = (pass: boolean, abstained = false): Verdict => ({ pass, evaluator: 'rules', reason: '', ...(abstained ? { abstained } : {}) });
  it('ignores abstentions', () => {
    expect(accepts([v(true), v(false)], 'all')).toBe(false);
    expect(accepts([v(true), v(true, true)], 'all')).toBe(true);
    expect(accepts([v(false), v(true)], 'any')).toBe(true);
    expect(accepts([v(false), v(true, true)], 'any')).toBe(false);
    expect(accepts([v(true, true)], 'any')).toBe(true);
    expect(accepts([], 'all')).toBe(true);
  });
});

describe('stage requests and reporting', () => {
  it('strips streaming and sets the stage alias without touching the caller\'s request', () => {
    const original = { ...question, stream: true, stream_options: { include_usage: true } };
    const copy = structuredClone(original);
    expect(stageRequest(original, 'mini', false)).toEqual({ ...question, model: 'mini', stream: false });
    expect(original).toEqual(copy);
  });

  it('formats USD for a header without exponents', () => {
    expect(formatUsd(0.0000123)).toBe('0.0000123');
    expect(formatUsd(1.5)).toBe('1.5');
    expect(formatUsd(2)).toBe('2');
    expect(formatUsd(1e-10)).toBe('0');
    expect(formatUsd(0)).toBe('0');
    expect(formatUsd(Number.NaN)).toBe('0');
  });

  it('asks for logprobs only from stage aliases whose every deployment returns them', () => {
    const routing = parseConfig(
      `
providers: { oa: { type: openai, apiKey: k } }
deployments:
  a: { provider: oa, model: m, capabilities: [logprobs, streaming] }
  b: { provider: oa, model: m, capabilities: [logprobs] }
  c: { provider: oa, model: m, capabilities: [streaming] }
models:
  nano: { groups: [{ deployments: [a, b] }] }
  mini: { groups: [{ deployments: [a] }, { deployments: [c] }] }
  big: { groups: [{ deployments: [b] }], downgrade: mini }
`,
      'test',
    ) as RoutingConfig;
    expect(logprobsStages(routing, cfg({ evaluators: [{ type: 'logprobs', threshold: -1 }] }))).toEqual(['nano']);
    expect(logprobsStages(routing, cfg())).toEqual([]);
  });

  it('keeps the driver sandbox-safe: no runtime imports beyond the pure judge module', () => {
    const runtimeImports = (file: string) =>
      [...readFileSync(new URL(file, import.meta.url), 'utf8').matchAll(/^import (?!type )[^;]*from '([^']+)'/gm)].map((m) => m[1]);
    expect(runtimeImports('../../src/decision/cascade.ts')).toEqual(['./evaluators/judge.js']);
    expect(runtimeImports('../../src/decision/evaluators/judge.ts')).toEqual([]);
  });
});
