/**
 * The claim-check codec on a real directory: payloads above the threshold leave as a `{ key, sha256, size }`
 * reference and come back byte-identical; an altered or missing blob is refused; after the encryption codec the
 * stored blob is ciphertext; the sweeper deletes by age since last use.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { parseConfig } from '../../src/config/load.js';
import { BlobNotFound, DirectoryBlobStore } from '../../src/durable/claim-check-store.js';
import { CLAIM_CHECK_ENCODING, ClaimCheckCodec, ClaimCheckError, claimCheckDir, withClaimCheck } from '../../src/durable/claim-check.js';
import { AesGcmPayloadCodec } from '../../src/durable/payload-codec.js';
import { newPayloadKeyEntry, parsePayloadKeys } from '../../src/durable/payload-keys.js';

const THRESHOLD = 1024;
const fresh = () => new DirectoryBlobStore(mkdtempSync(join(tmpdir(), 'claim-check-')));
const payloadOf = (value: unknown): Payload => defaultPayloadConverter.toPayload(value)!;
const text = (p: Payload) => Buffer.from(p.data ?? []).toString('utf8');
const encodingOf = (p: Payload) => Buffer.from(p.metadata!.encoding!).toString();

describe('ClaimCheckCodec', () => {
  it('leaves payloads at or below the threshold in place', async () => {
    const codec = new ClaimCheckCodec(fresh(), THRESHOLD);
    const small = payloadOf({ content: 'x'.repeat(500) });
    const [out] = await codec.encode([small]);
    expect(out).toBe(small);
  });

  it('replaces a larger payload by a { key, sha256, size } reference and restores it byte for byte', async () => {
    const store = fresh();
    const codec = new ClaimCheckCodec(store, THRESHOLD);
    const big = payloadOf({ content: 'long prompt '.repeat(1_000) });
    const [ref] = await codec.encode([big]);
    expect(encodingOf(ref!)).toBe(CLAIM_CHECK_ENCODING);
    expect(Object.keys(ref!.metadata!)).toEqual(['encoding']);
    const reference = JSON.parse(text(ref!)) as { key: string; sha256: string; size: number };
    expect(Object.keys(reference).sort()).toEqual(['key', 'sha256', 'size']);
    expect(ref!.data!.length).toBeLessThan(200);
    const blob = readFileSync(store.pathOf(reference.key));
    expect(blob.length).toBe(reference.size);
    expect(createHash('sha256').update(blob).digest('hex')).toBe(reference.sha256);
    const [back] = await codec.decode([ref!]);
    expect(encodingOf(back!)).toBe('json/plain');
    expect(Buffer.from(back!.data!).equals(Buffer.from(big.data!))).toBe(true);
    expect(defaultPayloadConverter.fromPayload(back!)).toEqual({ content: 'long prompt '.repeat(1_000) });
  });

  it('refuses a blob whose bytes were altered, and names a missing one', async () => {
    const store = fresh();
    const codec = new ClaimCheckCodec(store, THRESHOLD);
    const [ref] = await codec.encode([payloadOf({ content: 'answer '.repeat(1_000) })]);
    const { key } = JSON.parse(text(ref!)) as { key: string };
    const path = store.pathOf(key);
    const blob = readFileSync(path);
    writeFileSync(path, Buffer.from(blob.toString('latin1').replace('answer', 'ANSWER'), 'latin1'));
    await expect(codec.decode([ref!])).rejects.toThrow(ClaimCheckError);
    await expect(codec.decode([ref!])).rejects.toThrow(/does not match its reference/);
    const missing = { ...ref!, data: Buffer.from(JSON.stringify({ key: 'a'.repeat(64), sha256: 'a'.repeat(64), size: 10 })) };
    await expect(codec.decode([missing])).rejects.toThrow(BlobNotFound);
  });

  it('refuses a reference that is not { key, sha256, size }, or whose key is not a sha256 (no path escapes the store)', async () => {
    const codec = new ClaimCheckCodec(fresh(), THRESHOLD);
    const meta = { encoding: Buffer.from(CLAIM_CHECK_ENCODING) };
    await expect(codec.decode([{ metadata: meta, data: Buffer.from('nope') }])).rejects.toThrow(/not JSON/);
    const escape = { key: '../../etc/passwd', sha256: 'b'.repeat(64), size: 1 };
    await expect(codec.decode([{ metadata: meta, data: Buffer.from(JSON.stringify(escape)) }])).rejects.toThrow(/not a sha256/);
  });

  it('after encryption: the blob holds only ciphertext, and the chain decodes back to the plaintext', async () => {
    const store = fresh();
    const aes = new AesGcmPayloadCodec(parsePayloadKeys(newPayloadKeyEntry('k1')));
    const chain = withClaimCheck(aes, new ClaimCheckCodec(store, THRESHOLD));
    const secret = 'secret-prompt-marker';
    const big = payloadOf({ content: `${secret} `.repeat(200) });
    const [ref] = await chain.encode([big]);
    expect(encodingOf(ref!)).toBe(CLAIM_CHECK_ENCODING);
    const blob = readFileSync(store.pathOf((JSON.parse(text(ref!)) as { key: string }).key));
    expect(blob.includes(Buffer.from(secret))).toBe(false);
    expect(blob.includes(Buffer.from('binary/encrypted'))).toBe(true);
    const [back] = await chain.decode([ref!]);
    expect(defaultPayloadConverter.fromPayload(back!)).toEqual({ content: `${secret} `.repeat(200) });
    const [small] = await chain.encode([payloadOf('hi')]);
    expect(encodingOf(small!)).toBe('binary/encrypted');
    expect((chain as { currentKeyId?: string }).currentKeyId).toBe('k1');
  });
});

describe('DirectoryBlobStore.sweep', () => {
  it('deletes blobs neither written nor read within the retention, keeps the others; a read refreshes a blob', async () => {
    const store = fresh();
    const codec = new ClaimCheckCodec(store, THRESHOLD);
    const [oldRef, readRef, newRef] = await codec.encode(['old', 'read', 'new'].map((w) => payloadOf(w.repeat(2_000))));
    const pathOf = (ref: Payload) => store.pathOf((JSON.parse(text(ref)) as { key: string }).key);
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
    utimesSync(pathOf(oldRef!), twoDaysAgo, twoDaysAgo);
    utimesSync(pathOf(readRef!), twoDaysAgo, twoDaysAgo);
    await codec.decode([readRef!]);
    expect(statSync(pathOf(readRef!)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    expect(await store.sweep(24 * 3_600_000)).toBe(1);
    expect(existsSync(pathOf(oldRef!))).toBe(false);
    expect(existsSync(pathOf(readRef!))).toBe(true);
    expect(existsSync(pathOf(newRef!))).toBe(true);
    await expect(codec.decode([oldRef!])).rejects.toThrow(BlobNotFound);
  });
});

describe('claimCheckDir', () => {
  const MINIMAL = 'providers: {}\ndeployments: {}\nmodels: {}\nauth: { mode: none }\n';
  it('is claim-check inside the data dir by default, the configured dir for a shared volume', () => {
    const local = parseConfig(`${MINIMAL}dataDir: /srv/gw\n`, 'test', {});
    expect(claimCheckDir(local)).toBe('/srv/gw/claim-check');
    const shared = parseConfig(`${MINIMAL}dataDir: /srv/gw\ndurable: { claimCheck: { store: { kind: shared, dir: /mnt/blobs } } }\n`, 'test', {});
    expect(claimCheckDir(shared)).toBe('/mnt/blobs');
    expect(() => parseConfig(`${MINIMAL}durable: { claimCheck: { store: { kind: shared } } }\n`, 'test', {})).toThrow(/dir/);
  });
});
