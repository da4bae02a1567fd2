/** The limit store the config asks for: in memory (one instance) or Redis (several instances). */
import type { LimitStore } from './types.js';
import { MemoryLimitStore } from './memory-store.js';

export type { LimitStore, TakeResult } from './types.js';

export type LimitStoreConfig = { kind: 'memory' } | { kind: 'redis'; url: string; prefix?: string };

/** Async because the Redis store connects first (failing at startup, not on the first request). */
export async function createLimitStore(config: LimitStoreConfig): Promise<LimitStore> {
  if (config.kind === 'memory') return new MemoryLimitStore();
  // Loaded only when asked for, so a memory-only gateway never pays for ioredis.
  const { RedisLimitStore } = await import('./redis-store.js');
  return RedisLimitStore.connect(config.url, { prefix: config.prefix });
}
