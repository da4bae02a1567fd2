/**
 * Semantic routing of a model alias: routes described by example utterances; a request goes to the route
 * whose examples its last user message is most similar to. It belongs under `models.<alias>.semantic`:
 *
 *   models:
 *     assistant:
 *       groups: [...]
 *       semantic:
 *         embedder: default                   # the offline embedder (no downloads); `cache`: the cache's; or inline
 *         topK: 3
 *         aggregate: mean
 *         threshold: 0.12
 *         routes:
 *           - name: code
 *             examples: ["fix this python function", "why does my TypeScript build fail", ...]
 *             use: { alias: coder }             # same targets as capability rules: deployments, { tier }, { alias }
 *           - name: billing
 *             examples: ["I was charged twice this month", "how do I update my credit card", ...]
 *             use: { tier: [3] }
 *         default: [oa-mini]                  # below the threshold (absent: the alias's own groups)
 *
 * Scoring: the cosine similarity of the message to every example; per route, the mean (or max) of its `topK`
 * best; the best route wins if its score reaches `threshold`, else `default`. A route with fewer examples than
 * `topK` is scored over the ones it has.
 *
 * Thresholds depend on the embedder. The offline one is lexical (shared words and word pieces): a message that
 * uses none of a route's words scores near 0 however close in meaning, and an off-topic one that shares a few
 * words ("good night" vs a "good morning" example) scores like a weak match. With six examples a route and the
 * default scoring (mean of the top 3), twelve held-out on-topic messages scored 0.149-0.342 and four
 * off-topic ones 0.082-0.245 in test/unit/semantic-routing.test.ts: the default 0.12 keeps every on-topic one
 * and still lets two of the four off-topic ones through. More examples per route raise on-topic scores. A neural embedder (`kind: provider` or `kind: local`) scores paraphrases far higher and needs its
 * own threshold (typically 0.5-0.8).
 */
import { z } from 'zod';
import { embedderSchema } from '../embeddings/schema.js';
import { ruleTargetSchema, type RuleTarget } from './routing-rules-schema.js';

/** For the offline embedder with mean-of-top-3 scoring (see above). */
export const DEFAULT_SEMANTIC_THRESHOLD = 0.12;
/**
 * For a sentence model (all-MiniLM-L6-v2, mean of top 3): calibrated by bench/semantic-routing.ts on the demo's
 * routes (test/fixtures/semantic-routes.json; accuracy 0.94 on test/fixtures/semantic-routes-heldout.json, int8 and fp32 alike).
 */
export const MODEL_SEMANTIC_THRESHOLD = 0.24;

/** The threshold a route set uses: its own, else the one calibrated for the embedder that scores it. */
export function semanticThreshold(cfg: Pick<SemanticRoutingConfig, 'threshold'>, embedderId: string): number {
  return cfg.threshold ?? (embedderId.startsWith('offline') ? DEFAULT_SEMANTIC_THRESHOLD : MODEL_SEMANTIC_THRESHOLD);
}

/**
 * Which embedder: `default` (the offline one, 256 dimensions), `cache` (whatever `cache.embedder` is, so one
 * model serves both), or an embedder config of its own (src/embeddings/schema.ts).
 */
export const semanticEmbedderRefSchema = z.union([z.enum(['default', 'cache']), embedderSchema]);

export const semanticRouteSchema = z.strictObject({
  /** Shown in headers, logs and the decision's reason. */
  name: z.string().min(1).max(64),
  /** Utterances typical of the route; more and more varied examples make a sturdier route. */
  examples: z.array(z.string().trim().min(1).max(4_000)).min(1).max(500),
  use: ruleTargetSchema,
  /** As for capability rules: `prefer` keeps the alias's groups as the fallback chain, `only` does not. */
  mode: z.enum(['prefer', 'only']).default('prefer'),
});

export const semanticRoutingSchema = z.strictObject({
  embedder: semanticEmbedderRefSchema.default('default'),
  routes: z
    .array(semanticRouteSchema)
    .min(1)
    .max(64)
    .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, { message: 'route names must be unique' }),
  /** How many of a route's best-matching examples are aggregated into its score. */
  topK: z.number().int().min(1).max(50).default(3),
  aggregate: z.enum(['mean', 'max']).default('mean'),
  /** The least aggregated cosine similarity that picks a route; unset: calibrated per embedder (semanticThreshold). */
  threshold: z.number().min(-1).max(1).optional(),
  /** Where a message that reaches no route goes (mode `prefer`); absent: the alias's own groups. */
  default: ruleTargetSchema.optional(),
});

export type SemanticEmbedderRef = z.infer<typeof semanticEmbedderRefSchema>;
export type SemanticRouteConfig = z.infer<typeof semanticRouteSchema>;
export type SemanticRoutingConfig = z.infer<typeof semanticRoutingSchema>;
export type SemanticRoutingConfigInput = z.input<typeof semanticRoutingSchema>;

export interface SemanticIssue {
  path: Array<string | number>;
  message: string;
}

/**
 * Cross-references for the config's superRefine: the deployments and aliases routes name must exist, an alias
 * may not route to itself, and a provider embedder must name a configured provider.
 */
export function checkSemanticReferences(
  alias: string,
  semantic: SemanticRoutingConfig,
  cfg: {
    deployments: Readonly<Record<string, unknown>>;
    models: Readonly<Record<string, unknown>>;
    providers: Readonly<Record<string, unknown>>;
  },
): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const at = ['models', alias, 'semantic'];
  const checkTarget = (use: RuleTarget, path: Array<string | number>) => {
    if (Array.isArray(use)) {
      use.forEach((d, j) => {
        if (!Object.hasOwn(cfg.deployments, d)) issues.push({ path: [...path, j], message: `unknown deployment '${d}'` });
      });
    } else if ('alias' in use) {
      if (use.alias === alias) issues.push({ path: [...path, 'alias'], message: 'a semantic route cannot send an alias to itself' });
      else if (!Object.hasOwn(cfg.models, use.alias)) issues.push({ path: [...path, 'alias'], message: `unknown model alias '${use.alias}'` });
    }
  };
  semantic.routes.forEach((r, i) => checkTarget(r.use, [...at, 'routes', i, 'use']));
  if (semantic.default !== undefined) checkTarget(semantic.default, [...at, 'default']);
  const e = semantic.embedder;
  if (typeof e === 'object' && e.kind === 'provider' && !Object.hasOwn(cfg.providers, e.provider)) {
    issues.push({ path: [...at, 'embedder', 'provider'], message: `unknown provider '${e.provider}'` });
  }
  return issues;
}
