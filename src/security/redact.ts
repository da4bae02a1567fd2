/**
 * Scrubs secrets out of text that came from somewhere the gateway does not control (an upstream's error body,
 * an exception's message) before it reaches a client, a log, a metric, Temporal history, the cache or a batch
 * file. Three nets: the exact secrets the gateway knows (configured keys, the presenting client's key), longest
 * first so a key that contains another is replaced whole; the keys it knows only by hash (client and admin
 * keys are configured as `sha256:<hex>`): any key-like token whose hash is one of them; and the shapes
 * well-known keys have, for the keys it does not know (an upstream echoing some other credential).
 */
import { createHash } from 'node:crypto';

export const REDACTED = '[redacted]';

/** Shorter values are not treated as secrets: replacing "test" or "none" everywhere would garble messages. */
export const MIN_SECRET_LENGTH = 8;

/**
 * Well-known key shapes. Each keeps its label (`Bearer `, `key=`) so a message still says what was there.
 * The body classes stop at quotes, spaces and JSON punctuation, so the rest of a message survives.
 */
const SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  // a bearer token, whatever it looks like
  [/\b(Bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${REDACTED}`],
  // header-style key fields: `x-api-key: …`, `"api-key":"…"`, `api_key=…` (values long enough to be keys, so
  // "x-api-key: header missing" survives)
  [/\b((?:x-goog-api-key|x-api-key|api[-_]?key|access[-_]?token|client[-_]?secret)["']?\s*[:=]\s*["']?)[A-Za-z0-9._~+/-]{16,}/gi, `$1${REDACTED}`],
  // a key in a query string (Gemini's `?key=…`)
  [/([?&](?:key|api[-_]?key|access_token)=)[^&\s"'#]{8,}/gi, `$1${REDACTED}`],
  // OpenAI (sk-…, sk-proj-…), Anthropic (sk-ant-…), and the like
  [/\bsk-[A-Za-z0-9_-]{12,}/g, REDACTED],
  // Google API keys
  [/\bAIza[0-9A-Za-z_-]{20,}/g, REDACTED],
  // this gateway's own client keys (`npm run keys -- new`: gw-<base64url>)
  [/\bgw-[A-Za-z0-9_-]{16,}/g, REDACTED],
  // JWTs (Temporal Cloud API keys, OAuth tokens)
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED],
  // AWS access key ids, GitHub, Hugging Face, Groq and Slack tokens
  [/\b(?:gsk_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})/g, REDACTED],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One alternation of the known secrets, longest first (the regex engine takes the first alternative that matches). */
function literalPattern(secrets: Iterable<string>): RegExp | undefined {
  const list = [...new Set([...secrets].filter((s) => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH))];
  if (list.length === 0) return undefined;
  list.sort((a, b) => b.length - a.length);
  return new RegExp(list.map(escapeRegExp).join('|'), 'g');
}

/**
 * Runs of key characters long enough to be a hashed key (shorter client keys are not looked for: hashing
 * every word of every log line would cost more than such keys are worth). Two alphabets: base64url and dash
 * (generated keys, most hand-made ones), so `key=…` or `….` around a key does not hide it; and the wider one
 * of keys that also use `.~+/=`.
 */
export const MIN_HASHED_KEY_LENGTH = 16;
const TOKEN = /[A-Za-z0-9_-]{16,}/g;
const WIDE_TOKEN = /[A-Za-z0-9._~+/=-]{16,}/g;
const WIDE_ONLY = /[.~+/=]/;

function sha256(s: string): string {
  return `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;
}

export class Redactor {
  private readonly literal: RegExp | undefined;
  private readonly hashes: ReadonlySet<string>;

  /** `keyHashes`: `sha256:<hex>` of keys whose plaintext the gateway never holds (client keys, the admin key). */
  constructor(secrets: Iterable<string> = [], keyHashes: Iterable<string> = []) {
    this.literal = literalPattern(secrets);
    this.hashes = new Set(keyHashes);
  }

  /**
   * `text` with every known secret and every key-shaped token replaced by `[redacted]`. `byHash: false` skips
   * the hash net (a SHA-256 per long token, ~50 µs on a 1 KB line): for log lines, whose upstream text was
   * scrubbed whole where it entered.
   */
  redact(text: string, byHash = true): string {
    if (!text) return text;
    let out = this.literal ? text.replace(this.literal, REDACTED) : text;
    if (byHash && this.hashes.size > 0) {
      out = out.replace(TOKEN, (token) => (this.hashes.has(sha256(token)) ? REDACTED : token));
      out = out.replace(WIDE_TOKEN, (token) => (WIDE_ONLY.test(token) && this.hashes.has(sha256(token)) ? REDACTED : token));
    }
    for (const [pattern, replacement] of SHAPES) out = out.replace(pattern, replacement);
    return out;
  }

  /** Only the exact secrets (no shapes, no hashes): for a model's answer, where key-like text may be legitimate. */
  redactKnown(text: string): string {
    return this.literal && text ? text.replace(this.literal, REDACTED) : text;
  }

  /** Strings anywhere inside a plain JSON-like value (objects, arrays), redacted; a new value, the input untouched. */
  redactDeep<T>(value: T, depth = 0): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (depth > 32 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v, depth + 1)) as T;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v, depth + 1);
    return out as T;
  }
}
