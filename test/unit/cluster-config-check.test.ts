/** How many HTTP processes to run, and which configs cannot run as several (src/cluster/config-check.ts). */
import { describe, expect, it } from 'vitest';
import { clusterProblems, processCount, processesFrom } from '../../src/cluster/config-check.js';
import type { GatewayConfig } from '../../src/config/types.js';

type Checked = Pick<GatewayConfig, 'auth' | 'cache'>;
const config = (auth: Partial<Checked['auth']>, cache?: Checked['cache']): Checked => ({ auth: { mode: 'keys', keys: [], store: { kind: 'memory' }, ...auth } as Checked['auth'], cache });
const redis = { store: { kind: 'redis' as const, url: 'redis://127.0.0.1:6379' } };

describe('processesFrom', () => {
  it('reads --processes N, --processes=N and auto, before GATEWAY_PROCESSES', () => {
    expect(processesFrom(['--processes', '3'], { GATEWAY_PROCESSES: '2' })).toBe(3);
    expect(processesFrom(['--processes=4'], {})).toBe(4);
    expect(processesFrom([], { GATEWAY_PROCESSES: 'auto' })).toBe('auto');
    expect(processesFrom([], {})).toBeUndefined();
    expect(processesFrom([], { GATEWAY_PROCESSES: '' })).toBeUndefined();
  });
  it('refuses what is not a whole number from 1 to 64', () => {
    for (const bad of ['0', '65', '1.5', 'two']) expect(() => processesFrom(['--processes', bad], {})).toThrow(/1 to 64, or auto/);
  });
});

describe('processCount', () => {
  it('auto is one per core, at least one', () => {
    expect(processCount('auto', 8)).toBe(8);
    expect(processCount('auto', 0)).toBe(1);
    expect(processCount(3, 8)).toBe(3);
  });
});

describe('clusterProblems', () => {
  it('has none for one process, whatever the config', () => {
    expect(clusterProblems(config({}), 'worker', 1)).toEqual([]);
  });
  it('refuses per-process limits when keys are checked, not when they are not', () => {
    expect(clusterProblems(config({}), 'all', 2).join()).toMatch(/auth.store.kind memory .* 2× its limits/);
    expect(clusterProblems(config({ mode: 'none' }), 'all', 2)).toEqual([]);
    expect(clusterProblems(config(redis), 'gateway', 2)).toEqual([]);
  });
  it('refuses the embedded cache when the cache is on, and role worker', () => {
    const embedded = { enabled: true, store: { kind: 'embedded' } } as unknown as Checked['cache'];
    expect(clusterProblems(config(redis, embedded), 'all', 2).join()).toMatch(/cache.store.kind embedded/);
    expect(clusterProblems(config(redis, { ...embedded!, enabled: false }), 'all', 2)).toEqual([]);
    expect(clusterProblems(config(redis), 'worker', 2).join()).toMatch(/HTTP roles/);
  });
});
