/**
 * The cache's rules, as pure functions: what a request asks of the cache (its header), whether it may use
 * the cache at all, and whether an answer may be kept.
 */
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';

/**
 * `x-gateway-cache` on a request, comma-separated directives:
 * `no-cache` (do not answer from the cache; the fresh answer is still stored), `no-store` (do not keep this
 * answer), `ttl=SECONDS` (keep it this long instead of the configured TTL, at most `cache.maxTtlSeconds`: a
 * client's entry must not outlive what the operator allows, and `ttl=1e306` must not overflow an expiry time).
 */
export interface CacheControl {
  noCache: boolean;
  noStore: boolean;
  ttlSeconds?: number;
}

export class CacheControlError extends Error {}

/** `cache.maxTtlSeconds`'s default: a week. */
export const DEFAULT_MAX_TTL_SECONDS = 7 * 86_400;

export function parseCacheControl(header: string | undefined, maxTtlSeconds: number = DEFAULT_MAX_TTL_SECONDS): CacheControl {
  const control: CacheControl = { noCache: false, noStore: false };
  if (!header) return control;
  for (const raw of header.split(',')) {
    const d = raw.trim().toLowerCase();
    if (!d) continue;
    if (d === 'no-cache') control.noCache = true;
    else if (d === 'no-store') control.noStore = true;
    else if (d.startsWith('ttl=')) {
      const n = Number(d.slice(4));
      if (!Number.isInteger(n) || n <= 0) throw new CacheControlError(`x-gateway-cache: ttl must be a positive whole number of seconds, got '${d.slice(4)}'`);
      control.ttlSeconds = Math.min(n, maxTtlSeconds);
    } else {
      throw new CacheControlError(`x-gateway-cache: unknown directive '${raw.trim()}' (use no-cache, no-store, ttl=SECONDS)`);
    }
  }
  return control;
}

/** Why a request does not use the cache at all; undefined when it does. */
export function bypassReason(req: ChatRequest, maxTemperature: number): string | undefined {
  // An unset temperature is the provider's default, 1 for every major API.
  const temperature = req.temperature ?? 1;
  if (temperature > maxTemperature) return `temperature ${temperature} above ${maxTemperature}`;
  return undefined;
}

export interface StoreFacts {
  /** An evaluator judged the answer bad. */
  rejected?: boolean;
  /** A stream that did not reach its end. */
  incomplete?: boolean;
}

/** Why an answer must not be kept; undefined when it may be. Only whole, clean, wanted answers are. */
export function refuseToStore(c: ChatCompletion, facts: StoreFacts, storeToolCalls: boolean): string | undefined {
  if (facts.rejected) return 'rejected by an evaluator';
  if (facts.incomplete) return 'incomplete stream';
  if (c.choices.length === 0) return 'no choices';
  for (const choice of c.choices) {
    const calls = choice.message.tool_calls?.length ?? 0;
    if (calls > 0 && !storeToolCalls) return 'tool calls';
    if (choice.finish_reason !== 'stop' && !(choice.finish_reason === 'tool_calls' && storeToolCalls)) return `finish reason ${choice.finish_reason}`;
    if (!choice.message.content && calls === 0) return 'empty answer';
    if (choice.message.refusal) return 'refusal';
  }
  return undefined;
}
