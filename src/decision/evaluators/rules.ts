/**
 * Free checks on an answer itself: is it there, was it cut off, is it a refusal, is it long enough, is it the
 * JSON the request asked for. Pure; the first failing check decides, in that order of severity.
 */
import type { RulesEvaluatorConfig } from '../../config/cascade-schema.js';
import type { ChatRequest } from '../../protocol/chat-request.js';
import type { ChatCompletion } from '../../protocol/chat-response.js';
import { checkJsonAnswer } from './json-check.js';
import type { Verdict } from './types.js';

/** Refusals announce themselves early; see DEFAULT_REFUSAL_PATTERNS. */
const REFUSAL_HEAD_CHARS = 300;
const compiled = new WeakMap<readonly string[], RegExp[]>();

export function evaluateRules(request: ChatRequest, completion: ChatCompletion, cfg: RulesEvaluatorConfig): Verdict {
  const choice = completion.choices[0];
  const reject = (check: string, reason: string): Verdict => ({ pass: false, evaluator: 'rules', check, reason });
  if (!choice) return reject('empty', 'no choices in the answer');
  const msg = choice.message;
  const text = msg.content ?? '';
  const hasTools = (msg.tool_calls?.length ?? 0) > 0;

  if (cfg.refusal) {
    if (msg.refusal) return reject('refusal', `refused: ${clip(msg.refusal)}`);
    if (choice.finish_reason === 'content_filter') return reject('refusal', 'stopped by the content filter');
    const head = text.trimStart().slice(0, REFUSAL_HEAD_CHARS);
    const hit = patternsOf(cfg.refusalPatterns).find((re) => re.test(head));
    if (hit) return reject('refusal', `looks like a refusal (/${hit.source}/): ${clip(head)}`);
  }
  if (cfg.empty && !hasTools && text.trim() === '') return reject('empty', 'empty answer');
  if (cfg.length && choice.finish_reason === 'length') return reject('length', 'cut off by the output budget (finish_reason length)');
  if (!hasTools && text.trim().length < cfg.minChars) {
    return reject('min_chars', `${text.trim().length} characters, fewer than ${cfg.minChars}`);
  }
  const format = request.response_format;
  if (cfg.json && !hasTools && format && format.type !== 'text') {
    const check = checkJsonAnswer(
      text,
      format.type === 'json_object' ? format : { type: 'json_schema', schema: format.json_schema.schema },
    );
    if (check.ok === false) return reject('json', check.reason);
    if (check.ok === 'unchecked') return { pass: true, evaluator: 'rules', check: 'json', reason: check.reason };
  }
  return { pass: true, evaluator: 'rules', reason: 'all rule checks passed' };
}

function patternsOf(sources: readonly string[]): RegExp[] {
  let res = compiled.get(sources);
  if (!res) compiled.set(sources, (res = sources.map((s) => new RegExp(s, 'i'))));
  return res;
}

function clip(s: string, n = 80): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}
