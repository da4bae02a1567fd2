/** Polls `fn` until it gives a value (not undefined), or fails after `ms` naming what it waited for. */
export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
