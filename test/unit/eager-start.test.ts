/**
 * Which client a durable start goes over: the local worker's (eager) while one runs, else the plain one; an
 * eager start lost with its worker is sent again the plain way, any other failure is the start's own.
 */
import { describe, expect, it } from 'vitest';
import { Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { EagerStarts, startEagerlyIfLocal } from '../../src/durable/eager-start.js';

/** Stand-ins: only their identity matters to the code under test. */
const plain = { name: 'plain' } as unknown as Client;
const local = { name: 'local' } as unknown as Client;
const fakeConnection = () => ({ workflowService: {}, operatorService: {}, healthService: {}, withDeadline: async (_d: number, fn: () => unknown) => fn() }) as unknown as NativeConnection;

describe('startEagerlyIfLocal', () => {
  it('without a local worker: the plain client, not eager', async () => {
    const calls: Array<[Client, boolean]> = [];
    await startEagerlyIfLocal(undefined, plain, async (c, eager) => void calls.push([c, eager]));
    await startEagerlyIfLocal({ client: () => undefined }, plain, async (c, eager) => void calls.push([c, eager]));
    expect(calls).toEqual([
      [plain, false],
      [plain, false],
    ]);
  });

  it("with a running local worker: over its client, eagerly, once", async () => {
    const calls: Array<[Client, boolean]> = [];
    const out = await startEagerlyIfLocal({ client: () => local }, plain, async (c, eager) => (calls.push([c, eager]), 'run-1'));
    expect(out).toBe('run-1');
    expect(calls).toEqual([[local, true]]);
  });

  it('an eager start that failed as its worker went away is sent again the plain way', async () => {
    let worker: Client | undefined = local;
    const calls: Array<[Client, boolean]> = [];
    const out = await startEagerlyIfLocal({ client: () => worker }, plain, async (c, eager) => {
      calls.push([c, eager]);
      if (eager) {
        worker = undefined;
        throw new Error('connection closed');
      }
      return 'run-plain';
    });
    expect(out).toBe('run-plain');
    expect(calls).toEqual([
      [local, true],
      [plain, false],
    ]);
  });

  it('a failure with the worker still there, or an existing run, is the start’s own: no second start', async () => {
    for (const err of [new Error('deadline exceeded'), new WorkflowExecutionAlreadyStartedError('exists', 'req-1', 'requestWorkflow')]) {
      let worker: Client | undefined = local;
      let starts = 0;
      const attempt = startEagerlyIfLocal({ client: () => worker }, plain, async () => {
        starts++;
        if (err instanceof WorkflowExecutionAlreadyStartedError) worker = undefined;
        throw err;
      });
      await expect(attempt).rejects.toBe(err);
      expect(starts).toBe(1);
    }
  });
});

describe('EagerStarts', () => {
  it('one client per worker connection, a new one when the worker was replaced, none while it is down', () => {
    const first = fakeConnection();
    const second = fakeConnection();
    let current: NativeConnection | undefined = first;
    const starts = new EagerStarts({ connection: () => current }, { namespace: 'default' });
    const a = starts.client();
    expect(a).toBeInstanceOf(Client);
    expect(a!.connection).toBe(first);
    expect(starts.client()).toBe(a);
    current = undefined;
    expect(starts.client()).toBeUndefined();
    current = second;
    const b = starts.client();
    expect(b).not.toBe(a);
    expect(b!.connection).toBe(second);
  });
});
