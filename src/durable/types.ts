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
  /** The key id to charge the answer's spend to, when no HTTP response is left to settle it (POST /v1/requests). */
  chargeTo?: string;
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
  chargeTo?: string;
}

export interface CallProviderResult {
  completion: ChatCompletion;
  attempts: Attempt[];
}

/** Carried by a provider-call failure (ApplicationFailure details) and by heartbeats across Temporal retries. */
export interface ProviderFailureDetails {
  kind: ErrorKind;
  status?: number;
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
  /** Cascades: what every stage and judge cost together, and what happened at each stage. */
  costUsd?: number;
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

export const FAILURE_UPSTREAM_REJECTED = 'UpstreamRejected';
export const FAILURE_SERVICE_BUSY = 'ServiceBusy';
export const FAILURE_NO_ROUTE = 'NoRoute';

export const PROGRESS_QUERY = 'progress';
