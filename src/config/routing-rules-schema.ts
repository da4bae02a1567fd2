/**
 * Capability rules of a model alias: which deployments answer a request, decided by what the request is
 * rather than by the alias's failover order alone. They belong under `models.<alias>.rules` in gateway.yaml:
 *
 *   models:
 *     gpt-4o:
 *       groups: [...]
 *       downgrade: gpt-4o-mini
 *       rules:
 *         - name: long-context
 *           when: { minInputTokens: 100000 }
 *           use: [oa-gpt41, gem-pro]            # these deployments, in this order
 *           mode: only
 *         - name: classify
 *           when: { tags: [classify, extract] }
 *           use: { tier: [3, 2] }               # the smallest models this alias can reach
 *         - name: vision
 *           when: { needs: [vision] }
 *           use: { alias: gpt-4o-vision }       # another alias, with its own groups and fallback
 *
 * Evaluation: rules are tried in order and the FIRST whose every `when` condition holds wins; a rule whose
 * `use` resolves to no deployment is passed over. No match: the alias's groups as usual.
 *
 * Task tags come from the request: the `x-gateway-tags` header and/or `metadata.tags`, both comma-separated
 * (`x-gateway-tags: classify,fast`). They are trimmed and lower-cased; the two sources are merged.
 *
 * Input tokens are the gateway's provider-neutral count: o200k_base with OpenAI's chat framing (what
 * `countInputTokens(req, 'openai', ...)` returns), so one threshold means the same thing for every provider.
 */
import { z } from 'zod';
import { CAPABILITIES } from './capabilities.js';

/** A task tag: lower-case letters, digits and `_ . : -`, as `tagsOf` normalises request tags. */
export const TAG_PATTERN = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
export const tagSchema = z
  .string()
  .transform((t) => t.trim().toLowerCase())
  .pipe(z.string().regex(TAG_PATTERN, 'lower-case letters, digits, _ . : - (at most 64)'));

/** Every condition given must hold (AND). At least one is required: an unconditional rule would shadow the rest. */
export const ruleConditionSchema = z
  .strictObject({
    /** The request's input tokens are at least this many. */
    minInputTokens: z.number().int().min(0).optional(),
    /** ...and at most this many (e.g. send short prompts to a fast model). */
    maxInputTokens: z.number().int().min(0).optional(),
    /** The output budget the client asked for (max_tokens / max_completion_tokens) is at least this. */
    minOutputTokens: z.number().int().min(1).optional(),
    /** The request carries at least ONE of these tags. */
    tags: z.array(tagSchema).min(1).optional(),
    /** The request needs ALL of these capabilities (vision: it has images; tools: it offers tools; ...). */
    needs: z.array(z.enum(CAPABILITIES)).min(1).optional(),
  })
  .refine((w) => Object.values(w).some((v) => v !== undefined), { message: 'give at least one condition' })
  .refine((w) => w.minInputTokens === undefined || w.maxInputTokens === undefined || w.minInputTokens <= w.maxInputTokens, {
    message: 'minInputTokens is above maxInputTokens',
    path: ['maxInputTokens'],
  });

/**
 * Where a matching request goes:
 * - a list of deployment names, tried in that order;
 * - `{ tier: [...] }`: the deployments this alias can reach (its groups, then its downgrade chain) of those
 *   tiers, listed tiers first-to-last, each in the alias's own order;
 * - `{ alias: name }`: another alias, planned with its own groups, downgrade and fallback policy (but not
 *   its rules: one hop, so two aliases pointing at each other cannot loop).
 */
export const ruleTargetSchema = z.union([
  z.array(z.string().min(1)).min(1),
  z.strictObject({ tier: z.array(z.number().int().min(1)).min(1) }),
  z.strictObject({ alias: z.string().min(1) }),
]);

export const capabilityRuleSchema = z.strictObject({
  /** Shown in the plan, the answer's headers and logs; `rules[i]` when absent. */
  name: z.string().min(1).max(64).optional(),
  when: ruleConditionSchema,
  use: ruleTargetSchema,
  /**
   * `prefer` (default): the rule's choice first, then the alias's groups as the fallback chain.
   * `only`: the rule's choice alone (e.g. long prompts, where the other deployments cannot fit anyway).
   */
  mode: z.enum(['prefer', 'only']).default('prefer'),
});

export const capabilityRulesSchema = z.array(capabilityRuleSchema).max(32);

export type RuleCondition = z.infer<typeof ruleConditionSchema>;
export type RuleTarget = z.infer<typeof ruleTargetSchema>;
export type CapabilityRule = z.infer<typeof capabilityRuleSchema>;
export type CapabilityRuleInput = z.input<typeof capabilityRuleSchema>;

export interface RuleIssue {
  path: Array<string | number>;
  message: string;
}

/**
 * Cross-references a schema cannot see on its own, for the config's superRefine: deployments and aliases a
 * rule names must exist, and an alias may not send requests back to itself.
 */
export function checkRuleReferences(
  alias: string,
  rules: readonly CapabilityRule[],
  cfg: { deployments: Readonly<Record<string, unknown>>; models: Readonly<Record<string, unknown>> },
): RuleIssue[] {
  const issues: RuleIssue[] = [];
  rules.forEach((rule, i) => {
    const at = ['models', alias, 'rules', i, 'use'];
    const use = rule.use;
    if (Array.isArray(use)) {
      use.forEach((d, j) => {
        if (!Object.hasOwn(cfg.deployments, d)) issues.push({ path: [...at, j], message: `unknown deployment '${d}'` });
      });
    } else if ('alias' in use) {
      if (use.alias === alias) issues.push({ path: [...at, 'alias'], message: 'a rule cannot send an alias to itself' });
      else if (!Object.hasOwn(cfg.models, use.alias)) issues.push({ path: [...at, 'alias'], message: `unknown model alias '${use.alias}'` });
    }
  });
  return issues;
}
