/**
 * Cascade simulation benchmark (`npm run bench:cascade`).
 *
 * What a cost-aware cascade (weak → mid → strong) saves against sending everything to the strong model, and
 * what it loses in quality, on a labelled task set with fake models whose correctness is known. Everything
 * goes through the real code: `runCascade`, the real rules/logprobs evaluators (ajv included), the real judge
 * request builder and reply parser, and `costUsd` over each answer's usage and the deployment's prices.
 *
 * The world being simulated (all draws from a seeded PRNG, per task and model, so every configuration sees
 * the very same answers and the run is reproducible):
 *   - 300 tasks: easy / medium / hard (40/35/25 %), a quarter of them asking for JSON with a schema; each has
 *     one correct answer, prompts of 200-1200 tokens;
 *   - three models at realistic list prices (USD per million tokens in/out): weak 0.10/0.40, mid 0.40/1.60,
 *     strong 2.00/8.00, each right with a known probability per difficulty. Their mistakes are correlated
 *     (a Gaussian copula with ρ = 0.5 over a per-task latent "trickiness"): a task one model gets wrong is
 *     likelier to trip the others, as with real models, so a cascade cannot simply vote its way past them;
 *   - imperfect failure signals: a wrong answer is sometimes a refusal, cut off (`finish_reason: length`) or
 *     broken/invalid JSON, but most often a plausible wrong answer; a right answer is now and then cut off
 *     too. Token logprobs carry more unsure tokens when the answer is wrong, with overlap both ways. The
 *     strong model returns no logprobs (its deployment lacks the capability, so it is never asked);
 *   - a judge model (mid prices) that grades a right answer ≥ 7 with p 0.92, a wrong one < 7 with p 0.80 (its
 *     mistakes correlated with the models' through the same trickiness), and now and then replies without a
 *     readable score (counted as pass, the default).
 *
 * Reported per configuration: accuracy, accuracy lost against strong-only (percentage points), total cost
 * and cost saved against strong-only (judge calls included), mean model calls per task, which stage answered,
 * and the evaluators' false accepts (wrong answers let through) and false rejects (right answers escalated).
 * Plus a logprobs threshold sweep. Results: bench/results/cascade.{json,md}. Deterministic: no timing.
 *
 * Environment knobs (all optional): CASCADE_SEED (default 42), CASCADE_TASKS (default 300).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { cascadeSchema, judgeEvaluatorSchema, type CascadeConfigInput } from '../src/config/cascade-schema.js';
import { runCascade, type CascadeIO, type StageResult } from '../src/decision/cascade.js';
import { costUsd } from '../src/decision/cost.js';
import { evaluateLocally } from '../src/decision/evaluators/index.js';
import type { ChatRequest } from '../src/protocol/chat-request.js';
import type { ChatCompletion, FinishReason, TokenLogprob } from '../src/protocol/chat-response.js';
import { usageOf } from '../src/protocol/chat-response.js';
import { mulberry32 } from '../src/util/seeded-random.js';
import { RESULTS_DIR } from './lib/paths.js';
import { ROW_HEAD, machineMeta, mdTable, rowBuilder, rowCells, textTable, writeAtomically } from './lib/report.js';

const SEED = Number(process.env.CASCADE_SEED ?? 42);
const TASKS = Number(process.env.CASCADE_TASKS ?? 300);

// ------------------------------------------------------------------------------------------ randomness

/** FNV-1a, to derive an independent stream per (task, model, purpose) from one seed. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** One independent, reproducible stream per key. */
function rng(...key: Array<string | number>): () => number {
  return mulberry32(hash(`${SEED}:${key.join(':')}`));
}

const between = (r: () => number, lo: number, hi: number) => lo + (hi - lo) * r();
const intBetween = (r: () => number, lo: number, hi: number) => Math.floor(between(r, lo, hi + 1));
function normal(r: () => number, mean: number, sd: number): number {
  const u = Math.max(r(), Number.MIN_VALUE);
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t) * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

