/**
 * The durable error mapping recognises the SDK's failure classes without importing the SDK (issue #16): the
 * marker check must agree with the SDK's own instanceof, and the mapping must answer real SDK errors as before.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, RetryState, TerminatedFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { isTemporalError, TemporalUnavailable } from '../../src/durable/errors.js';
import { FAILURE_SERVICE_BUSY, FAILURE_UPSTREAM_REJECTED, type ProviderFailureDetails } from '../../src/durable/types.js';
import { attemptsOfWorkflowError, httpErrorOfWorkflow, isUpstreamRejection } from '../../src/pipeline/durable-errors.js';

const failed = (cause: Error | undefined) => new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE);

describe('isTemporalError', () => {
  const samples: Array<[string, unknown]> = [
    ['WorkflowFailedError', failed(undefined)],
    ['ApplicationFailure', ApplicationFailure.create({ message: 'x', type: 'T' })],
    ['CancelledFailure', new CancelledFailure('cancelled')],
    ['TerminatedFailure', new TerminatedFailure('terminated')],
    ['plain Error', new Error('x')],
    ['a look-alike by name', Object.assign(new Error('x'), { name: 'WorkflowFailedError' })],
    ['null', null],
    ['a string', 'WorkflowFailedError'],
  ];
  const classes = { WorkflowFailedError, ApplicationFailure, CancelledFailure } as const;

  for (const [label, value] of samples) {
    it(`agrees with the SDK's instanceof for ${label}`, () => {
      for (const [name, clazz] of Object.entries(classes)) {
        expect(isTemporalError(value, name as keyof typeof classes), name).toBe(value instanceof clazz);
      }
    });
  }

  it('tells the SDK classes apart (each sample is an instance of its own class only)', () => {
    expect(isTemporalError(failed(undefined), 'WorkflowFailedError')).toBe(true);
    expect(isTemporalError(failed(undefined), 'ApplicationFailure')).toBe(false);
    expect(isTemporalError(new CancelledFailure('c'), 'CancelledFailure')).toBe(true);
    expect(isTemporalError(new CancelledFailure('c'), 'ApplicationFailure')).toBe(false);
  });
});

describe('the durable error mapping over real SDK errors', () => {
  const details: ProviderFailureDetails = { kind: 'bad_request', status: 400, attempts: [{ deployment: 'd1', outcome: 'error' } as never] };

  it('answers an upstream rejection with the upstream error and its attempts', () => {
    const err = failed(ApplicationFailure.create({ message: 'bad input', type: FAILURE_UPSTREAM_REJECTED, details: [details], nonRetryable: true }));
    expect(isUpstreamRejection(err)).toBe(true);
    expect(attemptsOfWorkflowError(err)).toEqual(details.attempts);
    expect(httpErrorOfWorkflow(err, 'chat')?.status).toBe(400);
  });

  it('answers a busy service with 503 and is no upstream rejection', () => {
    const err = failed(ApplicationFailure.create({ message: 'all busy', type: FAILURE_SERVICE_BUSY, details: [details] }));
    expect(isUpstreamRejection(err)).toBe(false);
    expect(httpErrorOfWorkflow(err, 'chat')?.status).toBe(503);
  });

  it('answers a cancelled workflow with 409 request_cancelled', () => {
    const mapped = httpErrorOfWorkflow(failed(new CancelledFailure('cancelled')), 'chat');
    expect([mapped?.status, mapped?.code]).toEqual([409, 'request_cancelled']);
  });

  it('answers any other workflow failure with 500 carrying its message', () => {
    const mapped = httpErrorOfWorkflow(failed(new TerminatedFailure('terminated by operator')), 'chat');
    expect([mapped?.status, mapped?.message]).toEqual([500, 'terminated by operator']);
    expect(attemptsOfWorkflowError(failed(new TerminatedFailure('t')))).toBeUndefined();
  });

  it('leaves errors that are no workflow failure to the caller, and maps an unreachable Temporal to 503', () => {
    expect(httpErrorOfWorkflow(new Error('boom'), 'chat')).toBeUndefined();
    expect(httpErrorOfWorkflow(ApplicationFailure.create({ message: 'not wrapped', type: FAILURE_UPSTREAM_REJECTED }), 'chat')).toBeUndefined();
    expect(httpErrorOfWorkflow(new TemporalUnavailable('down'), 'chat')?.status).toBe(503);
  });
});
