/**
 * The logger's by-name redaction, without pino's `redact` option: that one, given wildcard paths (needed for "any
 * depth up to four"), runs a path matcher over every non-primitive value of every line, and on the request log
 * that was a tenth of the gateway's CPU. This walks each value once, allocates only when it finds a secret field
 * (copy on write: the caller's object is never changed), and gives the same output as the paths it replaces:
 * a field named in SECRET_FIELDS at the top of a line or up to four levels under a top-level value is censored.
 */

/** Header names as Node and our adapters write them (lower case), plus the capitalised forms a config may use. */
export const SECRET_FIELDS = ['apiKey', 'authorization', 'Authorization', 'x-api-key', 'X-Api-Key', 'api-key', 'x-goog-api-key', 'proxy-authorization'];
export const CENSOR = '[redacted]';

const SECRET = new Set(SECRET_FIELDS);
/** Levels under a top-level value at which a field is still censored (the old paths `*.*.*.*.field`). */
const MAX_DEPTH = 4;

const own = Object.prototype.hasOwnProperty;

/** A shallow copy that keeps what JSON.stringify sees: the prototype (toJSON) and the enumerable own fields. */
function copyOf(v: object): Record<string, unknown> {
  if (Array.isArray(v)) return v.slice() as unknown as Record<string, unknown>;
  return Object.assign(Object.create(Object.getPrototypeOf(v) as object | null) as object, v) as Record<string, unknown>;
}

/** `v` (at `level` under a top-level value) with the secret fields down to MAX_DEPTH censored; `v` when there is none. */
function censorUnder(v: unknown, level: number): unknown {
  if (typeof v !== 'object' || v === null || level > MAX_DEPTH) return v;
  let out: Record<string, unknown> | undefined;
  const obj = v as Record<string, unknown>;
  for (const key in obj) {
    if (!own.call(obj, key)) continue;
    const value = obj[key];
    let next: unknown;
    // Present is enough, as for pino's paths: a field holding undefined still shows up as censored.
    if (SECRET.has(key)) next = CENSOR;
    else next = censorUnder(value, level + 1);
    if (next !== value) (out ??= copyOf(obj))[key] = next;
  }
  return out ?? v;
}

/** A top-level value of a line with the secret fields under it censored (the logger's serialized `err`). */
export const censorValue = (v: unknown): unknown => censorUnder(v, 1);

/**
 * A line's fields (or a child logger's bindings) with secrets censored: a top-level secret field whatever its
 * value, and secret fields inside the other values. The object itself when there is nothing to censor. `leave`: a
 * field left as it is (the logger's `err`, censored by its serializer once serialized).
 */
export function censorSecrets<T extends object>(fields: T, leave?: string): T {
  let out: Record<string, unknown> | undefined;
  const obj = fields as Record<string, unknown>;
  for (const key in obj) {
    if (!own.call(obj, key) || key === leave) continue;
    const value = obj[key];
    // An undefined top-level field is left out of the line before redaction, as pino does.
    const next = SECRET.has(key) ? (value === undefined ? value : CENSOR) : censorUnder(value, 1);
    if (next !== value) (out ??= { ...obj })[key] = next;
  }
  return (out ?? fields) as T;
}
