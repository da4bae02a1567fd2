/**
 * The payload codec (src/durable/payload-codec.ts) and its keys (payload-keys.ts): AES-256-GCM with a fresh IV,
 * the key id in the metadata, rotation, plaintext passthrough, and where keys come from.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadDecryptError } from '../../src/durable/payload-codec.js';
import { choosePayloadKeys, DEV_KEY_FILE, devPayloadKeys, newPayloadKeyEntry, parsePayloadKeys } from '../../src/durable/payload-keys.js';

const text = (u: Uint8Array | null | undefined) => Buffer.from(u ?? []).toString('utf8');
const MARKER = 'marker-prompt-7f3a9c "with quotes" and ünïcode';
const payload = (): Payload => defaultPayloadConverter.toPayload({ messages: [{ role: 'user', content: MARKER }] })!;

const k1 = newPayloadKeyEntry('k1');
const k2 = newPayloadKeyEntry('k2');

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('AesGcmPayloadCodec', () => {
  it('encrypts each payload under the first key, with its id in the metadata, and decodes it back', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(`${k2},${k1}`));
    const [enc] = await codec.encode([payload()]);
    expect(text(enc!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(enc!.metadata![KEY_ID_METADATA])).toBe('k2');
    expect(Object.keys(enc!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
    const raw = Buffer.from(enc!.data!);
    expect(raw.includes(Buffer.from('marker-prompt-7f3a9c'))).toBe(false);
    expect(raw.toString('base64')).not.toContain(Buffer.from('marker-prompt-7f3a9c').toString('base64'));
    const [dec] = await codec.decode([enc!]);
    expect(text(dec!.metadata!.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ messages: [{ role: 'user', content: MARKER }] });
  });

  it('uses a fresh IV for every payload: the same payload never encrypts alike', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(k1));
    const encs = await codec.encode([payload(), payload(), payload()]);
    const ivs = new Set(encs.map((e) => Buffer.from(e.data!).subarray(0, 12).toString('hex')));
    expect(ivs.size).toBe(3);
    expect(new Set(encs.map((e) => Buffer.from(e.data!).toString('hex'))).size).toBe(3);
  });

  it('rotates: payloads of the old key decode while it is listed, and fail clearly once it is dropped', async () => {
    const [old] = await new AesGcmPayloadCodec(parsePayloadKeys(k1)).encode([payload()]);
    const rotated = new AesGcmPayloadCodec(parsePayloadKeys(`${k2},${k1}`));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual({ messages: [{ role: 'user', content: MARKER }] });
    expect(text((await rotated.encode([payload()]))[0]!.metadata![KEY_ID_METADATA])).toBe('k2');
    const dropped = new AesGcmPayloadCodec(parsePayloadKeys(k2));
    await expect(dropped.decode([old!])).rejects.toThrow(/encrypted with key 'k1', which is not among the payload keys \(k2\)/);
  });

  it('refuses altered bytes, and a different key under the same id', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(k1));
    const [enc] = await codec.encode([payload()]);
    const tampered = Buffer.from(enc!.data!);
    tampered[20] = tampered[20]! ^ 1;
    await expect(codec.decode([{ ...enc!, data: tampered }])).rejects.toThrow(PayloadDecryptError);
    const impostor = new AesGcmPayloadCodec(parsePayloadKeys(newPayloadKeyEntry('k1')));
    await expect(impostor.decode([enc!])).rejects.toThrow(/does not authenticate/);
  });

  it('passes payloads that are not encrypted through decode unchanged (histories from before encryption)', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(k1));
    const plain = payload();
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('payload keys', () => {
  it('parses id:base64 lists, the first one current', () => {
    const ring = parsePayloadKeys(` ${k2} , ${k1} `);
    expect(ring.current.id).toBe('k2');
    expect([...ring.byId.keys()]).toEqual(['k2', 'k1']);
  });

  it.each([
    ['', /lists no keys/],
    ['k1', /needs an id/],
    [':abc', /needs an id/],
    ['k1:c2hvcnQ=', /key 'k1' must be 32 bytes in base64 \(5 bytes given\)/],
    [`${k1},${k1}`, /key id 'k1' is listed twice/],
  ])('refuses %j with a message that shows no key material', (value, message) => {
    let err: Error | undefined;
    try {
      parsePayloadKeys(value);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    if (value.includes(k1)) expect(err!.message).not.toContain(k1.slice(3));
  });

  it('generates the dev server key once, mode 0600, and reads the same one at the next start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'payload-keys-'));
    dirs.push(dir);
    const first = devPayloadKeys(dir);
    const file = join(dir, DEV_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = devPayloadKeys(dir);
    expect(again.current.id).toBe(first.current.id);
    expect(again.current.key.equals(first.current.key)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(first.current.key.toString('base64'));
  });

  it('takes GATEWAY_PAYLOAD_KEYS first; the embedded dev server falls back to its file; a cluster refuses or warns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'payload-keys-'));
    dirs.push(dir);
    const env = { GATEWAY_PAYLOAD_KEYS: `${k2},${k1}` };
    expect(choosePayloadKeys({ env, embedded: true, dataDir: dir, encryption: 'optional' })!.current.id).toBe('k2');
    expect(choosePayloadKeys({ env: {}, embedded: true, dataDir: dir, encryption: 'required' })!.current.id).toMatch(/^dev-\d{8}$/);
    expect(() => choosePayloadKeys({ env: {}, embedded: false, dataDir: dir, encryption: 'required' })).toThrow(/GATEWAY_PAYLOAD_KEYS is not set: prompts and answers would be stored in plaintext/);
    const warnings: string[] = [];
    expect(choosePayloadKeys({ env: {}, embedded: false, dataDir: dir, encryption: 'optional', warn: (m) => warnings.push(m) })).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/stored in plaintext in Temporal history/)]);
  });
});
