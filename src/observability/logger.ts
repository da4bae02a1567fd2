/**
 * Structured JSON logs (pino). Keys and auth headers are redacted by name at any depth up to four levels
 * (a config block, a request's headers, an error's request options), whatever object carries them
 * (log-redact.ts, which does what pino's `redact` paths did at a fraction of the cost). And every line, as
 * written, is scrubbed of the known secrets and key shapes (security/secrets.ts): a key inside a message or an
 * error's text has no field name to be found by. (Client keys known only by hash are looked for where upstream
 * text enters, not in every line: hashing each token costs ~50 µs a line.)
 */
import { destination as pinoDestination, pino, stdSerializers, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import { redactLogLine } from '../security/secrets.js';
import { SECRET_FIELDS, censorSecrets, censorValue } from './log-redact.js';

/** `field`, `*.field`, `*.*.field`, ...: the pino redaction paths log-redact.ts matches (kept for reference and tests). */
export const REDACT_PATHS = SECRET_FIELDS.map((f) => (/^\w+$/.test(f) ? f : `["${f}"]`)).flatMap((field) =>
  ['', '*', '*.*', '*.*.*', '*.*.*.*'].map((prefix) => (prefix ? `${prefix}${field.startsWith('[') ? '' : '.'}${field}` : field)),
);

/** The error serializer runs before stringifying, as pino's redaction did: the serialized error is what gets censored. */
const errSerializer = (err: unknown): unknown => {
  return censorValue(stdSerializers.err(err as Error));
};

/**
 * Standard output, written asynchronously: lines logged while a write is in flight go out together in the next
 * one, instead of one blocking write(2) per line (two per request, each waking the log reader): 5-11 % less CPU
 * per request at c=16/64 in an A/B run of bench/overhead.ts. The buffer is unbounded (a stalled log reader costs
 * memory, never a line: charge lines are the audit of money) and pino flushes it synchronously on exit; only a
 * kill -9 loses what was logged during the last write.
 */
function stdoutLines(): DestinationStream {
  return pinoDestination({ dest: 1, sync: false });
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'llm-gateway' },
      serializers: { err: errSerializer },
      formatters: {
        // `err` is left to its serializer above (censored after serializing); everything else here.
        log: (fields) => censorSecrets(fields, 'err'),
        bindings: (b) => censorSecrets(b),
      },
      hooks: { streamWrite: redactLogLine },
    },
    destination ?? stdoutLines(),
  );
  // A child's bindings skip formatters.bindings (pino resets it for children): censor them on the way in. Every
  // descendant inherits this `child`, since pino's children are made with Object.create(parent).
  // unbound: a grandchild is made from its own parent, `this`
  const child = logger.child as unknown as (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;
  const ownChild = function (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) {
    return child.call(this, censorSecrets(bindings), options);
  };
  Object.defineProperty(logger, 'child', { value: ownChild, writable: true, configurable: true });
  return logger;
}
