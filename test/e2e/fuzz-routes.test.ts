/**
 * Fuzzing every route at once: thousands of generated hostile requests (bodies mutated at random paths, model
 * names every plain object has, JSON nested thousands deep, ids with broken percent-escapes, multipart uploads
 * with names in any encoding, garbage in every gateway header and in the credentials) against the chat, messages,
 * embeddings, models, files, batches and durable request routes of a gateway with keys, the cache and the durable
 * path on. None may get a 5xx, every error must be in its protocol's shape, and the gateway must serve good
 * requests afterwards. The count of answers by route and status is printed (the issue's note asks for it).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toFile } from 'openai';
import { hashKey } from '../../src/auth/keys.js';
import { useDurableHarness } from '../support/durable-harness.js';

const KEY = 'key-fuzz-routes';
const dir = mkdtempSync(join(tmpdir(), 'gateway-fuzz-routes-'));

const h = useDurableHarness(`
auth:
  keys:
    - { id: fuzz, tenant: fuzz, hash: "${hashKey(KEY)}" }
batches: { dir: "${join(dir, 'batches')}", maxFileSize: 64kb }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-fuzz-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main, capabilities: [tools, vision, json_schema, streaming, embeddings] }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 1 }
cache:
  enabled: true
  embedder: { kind: offline }
  store: { kind: embedded, dir: "${join(dir, 'cache')}" }
`);

const RUNS = 2_400;
const CONCURRENCY = 8;

type Json = Record<string, unknown>;
interface Hostile {
  route: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

// ---- values and bodies ----

const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__'];
const hostileName = fc.oneof(fc.constantFrom(...INHERITED), fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('chat', 'CHAT', ' chat', 'chat\u0000', '../chat'));
const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1e12, max: 1e12 }),
  fc.double(),
  fc.constantFrom(1e306, -1e306, 1e-320, Number.MAX_SAFE_INTEGER + 2),
  fc.string({ maxLength: 20 }),
  fc.constant([]),
  fc.constant({}),
  fc.constantFrom(...INHERITED),
  fc.constant({ __proto__: { polluted: true } }),
  fc.constant({ type: 'unknown' }),
);

const nestText = (depth: number, leaf = '1') => {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '{"a":' : '[';
    close = (i % 2 ? '}' : ']') + close;
  }
  return open + leaf + close;
};

const msgs = [{ role: 'user', content: 'hi' }];
const validChat: Json = { model: 'chat', messages: msgs, max_tokens: 10 };
const validMessages: Json = { model: 'chat', max_tokens: 10, messages: msgs };
const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
const chatPaths = ['model', 'messages', 'messages.0', 'messages.0.role', 'messages.0.content', 'tools', 'tools.0.function.name', 'tool_choice', 'tool_choice.function.name', 'response_format', 'stream', 'stream_options', 'temperature', 'n', 'stop', 'metadata', 'metadata.tags', 'user', 'extra', '__proto__', 'constructor'];
const messagesPaths = ['model', 'max_tokens', 'messages', 'messages.0.content', 'messages.0.content.0', 'system', 'tools', 'tools.0.input_schema', 'tool_choice', 'tool_choice.name', 'stream', 'metadata', 'top_k', 'extra', '__proto__'];

function setAt(base: Json, path: string, value: unknown): Json {
  const copy = structuredClone(base) as Json;
  const keys = path.split('.');
  let node: any = copy;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') Object.defineProperty(node, key, { value: {}, enumerable: true, writable: true, configurable: true });
    node = node[key];
  }
  // defineProperty: `__proto__` becomes an own key in the JSON text, as a hostile client would send it
  Object.defineProperty(node, keys.at(-1)!, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A JSON body for a model route: a valid one with garbage somewhere, a hostile model, deep nesting, or broken text. */
