/**
 * Fuzzing the front door: well over a thousand generated malformed requests (wrong types at random paths,
 * missing fields, out-of-range numbers, deep nesting, broken JSON and UTF-8, wrong media types) against the
 * OpenAI and the Anthropic protocol. Each must get a 4xx in its protocol's error shape, none may reach a
 * provider, and the gateway must keep serving good requests afterwards.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { useHarness } from '../support/harness.js';

const h = useHarness(`
server: { host: 127.0.0.1, bodyLimit: 64kb }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: k }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`);

const validOpenAI = { model: 'chat', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5, max_tokens: 10 };
const validAnthropic = { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

/** A value of the wrong kind for almost any field. */
const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1e12, max: 1e12 }),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 20 }),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant({ type: 'unknown' }),
);

type Json = Record<string, unknown>;

/** Replaces, deletes or nests garbage at a random path of a valid request. */
function mutate(base: Json, path: string[], value: unknown, op: 'set' | 'delete'): Json {
  const copy = structuredClone(base) as Json;
  let node: any = copy;
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key];
  }
  const last = path[path.length - 1]!;
  if (op === 'delete') delete node[last];
  else node[last] = value;
  return copy;
}

function pathsOf(base: Json): fc.Arbitrary<string[]> {
  return fc.constantFrom(
    ['model'],
    ['messages'],
    ['messages', '0'],
    ['messages', '0', 'role'],
    ['messages', '0', 'content'],
    ['messages', '0', 'content', '0'],
    ['temperature'],
    ['max_tokens'],
    ['tools'],
    ['tool_choice'],
    ['stream'],
    ['top_p'],
    ['stop'],
    ['system'],
    ...Object.keys(base).map((k) => [k]),
  );
}

const deep = (depth: number) => {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

type Malformed = { body: string | Uint8Array<ArrayBuffer>; contentType?: string };

function malformed(base: Json): fc.Arbitrary<Malformed> {
  const json = (o: unknown) => JSON.stringify(o);
  return fc.oneof(
    // wrong value at a random path (a valid value there is possible; filtered out below)
    fc.tuple(pathsOf(base), junk).map(([p, v]) => ({ body: json(mutate(base, p, v, 'set')) })),
    // a required part missing
    pathsOf(base).map((p) => ({ body: json(mutate(base, p, undefined, 'delete')) })),
    // out-of-range numbers
    fc.constantFrom('temperature', 'max_tokens', 'top_p').chain((k) =>
      fc.oneof(fc.integer({ min: 3, max: 1e9 }), fc.integer({ min: -1e9, max: -1 })).map((v) => ({ body: json({ ...base, [k]: k === 'max_tokens' ? -Math.abs(v) : v }) })),
    ),
    // deeply nested garbage where content goes
    fc.integer({ min: 5, max: 200 }).map((d) => ({ body: json({ ...base, messages: [{ role: 'user', content: deep(d) }] }) })),
    // truncated or broken JSON
    fc.integer({ min: 1, max: 30 }).map((n) => ({ body: json(base).slice(0, -n) })),
    fc.string({ minLength: 1, maxLength: 40 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }).map((s) => ({ body: s })),
    // not an object at all
    junk.map((v) => ({ body: json(v) })),
    // invalid UTF-8 inside a string
    fc.uint8Array({ minLength: 1, maxLength: 4 }).map((bytes) => ({
      body: Uint8Array.from([...Buffer.from('{"model":"chat","messages":[{"role":"user","content":"'), 0xc3, 0x28, ...bytes.map((b) => b | 0x80), ...Buffer.from('"}]}')]),
    })),
    // wrong media type
    fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16').map((t) => ({ body: json(base), contentType: t })),
    // over the body limit
    fc.constant({ body: json({ ...base, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }) }),
  );
}

async function send(path: string, m: Malformed, extraHeaders: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}${path}`, {
    method: 'POST',
    body: m.body,
    headers: { 'content-type': m.contentType ?? 'application/json', ...extraHeaders },
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

async function stillServes(): Promise<void> {
  const r = await h.openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'still here?' }] });
  expect(r.choices[0]!.message.content).toBe('Echo: still here?');
}

/** A mutation can land on a valid request by chance (e.g. stream: true → false); those are not malformed. */
function isValidByChance(status: number): boolean {
  return status === 200;
}

describe('fuzzing malformed requests', () => {
  it('OpenAI protocol: every malformed request gets a 4xx in OpenAI error shape', async () => {
    let fourxx = 0;
    await fc.assert(
      fc.asyncProperty(malformed(validOpenAI), async (m) => {
        const r = await send('/v1/chat/completions', m);
        if (isValidByChance(r.status)) return;
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.body).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
        fourxx++;
      }),
      { numRuns: 700, seed: 42 },
    );
    expect(fourxx).toBeGreaterThan(600);
    // What the gateway accepted must also be acceptable to the provider: it forwards no malformed request.
    expect(h.fake.violations).toEqual([]);
    await stillServes();
  }, 120_000);

  it('Anthropic protocol: every malformed request gets a 4xx in Anthropic error shape', async () => {
    let fourxx = 0;
    await fc.assert(
      fc.asyncProperty(malformed(validAnthropic), async (m) => {
        const r = await send('/v1/messages', m, { 'anthropic-version': '2023-06-01' });
        if (isValidByChance(r.status)) return;
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.body).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
        fourxx++;
      }),
      { numRuns: 700, seed: 7 },
    );
    expect(fourxx).toBeGreaterThan(600);
    await stillServes();
  }, 120_000);
});
