/**
 * The model's own confidence in its answer, from the token logprobs it returned: their mean, or a low
 * quantile (a long answer with a few unsure tokens — a made-up number, a guessed name — keeps a high mean but
 * shows in its 10th percentile). Pure.
 *
 * An answer without logprobs (the deployment did not return them, or the answer is only tool calls) is not
 * evidence either way: the verdict abstains rather than rejecting, so a provider that ignores the parameter
 * does not force every request up the cascade.
 */
import type { LogprobsEvaluatorConfig } from '../../config/cascade-schema.js';
import type { ChatRequest } from '../../protocol/chat-request.js';
import type { ChatCompletion } from '../../protocol/chat-response.js';
import type { Verdict } from './types.js';

export function evaluateLogprobs(_request: ChatRequest, completion: ChatCompletion, cfg: LogprobsEvaluatorConfig): Verdict {
  const tokens = completion.choices[0]?.logprobs?.content ?? [];
  const values = tokens.map((t) => t.logprob).filter((v) => Number.isFinite(v) || v === -Infinity);
  if (values.length === 0) {
    return { pass: true, abstained: true, evaluator: 'logprobs', reason: 'no token logprobs in the answer' };
  }
  const stat = cfg.stat === 'mean' ? mean(values) : quantile(values, cfg.q);
  const label = cfg.stat === 'mean' ? 'mean logprob' : `q${cfg.q} logprob`;
  const pass = stat >= cfg.threshold;
  return {
    pass,
    evaluator: 'logprobs',
    score: stat,
    reason: `${label} ${fmt(stat)} ${pass ? '≥' : '<'} ${cfg.threshold} over ${values.length} tokens`,
  };
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Linear interpolation between closest ranks (the common "type 7" definition; numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  // -Infinity - -Infinity is NaN: equal neighbours need no interpolation.
  return lo === hi || a === b ? a : a + (b - a) * (pos - lo);
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toFixed(3) : String(n);
}
