/**
 * Encrypts every payload the gateway's Temporal clients and workers send (workflow and activity inputs and
 * results, signals, queries, updates, details), so prompts and answers are ciphertext in Temporal history.
 *
 * AES-256-GCM with a fresh 12-byte IV per payload; the whole original payload (its metadata and data, as the
 * Payload protobuf) is the plaintext, so its encoding is hidden too. The key id travels in the metadata
 * (`encryption-key-id`), and is the GCM additional data, so a payload names the key that opens it and cannot
 * be moved under another id. Payloads that are not `binary/encrypted` (histories from before encryption, the
 * recorded ones the replay test reads) pass through decode unchanged.
 *
 * Codecs run outside the workflow sandbox (client and worker side), so workflow bundles are unaffected.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
// A default import: Node's ESM loader cannot see `temporal` among this CommonJS module's named exports.
import proto from '@temporalio/proto';
import type { GatewayConfig } from '../config/types.js';
import { choosePayloadKeys, type PayloadKeyRing } from './payload-keys.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const ProtoPayload = proto.temporal.api.common.v1.Payload;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class PayloadDecryptError extends Error {
  override readonly name = 'PayloadDecryptError';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keys: PayloadKeyRing) {}

  /** The id new payloads are encrypted under (for logs and the codec endpoint). */
  get currentKeyId(): string {
    return this.keys.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (isEncrypted(p) ? this.decrypt(p) : p));
  }

  encrypt(payload: Payload): Payload {
    const { id, key } = this.keys.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(utf8.encode(id));
    const plain = ProtoPayload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { [METADATA_ENCODING_KEY]: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) }, data: sealed };
  }

  decrypt(payload: Payload): Payload {
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? fromUtf8.decode(idBytes) : '';
    const key = this.keys.byId.get(id);
    if (!key) {
      throw new PayloadDecryptError(
        `payload encrypted with key '${id || '(none)'}', which is not among the payload keys (${[...this.keys.byId.keys()].join(', ')}) from ${this.keys.source}: add it back to decrypt older history`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptError(`encrypted payload under key '${id}' is too short to hold an IV and tag`);
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(utf8.encode(id));
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptError(`encrypted payload under key '${id}' does not authenticate (a different key with the same id, or altered bytes)`);
    }
    const decoded = ProtoPayload.decode(plain);
    return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
  }
}

export function isEncrypted(payload: Payload): boolean {
  const enc = payload.metadata?.[METADATA_ENCODING_KEY];
  return !!enc && fromUtf8.decode(enc) === ENCRYPTED_ENCODING;
}

export interface PayloadCodecChoice {
  /** This process runs the embedded dev server (its generated key is good enough). */
  embedded: boolean;
  env?: NodeJS.ProcessEnv;
  logger?: { info(obj: object, msg: string): void; warn(msg: string): void };
}

/** The codec of this process's Temporal clients and workers; undefined: plaintext (a cluster, encryption optional). */
export function payloadCodecFor(config: Pick<GatewayConfig, 'dataDir' | 'durable'>, opts: PayloadCodecChoice): AesGcmPayloadCodec | undefined {
  const keys = choosePayloadKeys({
    env: opts.env,
    embedded: opts.embedded,
    dataDir: config.dataDir ?? '.data',
    encryption: config.durable.payloadEncryption,
    warn: (msg) => opts.logger?.warn(msg),
  });
  if (!keys) return undefined;
  opts.logger?.info({ encryptsWith: keys.current.id, decrypts: [...keys.byId.keys()], from: keys.source }, 'durable payloads are encrypted (AES-256-GCM)');
  return new AesGcmPayloadCodec(keys);
}
