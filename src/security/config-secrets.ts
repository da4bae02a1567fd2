/**
 * The secrets a config holds in plaintext, found by walking it rather than by a list of fields, so a block
 * added later (another provider type, an exporter, a store with a key) is covered without anyone remembering
 * to add it here: every string under a key-like field name (apiKey, token, secret, password, credentials),
 * and every value of a header map (provider headers, OTLP headers), which is where extra keys are carried.
 * Client and admin keys are configured as hashes only (keyHashesOf): they are found by hash (redact.ts).
 */

const SECRET_FIELD = /(?:api[-_]?key|token|secret|password|passphrase|credentials?)$/i;
const HEADER_MAP = /headers$/i;

export function secretsOf(config: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, secretHere: boolean, depth: number): void => {
    if (depth > 16 || value === null || value === undefined) return;
    if (typeof value === 'string') {
      if (secretHere) found.add(value);
      return;
    }
    if (typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const v of value) walk(v, secretHere, depth + 1);
      return;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      walk(v, secretHere || SECRET_FIELD.test(k) || HEADER_MAP.test(k), depth + 1);
    }
  };
  walk(config, false, 0);
  return [...found];
}

/** `sha256:<hex>` of every client key and of the admin key: the only form in which the config holds them. */
export function keyHashesOf(auth: { keys?: ReadonlyArray<{ hash: string }>; adminKeyHash?: string } | undefined): string[] {
  return [...(auth?.keys ?? []).map((k) => k.hash), ...(auth?.adminKeyHash ? [auth.adminKeyHash] : [])];
}
