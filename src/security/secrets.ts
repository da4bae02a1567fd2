/**
 * The process's set of known secrets and the one redactor built from it, for the places where upstream text
 * enters the gateway (ProviderError), the logger and the durable failure path. Every loaded config adds its
 * secrets (the set only grows: a gateway and a worker, or a reloaded config, share one process, and scrubbing
 * a key that is no longer configured costs nothing). Client and admin keys are configured as hashes: any
 * key-like token whose hash is one of them is scrubbed, on the worker too. The key a client presented is also
 * scoped to its request (`withPresentedKey`, AsyncLocalStorage), which catches the shorter keys the hash net
 * does not look for.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { MIN_SECRET_LENGTH, Redactor } from './redact.js';

const known = new Set<string>();
const hashes = new Set<string>();
let shared = new Redactor();
/** Built on first use: most requests never redact anything, and a regex per request is not free. */
interface Presented {
  key: string;
  redactor?: Redactor;
}
const presented = new AsyncLocalStorage<Presented>();

/**
 * Adds secrets (plaintext) and key hashes (`sha256:<hex>` of keys the gateway holds only hashed) to the
 * process-wide sets; the redactor is rebuilt once, and only when something new came in.
 */
export function registerSecrets(secrets: Iterable<string>, keyHashes: Iterable<string> = []): void {
  let added = false;
  for (const s of secrets) {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH || known.has(s)) continue;
    known.add(s);
    added = true;
  }
  for (const h of keyHashes) {
    if (typeof h !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(h) || hashes.has(h)) continue;
    hashes.add(h);
    added = true;
  }
  if (added) shared = new Redactor(known, hashes);
}

/** Runs `fn` with `key` (a client's presented key) scrubbed from everything redacted inside it, async work included. */
export function withPresentedKey<T>(key: string | undefined, fn: () => T): T {
  if (!key || key.length < MIN_SECRET_LENGTH || known.has(key)) return fn();
  return presented.run({ key }, fn);
}

/** The redactor for here and now: the process's secrets, plus the presenting client's key inside its request. */
export function currentRedactor(): Redactor {
  const scope = presented.getStore();
  if (!scope) return shared;
  scope.redactor ??= new Redactor([...known, scope.key], hashes);
  return scope.redactor;
}

/**
 * The redactor for `text`: the request's own (the presented key added to the process's secrets) only when the
 * text holds that key, since where it does not the two give the same result, and most texts (every log line)
 * do not: building the request's redactor compiles a regex.
 */
function redactorFor(text: string): Redactor {
  const scope = presented.getStore();
  if (!scope || (!scope.redactor && !text.includes(scope.key))) return shared;
  return currentRedactor();
}

export function redact(text: string): string {
  return redactorFor(text).redact(text);
}

/** For every log line: the known secrets and the shapes, without the hash net (see Redactor.redact). */
export function redactLogLine(line: string): string {
  return redactorFor(line).redact(line, false);
}

export function redactDeep<T>(value: T): T {
  return currentRedactor().redactDeep(value);
}

/** The exact known secrets only (configured keys, and inside a request the key it presented): for answers. */
export function redactKnownSecrets(text: string): string {
  return redactorFor(text).redactKnown(text);
}
