/**
 * Semantic routing, the pure part: given the message's vector and every route's example vectors (all
 * L2-normalised, so a dot product is the cosine similarity), which route wins and by how much. The vectors
 * come from src/routing/semantic-index.ts, which owns the embedder.
 *
 * Per route: the `topK` highest similarities among its examples, aggregated by mean or max. The best route
 * wins when its score reaches the threshold; below it the decision names no route and the caller uses the
 * configured default (or the alias's own groups). Ties go to the route listed first.
 *
 * `toRuleMatch` turns a decision into the capability rules' `RuleMatch`, so planning treats a semantic route
 * exactly like a matched rule (same target resolution: deployments, `{ tier }`, `{ alias }`).
 */
import type { RuleTarget } from '../config/routing-rules-schema.js';
import type { DeploymentConfig } from '../config/types.js';
import { dot } from '../embeddings/types.js';
import type { RuleMatch } from './capability.js';

export interface RouteVectors {
  name: string;
  /** The route's examples, embedded and normalised. */
  vectors: readonly Float32Array[];
}

export interface SemanticScoring {
  topK: number;
  aggregate: 'mean' | 'max';
  threshold: number;
}

export interface SemanticDecision {
  /** The winning route; absent when no route reached the threshold. */
  route?: string;
  /** The best route's aggregated score (whether or not it reached the threshold); -1 with no routes. */
  score: number;
  /** Every route's aggregated score, by name. */
  scores: Record<string, number>;
  reason: string;
}

export function routeByExamples(query: Float32Array, routes: readonly RouteVectors[], scoring: SemanticScoring): SemanticDecision {
  const scores: Record<string, number> = {};
  let best: { name: string; score: number } | undefined;
  let second: { name: string; score: number } | undefined;
  for (const r of routes) {
    const score = aggregate(
      r.vectors.map((v) => dot(query, v)),
      scoring,
    );
    scores[r.name] = score;
    if (!best || score > best.score) [best, second] = [{ name: r.name, score }, best];
    else if (!second || score > second.score) second = { name: r.name, score };
  }
  if (!best) return { score: -1, scores, reason: 'no semantic routes' };
  const runnerUp = second ? `; next '${second.name}' ${fmt(second.score)}` : '';
  if (best.score >= scoring.threshold) {
    return { route: best.name, score: best.score, scores, reason: `semantic route '${best.name}' (${fmt(best.score)} ≥ ${scoring.threshold}${runnerUp})` };
  }
  return { score: best.score, scores, reason: `no semantic route: best '${best.name}' ${fmt(best.score)} < ${scoring.threshold}` };
}

/** Mean or max of the k largest; a route with fewer than k examples is scored over the ones it has. */
export function aggregate(similarities: readonly number[], scoring: Pick<SemanticScoring, 'topK' | 'aggregate'>): number {
  if (similarities.length === 0) return -1;
  const top = [...similarities].sort((a, b) => b - a).slice(0, scoring.topK);
  return scoring.aggregate === 'max' ? top[0]! : top.reduce((a, b) => a + b, 0) / top.length;
}

/**
 * The decision as a capability-rule match. `target` is the winning route's `use` (or the default's, with
 * mode `prefer`); `pool` is what `{ tier }` picks from, the alias's reachable deployments in order
 * (capability.ts `aliasPool`). A target that resolves to no deployment is no match, as for rules.
 */
export function toRuleMatch(
  decision: SemanticDecision,
  target: RuleTarget | undefined,
  mode: 'prefer' | 'only',
  deployments: Readonly<Record<string, DeploymentConfig>>,
  pool: readonly string[],
): RuleMatch {
  if (!target) return { reason: decision.reason };
  const label = decision.route ?? 'default';
  if (!Array.isArray(target) && 'alias' in target) {
    return { rule: `semantic:${label}`, alias: target.alias, mode, reason: `${decision.reason} → alias ${target.alias}` };
  }
  const chosen = Array.isArray(target)
    ? target.filter((d) => Object.hasOwn(deployments, d))
    : target.tier.flatMap((t) => pool.filter((d) => deployments[d]?.tier === t));
  const unique = [...new Set(chosen)];
  if (unique.length === 0) return { reason: `${decision.reason}; its target names no reachable deployment` };
  return { rule: `semantic:${label}`, deployments: unique, mode, reason: `${decision.reason} → ${unique.join(', ')}` };
}

function fmt(n: number): string {
  return n.toFixed(3);
}
