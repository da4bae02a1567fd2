/**
 * The claim check of the durable path: a payload (workflow input, activity input or result, update result) whose
 * encoded size is above `durable.claimCheck.thresholdBytes` is written to a blob store and replaced in Temporal
 * history by a small reference, `encoding: json/claim-check`, `{ key, sha256, size }`. Decode fetches the blob
 * and refuses it unless its sha256 matches the reference, so an altered blob never reaches a workflow.
 *
 * It is a PayloadCodec, so workflow code is unchanged and every path (request and batch workflows, sync and
 * async) is covered. It runs after the encryption codec on encode: the store only ever holds ciphertext.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
// A default import: Node's ESM loader cannot see `temporal` among this CommonJS module's named exports.
import proto from '@temporalio/proto';
import { durableSchema } from '../config/schema.js';
import type { DurableConfig, GatewayConfig } from '../config/types.js';
import { DirectoryBlobStore, type ClaimCheckStore } from './claim-check-store.js';

export const CLAIM_CHECK_ENCODING = 'json/claim-check';

const ProtoPayload = proto.temporal.api.common.v1.Payload;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export interface ClaimCheckReference {
  key: string;
  sha256: string;
  /** Bytes of the stored payload. */
  size: number;
}

export class ClaimCheckError extends Error {
  override readonly name = 'ClaimCheckError';
}

export class ClaimCheckCodec implements PayloadCodec {
  constructor(
    readonly store: ClaimCheckStore,
    readonly thresholdBytes: number,
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.offload(p)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => (isClaimCheck(p) ? this.fetch(p) : p)));
  }

  private async offload(payload: Payload): Promise<Payload> {
    const bytes = ProtoPayload.encode(payload).finish();
    if (bytes.length <= this.thresholdBytes) return payload;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.store.put(sha256, bytes);
    const ref: ClaimCheckReference = { key: sha256, sha256, size: bytes.length };
    return { metadata: { [METADATA_ENCODING_KEY]: utf8.encode(CLAIM_CHECK_ENCODING) }, data: utf8.encode(JSON.stringify(ref)) };
  }

  private async fetch(payload: Payload): Promise<Payload> {
    const ref = referenceOf(payload);
    const bytes = await this.store.get(ref.key);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== ref.sha256 || bytes.length !== ref.size) {
      throw new ClaimCheckError(`claim-check blob ${ref.key} in ${this.store.where} does not match its reference (sha256 ${actual}, ${bytes.length} bytes): it was altered, refusing it`);
    }
    const decoded = ProtoPayload.decode(bytes);
    return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
  }
}

export function isClaimCheck(payload: Payload): boolean {
  const enc = payload.metadata?.[METADATA_ENCODING_KEY];
  return !!enc && fromUtf8.decode(enc) === CLAIM_CHECK_ENCODING;
}

export function referenceOf(payload: Payload): ClaimCheckReference {
  let ref: Partial<ClaimCheckReference>;
  try {
    ref = JSON.parse(fromUtf8.decode(payload.data ?? new Uint8Array())) as Partial<ClaimCheckReference>;
  } catch {
    throw new ClaimCheckError('claim-check reference is not JSON');
  }
  if (typeof ref.key !== 'string' || typeof ref.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(ref.sha256) || typeof ref.size !== 'number') {
    throw new ClaimCheckError('claim-check reference must be { key, sha256, size }');
  }
  return ref as ClaimCheckReference;
}

/**
 * Codecs applied as one: encode in order, decode in reverse (the order of Temporal's own `payloadCodecs`). The
 * codec endpoint and the clients see a single codec; `currentKeyId` is the encryption codec's, if any.
 */
export class ChainedPayloadCodec implements PayloadCodec {
  constructor(readonly codecs: readonly PayloadCodec[]) {}

  get currentKeyId(): string | undefined {
    for (const c of this.codecs) {
      const id = (c as { currentKeyId?: string }).currentKeyId;
      if (id) return id;
    }
    return undefined;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    let out = payloads;
    for (const c of this.codecs) out = await c.encode(out);
    return out;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    let out = payloads;
    for (const c of [...this.codecs].reverse()) out = await c.decode(out);
    return out;
  }
}

/** Encryption first, then the claim check (so blobs are ciphertext); either may be absent. */
export function withClaimCheck(encryption: PayloadCodec | undefined, claimCheck: ClaimCheckCodec): PayloadCodec {
  return new ChainedPayloadCodec(encryption ? [encryption, claimCheck] : [claimCheck]);
}

/** The store directory: `dir` (relative: inside the data dir), `claim-check` inside the data dir by default. */
export function claimCheckDir(config: Pick<GatewayConfig, 'dataDir' | 'durable'>): string {
  const dir = settingsOf(config).store.dir ?? 'claim-check';
  return isAbsolute(dir) ? dir : join(config.dataDir ?? '.data', dir);
}

const HOUR_MS = 3_600_000;

/** The config's claim-check block; configs built by hand (tests) may lack it: the schema's defaults then. */
function settingsOf(config: Pick<GatewayConfig, 'durable'>): DurableConfig['claimCheck'] {
  return config.durable.claimCheck ?? durableSchema.shape.claimCheck.parse(undefined);
}

export interface OpenClaimCheck {
  codec: ClaimCheckCodec;
  /** Stops the sweeper. */
  stop(): void;
}

export interface ClaimCheckLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The process's claim-check codec, and its sweeper: at start and then hourly, blobs neither written nor read for
 * `retentionHours` are deleted (every instance on a shared volume may sweep; deletes are idempotent).
 */
export function openClaimCheck(config: Pick<GatewayConfig, 'dataDir' | 'durable'>, logger?: ClaimCheckLogger, sweepEveryMs = HOUR_MS): OpenClaimCheck {
  const { thresholdBytes, retentionHours } = settingsOf(config);
  const store = new DirectoryBlobStore(claimCheckDir(config));
  const codec = new ClaimCheckCodec(store, thresholdBytes);
  const sweep = () =>
    store
      .sweep(retentionHours * HOUR_MS)
      .then((removed) => {
        if (removed > 0) logger?.info({ removed, store: store.where, retentionHours }, 'claim-check blobs past their retention deleted');
      })
      .catch((err: unknown) => logger?.warn({ err: String(err), store: store.where }, 'claim-check sweep failed'));
  void sweep();
  const timer = setInterval(() => void sweep(), sweepEveryMs);
  timer.unref();
  return { codec, stop: () => clearInterval(timer) };
}
