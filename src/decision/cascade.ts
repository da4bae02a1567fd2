/**
 * The cascade driver: ask the cheapest stage alias, evaluate its answer, escalate to the next stage when the
 * evaluators reject it (or the stage fails), and account the cost of everything it called.
 *
 * Every effect is injected (`CascadeIO`) and there is no clock, no randomness and no runtime import, so the
 * same function runs on both paths:
 *
 * - fast path: `runStage` plans the stage alias and runs it through the executor (non-streaming; a client
 *   that asked for a stream gets the accepted answer replayed as chunks, since nothing may reach the client
 *   before it is accepted), its cost the sum of the stage's attempts (each priced where it answered, by
 *   ledger/price.ts); `judge` does the same for the judge alias; `evaluate` is `evaluateLocally` from ./evaluators/index.js;
 *   `supportsLogprobs` checks `logprobsStages(config, cascade)` (./cascade-stages.ts). Throw the executor's
 *   catch-all outcome as an error so the cascade moves on; `isFinal` should be true for `UpstreamRejected`
 *   (the client's own fault fails on every stage alike) and for the client's abort (durable: cancellation).
 * - durable workflow: `runStage` and `judge` wrap the provider-call activities, `evaluate` a local activity
 *   calling `evaluateLocally` (it needs ajv, which does not belong in the workflow bundle), and
 *   `supportsLogprobs` reads the list the route activity resolved with `logprobsStages`. The driver's own
 *   decisions are deterministic, so a replay takes the same turns.
 *
 * Then: `x-gateway-cost-usd: formatUsd(result.totalCostUsd)` and `x-gateway-cascade: describeCascade(result)`.
 *
 * Evaluation order: the free evaluators (rules, logprobs) in one `evaluate` call, then each judge in turn,
 * stopping once `combine` is decided, so a judge is paid only for answers the free checks let through.
 */
import type { CascadeConfig, EvaluatorConfig, JudgeEvaluatorConfig } from '../config/cascade-schema.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { Attempt } from './attempt.js';
import { judgeRequest, readJudgeVerdict, unreadableJudgeVerdict } from './evaluators/judge.js';
import type { Verdict } from './evaluators/types.js';

export const COST_HEADER = 'x-gateway-cost-usd';
export const CASCADE_HEADER = 'x-gateway-cascade';

export interface StageRun {
  completion: ChatCompletion;
  /** The stage's attempt trail (each with its costUsd where known). */
  attempts: Attempt[];
  costUsd: number;
}

export interface JudgeRun {
  completion: ChatCompletion;
  costUsd: number;
}

export interface CascadeIO {
  /** Runs one stage alias with its own plan and fallback. Throws when it has no answer (then: next stage). */
  runStage(alias: string, request: ChatRequest): Promise<StageRun>;
  /** Calls the judge alias with the grading request `judgeRequest` built. */
  judge(request: ChatRequest, alias: string): Promise<JudgeRun>;
  /** The free evaluators (rules, logprobs); `evaluateLocally` is the default. Judges are never passed in. */
  evaluate(request: ChatRequest, completion: ChatCompletion, evaluators: readonly EvaluatorConfig[]): Verdict[] | Promise<Verdict[]>;
  /** Whether to ask this stage for logprobs (see logprobsStages). */
  supportsLogprobs(alias: string): boolean;
  /** Errors that end the whole cascade at once instead of escalating (a bad request, the client's abort). */
  isFinal?(error: unknown): boolean;
}

export type StageOutcome = 'accepted' | 'rejected' | 'failed' | 'unevaluated';

export interface StageResult {
  alias: string;
  /** `unevaluated`: the last stage under `onLastStageReject: last`, returned without checking. */
  outcome: StageOutcome;
  accepted: boolean;
  verdicts: Verdict[];
  /** The stage's own calls plus its judges'. */
  costUsd: number;
  judgeCostUsd: number;
  attempts: Attempt[];
  logprobsRequested: boolean;
  /** Why the stage failed (`outcome: failed`). */
  error?: string;
}

