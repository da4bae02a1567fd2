/**
 * A cost-aware cascade for a model alias: try a cheap alias first, check its answer, and escalate to a
 * stronger one only when the check rejects it. It belongs under `models.<alias>.cascade` in gateway.yaml:
 *
 *   models:
 *     smart:
 *       groups: [...]
 *       cascade:
 *         stages: [nano, mini, gpt-4o]          # aliases, cheapest first; each planned with its own groups/fallback
 *         evaluators:
 *           - type: rules                      # free checks on the answer itself
 *             minChars: 20
 *           - type: logprobs                   # the model's own confidence (only where deployments have `logprobs`)
 *             stat: quantile
 *             q: 0.1
 *             threshold: -2.3                  # 10th-percentile token logprob ≥ ln(0.1)
 *           - type: judge                      # another model grades the answer 1-10
 *             alias: grader
 *             minScore: 7
 *         combine: all                         # every evaluator must accept (any: one is enough)
 *         onLastStageReject: last              # or `best`: the best-rated answer of every stage
 *
 * The free evaluators (rules, logprobs) run first, then each judge in the order listed, stopping as soon as
 * the outcome is decided (`all`: at the first reject; `any`: at the first accept): a judge is called, and
 * paid, only for answers the free checks let through.
 *
 * Stages are one hop: a stage alias is planned with its groups, downgrade and fallback policy, never its own
 * cascade or rules, so two cascades naming each other cannot loop.
 */
import { z } from 'zod';

/**
 * Checked against the head of the answer, case-insensitively: refusals announce themselves in the first
 * sentence, and a long answer that quotes "I cannot" further down is not one.
 */
export const DEFAULT_REFUSAL_PATTERNS = [
  String.raw`^\W*(I'?m|I am) (so |very |truly )?sorry\b`,
  String.raw`^\W*I apologi[sz]e\b`,
  String.raw`^\W*I (cannot|can'?t|can not|won'?t|will not|am unable to|am not able to|'m unable to|'m not able to) (help|assist|provide|comply|do that|answer|fulfil|fulfill|complete|support)`,
  String.raw`^\W*(Unfortunately|Sorry),? I (cannot|can'?t|am unable|'m unable|am not able)`,
  String.raw`^\W*As an AI( language model)?\b`,
];

