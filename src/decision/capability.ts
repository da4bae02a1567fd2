/**
 * Capability routing: which deployments should answer a request given what it is (its size, task tags and
 * needs), ahead of the alias's failover order. Pure: token counts come in as numbers (the tokenizer lives in
 * tokens.ts), headers and metadata as plain values.
 */
import type { Capability } from '../config/schema.js';
import type { DeploymentConfig, RoutingConfig } from '../config/types.js';
import { TAG_PATTERN, type CapabilityRule, type RuleCondition } from '../config/routing-rules-schema.js';
import { ownValue } from '../util/own-value.js';

export const TAGS_HEADER = 'x-gateway-tags';
export const TAGS_METADATA_KEY = 'tags';
// Bounds on what a client can make us parse: rules name a handful of tags, never kilobytes of them.
const MAX_TAGS = 16;
const MAX_TAG_CHARS = 1024;

export interface RequestFacts {
  /** Normalised task tags (see tagsOf). */
  tags: readonly string[];
  /** Provider-neutral input tokens: countInputTokens(req, 'openai', ...). */
  inputTokens: number;
  maxOutputTokens?: number;
  needs: readonly Capability[];
}

export interface RuleMatch {
  /** The winning rule's name, `rules[i]` if it has none. Absent: no rule matched. */
  rule?: string;
  /** Deployments to use, in order. */
  deployments?: string[];
  /** Another alias to plan instead. */
  alias?: string;
  /** prefer: the alias's own groups follow as fallback; only: they do not. */
  mode?: 'prefer' | 'only';
  /** For the plan, headers and logs: why this rule (or none). */
  reason: string;
}

/**
 * The first rule whose conditions all hold and whose target resolves to something wins. `pool` is what
 * `{ tier }` chooses from: the deployments the alias can reach, in its order (see aliasPool).
 */
export function applyCapabilityRules(
  rules: readonly CapabilityRule[],
  facts: RequestFacts,
  deployments: Readonly<Record<string, DeploymentConfig>>,
  pool: readonly string[],
): RuleMatch {
  const passedOver: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const why = conditionsHold(rule.when, facts);
    if (why === undefined) continue;
    const name = rule.name ?? `rules[${i}]`;
    const use = rule.use;
    if (!Array.isArray(use) && 'alias' in use) {
      return { rule: name, alias: use.alias, mode: rule.mode, reason: `rule '${name}' (${why}) → alias ${use.alias}` };
    }
    const chosen = Array.isArray(use)
      ? use.filter((d) => Object.hasOwn(deployments, d))
      : use.tier.flatMap((t) => pool.filter((d) => deployments[d]?.tier === t));
    const unique = [...new Set(chosen)];
    if (unique.length === 0) {
      passedOver.push(`'${name}' matched but names no reachable deployment`);
      continue;
    }
    return { rule: name, deployments: unique, mode: rule.mode, reason: `rule '${name}' (${why}) → ${unique.join(', ')}` };
  }
  return { reason: ['no rule matched', ...passedOver].join('; ') };
}

/** Why every given condition holds, or undefined if one does not. */
function conditionsHold(when: RuleCondition, f: RequestFacts): string | undefined {
  const why: string[] = [];
  if (when.minInputTokens !== undefined) {
    if (f.inputTokens < when.minInputTokens) return undefined;
    why.push(`input ${f.inputTokens} ≥ ${when.minInputTokens} tokens`);
  }
  if (when.maxInputTokens !== undefined) {
    if (f.inputTokens > when.maxInputTokens) return undefined;
    why.push(`input ${f.inputTokens} ≤ ${when.maxInputTokens} tokens`);
  }
  if (when.minOutputTokens !== undefined) {
    if ((f.maxOutputTokens ?? 0) < when.minOutputTokens) return undefined;
    why.push(`output budget ${f.maxOutputTokens} ≥ ${when.minOutputTokens}`);
  }
  if (when.tags !== undefined) {
    const hit = when.tags.find((t) => f.tags.includes(t));
    if (hit === undefined) return undefined;
    why.push(`tag ${hit}`);
  }
  if (when.needs !== undefined) {
    if (!when.needs.every((c) => f.needs.includes(c))) return undefined;
    why.push(`needs ${when.needs.join(', ')}`);
  }
  return why.join(', ');
}

const pools = new WeakMap<RoutingConfig, Map<string, readonly string[]>>();

/**
 * Every deployment an alias can reach, in plan order: its groups, then its downgrade chain's. Computed once per
 * config and alias: routing asks on every request, and a config never changes once loaded.
 */
export function aliasPool(cfg: RoutingConfig, alias: string): readonly string[] {
  let byAlias = pools.get(cfg);
  if (!byAlias) pools.set(cfg, (byAlias = new Map()));
  let pool = byAlias.get(alias);
  if (!pool) byAlias.set(alias, (pool = Object.freeze(computePool(cfg, alias))));
  return pool;
}

function computePool(cfg: RoutingConfig, alias: string): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (let a: string | undefined = alias; a !== undefined && !seen.has(a); a = ownValue(cfg.models, a)?.downgrade) {
    seen.add(a);
    for (const group of ownValue(cfg.models, a)?.groups ?? []) for (const m of group) out.add(m.deployment);
  }
  return [...out];
}

export interface ContextFilter {
  kept: string[];
  /** In the shape of Plan['skipped']. */
  skipped: Array<{ deployment: string; reason: string }>;
}

/**
 * Drops deployments whose context window cannot hold the request. `needed` is input plus output budget; a
 * function gives each deployment its own count, since estimates differ by provider.
 */
export function filterByContext(
  candidates: readonly string[],
  needed: number | ((d: DeploymentConfig) => number),
  deployments: Readonly<Record<string, DeploymentConfig>>,
): ContextFilter {
  const kept: string[] = [];
  const skipped: ContextFilter['skipped'] = [];
  for (const name of candidates) {
    const d = deployments[name];
    if (!d) {
      skipped.push({ deployment: name, reason: 'unknown deployment' });
      continue;
    }
    const n = typeof needed === 'number' ? needed : needed(d);
    if (n > d.contextWindow) skipped.push({ deployment: name, reason: `needs ${n} tokens, context window is ${d.contextWindow}` });
    else kept.push(name);
  }
  return { kept, skipped };
}

/**
 * Task tags of a request: the `x-gateway-tags` header and `metadata.tags`, both comma-separated, merged.
 * Trimmed and lower-cased; malformed ones are dropped rather than refused, so a client's typo falls through
 * to the alias's normal routing instead of failing the request.
 */
export function tagsOf(
  headers: Readonly<Record<string, string | readonly string[] | undefined>> | undefined,
  metadata: Readonly<Record<string, string>> | undefined,
): string[] {
  const raw: string[] = [];
  const header = headers ? (headers[TAGS_HEADER] ?? headerIgnoringCase(headers, TAGS_HEADER)) : undefined;
  if (typeof header === 'string') raw.push(header);
  else if (header) raw.push(...header);
  const meta = metadata?.[TAGS_METADATA_KEY];
  if (typeof meta === 'string') raw.push(meta);

  const tags = new Set<string>();
  for (const value of raw) {
    for (const piece of value.slice(0, MAX_TAG_CHARS).split(',')) {
      const tag = piece.trim().toLowerCase();
      if (TAG_PATTERN.test(tag)) tags.add(tag);
      if (tags.size === MAX_TAGS) return [...tags];
    }
  }
  return [...tags];
}

function headerIgnoringCase(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  name: string,
): string | readonly string[] | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}
