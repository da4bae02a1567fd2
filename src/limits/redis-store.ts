/**
 * The Redis limit store, for several gateway instances sharing limits (standalone Redis >= 5; not Cluster).
 * Every operation is one Lua script, so it is atomic, and reads Redis's own clock (TIME) rather than the
 * caller's, so instances with skewed clocks still agree. Same algorithms as the memory store: a window is a
 * sliding log in a sorted set (member `<id>:<units>`, score = admission ms) plus its running sum in a string,
 * so a take costs O(log n + expired entries) instead of rescanning the log. Every key carries a TTL.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { duration, finite, units, type LimitStore, type TakeResult } from './types.js';

// Redis >= 5 replicates script effects, which is what makes writes after the non-deterministic TIME legal.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fmt(x) return string.format('%.17g', x) end`;

// KEYS[1] = the log, KEYS[2] = its running sum. The sum is rebuilt from the log if it is ever missing.
const LOG = `${NOW}
local function units(m) return tonumber(string.match(m, ':([^:]+)$')) end
local function live(cutoff)
  local used = tonumber(redis.call('GET', KEYS[2]))
  if used then
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)) do used = used - units(m) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
  if not used then
    used = 0
    for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do used = used + units(m) end
  end
  return math.max(0, used)
end
local function save(used)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('SET', KEYS[2], fmt(used), 'PX', ttl) else redis.call('DEL', KEYS[2]) end
end`;

const TAKE = `${LOG}
local cost, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used = live(now - window)
if used + cost <= limit then
  if cost > 0 then
    redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. ARGV[1])
    redis.call('PEXPIRE', KEYS[1], window)
  end
  save(used + cost)
  return {1, fmt(limit - used - cost), 0}
end
save(used)
local retry = window
if cost <= limit then
  local left = used
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    left = left - units(entries[i])
    if left + cost <= limit then retry = math.max(1, tonumber(entries[i + 1]) + window - now); break end
  end
end
return {0, fmt(math.max(0, limit - used)), retry}`;

// Unconditional: usage learnt after admission goes in even past the limit (later takes wait for it to drain).
const RECORD = `${LOG}
local cost, window = tonumber(ARGV[1]), tonumber(ARGV[3])
local used = live(now - window)
if cost > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[2] .. ':' .. ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window)
end
save(used + cost)
return 0`;

// Oldest first, like the memory store (see there for why). ZREM of the last member deletes the key and its
// TTL, so the TTL is put back on whatever the loop re-adds.
const REFUND = `${LOG}
local cost, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = live(now - window)
local ttl = redis.call('PTTL', KEYS[1])
while cost > 0 do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #first == 0 then break end
  local u = units(first[1])
  local back = math.min(u, cost)
  redis.call('ZREM', KEYS[1], first[1])
  if u > back then redis.call('ZADD', KEYS[1], first[2], string.match(first[1], '^(.*):') .. ':' .. fmt(u - back)) end
  used, cost = used - back, cost - back
end
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ttl) end
save(math.max(0, used))
return 0`;

// A sorted set of leases scored by expiry; the key lives as long as its longest lease.
const ACQUIRE = `${NOW}
local limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

// The TTL is set by the first spend only: a calendar bucket ends at a fixed time, however busy it is.
const ADD_SPEND = `local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total`;

// KEYS[1] = the charge's mark, KEYS[2..] = spend buckets; ARGV[1] = usd, ARGV[2] = the mark's TTL, ARGV[3..] =
// each bucket's TTL. Mark and spend in one script: a charge retried after a lost reply cannot count twice.
const ADD_SPEND_ONCE = `if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then return 0 end
for i = 2, #KEYS do
  redis.call('INCRBYFLOAT', KEYS[i], ARGV[1])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[i + 1]) end
end
return 1`;

type Scripted = Redis & {
  llmgwRecord(log: string, sum: string, cost: number, id: string, windowMs: number): Promise<number>;
  llmgwAddSpendOnce(numKeys: number, ...args: (string | number)[]): Promise<number>;
  llmgwTake(log: string, sum: string, cost: number, limit: number, windowMs: number, id: string): Promise<[number, string, number]>;
  llmgwRefund(log: string, sum: string, cost: number, windowMs: number): Promise<number>;
  llmgwAcquire(key: string, limit: number, ttlMs: number, lease: string): Promise<number>;
  llmgwAddSpend(key: string, usd: number, ttlMs: number): Promise<string>;
};

/** Enough digits that INCRBYFLOAT adds exactly the double the caller computed. */
function fmtUsd(usd: number): string {
  return usd.toPrecision(17);
}