export interface CascadeResult {
  completion: ChatCompletion;
  /** The alias whose answer is returned, and its index in `stages`. */
  stage: string;
  stageIndex: number;
  stageResults: StageResult[];
  totalCostUsd: number;
  /** Why this answer: accepted, the last stage, or the best of rejected ones. */
  reason: string;
}

/** No stage produced an answer. Carries what was tried, so the caller can apply its catch-all and report. */
export class CascadeFailedError extends Error {
  constructor(
    readonly stageResults: StageResult[],
    readonly totalCostUsd: number,
    readonly lastError: unknown,
  ) {
    super(`every cascade stage failed (${stageResults.map((s) => `${s.alias}: ${s.error ?? s.outcome}`).join('; ')})`);
    this.name = 'CascadeFailedError';
  }
}

export async function runCascade(cascade: CascadeConfig, request: ChatRequest, io: CascadeIO): Promise<CascadeResult> {
  const local = cascade.evaluators.filter((e) => e.type !== 'judge');
  const judges = cascade.evaluators.filter((e): e is JudgeEvaluatorConfig => e.type === 'judge');
  const wantsLogprobs = local.some((e) => e.type === 'logprobs');
  const results: StageResult[] = [];
  const answers = new Map<number, ChatCompletion>();
  let lastError: unknown;

  for (const [i, alias] of cascade.stages.entries()) {
    const last = i === cascade.stages.length - 1;
    const logprobs = wantsLogprobs && io.supportsLogprobs(alias);
    const result: StageResult = { alias, outcome: 'failed', accepted: false, verdicts: [], costUsd: 0, judgeCostUsd: 0, attempts: [], logprobsRequested: logprobs };
    results.push(result);

    let run: StageRun;
    try {
      run = await io.runStage(alias, stageRequest(request, alias, logprobs));
    } catch (err) {
      if (io.isFinal?.(err)) throw err;
      lastError = err;
      result.error = err instanceof Error ? err.message : String(err);
      result.attempts = attemptsOf(err);
      continue;
    }
    result.attempts = run.attempts;
    result.costUsd = run.costUsd;
    answers.set(i, run.completion);

    if (last && cascade.onLastStageReject === 'last') {
      result.outcome = 'unevaluated';
      result.accepted = true;
      return finish(request, cascade, results, i, run.completion, 'last stage (not evaluated)');
    }

    const { verdicts, judgeCostUsd } = await evaluate(cascade, request, run.completion, local, judges, io);
    result.verdicts = verdicts;
    result.judgeCostUsd = judgeCostUsd;
    result.costUsd += judgeCostUsd;
    result.accepted = accepts(verdicts, cascade.combine);
    result.outcome = result.accepted ? 'accepted' : 'rejected';
    if (result.accepted) return finish(request, cascade, results, i, run.completion, last ? 'accepted at the last stage' : 'accepted');
  }

  const best = bestAnswered(results, answers);
  if (best === undefined) throw new CascadeFailedError(results, sumCost(results), lastError);
  const why = results.at(-1)!.outcome === 'failed' ? 'the last stage failed; best rejected answer' : 'every stage rejected; best answer';
  return finish(request, cascade, results, best, answers.get(best)!, why);
}

/** The free evaluators, then the judges one by one while `combine` is undecided. */
async function evaluate(
  cascade: CascadeConfig,
  request: ChatRequest,
  completion: ChatCompletion,
  local: readonly EvaluatorConfig[],
  judges: readonly JudgeEvaluatorConfig[],
  io: CascadeIO,
): Promise<{ verdicts: Verdict[]; judgeCostUsd: number }> {
  const verdicts = local.length > 0 ? [...(await io.evaluate(request, completion, local))] : [];
  let judgeCostUsd = 0;
  for (const [j, cfg] of judges.entries()) {
    if (decided(verdicts, cascade.combine, judges.length - j) !== undefined) break;
    try {
      const judged = await io.judge(judgeRequest(request, completion, cfg), cfg.alias);
      judgeCostUsd += judged.costUsd;
      verdicts.push(readJudgeVerdict(judged.completion, cfg));
    } catch (err) {
      if (io.isFinal?.(err)) throw err;
      verdicts.push(unreadableJudgeVerdict(cfg, `judge call failed: ${err instanceof Error ? err.message : String(err)}`, 'error'));
    }
  }
  return { verdicts, judgeCostUsd };
}