const regexString = z.string().min(1).max(500).refine(
  (s) => {
    try {
      new RegExp(s, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

export const rulesEvaluatorSchema = z.strictObject({
  type: z.literal('rules'),
  /** Reject an answer with no text, no refusal and no tool call. */
  empty: z.boolean().default(true),
  /** Reject an answer cut off by the output budget (`finish_reason: length`). */
  length: z.boolean().default(true),
  /** Reject refusals: the `refusal` field, `finish_reason: content_filter`, or text matching `refusalPatterns`. */
  refusal: z.boolean().default(true),
  /** Case-insensitive regular expressions tried on the first 300 characters; `[]` keeps only the field checks. */
  refusalPatterns: z.array(regexString).max(64).default(DEFAULT_REFUSAL_PATTERNS),
  /** Reject a text answer shorter than this (trimmed); answers made of tool calls are exempt. */
  minChars: z.number().int().min(0).default(0),
  /**
   * When the request's `response_format` is `json_object`, the answer must parse as a JSON object; when it is
   * `json_schema`, it must also validate against the schema (ajv, draft-07 with formats).
   */
  json: z.boolean().default(true),
});

export const logprobsEvaluatorSchema = z.strictObject({
  type: z.literal('logprobs'),
  /** `mean` of the answer's token logprobs, or a low `quantile` of them (catches a few unsure tokens in a long answer). */
  stat: z.enum(['mean', 'quantile']).default('quantile'),
  /** The quantile for `stat: quantile` (0.1 = the 10th percentile). */
  q: z.number().min(0).max(1).default(0.1),
  /** Accept when the statistic is at least this (a natural-log probability: -0.69 ≈ p 0.5, -2.3 ≈ p 0.1). */
  threshold: z.number().max(0),
});

/** Placeholders a judge prompt may use; `{{answer}}` is required. */
export const JUDGE_PLACEHOLDERS = ['{{conversation}}', '{{question}}', '{{answer}}'] as const;

export const judgeEvaluatorSchema = z.strictObject({
  type: z.literal('judge'),
  /** The alias that grades (planned with its own groups and fallback). */
  alias: z.string().min(1),
  /** Accept at this score or above, on the 1-10 scale the judge is asked for. */
  minScore: z.number().int().min(1).max(10).default(7),
  /**
   * The judge's instructions, replacing the built-in ones. `{{answer}}` is replaced by the answer,
   * `{{question}}` by the last user message, `{{conversation}}` by the whole conversation. The judge is still
   * told to reply with `{"score": n, "reason": "..."}`.
   */
  prompt: z
    .string()
    .min(1)
    .max(20_000)
    .refine((p) => p.includes('{{answer}}'), { message: 'must contain {{answer}}' })
    .optional(),
  /**
   * What a judge reply without a readable score (or a judge call that failed) counts as. `pass` by default:
   * the judge sits on top of answers that already passed the free checks, and a judge that is down or
   * rambling should not silently send every request to the most expensive stage.
   */
  onUnparseable: z.enum(['pass', 'reject']).default('pass'),
  /** Output budget of the judge call. */
  maxTokens: z.number().int().min(16).max(4096).default(200),
});

export const evaluatorSchema = z.discriminatedUnion('type', [rulesEvaluatorSchema, logprobsEvaluatorSchema, judgeEvaluatorSchema]);

export const cascadeSchema = z.strictObject({
  /** Aliases, cheapest first. The last one's answer is returned even if rejected (see onLastStageReject). */
  stages: z
    .array(z.string().min(1))
    .min(2)
    .max(6)
    .refine((s) => new Set(s).size === s.length, { message: 'a stage is listed twice' }),
  evaluators: z.array(evaluatorSchema).min(1).max(8),
  /** `all`: accept when no evaluator rejects; `any`: accept when one accepts. */
  combine: z.enum(['all', 'any']).default('all'),
  /**
   * Every stage rejected: `last` returns the last stage's answer (which is then not evaluated at all: no
   * judge is paid for an answer that is returned anyway); `best` evaluates it too and returns the answer that
   * passed the largest share of its evaluators (then: higher judge score, then the later stage).
   */
  onLastStageReject: z.enum(['last', 'best']).default('last'),
});

export type RulesEvaluatorConfig = z.infer<typeof rulesEvaluatorSchema>;
export type LogprobsEvaluatorConfig = z.infer<typeof logprobsEvaluatorSchema>;
export type JudgeEvaluatorConfig = z.infer<typeof judgeEvaluatorSchema>;
export type EvaluatorConfig = z.infer<typeof evaluatorSchema>;
export type CascadeConfig = z.infer<typeof cascadeSchema>;
export type CascadeConfigInput = z.input<typeof cascadeSchema>;

export interface CascadeIssue {
  path: Array<string | number>;
  message: string;
}

/**
 * Cross-references a schema cannot see on its own, for the config's superRefine: stage and judge aliases
 * must exist, and the alias may not name itself (its stages are planned one hop, so it would never cascade).
 */
export function checkCascadeReferences(
  alias: string,
  cascade: CascadeConfig,
  cfg: { models: Readonly<Record<string, unknown>> },
): CascadeIssue[] {
  const issues: CascadeIssue[] = [];
  const at = ['models', alias, 'cascade'];
  cascade.stages.forEach((stage, i) => {
    if (stage === alias) issues.push({ path: [...at, 'stages', i], message: 'a cascade cannot name its own alias as a stage' });
    else if (!Object.hasOwn(cfg.models, stage)) issues.push({ path: [...at, 'stages', i], message: `unknown model alias '${stage}'` });
  });
  cascade.evaluators.forEach((ev, i) => {
    if (ev.type !== 'judge') return;
    if (ev.alias === alias) issues.push({ path: [...at, 'evaluators', i, 'alias'], message: 'a judge cannot be the cascade alias itself' });
    else if (!Object.hasOwn(cfg.models, ev.alias)) issues.push({ path: [...at, 'evaluators', i, 'alias'], message: `unknown model alias '${ev.alias}'` });
  });
  return issues;
}