export interface RedisLimitStoreOptions {
  /** Namespaces every key, so several gateways (or other apps) can share one Redis. */
  prefix?: string;
  /** A limit check sits on every request's path: fail it rather than hang when Redis stalls. */
  commandTimeoutMs?: number;
  /** Connection errors after startup (commands still reject on their own); ioredis logs them if unset. */
  onError?: (err: Error) => void;
}

export class RedisLimitStore implements LimitStore {
  private constructor(
    private readonly redis: Scripted,
    private readonly prefix: string,
  ) {}

  static async connect(url: string, opts: RedisLimitStoreOptions = {}): Promise<RedisLimitStore> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, commandTimeout: opts.commandTimeoutMs ?? 2000 });
    if (opts.onError) redis.on('error', opts.onError);
    redis.defineCommand('llmgwTake', { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand('llmgwRefund', { numberOfKeys: 2, lua: REFUND });
    redis.defineCommand('llmgwAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand('llmgwAddSpend', { numberOfKeys: 1, lua: ADD_SPEND });
    redis.defineCommand('llmgwRecord', { numberOfKeys: 2, lua: RECORD });
    // Variable key count: the caller passes it first.
    redis.defineCommand('llmgwAddSpendOnce', { lua: ADD_SPEND_ONCE });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect(); // otherwise it keeps reconnecting in the background and holds the process open
      throw err;
    }
    return new RedisLimitStore(redis as Scripted, opts.prefix ?? 'llmgw:');
  }

  // One namespace per kind of state, so the same caller key can be a window, a slot set and a bucket at once
  // (as it can in the memory store) without a WRONGTYPE error.
  private log(key: string): [string, string] {
    return [`${this.prefix}rate:${key}`, `${this.prefix}rate-used:${key}`];
  }

  async take(key: string, cost: number, limit: number, windowMs: number): Promise<TakeResult> {
    units('cost', cost);
    units('limit', limit);
    windowMs = duration('windowMs', windowMs);
    const [ok, remaining, retryAfterMs] = await this.redis.llmgwTake(...this.log(key), cost, limit, windowMs, randomUUID());
    return { allowed: ok === 1, remaining: Number(remaining), retryAfterMs };
  }

  async record(key: string, cost: number, windowMs: number): Promise<void> {
    units('cost', cost);
    await this.redis.llmgwRecord(...this.log(key), cost, randomUUID(), duration('windowMs', windowMs));
  }

  async refund(key: string, cost: number, windowMs: number): Promise<void> {
    units('cost', cost);
    await this.redis.llmgwRefund(...this.log(key), cost, duration('windowMs', windowMs));
  }

  async acquire(key: string, limit: number, ttlMs: number): Promise<{ ok: boolean; lease?: string }> {
    units('limit', limit);
    const lease = randomUUID();
    const ok = await this.redis.llmgwAcquire(`${this.prefix}slots:${key}`, limit, duration('ttlMs', ttlMs), lease);
    return ok === 1 ? { ok: true, lease } : { ok: false };
  }

  async release(key: string, lease: string): Promise<void> {
    await this.redis.zrem(`${this.prefix}slots:${key}`, lease);
  }

  async addSpend(bucket: string, usd: number, ttlMs: number): Promise<number> {
    finite('usd', usd);
    return Number(await this.redis.llmgwAddSpend(`${this.prefix}spend:${bucket}`, usd, duration('ttlMs', ttlMs)));
  }

  async addSpendOnce(chargeId: string, onceTtlMs: number, usd: number, buckets: readonly { bucket: string; ttlMs: number }[]): Promise<boolean> {
    finite('usd', usd);
    const once = duration('onceTtlMs', onceTtlMs);
    const ttls = buckets.map((b) => duration('ttlMs', b.ttlMs));
    const keys = [`${this.prefix}charge:${chargeId}`, ...buckets.map((b) => `${this.prefix}spend:${b.bucket}`)];
    return (await this.redis.llmgwAddSpendOnce(keys.length, ...keys, fmtUsd(usd), once, ...ttls)) === 1;
  }

  async getSpend(bucket: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}spend:${bucket}`)) ?? 0);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
