/**
 * The entry point's one decision about processes: run this process as the gateway (one process, or a cluster
 * child), or as the primary of `server.processes` children. A config that cannot run as several processes
 * stops here with its reasons, before any child is forked.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { clusterProblems, processCount, processesFrom } from './config-check.js';
import { runPrimary } from './primary.js';

/** True when this process became the primary (it serves nothing itself); false: start the gateway here. */
export async function startClusterIfAsked(
  config: GatewayConfig,
  role: 'all' | 'gateway' | 'worker',
  argv: string[],
  env: NodeJS.ProcessEnv,
  logger: Logger,
  temporalAddress?: string,
): Promise<boolean> {
  if (!cluster.isPrimary) return false;
  let processes: number;
  try {
    processes = processCount(processesFrom(argv, env) ?? config.server.processes, availableParallelism());
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (processes <= 1) return false;
  const problems = clusterProblems(config, role, processes);
  if (problems.length > 0 || role === 'worker') {
    console.error(`Cannot run ${processes} gateway processes:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exit(2);
  }
  const durable = config.durable.enabled;
  await runPrimary({ processes, role, durable, embedsTemporal: role === 'all' && durable && !(temporalAddress ?? config.durable.temporal.address), logger });
  return true;
}
