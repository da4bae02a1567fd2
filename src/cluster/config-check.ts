/**
 * How many HTTP processes to run (`server.processes`, `--processes`), and which configs cannot run as several:
 * state a process keeps for itself would silently become N copies. Pure: no I/O, the CPU count is passed in.
 */
import type { GatewayConfig } from '../config/types.js';

export type ProcessesSetting = number | 'auto';

/** `--processes N|auto` or `--processes=N`, else GATEWAY_PROCESSES; undefined: the config's value. */
export function processesFrom(argv: string[], env: NodeJS.ProcessEnv): ProcessesSetting | undefined {
  const i = argv.indexOf('--processes');
  const raw = (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--processes='))?.slice(12)) ?? env.GATEWAY_PROCESSES;
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'auto') return 'auto';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--processes must be a whole number from 1 to 64, or auto (got '${raw}')`);
  return n;
}

/** `auto`: one per core the machine offers. */
export function processCount(setting: ProcessesSetting, cores: number): number {
  return setting === 'auto' ? Math.max(1, cores) : setting;
}

/** Why this config cannot run in `processes` HTTP processes; empty when it can (or when processes is 1). */
export function clusterProblems(config: Pick<GatewayConfig, 'auth' | 'cache'>, role: 'all' | 'gateway' | 'worker', processes: number): string[] {
  if (processes <= 1) return [];
  const problems: string[] = [];
  if (role === 'worker') problems.push('server.processes applies to the HTTP roles (all, gateway): run more worker processes instead');
  if (config.auth.mode === 'keys' && config.auth.store.kind === 'memory') {
    problems.push(
      `auth.store.kind memory keeps rate limits and budgets per process: with ${processes} processes every key could use ${processes}× its limits (set auth.store.kind: redis)`,
    );
  }
  if (config.cache?.enabled && config.cache.store.kind === 'embedded') {
    problems.push('cache.store.kind embedded belongs to one process per directory: with several processes use cache.store.kind: qdrant');
  }
  return problems;
}
