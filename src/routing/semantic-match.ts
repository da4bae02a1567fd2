/**
 * A request's semantic route as a capability-rule match, ready for planRoute: the one call both paths make
 * (the fast path before planning, the durable path inside the route activity).
 */
import type { RoutingConfig } from '../config/types.js';
import { aliasPool, type RuleMatch } from '../decision/capability.js';
import { toRuleMatch } from '../decision/semantic-router.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { SemanticIndex } from './semantic-index.js';

export async function semanticMatch(
  index: SemanticIndex | undefined,
  cfg: RoutingConfig,
  request: ChatRequest,
  signal?: AbortSignal,
  tenant?: string,
): Promise<RuleMatch | undefined> {
  if (!index?.has(request.model)) return undefined;
  const routing = await index.classifyRequest(request.model, request, signal, tenant);
  if (!routing) return undefined;
  return toRuleMatch(routing, routing.target, routing.mode, cfg.deployments, aliasPool(cfg, request.model));
}