// ------------------------------------------------------------------------------------------ the world

type Difficulty = 'easy' | 'medium' | 'hard';
type ModelName = 'weak' | 'mid' | 'strong';

interface Task {
  id: number;
  difficulty: Difficulty;
  json: boolean;
  truth: string;
  promptTokens: number;
  request: ChatRequest;
}

interface ModelSpec {
  price: { inputPerMTok: number; outputPerMTok: number };
  correct: Record<Difficulty, number>;
  outputTokens: [number, number];
  /** When wrong: how often the failure shows (refusal, cut off, broken JSON on JSON tasks). */
  whenWrong: { refusal: number; cutOff: number; badJson: number };
  /** A right answer cut off anyway (the rules then reject a right answer). */
  rightCutOff: number;
  logprobs: boolean;
}

const MODELS: Record<ModelName, ModelSpec> = {
  weak: {
    price: { inputPerMTok: 0.1, outputPerMTok: 0.4 },
    correct: { easy: 0.9, medium: 0.6, hard: 0.25 },
    outputTokens: [120, 320],
    whenWrong: { refusal: 0.12, cutOff: 0.08, badJson: 0.45 },
    rightCutOff: 0.02,
    logprobs: true,
  },
  mid: {
    price: { inputPerMTok: 0.4, outputPerMTok: 1.6 },
    correct: { easy: 0.96, medium: 0.84, hard: 0.55 },
    outputTokens: [150, 380],
    whenWrong: { refusal: 0.06, cutOff: 0.05, badJson: 0.25 },
    rightCutOff: 0.015,
    logprobs: true,
  },
  strong: {
    price: { inputPerMTok: 2, outputPerMTok: 8 },
    correct: { easy: 0.99, medium: 0.94, hard: 0.84 },
    outputTokens: [180, 450],
    whenWrong: { refusal: 0.03, cutOff: 0.03, badJson: 0.1 },
    rightCutOff: 0.01,
    logprobs: false,
  },
};

/** How much of a model's chance of being wrong comes from the task itself, shared by all models. */
const ERROR_CORRELATION = 0.5;

const JUDGE = {
  price: { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  /** P(score ≥ 7 | right answer), P(score < 7 | wrong answer), P(no readable score). */
  sensitivity: 0.92,
  specificity: 0.8,
  unreadable: 0.03,
  instructionTokens: 150,
  outputTokens: 40,
};

const ANSWER_SCHEMA = {
  type: 'object',
  properties: { answer: { type: 'string' }, explanation: { type: 'string' } },
  required: ['answer', 'explanation'],
  additionalProperties: false,
};

function makeTasks(n: number): Task[] {
  return Array.from({ length: n }, (_, id) => {
    const r = rng('task', id);
    const roll = r();
    const difficulty: Difficulty = roll < 0.4 ? 'easy' : roll < 0.75 ? 'medium' : 'hard';
    const json = r() < 0.25;
    const truth = `ans-${id}-${intBetween(r, 1000, 9999)}`;
    const promptTokens = intBetween(r, 200, 1200);
    const request: ChatRequest = {
      model: 'smart',
      messages: [{ role: 'user', content: `Task #${id} (${difficulty}): find the code word for item ${id}.` }],
      ...(json ? { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: ANSWER_SCHEMA, strict: true } } } : {}),
    };
    return { id, difficulty, json, truth, promptTokens, request };
  });
}

/** A task's shared latent difficulty beyond its label (standard normal; high = tricky). */
const trickiness = (id: number) => normal(rng('trickiness', id), 0, 1);

