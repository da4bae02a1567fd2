/** Structured JSON logs (pino). Keys and auth headers are redacted by path wherever they might appear. */
import { pino, type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'llm-gateway' },
      redact: {
        paths: ['apiKey', '*.apiKey', 'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', 'headers["x-goog-api-key"]'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
