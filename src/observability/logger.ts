/**
 * Structured JSON logs (pino). Keys and auth headers are redacted by name at any depth up to four levels
 * (a config block, a request's headers, an error's request options), whatever object carries them.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

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
    },
    destination,
  );
}
