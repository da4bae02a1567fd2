/**
 * The route stage: what a request needs (traits), where its rules and semantic routes send it, and its plan,
 * made once per request. The durable route activity runs the same function when the ingress did not plan
 * (a workflow started before plans travelled with it, or a cascade stage).
 */
import type { GatewayConfig } from '../config/types.js';
import type { CascadeConfig } from '../config/cascade-schema.js';
import { TAGS_HEADER, tagsOf, type RuleMatch } from '../decision/capability.js';
import { withInputTokens } from '../decision/input-tokens.js';
import { NoRouteError, type Plan } from '../decision/plan.js';
import type { RouteHint } from '../decision/route-hints.js';
import { requestTraits, type RequestTraits } from '../decision/traits.js';
import type { FastPathExecutor } from '../execution/fast-executor.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import { invalidRequest, modelNotFound } from '../protocol/errors.js';
import type { SemanticIndex } from '../routing/semantic-index.js';
import { semanticMatch } from '../routing/semantic-match.js';
import { ownValue } from '../util/own-value.js';

export type Routed =
  | { kind: 'plan'; plan: Plan; traits: RequestTraits }
  /** A cascade plans each stage as it reaches it. */
  | { kind: 'cascade'; cascade: CascadeConfig; traits: RequestTraits };

export interface RouteDeps {
  config: GatewayConfig;
  executor: Pick<FastPathExecutor, 'plan'>;
  semantic?: SemanticIndex;
}

export interface RouteOptions {
  /** Header tags; metadata tags are read from the request. */
  tags?: string[];
  hint?: RouteHint;
  signal?: AbortSignal;
  /** Semantic routes apply to the alias the client named, not to cascade stages. */
  semantic?: boolean;
  /** Whose request it is: the embedder remembers the routed text for this tenant only. */
  tenant?: string;
}

/** What routing needs to know of a request: its needs, size (tokenizer-counted where it matters) and task tags. */
export function traitsOf(config: GatewayConfig, request: ChatRequest, headerTags: string[] = []): RequestTraits {
  const tags = tagsOf({ [TAGS_HEADER]: headerTags.join(',') }, request.metadata);
  const traits = requestTraits(request, tags);
  return ownValue(config.models, request.model) ? withInputTokens(config, request, traits) : traits;
}

/** Routes a request, or throws the client's 404 (unknown alias) / 400 (nothing can serve it). */
export async function routeRequest(deps: RouteDeps, request: ChatRequest, opts: RouteOptions = {}): Promise<Routed> {
  const model = ownValue(deps.config.models, request.model);
  const traits = traitsOf(deps.config, request, opts.tags);
  if (!model) throw modelNotFound(request.model);
  if (model.cascade) return { kind: 'cascade', cascade: model.cascade, traits };
  const semantic = opts.semantic === false ? undefined : await semanticMatch(deps.semantic, deps.config, request, opts.signal, opts.tenant);
  return { kind: 'plan', plan: planOrRefuse(deps, request.model, traits, opts.hint, semantic), traits };
}

function planOrRefuse(deps: RouteDeps, alias: string, traits: RequestTraits, hint: RouteHint | undefined, semantic: RuleMatch | undefined): Plan {
  try {
    return deps.executor.plan(alias, traits, { hint: hint ?? null, ...(semantic && { semantic }) });
  } catch (err) {
    if (err instanceof NoRouteError) {
      throw invalidRequest(err.message, err.param ?? 'model', err.reason);
    }
    throw err;
  }
}

/** The routing strategy as headers and logs name it. */
export function routeLabel(routed: Routed): { strategy: string; rule?: string } {
  if (routed.kind === 'cascade') return { strategy: 'cascade' };
  return { strategy: routed.plan.route.strategy, ...(routed.plan.route.rule && { rule: routed.plan.route.rule }) };
}
