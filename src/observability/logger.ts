/**
 * Structured JSON logs (pino). Keys and auth headers are redacted by name at any depth up to four levels
 * (a config block, a request's headers, an error's request options), whatever object carries them. And
 * every line, as written, is scrubbed of the known secrets and key shapes (security/secrets.ts): a key inside
 * a message or an error's text has no field name to be found by. (Client keys known only by hash are looked
 * for where upstream text enters, not in every line: hashing each token costs ~50 µs a line.)
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactLogLine } from '../security/secrets.js';

/** Header names as Node and our adapters write them (lower case), plus the capitalised forms a config may use. */
const SECRET_FIELDS = ['apiKey', 'authorization', 'Authorization', '["x-api-key"]', '["X-Api-Key"]', '["api-key"]', '["x-goog-api-key"]', '["proxy-authorization"]'];

/** `field`, `*.field`, `*.*.field`, ...: pino's redaction has no "any depth" wildcard. */
export const REDACT_PATHS = SECRET_FIELDS.flatMap((field) =>
  ['', '*', '*.*', '*.*.*', '*.*.*.*'].map((prefix) => (prefix ? `${prefix}${field.startsWith('[') ? '' : '.'}${field}` : field)),
);

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'llm-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: redactLogLine },
    },
    destination,
  );
}
