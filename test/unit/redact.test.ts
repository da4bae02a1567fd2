import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyRegistry, generateKey, hashKey } from '../../src/auth/keys.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { readErrorBody } from '../../src/providers/classify.js';
import { ProviderError } from '../../src/providers/errors.js';
import { secretsOf } from '../../src/security/config-secrets.js';
import { Redactor } from '../../src/security/redact.js';
import { redact, redactKnownSecrets, registerSecrets, withPresentedKey } from '../../src/security/secrets.js';
import type { Request, Response } from 'express';
import type { AuthConfig } from '../../src/config/types.js';
import { authenticate } from '../../src/ingress/auth.js';

describe('Redactor', () => {
  it('replaces known secrets, longest first, and leaves the rest of the text alone', () => {
    const r = new Redactor(['azure-secret-1234', 'azure-secret-1234-longer', 'short']);
    expect(r.redact('bad key azure-secret-1234-longer, and azure-secret-1234.')).toBe('bad key [redacted], and [redacted].');
    // too short to be treated as a secret: words like it are everywhere
    expect(r.redact('a short message')).toBe('a short message');
  });

  it('replaces well-known key shapes it was not told about', () => {
    const r = new Redactor();
    const cases: Array<[string, string]> = [
      ['Incorrect API key provided: sk-proj-abcdefghijklmnop1234.', 'Incorrect API key provided: [redacted].'],
      ['invalid x-api-key sk-ant-api03-abcdefghijklmnopqrstuv', 'invalid x-api-key [redacted]'],
      ['API key not valid: AIzaSyA1234567890abcdefghijklmnopqrs', 'API key not valid: [redacted]'],
      ['received Authorization: Bearer abc.def-ghi_jkl', 'received Authorization: Bearer [redacted]'],
      ['{"headers":{"api-key":"0123456789abcdef0123456789abcdef"}}', '{"headers":{"api-key":"[redacted]"}}'],
      ['GET /v1beta/models/m:generateContent?key=whatever-it-is&alt=sse', 'GET /v1beta/models/m:generateContent?key=[redacted]&alt=sse'],
      ['client key gw-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789', 'client key [redacted]'],
      ['token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW1wb3JhbCJ9.c2lnbmF0dXJlLWhlcmU', 'token [redacted]'],
    ];
    for (const [input, expected] of cases) expect(r.redact(input)).toBe(expected);
    // messages that merely talk about keys are left readable
    for (const ok of ['x-api-key header is missing', 'Invalid API key', "Unknown key: 'response_format'", 'Bearer token required']) expect(r.redact(ok)).toBe(ok);
  });

  it('finds the keys it holds only as hashes (client and admin keys), whatever is around them', () => {
    const handMade = 'tenant-one-handmade-key-42';
    const generated = generateKey();
    const wide = 'abc.def~ghi+jkl/mno=pqr';
    const r = new Redactor([], [hashKey(handMade), hashKey(generated), hashKey(wide)]);
    expect(r.redact(`prompt: "check ${handMade}." and key=${handMade}&x=1`)).toBe('prompt: "check [redacted]." and key=[redacted]&x=1');
    expect(r.redact(`${generated},${wide} tenant-one-handmade-key-43`)).toBe('[redacted],[redacted] tenant-one-handmade-key-43');
  });

  it('redacts strings anywhere in a JSON-like value, without touching the input', () => {
    const r = new Redactor(['the-secret-value']);
    const input = { a: ['x the-secret-value'], b: { c: 'the-secret-value', n: 3 } };
    expect(r.redactDeep(input)).toEqual({ a: ['x [redacted]'], b: { c: '[redacted]', n: 3 } });
    expect(input.b.c).toBe('the-secret-value');
  });
});

describe('the secrets a config holds', () => {
  it('are every key-like field and every header value, whatever block they sit in', () => {
    const cfg = parseConfig(
      `
providers:
  az: { type: azure-openai, baseUrl: "https://x.openai.azure.com", apiKey: "azure-key-0123456789", headers: { x-extra-auth: "extra-header-secret" } }
  gm: { type: gemini, apiKey: "gemini-key-0123456789" }
deployments:
  d: { provider: az, model: m }
  g: { provider: gm, model: m }
models:
  a: { groups: [{ deployments: [d, g] }] }
durable: { temporal: { apiKey: "temporal-key-0123456789" } }
cache: { store: { kind: qdrant, url: "http://127.0.0.1:6333", apiKey: "qdrant-key-0123456789" } }
`,
      'test',
    );
    expect(new Set(secretsOf(cfg))).toEqual(new Set(['azure-key-0123456789', 'extra-header-secret', 'gemini-key-0123456789', 'temporal-key-0123456789', 'qdrant-key-0123456789']));
    // loading registered them: upstream text is scrubbed of them from now on
    expect(redact('qdrant said qdrant-key-0123456789 and temporal-key-0123456789')).toBe('qdrant said [redacted] and [redacted]');
  });
});

