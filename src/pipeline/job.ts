/** One request as the pipeline runs it: the canonical request and what the ingress read around it. */
import type { Principal } from '../auth/keys.js';
import type { RouteHint } from '../decision/route-hints.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { Trail } from './trail.js';

export interface ChatJob {
  request: ChatRequest;
  principal: Principal;
  /** Task tags from the `x-gateway-tags` header (metadata tags are in the request). */
  tags: string[];
  routeHint?: RouteHint;
  /** The raw `x-gateway-cache` directives. */
  cacheControl?: string;
  /** Run as a workflow (`x-gateway-durable`), answered when it ends. */
  durable: boolean;
  idempotencyKey?: string;
  /** The request id the client sees (`x-request-id`: its own, echoed, or one the gateway made). */
  requestId: string;
  /**
   * What this request is charged under: unique per request, made by the gateway (never the client's id).
   * Absent: the caller charges (a batch chunk charges each line once its answer is stored).
   */
  chargeId?: string;
  /** Wraps each provider call, e.g. to bound calls in flight per deployment (batch lines). */
  aroundCall?: <T>(deployment: string, call: () => Promise<T>) => Promise<T>;
  /** performance.now() when the request arrived. */
  startedAt: number;
  /** Fires when the client goes away. */
  signal: AbortSignal;
  trail: Trail;
}