function jsonBody(valid: Json, paths: string[], extras: fc.Arbitrary<Json>): fc.Arbitrary<string | Uint8Array<ArrayBuffer>> {
  const j = (o: unknown) => JSON.stringify(o);
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...paths), junk).map(([p, v]) => j(setAt(valid, p, v))) },
    { weight: 2, arbitrary: hostileName.map((m) => j({ ...valid, model: m })) },
    { weight: 2, arbitrary: extras.map((e) => j({ ...valid, ...e })) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom('extra', 'tools', 'messages', 'response_format', 'metadata'), fc.integer({ min: 60, max: 12_000 })).map(
        ([field, depth]) => `${j(valid).slice(0, -1)},"${field === 'extra' ? 'extra' : `${field}_deep`}":${nestText(depth)}}`,
      ),
    },
    // deep inside places the schema accepts any JSON: tool parameters, a JSON schema, Anthropic's input_schema
    { weight: 1, arbitrary: fc.integer({ min: 60, max: 12_000 }).map((d) => j({ ...valid, tools: [tool] }).replace('"properties":{}', `"properties":${nestText(d, '{}')}`)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((n) => j(valid).slice(0, -n)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: junk.map((v) => j(v)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => Uint8Array.from([...Buffer.from('{"model":"chat","messages":[{"role":"user","content":"'), 0xc3, 0x28, ...b, ...Buffer.from('"}]}')])) },
  );
}

const chatExtras: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ tools: fc.constant([tool]), tool_choice: fc.oneof(fc.constantFrom('auto', 'required', 'none'), hostileName.map((name) => ({ type: 'function', function: { name } }))) }),
  hostileName.map((name) => ({ tool_choice: { type: 'function', function: { name } } })),
  fc.record({ stream: fc.constant(true), stream_options: fc.oneof(fc.constant({ include_usage: true }), junk) }),
  fc.record({ response_format: fc.constant({ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } }), temperature: fc.constantFrom(0, 0.1) }),
  fc.record({ metadata: fc.dictionary(fc.constantFrom('tags', '__proto__', 'constructor', 'x'), fc.string({ maxLength: 10 })) }),
);
const messagesExtras: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ tools: fc.constant([{ name: 'get_weather', input_schema: { type: 'object' } }]), tool_choice: fc.oneof(fc.constant({ type: 'any' }), hostileName.map((name) => ({ type: 'tool', name }))) }),
  hostileName.map((name) => ({ tool_choice: { type: 'tool', name } })),
  fc.constant({ stream: true }),
  fc.record({ system: fc.oneof(fc.string({ maxLength: 10 }), junk) }),
);

// ---- headers ----

const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const gatewayHeaders = fc.record(
  {
    'x-gateway-cache': fc.oneof(headerText, fc.constantFrom('ttl=1e306', 'ttl=-1', 'ttl=0', 'ttl=NaN', 'ttl=99999999999999999999', 'no-cache, no-store', 'ttl=60,ttl=1e400', 'ttl=1.5')),
    'x-gateway-route': fc.oneof(headerText, fc.constantFrom('fastest', 'fastest; metric=__proto__', 'fastest; constructor=1', 'weighted', 'least-loaded; x', 'latency; tolerance=1e309')),
    'x-gateway-tags': fc.oneof(headerText, fc.constantFrom('__proto__,constructor', ',,,', 'classify')),
    'idempotency-key': fc.oneof(headerText, fc.constantFrom('__proto__', 'constructor', 'x'.repeat(600))),
    'x-request-id': headerText,
    'x-gateway-durable': fc.constantFrom('true', '1', 'false', 'yes', ''),
    'anthropic-version': fc.oneof(headerText, fc.constant('2023-06-01')),
  },
  { requiredKeys: [] },
);
const credentials: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ authorization: `Bearer ${KEY}` }) },
  { weight: 1, arbitrary: fc.constant({ 'x-api-key': KEY }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      headerText.map((t) => ({ authorization: t })),
      headerText.map((t) => ({ authorization: `Bearer ${t}` })),
      fc.constantFrom<Record<string, string>>({ authorization: 'Bearer' }, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, { authorization: `Bearer ${KEY} ${KEY}` }, { 'x-api-key': '__proto__' }, {}),
    ),
  },
);

// ---- ids and multipart ----

const hostileId = fc.oneof(
  fc.constantFrom('%E0%A4%A', '%', '%zz', '%00', '%C0%AF', '%2F..%2F', '__proto__', 'constructor', 'file-%FF', 'req-%', '..', 'x'.repeat(2000), '%F0%9F%98', 'batch_%E2%82'),
  fc.string({ unit: 'binary', maxLength: 24 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))),
  fc.string({ unit: fc.constantFrom('%', 'A', 'e', '0', '9', 'F', '-', '_', '.'), maxLength: 12 }),
);
const waitParam = fc.oneof(fc.constant(''), fc.constantFrom('?wait=abc', '?wait=1e309', '?wait=-1', '?wait=0.05s', '?wait=10ms', '?wait[]=1', '?wait=1&wait=2'));

