/**
 * The keys that encrypt durable payloads (prompts, answers) in Temporal history. They come from the
 * environment, `GATEWAY_PAYLOAD_KEYS="k2:<base64 of 32 bytes>,k1:<…>"`: the first encrypts, every listed key
 * decrypts, so a key is rotated by putting a new one first and dropping the old one once no history needs it.
 *
 * Without the variable, the embedded dev server (`npm start`) uses a key generated once into the data dir
 * (mode 0600), so the demo encrypts too; against a configured cluster the gateway refuses to start unless
 * `durable.payloadEncryption` is `optional` (then it warns and writes plaintext).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PAYLOAD_KEYS_ENV = 'GATEWAY_PAYLOAD_KEYS';

/** The file `npm start` keeps its generated key in, inside the data dir. */
export const DEV_KEY_FILE = 'payload-keys';

export interface PayloadKey {
  id: string;
  key: Buffer;
}

export interface PayloadKeyRing {
  /** The key new payloads are encrypted with. */
  current: PayloadKey;
  /** Every key that may decrypt, by id (the current one included). */
  byId: ReadonlyMap<string, Buffer>;
  /** Where the keys came from, for the start-up log (never the keys). */
  source: string;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses `id:base64,id:base64`; throws with a message that names the bad entry (never its key). */
export function parsePayloadKeys(text: string, source = PAYLOAD_KEYS_ENV): PayloadKeyRing {
  const entries = text
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e.length > 0 && !e.startsWith('#'));
  if (entries.length === 0) throw new Error(`${source} lists no keys (expected "id:<base64 of 32 bytes>,…")`);
  const byId = new Map<string, Buffer>();
  const keys: PayloadKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new Error(`${source}: entry ${i + 1} needs an id of letters, digits, '.', '_' or '-' before ':' (expected "id:<base64 of 32 bytes>")`);
    const encoded = entry.slice(colon + 1);
    const key = Buffer.from(encoded, 'base64');
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded) || key.length !== 32) {
      throw new Error(`${source}: key '${id}' must be 32 bytes in base64 (${key.length} bytes given); make one with \`openssl rand -base64 32\``);
    }
    if (byId.has(id)) throw new Error(`${source}: key id '${id}' is listed twice`);
    byId.set(id, key);
    keys.push({ id, key });
  }
  return { current: keys[0]!, byId, source };
}

/** A fresh key line, `id:<base64>`, as an operator would add it to GATEWAY_PAYLOAD_KEYS. */
export function newPayloadKeyEntry(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** The dev server's key file: created once (0600, only this user can read it), then read at every start. */
export function devPayloadKeys(dataDir: string): PayloadKeyRing {
  const file = join(dataDir, DEV_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const id = `dev-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    // wx: two starts racing never overwrite each other's key (the loser reads the winner's file)
    try {
      writeFileSync(file, `# payload keys of the embedded Temporal dev server (the first encrypts); keep this file private\n${newPayloadKeyEntry(id)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(file, 0o600);
  return parsePayloadKeys(readFileSync(file, 'utf8'), file);
}

export type PayloadEncryption = 'required' | 'optional';

export interface PayloadKeyChoice {
  env?: NodeJS.ProcessEnv;
  /** The process runs its own dev server: a generated key in the data dir is good enough. */
  embedded: boolean;
  dataDir: string;
  encryption: PayloadEncryption;
  warn?: (msg: string) => void;
}

/** The key ring this process uses, or undefined (plaintext payloads) where the config allows it. */
export function choosePayloadKeys(opts: PayloadKeyChoice): PayloadKeyRing | undefined {
  const fromEnv = (opts.env ?? process.env)[PAYLOAD_KEYS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parsePayloadKeys(fromEnv);
  if (opts.embedded) return devPayloadKeys(opts.dataDir);
  if (opts.encryption === 'required') {
    throw new Error(
      `${PAYLOAD_KEYS_ENV} is not set: prompts and answers would be stored in plaintext in the Temporal cluster's history. ` +
        `Set it (the same value on every gateway and worker), e.g. ${PAYLOAD_KEYS_ENV}="k1:$(openssl rand -base64 32)", ` +
        'or set durable.payloadEncryption: optional to run without encryption.',
    );
  }
  opts.warn?.(`${PAYLOAD_KEYS_ENV} is not set: durable prompts and answers are stored in plaintext in Temporal history (durable.payloadEncryption: optional)`);
  return undefined;
}
