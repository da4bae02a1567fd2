/**
 * Reads a provider's "wait this long" hint. Pure: the clock is passed in, so the durable path can call it too.
 * Precedence follows specificity: milliseconds headers (OpenAI's retry-after-ms, Azure's x-ms-retry-after-ms)
 * beat the second-granular standard Retry-After (seconds or an HTTP date).
 */
export type HeaderLookup = (name: string) => string | undefined;

export function retryAfterMs(header: HeaderLookup, nowMs: number): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = header(name);
    if (v !== undefined && v.trim() !== '') {
      const ms = Number(v);
      if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
    }
  }
  const ra = header('retry-after')?.trim();
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.round(Number(ra) * 1000);
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