describe('where upstream text enters', () => {
  it('ProviderError scrubs its message and code', () => {
    registerSecrets(['upstream-echoed-credential']);
    const err = new ProviderError({ kind: 'auth', message: 'bad key upstream-echoed-credential', upstreamCode: 'key_upstream-echoed-credential' });
    expect(err.message).toBe('bad key [redacted]');
    expect(err.upstreamCode).toBe('key_[redacted]');
  });

  it('an error body is scrubbed whole before it is cut to 500 characters (no half key survives)', () => {
    const key = 'sk-proj-HALFKEY-abcdefghijklmnopqrstuvwxyz';
    const text = `${'x'.repeat(480)} ${key}`;
    const body = readErrorBody(redact(text));
    expect(body.message).not.toContain('HALFKEY');
  });

  it('the presented client key is scrubbed inside its request, async work included, and not outside', async () => {
    const key = 'custom-client-key-not-shaped-like-one';
    const inside = await withPresentedKey(key, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return redact(`echo ${key}`);
    });
    expect(inside).toBe('echo [redacted]');
    expect(redact(`echo ${key}`)).toBe(`echo ${key}`);
  });

  it('inside a request, text with the presented key loses it whole (also a configured secret inside it), text without is redacted as outside', () => {
    registerSecrets(['inner-secret-42']);
    const key = 'short-inner-secret-42-key';
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const log = createLogger('info', sink);
    const [plain, withKey] = withPresentedKey(key, () => {
      const plain = redact('no key here, inner-secret-42 and Bearer abcdefghijklmnop');
      log.info({ note: `echo ${key}` }, 'line');
      return [plain, redactKnownSecrets(`answer ${key} inner-secret-42`)];
    });
    expect(plain).toBe(redact('no key here, inner-secret-42 and Bearer abcdefghijklmnop'));
    expect(plain).toBe('no key here, [redacted] and Bearer [redacted]');
    expect(withKey).toBe('answer [redacted] [redacted]');
    expect(lines.join('')).toContain('"note":"echo [redacted]"');
    expect(lines.join('')).not.toContain('short-');
  });

  it('a key that authenticated is scrubbed everywhere afterwards, without a request scope; a key that did not is not', () => {
    const good = 'authenticated-client-key-7';
    const bad = 'rejected-client-key-000007';
    const registry = new KeyRegistry({ keys: [{ id: 'k', tenant: 't', hash: hashKey(good) }] } as unknown as AuthConfig);
    const auth = authenticate(registry);
    const run = (key: string) => {
      let scoped: string | undefined;
      let error: unknown;
      const req = { headers: { authorization: `Bearer ${key}` } } as unknown as Request;
      auth(req, {} as Response, (err?: unknown) => {
        error = err;
        scoped = redact(`inside ${key}`);
      });
      return { scoped, error };
    };
    expect(redact(`before ${good}`)).toBe(`before ${good}`);
    expect(run(good)).toEqual({ scoped: 'inside [redacted]', error: undefined });
    expect(redact(`after ${good}`)).toBe('after [redacted]');
    expect(redactKnownSecrets(`answer ${good}`)).toBe('answer [redacted]');
    expect(run(bad).error).toBeInstanceOf(Error);
    expect(redact(`after ${bad}`)).toBe(`after ${bad}`);
  });

  it('every log line is scrubbed, in messages and error texts that carry no field name', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    registerSecrets(['logged-secret-0123456789']);
    const log = createLogger('info', sink);
    log.warn({ err: new Error('upstream said logged-secret-0123456789'), detail: 'sk-ant-api03-zzzzzzzzzzzzzzzzzzzz' }, 'saw logged-secret-0123456789');
    const out = lines.join('');
    expect(out).toContain('[redacted]');
    expect(out).not.toContain('logged-secret-0123456789');
    expect(out).not.toContain('sk-ant-api03');
  });
});