const filenames = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !/["\r\n\ud800-\udfff]/.test(s)),
  fc.constantFrom('naïve ✓.jsonl', '日本語.jsonl', 'emoji-😀.jsonl', '..\\..\\etc\\passwd', 'a/b/c.jsonl', 'x'.repeat(300)),
);
function multipart(parts: { disposition: Buffer; body: string; type?: string }[], boundary = 'FuzzBoundary7'): { body: Uint8Array<ArrayBuffer>; type: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\ncontent-disposition: `), p.disposition, Buffer.from(`\r\n${p.type ? `content-type: ${p.type}\r\n` : ''}\r\n${p.body}\r\n`));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: new Uint8Array(Buffer.concat(chunks)), type: `multipart/form-data; boundary=${boundary}` };
}
const goodLine = JSON.stringify({ custom_id: 'c1', method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: msgs } });
const upload: fc.Arbitrary<{ body: Uint8Array<ArrayBuffer> | string; type: string }> = fc.oneof(
  // the file's name: raw UTF-8 (what the SDKs send), RFC 5987 `filename*`, control characters, none at all
  fc.tuple(filenames, fc.constantFrom('raw', 'star', 'latin1', 'none'), fc.oneof(fc.constant(goodLine), fc.string({ maxLength: 30 })), fc.constantFrom('batch', 'fine-tune', '__proto__', '')).map(([name, how, content, purpose]) => {
    const disposition =
      how === 'raw' ? Buffer.from(`form-data; name="file"; filename="${name}"`, 'utf8')
      : how === 'star' ? Buffer.from(`form-data; name="file"; filename*=UTF-8''${encodeURIComponent(name)}`)
      : how === 'latin1' ? Buffer.from(`form-data; name="file"; filename="${name.replace(/[^\u0000-\u00ff]/g, '?')}"`, 'latin1')
      : Buffer.from('form-data; name="file"');
    return multipart([{ disposition: Buffer.from('form-data; name="purpose"'), body: purpose }, { disposition, body: content, type: 'application/jsonl' }]);
  }),
  fc.constantFrom("form-data; name=\"file\"; filename*=UTF-8''%E0%A4%A", "form-data; name=\"file\"; filename*=UTF-8''a%01b%0D%0Ac%22.jsonl", 'form-data; name="file"; filename*=x', 'form-data; name=file; filename=', 'form-data; name="__proto__"').map((d) =>
    multipart([{ disposition: Buffer.from('form-data; name="purpose"'), body: 'batch' }, { disposition: Buffer.from(d), body: goodLine }]),
  ),
  fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=nope', 'application/json', 'text/plain').chain((type) => fc.string({ maxLength: 60 }).map((body) => ({ body, type }))),
  fc.constant(multipart([{ disposition: Buffer.from('form-data; name="purpose"'), body: 'batch' }, { disposition: Buffer.from('form-data; name="file"; filename="big.jsonl"'), body: `${goodLine}\n`.repeat(1200) }])),
);

// ---- requests for every route ----

let goodFileId = 'file-none';
const pathCase = (p: string) => fc.constantFrom(p, p.toUpperCase(), p.replace('/v1/', '/V1/'), `${p}/`);
const json = { 'content-type': 'application/json' };

function hostileRequest(): fc.Arbitrary<Hostile> {
  const withHeaders = (r: fc.Arbitrary<Omit<Hostile, 'headers'> & { headers?: Record<string, string> }>) =>
    fc.tuple(r, credentials, gatewayHeaders).map(([req, creds, gw]) => ({ ...req, headers: { ...gw, ...creds, ...req.headers } as Record<string, string> }));
  const chat = fc.tuple(pathCase('/v1/chat/completions'), jsonBody(validChat, chatPaths, chatExtras)).map(([path, body]) => ({ route: 'POST /v1/chat/completions', method: 'POST' as const, path, body, headers: json }));
  const messages = fc.tuple(pathCase('/v1/messages'), jsonBody(validMessages, messagesPaths, messagesExtras)).map(([path, body]) => ({ route: 'POST /v1/messages', method: 'POST' as const, path, body, headers: json }));
  const embeddings = jsonBody({ model: 'chat', input: 'hello' }, ['model', 'input', 'input.0', 'encoding_format', 'dimensions', 'extra'], fc.constant({ input: ['a', 'b'] })).map((body) => ({ route: 'POST /v1/embeddings', method: 'POST' as const, path: '/v1/embeddings', body, headers: json }));
  const submit = jsonBody(validChat, chatPaths, chatExtras).map((body) => ({ route: 'POST /v1/requests', method: 'POST' as const, path: '/v1/requests', body, headers: json }));
  const models = fc.oneof(
    fc.constant({ route: 'GET /v1/models', method: 'GET' as const, path: '/v1/models' }),
    fc.oneof(hostileId, hostileName.map(encodeURIComponent)).map((id) => ({ route: 'GET /v1/models/{id}', method: 'GET' as const, path: `/v1/models/${id}` })),
  );
  const requests = fc.tuple(hostileId, waitParam, fc.constantFrom('GET' as const, 'DELETE' as const)).map(([id, wait, method]) => ({ route: `${method} /v1/requests/{id}`, method, path: `/v1/requests/${id}${method === 'GET' ? wait : ''}` }));
  const files = fc.oneof(
    upload.map(({ body, type }) => ({ route: 'POST /v1/files', method: 'POST' as const, path: '/v1/files', body, headers: { 'content-type': type } })),
    fc.tuple(hostileId, fc.constantFrom('', '/content'), fc.constantFrom('GET' as const, 'DELETE' as const)).map(([id, tail, method]) => ({
      route: `${method} /v1/files/{id}${method === 'GET' ? tail : ''}`,
      method,
      path: `/v1/files/${id}${method === 'GET' ? tail : ''}`,
    })),
    fc.constantFrom('', '?limit=0', '?limit=1e309', '?order=__proto__', '?purpose[]=x', '?after=%E0%A4%A').map((q) => ({ route: 'GET /v1/files', method: 'GET' as const, path: `/v1/files${q}` })),
  );
  const batchBody = fc.oneof(
    fc.record({ input_file_id: fc.oneof(fc.constant('GOOD'), hostileName, junk), endpoint: fc.oneof(fc.constantFrom('/v1/chat/completions', '/v1/embeddings'), junk), completion_window: fc.oneof(fc.constant('24h'), junk) }, { requiredKeys: [] }).map((b) => JSON.stringify(b, (k, v) => (k === 'input_file_id' && v === 'GOOD' ? goodFileId : v))),
    fc.integer({ min: 60, max: 10_000 }).map((d) => `{"input_file_id":"x","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":${nestText(d)}}`),
    fc.string({ maxLength: 30 }),
  );
  const batches = fc.oneof(
    batchBody.map((body) => ({ route: 'POST /v1/batches', method: 'POST' as const, path: '/v1/batches', body, headers: json })),
    hostileId.map((id) => ({ route: 'GET /v1/batches/{id}', method: 'GET' as const, path: `/v1/batches/${id}` })),
    hostileId.map((id) => ({ route: 'POST /v1/batches/{id}/cancel', method: 'POST' as const, path: `/v1/batches/${id}/cancel` })),
    fc.constantFrom('', '?limit=-1', '?after=__proto__', '?limit=1e400').map((q) => ({ route: 'GET /v1/batches', method: 'GET' as const, path: `/v1/batches${q}` })),
  );
  return withHeaders(
    fc.oneof(
      { weight: 5, arbitrary: chat },
      { weight: 4, arbitrary: messages },
      { weight: 2, arbitrary: embeddings },
      { weight: 2, arbitrary: submit },
      { weight: 1, arbitrary: models },
      { weight: 2, arbitrary: requests },
      { weight: 3, arbitrary: files },
      { weight: 2, arbitrary: batches },
    ),
  );
}

// ---- sending and checking ----

interface Outcome {
  status: number;
  text: string;
  type: string;
}

async function send(r: Hostile): Promise<Outcome> {
  const res = await fetch(`${h.gateway.url}${r.path}`, { method: r.method, headers: r.headers, body: r.body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '' };
}

const speaksAnthropic = (path: string) => /^\/v1\/messages(\/|$|\?)/i.test(path);

/** What is wrong with the answer to a hostile request; undefined when nothing is. */
function problemWith(r: Hostile, o: Outcome): string | undefined {
  if (o.status >= 500) return `answered ${o.status}: ${o.text.slice(0, 300)}`;
  if (o.status < 400) return undefined;
  let body: any;
  try {
    body = JSON.parse(o.text);
  } catch {
    return `error ${o.status} is not JSON: ${o.text.slice(0, 200)}`;
  }
  const ok = speaksAnthropic(r.path)
    ? body?.type === 'error' && typeof body.error?.type === 'string' && typeof body.error?.message === 'string'
    : typeof body?.error?.message === 'string' && typeof body.error?.type === 'string';
  return ok ? undefined : `error ${o.status} is not in ${speaksAnthropic(r.path) ? 'Anthropic' : 'OpenAI'}'s shape: ${o.text.slice(0, 200)}`;
}