/** What one model answers to one task: fixed per (task, model), whoever asks and however often. */
function modelAnswer(task: Task, name: ModelName): ChatCompletion {
  const m = MODELS[name];
  const r = rng('answer', task.id, name);
  const z = Math.sqrt(ERROR_CORRELATION) * trickiness(task.id) + Math.sqrt(1 - ERROR_CORRELATION) * normal(r, 0, 1);
  const right = phi(z) < m.correct[task.difficulty];
  const said = right ? task.truth : `ans-${task.id}-${intBetween(r, 1000, 9999)}`;
  const outTokens = intBetween(r, ...m.outputTokens);
  let finish: FinishReason = 'stop';
  // About four characters a token, so what a judge reads matches the usage the answer reports.
  const explanation = `I looked up item ${task.id} and cross-checked it against the index. `.repeat(Math.ceil((outTokens * 4) / 64)).slice(0, outTokens * 4 - 40);
  let text = task.json ? JSON.stringify({ answer: said, explanation }) : `The code word is ${said}. ${explanation}`;

  if (!right && r() < m.whenWrong.refusal) {
    text = "I'm sorry, but I can't help with that request.";
  } else if (r() < (right ? m.rightCutOff : m.whenWrong.cutOff)) {
    // The answer is already there, the explanation is cut: right or wrong, the rules see only `length`.
    text = text.slice(0, Math.max(12, Math.floor(text.length * 0.8)));
    finish = 'length';
  } else if (!right && task.json && r() < m.whenWrong.badJson) {
    text = r() < 0.5 ? text.slice(0, -2) : JSON.stringify({ answer: said });
  }

  const completion: ChatCompletion = {
    id: `${name}-${task.id}`,
    object: 'chat.completion',
    created: 0,
    model: name,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
    usage: usageOf(task.promptTokens, outTokens),
  };
  if (m.logprobs) completion.choices[0]!.logprobs = { content: tokenLogprobs(r, right, outTokens) };
  return completion;
}

/**
 * Token logprobs: most tokens sure (-Exp(0.08)), a share of unsure ones (-U(0.7, 5)). The unsure share is
 * ~N(4 %, 3 %) for a right answer and ~N(12 %, 6 %) for a wrong one: informative, with overlap both ways.
 */
function tokenLogprobs(r: () => number, right: boolean, n: number): TokenLogprob[] {
  const unsure = clamp(right ? normal(r, 0.04, 0.03) : normal(r, 0.12, 0.06), 0, 0.6);
  return Array.from({ length: n }, () => ({
    token: 't',
    logprob: r() < unsure ? -between(r, 0.7, 5) : Math.log(Math.max(r(), 1e-9)) * 0.08,
  }));
}

/** The ground truth's verdict on an answer, as a client would see it: the right code word, usable as asked. */
function isRight(task: Task, c: ChatCompletion): boolean {
  const choice = c.choices[0];
  const text = choice?.message.content ?? '';
  if (task.json) {
    try {
      const v = JSON.parse(text) as { answer?: unknown };
      return v.answer === task.truth;
    } catch {
      return false;
    }
  }
  return text.includes(task.truth);
}

/** The fake judge reads the real grading request: which task (from the quoted conversation) and which answer. */
function judgeAnswer(tasks: readonly Task[], request: ChatRequest): ChatCompletion {
  const prompt = request.messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
  const id = Number(/Task #(\d+)/.exec(prompt)?.[1]);
  const task = tasks[id]!;
  const answerText = /<answer>\n([\s\S]*)\n<\/answer>/.exec(prompt)?.[1] ?? '';
  const right = isRight(task, fakeCompletion(answerText));
  // Keyed on the answer's text: the same answer gets the same grade, whichever configuration asks.
  const r = rng('judge', id, hash(answerText));
  let reply: string;
  if (r() < JUDGE.unreadable) reply = 'The answer seems reasonable overall.';
  else {
    // The judge is fooled by the same tricky tasks that fool the models (same copula as their mistakes).
    const z = Math.sqrt(ERROR_CORRELATION) * trickiness(id) + Math.sqrt(1 - ERROR_CORRELATION) * normal(r, 0, 1);
    const saysRight = right ? phi(z) < JUDGE.sensitivity : phi(z) >= JUDGE.specificity;
    reply = JSON.stringify({ score: saysRight ? intBetween(r, 7, 10) : intBetween(r, 1, 6), reason: saysRight ? 'matches' : 'doubtful' });
  }
  const answerTokens = Math.round(answerText.length / 4);
  return { ...fakeCompletion(reply), usage: usageOf(task.promptTokens + answerTokens + JUDGE.instructionTokens, JUDGE.outputTokens) };
}

function fakeCompletion(text: string): ChatCompletion {
  return { id: 'j', object: 'chat.completion', created: 0, model: 'judge', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }] };
}

