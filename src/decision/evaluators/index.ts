/**
 * The default `evaluate` of a cascade (see cascade.ts): the evaluators that need no model call, run in
 * process. Pure, but it imports ajv (through rules.ts), which is why the cascade driver takes it injected:
 * the fast path passes `evaluateLocally` itself, the durable workflow a local activity that calls it.
 */
import type { EvaluatorConfig } from '../../config/cascade-schema.js';
import type { ChatRequest } from '../../protocol/chat-request.js';
import type { ChatCompletion } from '../../protocol/chat-response.js';
import { evaluateLogprobs } from './logprobs.js';
import { evaluateRules } from './rules.js';
import type { Verdict } from './types.js';

export type { Verdict, EvaluatorName } from './types.js';
export { evaluateRules } from './rules.js';
export { evaluateLogprobs } from './logprobs.js';
export { judgeRequest, readJudgeVerdict, unreadableJudgeVerdict } from './judge.js';

/** One verdict per rules/logprobs evaluator, in order; judges are skipped (the driver calls the judge model). */
export function evaluateLocally(request: ChatRequest, completion: ChatCompletion, evaluators: readonly EvaluatorConfig[]): Verdict[] {
  const out: Verdict[] = [];
  for (const ev of evaluators) {
    if (ev.type === 'rules') out.push(evaluateRules(request, completion, ev));
    else if (ev.type === 'logprobs') out.push(evaluateLogprobs(request, completion, ev));
  }
  return out;
}
