/** A durable request's failure, mapped to the client's error by the same function the fast path uses. */
// No Temporal SDK import: ingress maps errors through this module on every path, and a gateway with the
// durable path off must not load @temporalio/*. The SDK's failure classes are told apart by the marker the SDK's
// own instanceof reads (isTemporalError); such an error only ever comes from a durable call.
import { IdempotencyConflict, isTemporalError, TemporalUnavailable } from '../durable/errors.js';
import { FAILURE_NO_ROUTE, FAILURE_SERVICE_BUSY, FAILURE_UPSTREAM_REJECTED, type NoRouteDetails, type ProviderFailureDetails } from '../durable/types.js';
import { ProviderError } from '../providers/errors.js';
import type { Attempt } from '../decision/attempt.js';
import { fromProviderError, HttpError, invalidRequest, serviceBusy } from '../protocol/errors.js';

export function httpErrorOfFailure(type: string | null | undefined, message: string, details: ProviderFailureDetails | undefined, alias: string): HttpError {
  if (type === FAILURE_UPSTREAM_REJECTED && details) {
    const failed = new ProviderError({ kind: details.kind, status: details.status, message, upstreamCode: details.upstreamCode });
    return fromProviderError(failed, details.attempts.at(-1)?.deployment);
  }
  if (type === FAILURE_SERVICE_BUSY) return serviceBusy(alias, details ? `last error: ${details.kind}` : message);
  if (type === FAILURE_NO_ROUTE) {
    const route = details as unknown as NoRouteDetails | undefined;
    return route?.status === 404 ? new HttpError(404, message, 'invalid_request_error', route.code, route.param) : invalidRequest(message, route?.param ?? 'model', route?.code ?? 'no_capable_deployment');
  }
  return new HttpError(500, message, 'server_error', type ?? 'durable_request_failed');
}

/** Seconds a client should wait before repeating a call Temporal could not take: about one reconnect back-off. */
export const DURABLE_RETRY_AFTER_S = 2;

/**
 * 503 + Retry-After while Temporal is unreachable. A submission that was sent but not answered names the id the
 * request has (it may be running): a repeat with the same Idempotency-Key or x-request-id finds it.
 */
export function unavailableError(err: TemporalUnavailable): HttpError {
  const id = err.requestId;
  const message = id
    ? `The durable path lost Temporal while taking request '${id}'; it may be running. Fetch GET /v1/requests/${id}, or repeat the call with the same Idempotency-Key, after ${DURABLE_RETRY_AFTER_S} s.`
    : `The durable path is unavailable right now (Temporal is unreachable). Please retry in ${DURABLE_RETRY_AFTER_S} s.`;
  return new HttpError(503, message, 'service_unavailable', 'durable_unavailable', null, {
    'retry-after': String(DURABLE_RETRY_AFTER_S),
    ...(id && { 'x-gateway-request-id': id }),
  });
}

/** What the gateway reads of an ApplicationFailure (the workflow's typed failures, durable/types.ts). */
interface ApplicationFailureView {
  type?: string | null;
  message: string;
  details?: unknown[] | null;
}

/** The workflow's ApplicationFailure when `err` is a WorkflowFailedError caused by one. */
function applicationFailureOf(err: unknown): ApplicationFailureView | undefined {
  if (!isTemporalError(err, 'WorkflowFailedError')) return undefined;
  const cause = (err as { cause?: unknown }).cause;
  return isTemporalError(cause, 'ApplicationFailure') ? (cause as ApplicationFailureView) : undefined;
}

/** An Idempotency-Key reused with another body: 409, for POST /v1/requests and a durable chat call alike. */
export function idempotencyConflictError(err: IdempotencyConflict): HttpError {
  return new HttpError(409, err.message, 'invalid_request_error', 'idempotency_key_reused', 'Idempotency-Key');
}

export function httpErrorOfWorkflow(err: unknown, alias: string): HttpError | undefined {
  if (err instanceof TemporalUnavailable) return unavailableError(err);
  // a durable chat call (x-gateway-durable) reusing a key, as POST /v1/requests answers it (submit.ts)
  if (err instanceof IdempotencyConflict) return idempotencyConflictError(err);
  if (!isTemporalError(err, 'WorkflowFailedError')) return undefined;
  const cause = (err as { cause?: { message?: string } }).cause;
  if (isTemporalError(cause, 'CancelledFailure')) return new HttpError(409, 'The request was cancelled', 'invalid_request_error', 'request_cancelled');
  const failure = applicationFailureOf(err);
  if (failure) return httpErrorOfFailure(failure.type, failure.message, failure.details?.[0] as ProviderFailureDetails | undefined, alias);
  return new HttpError(500, cause?.message ?? 'durable request failed', 'server_error', 'durable_request_failed');
}

/** The attempts a failed workflow made, for the request's log record and metrics. */
export function attemptsOfWorkflowError(err: unknown): Attempt[] | undefined {
  return (applicationFailureOf(err)?.details?.[0] as ProviderFailureDetails | undefined)?.attempts;
}

/** The workflow ended with the upstream's error for the client (its own fault), not with every deployment failing. */
export function isUpstreamRejection(err: unknown): boolean {
  return applicationFailureOf(err)?.type === FAILURE_UPSTREAM_REJECTED;
}
