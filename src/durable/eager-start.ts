/**
 * Eager workflow start, for a process that runs the worker too (role all, `npm start`): a start sent over the
 * worker's own connection asks the server to hand the first workflow task back in the start response, to that
 * worker, instead of queueing it in matching until a poll takes it: one round trip fewer before the request's
 * first step runs. The SDK (1.24) allows `requestEagerStart` only over a NativeConnection, and the core hands
 * the task only to a worker registered on that same connection (a client over a second NativeConnection of the
 * same process gets `eagerlyStarted: false`), hence the worker's own. The history is the same either way
 * (WorkflowExecutionStarted carries `eagerExecutionAccepted`), so replay is unaffected.
 * Without a local worker (role gateway), or while it is being replaced, starts go the plain way.
 */
import { Client, WorkflowExecutionAlreadyStartedError, type ClientOptions } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';

/** The process's own worker, as superviseWorker returns it. */
export interface LocalWorker {
  connection(): NativeConnection | undefined;
}

export class EagerStarts {
  private last?: { connection: NativeConnection; client: Client };

  constructor(
    private readonly local: LocalWorker,
    private readonly options: Omit<ClientOptions, 'connection'>,
  ) {}

  /** A client over the running local worker's connection; undefined while none runs. */
  client(): Client | undefined {
    const connection = this.local.connection();
    if (!connection) return undefined;
    if (this.last?.connection !== connection) this.last = { connection, client: new Client({ ...this.options, connection }) };
    return this.last.client;
  }
}

/**
 * Runs `start` over the local worker's connection (eager) when there is one, else over `plain`. An eager start
 * that failed because its worker went away meanwhile (its connection closed with it) is sent again the plain
 * way: a start is safe to repeat (the request's id-conflict policy returns the run the first one made).
 */
export async function startEagerlyIfLocal<T>(eager: Pick<EagerStarts, 'client'> | undefined, plain: Client, start: (client: Client, eager: boolean) => Promise<T>): Promise<T> {
  const local = eager?.client();
  if (!local) return start(plain, false);
  try {
    return await start(local, true);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError || eager!.client() === local) throw err;
    return start(plain, false);
  }
}