function countTable(counts: Map<string, Map<number, number>>): string {
  const statuses = [...new Set([...counts.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  const rows = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const all = new Map<number, number>();
  for (const [, m] of rows) for (const [s, n] of m) all.set(s, (all.get(s) ?? 0) + n);
  return [
    line(['route', ...statuses, 'total']),
    line(['---', ...statuses.map(() => '---:'), '---:']),
    ...rows.map(([route, m]) => line([route, ...statuses.map((s) => m.get(s) ?? 0), total(m)])),
    line(['**all**', ...statuses.map((s) => all.get(s) ?? 0), total(all)]),
  ].join('\n');
}

async function pool<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

const auth = { authorization: `Bearer ${KEY}` };

describe('fuzzing every route', () => {
  it(`${RUNS} hostile requests: no 5xx, every error in its protocol's shape, the gateway still serving`, async () => {
    const good = await h.openai.files.create({ file: await toFile(Buffer.from(`${goodLine}\n`), 'good.jsonl'), purpose: 'batch' }, { headers: auth });
    goodFileId = good.id;
    const requests = fc.sample(hostileRequest(), { numRuns: RUNS, seed: 20261202 });
    const counts = new Map<string, Map<number, number>>();
    const problems: string[] = [];
    await pool(requests, CONCURRENCY, async (r) => {
      let outcome: Outcome;
      try {
        outcome = await send(r);
      } catch (err) {
        problems.push(`${r.method} ${r.path.slice(0, 80)}: no answer (${(err as Error).message}; ${String((err as Error).cause ?? '')})`);
        return;
      }
      const byStatus = counts.get(r.route) ?? new Map<number, number>();
      byStatus.set(outcome.status, (byStatus.get(outcome.status) ?? 0) + 1);
      counts.set(r.route, byStatus);
      const problem = problemWith(r, outcome);
      if (problem) problems.push(`${r.method} ${r.path.slice(0, 80)} ${JSON.stringify(r.headers).slice(0, 200)} ${String(r.body ?? '').slice(0, 200)}: ${problem}`);
    });
    console.log(`fuzz-routes: answers by route and status (${RUNS} requests, seed 20261202)\n${countTable(counts)}`);
    expect(problems.slice(0, 10)).toEqual([]);
    const answered = [...counts.values()].flatMap((m) => [...m.values()]).reduce((a, b) => a + b, 0);
    expect(answered).toBe(RUNS);
    // every route was reached, and a good share of the requests got past authentication into the handlers
    expect(counts.size).toBeGreaterThanOrEqual(16);
    const non401 = [...counts.values()].reduce((n, m) => n + [...m.entries()].filter(([s]) => s !== 401).reduce((a, [, c]) => a + c, 0), 0);
    expect(non401).toBeGreaterThan(RUNS * 0.7);

    // still serving, on every kind of route
    const chat = await h.openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'still here?' }] }, { headers: auth });
    expect(chat.choices[0]!.message.content).toBe('Echo: still here?');
    const messages = await fetch(`${h.gateway.url}/v1/messages`, { method: 'POST', headers: { ...json, 'x-api-key': KEY }, body: JSON.stringify({ ...validMessages, messages: [{ role: 'user', content: 'and you?' }] }) });
    expect(messages.status).toBe(200);
    const named = await h.openai.files.create({ file: await toFile(Buffer.from(`${goodLine}\n`), 'naïve ✓ 日本.jsonl'), purpose: 'batch' }, { headers: auth });
    expect(named.filename).toBe('naïve ✓ 日本.jsonl');
    const content = await fetch(`${h.gateway.url}/v1/files/${named.id}/content`, { headers: auth });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent('naïve ✓ 日本.jsonl')}`);
    const submitted = await fetch(`${h.gateway.url}/v1/requests`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify(validChat) });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const view = await fetch(`${h.gateway.url}/v1/requests/${id}?wait=20s`, { headers: auth });
    expect(((await view.json()) as { status: string }).status).toBe('succeeded');
  }, 180_000);
});