/**
 * Combines verdicts; abstentions count for nothing. `all`: accepted when none rejects. `any`: accepted when
 * one accepts, or when no evaluator had an opinion (nothing spoke against the answer).
 */
export function accepts(verdicts: readonly Verdict[], combine: CascadeConfig['combine']): boolean {
  const opinions = verdicts.filter((v) => !v.abstained);
  return combine === 'all' ? opinions.every((v) => v.pass) : opinions.length === 0 || opinions.some((v) => v.pass);
}

/** The outcome if it no longer depends on the `remaining` evaluators still to run; undefined if it does. */
function decided(verdicts: readonly Verdict[], combine: CascadeConfig['combine'], remaining: number): boolean | undefined {
  const opinions = verdicts.filter((v) => !v.abstained);
  if (combine === 'all' && opinions.some((v) => !v.pass)) return false;
  if (combine === 'any' && opinions.some((v) => v.pass)) return true;
  return remaining === 0 ? accepts(verdicts, combine) : undefined;
}

/** Among answered stages: the largest share of passing verdicts, then the higher judge score, then the later stage. */
function bestAnswered(results: readonly StageResult[], answers: ReadonlyMap<number, ChatCompletion>): number | undefined {
  let best: { i: number; key: [number, number] } | undefined;
  for (const i of answers.keys()) {
    const opinions = results[i]!.verdicts.filter((v) => !v.abstained);
    const share = opinions.length === 0 ? 1 : opinions.filter((v) => v.pass).length / opinions.length;
    const scores = opinions.filter((v) => v.evaluator === 'judge' && v.score !== undefined).map((v) => v.score!);
    const judged = scores.length === 0 ? 0 : scores.reduce((a, b) => a + b, 0) / scores.length;
    const key: [number, number] = [share, judged];
    if (!best || key[0] > best.key[0] || (key[0] === best.key[0] && key[1] >= best.key[1])) best = { i, key };
  }
  return best?.i;
}

/**
 * The request a stage receives: never streamed (the answer must be whole before it can be judged), logprobs
 * asked for when the stage can return them and a logprobs evaluator wants them.
 */
export function stageRequest(request: ChatRequest, alias: string, logprobs: boolean): ChatRequest {
  const { stream_options: _dropped, ...rest } = request;
  return { ...rest, model: alias, stream: false, ...(logprobs ? { logprobs: true } : {}) };
}

function finish(request: ChatRequest, cascade: CascadeConfig, results: StageResult[], i: number, completion: ChatCompletion, reason: string): CascadeResult {
  // Logprobs the gateway asked for on its own account are not part of the answer the client asked for.
  const out = request.logprobs ? completion : { ...completion, choices: completion.choices.map(({ logprobs: _l, ...c }) => c) };
  return { completion: out, stage: cascade.stages[i]!, stageIndex: i, stageResults: results, totalCostUsd: sumCost(results), reason };
}

function sumCost(results: readonly StageResult[]): number {
  return results.reduce((a, r) => a + r.costUsd, 0);
}

/** A failed stage's trail, when its error carries one (the fast path's UpstreamRejected and catch-all errors do). */
function attemptsOf(err: unknown): Attempt[] {
  const a = (err as { attempts?: unknown } | null)?.attempts;
  return Array.isArray(a) ? (a as Attempt[]) : [];
}

/** A USD amount for a header: plain decimal (no exponent), at most 8 places, trailing zeros dropped. */
export function formatUsd(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  return n.toFixed(8).replace(/\.?0+$/, '');
}

/** One line for a header or a log: each stage tried and what happened, e.g. `mini:rejected(rules/refusal),gpt-4o:accepted`. */
export function describeCascade(result: Pick<CascadeResult, 'stageResults'>): string {
  return result.stageResults
    .map((s) => {
      const failed = s.verdicts.find((v) => !v.pass && !v.abstained);
      const why = s.outcome === 'rejected' && failed ? `(${failed.evaluator}${failed.check ? `/${failed.check}` : ''})` : '';
      return `${s.alias}:${s.outcome}${why}`;
    })
    .join(',');
}
