/** A durable request's failure, in the same OpenAI error shape the fast path answers with. */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FAILURE_NO_ROUTE, FAILURE_SERVICE_BUSY, FAILURE_UPSTREAM_REJECTED, type ProviderFailureDetails } from '../../durable/types.js';
import { ProviderError } from '../../providers/errors.js';
import type { Attempt } from '../../decision/attempt.js';
import { fromProviderError, HttpError, invalidRequest, serviceBusy } from '../errors.js';

export function httpErrorOfFailure(type: string | null | undefined, message: string, details: ProviderFailureDetails | undefined, alias: string): HttpError {
  if (type === FAILURE_UPSTREAM_REJECTED && details) {
    return fromProviderError(new ProviderError({ kind: details.kind, status: details.status, message }), details.attempts.at(-1)?.deployment);
  }
  if (type === FAILURE_SERVICE_BUSY) return serviceBusy(alias, details ? `last error: ${details.kind}` : message);
  if (type === FAILURE_NO_ROUTE) return invalidRequest(message, 'model', 'no_capable_deployment');
  return new HttpError(500, message, 'server_error', type ?? 'durable_request_failed');
}

export function httpErrorOfWorkflow(err: unknown, alias: string): HttpError | undefined {
  if (!(err instanceof WorkflowFailedError)) return undefined;
  const cause = err.cause;
  if (cause instanceof CancelledFailure) return new HttpError(409, 'The request was cancelled', 'invalid_request_error', 'request_cancelled');
  if (cause instanceof ApplicationFailure) {
    return httpErrorOfFailure(cause.type, cause.message, cause.details?.[0] as ProviderFailureDetails | undefined, alias);
  }
  return new HttpError(500, cause?.message ?? 'durable request failed', 'server_error', 'durable_request_failed');
}

/** The attempts a failed workflow made, for the request's log record and metrics. */
export function attemptsOfWorkflowError(err: unknown): Attempt[] | undefined {
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  return (err.cause.details?.[0] as ProviderFailureDetails | undefined)?.attempts;
}
