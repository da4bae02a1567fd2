/** Readiness checks against Temporal: the embedded server runs, the server answers, and workers poll this gateway's task queue. */
import type { ReadinessCheck } from '../health/readiness.js';
import type { TemporalLink } from './connection.js';
import type { DevServer } from './dev-server.js';

/**
 * A poller is listed for minutes after its worker died; a live one renews its entry with every long poll
 * (at most ~60 s apart when idle), so an entry older than this belongs to a worker that is gone.
 */
export const POLLER_FRESH_MS = 75_000;

// temporal.api.enums.v1 values (the proto package is not a direct dependency)
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** The embedded dev server is up (not restarting after a death); its restarts so far are the detail. */
export function devServerRunning(devServer: DevServer): ReadinessCheck {
  return {
    name: 'temporalDevServer',
    run: async () => {
      if (devServer.state !== 'running') throw new Error(`embedded dev server ${devServer.state}`);
      return devServer.restarts > 0 ? `restarted ${devServer.restarts}×` : undefined;
    },
  };
}

export function temporalReachable(link: TemporalLink, timeoutMs = 1_000): ReadinessCheck {
  return { name: 'temporal', run: () => link.ping(timeoutMs) };
}

/** Workers polling both halves of the task queue (workflow tasks and the provider-call activities). */
export function workersPolling(link: TemporalLink, timeoutMs = 1_000): ReadinessCheck {
  const { connection, target } = link;
  const count = async (taskQueueType: number): Promise<number> => {
    const res = await connection.withDeadline(Date.now() + timeoutMs, () =>
      connection.workflowService.describeTaskQueue({
        namespace: target.namespace,
        taskQueue: { name: target.taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
        taskQueueType,
      }),
    );
    const now = Date.now();
    return (res.pollers ?? []).filter((p) => p.lastAccessTime?.seconds != null && now - Number(p.lastAccessTime.seconds) * 1000 < POLLER_FRESH_MS).length;
  };
  return {
    name: 'workers',
    async run() {
      const [workflow, activity] = await Promise.all([
        count(TASK_QUEUE_TYPE_WORKFLOW),
        count(TASK_QUEUE_TYPE_ACTIVITY),
      ]);
      if (workflow === 0 || activity === 0) throw new Error(`no worker polls task queue '${target.taskQueue}' (workflow pollers ${workflow}, activity pollers ${activity})`);
      return `task queue '${target.taskQueue}': ${workflow} workflow, ${activity} activity pollers`;
    },
  };
}
