/**
 * Deciding when the real tokenizer runs. Counting costs ~0.5 µs per token, which would dominate the fast
 * path's overhead on long prompts, so the cheap estimate stands unless a decision could flip on the
 * difference: a token rule's threshold or a context window within reach of the estimate.
 */
import type { RoutingConfig } from '../config/types.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import { aliasPool } from './capability.js';
import { countInputTokens } from './tokens.js';
import type { RequestTraits } from './traits.js';
import { ownValue } from '../util/own-value.js';

/** The character estimate is off by well under 2x on real text; beyond that margin the answer cannot change. */
const MARGIN = 2;

function near(estimate: number, threshold: number): boolean {
  return estimate * MARGIN >= threshold && estimate <= threshold * MARGIN;
}

export function needsPreciseCount(cfg: RoutingConfig, alias: string, traits: RequestTraits): boolean {
  const model = ownValue(cfg.models, alias);
  if (!model) return false;
  const est = traits.estimatedInputTokens;
  const out = traits.maxOutputTokens ?? 0;
  for (const rule of model.rules) {
    const w = rule.when;
    if (w.minInputTokens !== undefined && near(est, w.minInputTokens)) return true;
    if (w.maxInputTokens !== undefined && near(est, w.maxInputTokens)) return true;
  }
  return aliasPool(cfg, alias).some((d) => {
    const window = cfg.deployments[d]?.contextWindow;
    return window !== undefined && near(est + out, window);
  });
}

/** Traits with `inputTokens` filled: the o200k count when it matters, else the estimate. */
export function withInputTokens(cfg: RoutingConfig, req: ChatRequest, traits: RequestTraits): RequestTraits {
  if (traits.inputTokens !== undefined) return traits;
  const inputTokens = needsPreciseCount(cfg, req.model, traits)
    ? countInputTokens(req, 'openai', 'gpt-4o').tokens
    : traits.estimatedInputTokens;
  return { ...traits, inputTokens };
}

/**
 * Whether ordinary prompts may be counted: a token rule's threshold can sit anywhere, while a context window
 * (128k by default) is within reach only of prompts long enough that counting them costs more than loading
 * the tokenizer. The gateway loads the tokenizer at start when this holds, else on the first count.
 */
export function hasTokenRules(cfg: Pick<RoutingConfig, 'models'>): boolean {
  return Object.values(cfg.models).some((m) => m.rules.some((r) => r.when.minInputTokens !== undefined || r.when.maxInputTokens !== undefined));
}
