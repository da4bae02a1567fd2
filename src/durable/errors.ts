/**
 * The durable path's errors as the HTTP side sees them, without the Temporal SDK: a gateway with the durable
 * path off never loads @temporalio/* (~37 MB RSS), yet its error mapping and routes name these classes.
 */

/** Temporal could not be reached; `requestId` is set when a submission may have arrived all the same. */
export class TemporalUnavailable extends Error {
  constructor(
    message: string,
    readonly requestId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TemporalUnavailable';
  }
}

export class RequestNotFound extends Error {
  constructor(id: string) {
    super(`No request with id '${id}'`);
    this.name = 'RequestNotFound';
  }
}

export class IdempotencyConflict extends Error {
  constructor() {
    super('This Idempotency-Key was already used with a different request body');
    this.name = 'IdempotencyConflict';
  }
}

const failedRuns = new WeakMap<Error, string>();

/** Remembers which request a synchronous durable run's failure belongs to (DurableRequests.run). */
export function noteFailedRun(err: unknown, id: string): void {
  if (err instanceof Error) failedRuns.set(err, id);
}

/** The id of the request a `run` failure belongs to, so an error answer names it like a success does. */
export function requestIdOfFailure(err: unknown): string | undefined {
  return err instanceof Error ? failedRuns.get(err) : undefined;
}

/** The Temporal error classes the gateway's error mapping tells apart. */
export type TemporalErrorClass = 'WorkflowFailedError' | 'ApplicationFailure' | 'CancelledFailure';

/**
 * `err instanceof <name>` for the SDK's error classes, decided as the SDK decides it: its classes answer
 * instanceof by a marker under `Symbol.for('__temporal_is<name>')` on their prototype (SymbolBasedInstanceOfError
 * in @temporalio/common), so this needs no SDK import. test/unit/durable-errors-marker.test.ts holds it to the SDK's
 * own instanceof.
 */
export function isTemporalError(err: unknown, name: TemporalErrorClass): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[Symbol.for(`__temporal_is${name}`)] === true;
}