// ------------------------------------------------------------------------------------------ running

interface TaskOutcome {
  task: Task;
  right: boolean;
  costUsd: number;
  judgeCostUsd: number;
  stage: string;
  calls: number;
  stageResults?: StageResult[];
}

interface ConfigResult {
  name: string;
  outcomes: TaskOutcome[];
}

function ioFor(tasks: readonly Task[], counter: { calls: number; judgeCalls: number }): CascadeIO {
  return {
    async runStage(alias, request) {
      counter.calls++;
      const task = tasks[Number(/Task #(\d+)/.exec(String(request.messages[0]!.content))?.[1])]!;
      const name = alias as ModelName;
      const full = modelAnswer(task, name);
      // A stage not asked for logprobs does not return them (as a real provider would not).
      const completion = request.logprobs ? full : { ...full, choices: full.choices.map(({ logprobs: _l, ...c }) => c) };
      const cost = costUsd(completion.usage, MODELS[name].price);
      return { completion, costUsd: cost, attempts: [] };
    },
    async judge(request) {
      counter.judgeCalls++;
      const completion = judgeAnswer(tasks, request);
      return { completion, costUsd: costUsd(completion.usage, JUDGE.price) };
    },
    evaluate: evaluateLocally,
    supportsLogprobs: (alias) => MODELS[alias as ModelName].logprobs,
  };
}

async function runSingle(name: string, tasks: readonly Task[], model: ModelName): Promise<ConfigResult> {
  const outcomes = tasks.map((task) => {
    const c = modelAnswer(task, model);
    return { task, right: isRight(task, c), costUsd: costUsd(c.usage, MODELS[model].price), judgeCostUsd: 0, stage: model, calls: 1 };
  });
  return { name, outcomes };
}

async function runConfig(name: string, tasks: readonly Task[], input: Omit<CascadeConfigInput, 'stages'>): Promise<ConfigResult> {
  const cascade = cascadeSchema.parse({ stages: ['weak', 'mid', 'strong'], ...input });
  const outcomes: TaskOutcome[] = [];
  for (const task of tasks) {
    const counter = { calls: 0, judgeCalls: 0 };
    const res = await runCascade(cascade, task.request, ioFor(tasks, counter));
    const judgeCostUsd = res.stageResults.reduce((a, s) => a + s.judgeCostUsd, 0);
    outcomes.push({ task, right: isRight(task, res.completion), costUsd: res.totalCostUsd, judgeCostUsd, stage: res.stage, calls: counter.calls + counter.judgeCalls, stageResults: res.stageResults });
  }
  return { name, outcomes };
}

// ------------------------------------------------------------------------------------------ summarising

interface Summary {
  name: string;
  accuracy: number;
  accuracyLostPp: number;
  costUsd: number;
  judgeCostUsd: number;
  costSavedPct: number;
  callsPerTask: number;
  answeredBy: Record<string, number>;
  /** Over non-final stage evaluations: wrong answers accepted, right answers rejected. */
  falseAccepts: number;
  falseRejects: number;
  evaluatedNonFinal: number;
  byDifficulty: Record<Difficulty, { accuracy: number; costUsd: number }>;
}

function summarise(r: ConfigResult, baseline: ConfigResult): Summary {
  const n = r.outcomes.length;
  const sum = (f: (o: TaskOutcome) => number, os = r.outcomes) => os.reduce((a, o) => a + f(o), 0);
  const accuracy = sum((o) => Number(o.right)) / n;
  const baseAcc = sum((o) => Number(o.right), baseline.outcomes) / n;
  const cost = sum((o) => o.costUsd);
  const baseCost = sum((o) => o.costUsd, baseline.outcomes);
  const answeredBy: Record<string, number> = {};
  for (const o of r.outcomes) answeredBy[o.stage] = (answeredBy[o.stage] ?? 0) + 1;
  let falseAccepts = 0;
  let falseRejects = 0;
  let evaluatedNonFinal = 0;
  for (const o of r.outcomes) {
    for (const s of o.stageResults ?? []) {
      if (s.alias === 'strong' || (s.outcome !== 'accepted' && s.outcome !== 'rejected')) continue;
      evaluatedNonFinal++;
      const right = isRight(o.task, modelAnswer(o.task, s.alias as ModelName));
      if (s.accepted && !right) falseAccepts++;
      if (!s.accepted && right) falseRejects++;
    }
  }
  const byDifficulty = Object.fromEntries(
    (['easy', 'medium', 'hard'] as const).map((d) => {
      const os = r.outcomes.filter((o) => o.task.difficulty === d);
      return [d, { accuracy: round(sum((o) => Number(o.right), os) / os.length, 4), costUsd: round(sum((o) => o.costUsd, os), 6) }];
    }),
  ) as Summary['byDifficulty'];
  return {
    name: r.name,
    accuracy: round(accuracy, 4),
    accuracyLostPp: round((baseAcc - accuracy) * 100, 2),
    costUsd: round(cost, 6),
    judgeCostUsd: round(sum((o) => o.judgeCostUsd), 6),
    costSavedPct: round((1 - cost / baseCost) * 100, 1),
    callsPerTask: round(sum((o) => o.calls) / n, 2),
    answeredBy,
    falseAccepts,
    falseRejects,
    evaluatedNonFinal,
    byDifficulty,
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const usd = (x: number) => `$${x.toFixed(4)}`;

// ------------------------------------------------------------------------------------------ main

const RULES = { type: 'rules' } as const;
const LOGPROBS = { type: 'logprobs', stat: 'quantile', q: 0.1, threshold: -1 } as const;
const JUDGE_EVAL = judgeEvaluatorSchema.parse({ type: 'judge', alias: 'judge', minScore: 7 });

async function main() {
  const tasks = makeTasks(TASKS);
  const strongOnly = await runSingle('strong only', tasks, 'strong');
  const configs: ConfigResult[] = [
    strongOnly,
    await runSingle('weak only', tasks, 'weak'),
    await runSingle('mid only', tasks, 'mid'),
    await runConfig('cascade: rules', tasks, { evaluators: [RULES] }),
    await runConfig('cascade: rules + logprobs', tasks, { evaluators: [RULES, LOGPROBS] }),
    await runConfig('cascade: rules + logprobs + judge', tasks, { evaluators: [RULES, LOGPROBS, JUDGE_EVAL] }),
    await runConfig('cascade: rules + judge', tasks, { evaluators: [RULES, JUDGE_EVAL] }),
  ];
  const summaries = configs.map((c) => summarise(c, strongOnly));

  const sweep: Summary[] = [];
  for (const threshold of [-0.3, -0.6, -1, -1.5, -2.5, -4]) {
    sweep.push(summarise(await runConfig(`rules + logprobs q0.1 ≥ ${threshold}`, tasks, { evaluators: [RULES, { ...LOGPROBS, threshold }] }), strongOnly));
  }

  const full = summaries.find((s) => s.name === 'cascade: rules + logprobs + judge')!;
  const { rows, checks, info, check } = rowBuilder();
  info('tasks', `${TASKS} (seed ${SEED})`);
  info('strong-only accuracy / cost', `${pct(summaries[0]!.accuracy)} / ${usd(summaries[0]!.costUsd)}`);
  for (const s of summaries.slice(3)) {
    info(`${s.name}: accuracy lost`, `${s.accuracyLostPp.toFixed(2)} pp`);
    info(`${s.name}: cost saved`, `${s.costSavedPct.toFixed(1)} %`);
  }
  check('rules + logprobs + judge: cost saved vs strong-only', full.costSavedPct, `${full.costSavedPct.toFixed(1)} %`, '>=', 40, '40 %');
  check('rules + logprobs + judge: accuracy lost vs strong-only', full.accuracyLostPp, `${full.accuracyLostPp.toFixed(2)} pp`, '<=', 3, '3 pp');

  const head = ['configuration', 'accuracy', 'lost (pp)', 'cost', 'judge cost', 'saved', 'calls/task (judge incl.)', 'answered by weak/mid/strong', 'false accepts', 'false rejects'];
  const table = (list: Summary[]) =>
    list.map((s) => [
      s.name,
      pct(s.accuracy),
      s.accuracyLostPp.toFixed(2),
      usd(s.costUsd),
      usd(s.judgeCostUsd),
      `${s.costSavedPct.toFixed(1)} %`,
      s.callsPerTask.toFixed(2),
      `${s.answeredBy.weak ?? 0}/${s.answeredBy.mid ?? 0}/${s.answeredBy.strong ?? 0}`,
      s.evaluatedNonFinal ? `${s.falseAccepts}/${s.evaluatedNonFinal}` : '—',
      s.evaluatedNonFinal ? `${s.falseRejects}/${s.evaluatedNonFinal}` : '—',
    ]);
  const diffHead = ['configuration', 'easy acc', 'medium acc', 'hard acc', 'easy cost', 'medium cost', 'hard cost'];
  const diffRows = summaries.map((s) => [
    s.name,
    ...(['easy', 'medium', 'hard'] as const).map((d) => pct(s.byDifficulty[d].accuracy)),
    ...(['easy', 'medium', 'hard'] as const).map((d) => usd(s.byDifficulty[d].costUsd)),
  ]);

  const meta = { ...machineMeta(), seed: SEED, tasks: TASKS, models: MODELS, errorCorrelation: ERROR_CORRELATION, judge: JUDGE };
  const md = [
    '# Cascade simulation',
    '',
    `\`npm run bench:cascade\` — ${meta.date}, seed ${SEED}, ${TASKS} labelled tasks. Deterministic: the same seed gives the same numbers.`,
    '',
    'Fake weak/mid/strong models with known correctness per difficulty (mistakes correlated across models, ρ = 0.5) and list-like prices (USD/MTok in/out: weak 0.10/0.40, mid 0.40/1.60, strong 2.00/8.00), imperfect failure signals (refusals, cut-offs, broken JSON on some wrong answers; unsure-token logprobs that overlap between right and wrong) and a judge at mid prices that is right 92 % / 80 % of the time. Cascades run weak → mid → strong through `runCascade` with the real evaluators; the strong stage is returned unevaluated (`onLastStageReject: last`). Costs include every call, judge calls too. See the header of bench/cascade-sim.ts.',
    '',
    ...mdTable(ROW_HEAD, rowCells(rows)),
    '',
    '## Configurations',
    '',
    'False accepts / false rejects: over the weak and mid answers the evaluators looked at, wrong ones let through / right ones escalated.',
    '',
    ...mdTable(head, table(summaries)),
    '',
    '## By difficulty',
    '',
    ...mdTable(diffHead, diffRows),
    '',
    '## Logprobs threshold sweep (rules + logprobs, 10th-percentile token logprob)',
    '',
    ...mdTable(head, table(sweep)),
    '',
  ].join('\n');

  mkdirSync(RESULTS_DIR, { recursive: true });
  writeAtomically(path.join(RESULTS_DIR, 'cascade.json'), `${JSON.stringify({ meta, checks, summaries, sweep }, null, 2)}\n`);
  writeAtomically(path.join(RESULTS_DIR, 'cascade.md'), md);
  console.log(`\n${textTable(head, table(summaries))}\n\n${textTable(head, table(sweep))}\n\n${textTable(ROW_HEAD, rowCells(rows))}\n`);
  console.log(`results: ${path.join(RESULTS_DIR, 'cascade.{json,md}')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
