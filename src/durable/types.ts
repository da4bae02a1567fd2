/**
 * What crosses the Temporal boundary: workflow input, activity inputs and results, the query view.
 * Plain data only, and never a secret: deployments are named, keys are resolved inside activities.
 */
import type { Attempt, RunOutcomeLabel } from '../decision/attempt.js';
import type { Plan } from '../decision/plan.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { RoutingConfig } from '../config/types.js';
import type { ErrorKind } from '../providers/errors.js';
import type { RouteHint } from '../decision/route-hints.js';
import type { CascadeConfig } from '../config/cascade-schema.js';

export interface DurableRequestInput {
  request: ChatRequest;
  tenant: string;
  /** The gateway's request id, for correlating logs with the workflow. */
  requestId: string;
  /** Task tags (normalised) for capability rules. */
  tags?: string[];
  /** The client's x-gateway-route hint (e.g. fastest). */
  routeHint?: RouteHint;
  /**
   * The key id the worker charges the request to, at the end of the workflow. Set for every durable request
   * when keys are configured (POST /v1/requests and `x-gateway-durable: true` alike); the gateway never
   * charges durable work itself.
   */
  chargeTo?: string;
  /**
   * The plan the gateway made for the request (absent for cascades, and from gateways older than this
   * field): the route activity uses it instead of planning again, so a request is planned once.
   */
  plan?: Plan;
  routing?: RoutingConfig;
}

export interface RouteResult {
  /** Absent for a cascade alias, whose stages are routed one by one as the cascade reaches them. */
  plan?: Plan;
  /** The secret-free part of the config the plan's decisions need (context windows, policies, prices). */
  routing?: RoutingConfig;
  cascade?: { config: CascadeConfig; logprobsStages: string[] };
}

export interface CallProviderInput {
  request: ChatRequest;
  plan: Plan;
  routing: RoutingConfig;
  stepIndex: number;
  /** Provider attempts already made on this step before this activity was scheduled. */
  priorAttempts: number;
  /** Histories from before the charge-once-at-end patch only: the call charges its own cost to this key. */
  chargeTo?: string;
}

/** The chargeRequest activity: one charge per workflow, keyed by its id. */
export interface ChargeRequestInput {
  chargeId: string;
  keyId?: string;
  tenant?: string;
  alias: string;
  attempts: Attempt[];
}

export interface ChargeRequestResult {
  costUsd: number;
  /** false: this chargeId was charged before (a retry whose first try landed). */
  charged: boolean;
}

export interface CallProviderResult {
  completion: ChatCompletion;
  attempts: Attempt[];
}

/** Carried by a provider-call failure (ApplicationFailure details) and by heartbeats across Temporal retries. */
export interface ProviderFailureDetails {
  kind: ErrorKind;
  status?: number;
  /** The upstream's own error code, so both paths answer the same error with the same code. */
  upstreamCode?: string;
  retryAfterMs?: number;
  /** The deployment's circuit breaker refused the call; none was made. */
  circuitOpen?: boolean;
  attempts: Attempt[];
}

export interface CatchAllResult {
  completion?: ChatCompletion;
  source?: 'preset' | 'cache';
  /** For a cached (stale) answer: its similarity to the request. */
  similarity?: number;
  /** For a cached (stale) answer: the cache verifier's verdict (`verified`). */
  verdict?: string;
}

export interface DurableResult {
  completion: ChatCompletion;
  outcome: RunOutcomeLabel;
  deployment?: string;
  provider?: string;
  attempts: Attempt[];
  catchAll?: 'preset' | 'cache';
  /** With `catchAll: 'cache'`: the stale answer's similarity to the request. */
  cacheSimilarity?: number;
  /** With `catchAll: 'cache'`: the cache verifier's verdict on it, for x-gateway-cache-verdict. */
  cacheVerdict?: string;
  /** What the request cost: every attempt (cascade stages and judges included), as charged to the key. */
  costUsd?: number;
  /** Cascades: what happened at each stage. */
  cascade?: string;
}

/** The error a durable request ends with, in the shape the HTTP API returns. */
export interface DurableErrorDetails {
  status: number;
  type: string;
  code: string;
  message: string;
  attempts: Attempt[];
}

export interface RequestProgress {
  phase: 'routing' | 'calling' | 'waiting' | 'catch_all' | 'done';
  alias: string;
  attempts: Attempt[];
}

/** Carried by a FAILURE_NO_ROUTE failure: the client's error as the route stage gave it. */
export interface NoRouteDetails {
  status: number;
  code: string | null;
  param: string | null;
}

export const FAILURE_UPSTREAM_REJECTED = 'UpstreamRejected';
export const FAILURE_SERVICE_BUSY = 'ServiceBusy';
export const FAILURE_NO_ROUTE = 'NoRoute';

export const PROGRESS_QUERY = 'progress';
