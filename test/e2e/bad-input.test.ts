/**
 * Malformed and hostile requests get a clear 4xx in their protocol's error shape and reach no provider: bodies
 * too large, too deep or not JSON, model names every plain object has, broken percent-escapes in path ids,
 * tool choices naming tools that are not there, cache TTLs past any clock.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../support/harness.js';
import { until } from '../support/until.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'gateway-bad-input-cache-'));
const h = useHarness(`
server: { host: 127.0.0.1, bodyLimit: 128kb }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: k }
deployments:
  oa-main: { provider: oa, model: gpt-main, capabilities: [tools, json_schema, embeddings] }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
cache:
  enabled: true
  embedder: { kind: offline }
  store: { kind: embedded, dir: "${cacheDir}" }
`);

async function post(body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', body, headers });
  return { status: res.status, body: (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } } };
}

const good = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

describe('hostile input', () => {
  it('413 for a body over the limit', async () => {
    const r = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(140_000) }] }));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('request_too_large');
  });

  it('415 for a non-JSON content type or charset, 400 for invalid JSON, invalid UTF-8 or an empty body', async () => {
    expect((await post(good, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(good, { 'content-type': 'application/json; charset=latin1' })).status).toBe(415);
    const badJson = await post('{"model": "chat",');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('invalid_json');
    const badUtf8 = await post(Uint8Array.from([...Buffer.from('{"model":"chat","messages":[{"role":"user","content":"'), 0xff, 0xfe, ...Buffer.from('"}]}')]));
    expect(badUtf8.status).toBe(400);
    expect(badUtf8.body.error.code).toBe('invalid_encoding');
    expect((await post('')).status).toBe(400);
  });

  it('400 naming the field for schema violations and out-of-range values', async () => {
    const r = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], top_p: 3 }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'top_p' });
    const nested = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }));
    expect(nested.body.error.param).toBe('messages[0].content');
  });

  it('reads a body without a content type as JSON, and keeps serving good requests', async () => {
    // A byte body: fetch adds no Content-Type of its own, as with a bare HTTP client.
    const r = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', body: new Uint8Array(Buffer.from(good)), headers: {} });
    expect(r.status).toBe(200);
    expect(h.fake.violations).toEqual([]);
  });

  it('404 in the same shape for unknown routes', async () => {
    const res = await fetch(`${h.gateway.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
  });

  it('400 naming the limit for JSON nested deeper than server.maxJsonDepth, wherever it nests', async () => {
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const head = '{"model":"chat","messages":[{"role":"user","content":"hi"}]';
    for (const body of [
      `${head},"tools":[{"type":"function","function":{"name":"f","parameters":${deep(10_000)}}}]}`,
      `${head},"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deep(10_000)}}}}`,
      `${head},"unknown_field":${deep(10_000)}}`,
      `${head},"unknown_field":${deep(65)}}`,
    ]) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'json_too_deep' });
      expect(r.body.error.message).toContain('64');
    }
    const messages = await fetch(`${h.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":${deep(10_000)}}]}`,
    });
    expect(messages.status).toBe(400);
    expect(await messages.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    // as deep as the limit is fine
    expect((await post(`${head},"unknown_field":${deep(63)}}`)).status).toBe(200);
  });

  it('404 model_not_found for model names every object inherits, on every model route', async () => {
    for (const model of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const chat = await post(JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }));
      expect([chat.status, chat.body.error.code]).toEqual([404, 'model_not_found']);
      const embeddings = await fetch(`${h.gateway.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input: 'x' }) });
      expect(embeddings.status).toBe(404);
      const messages = await fetch(`${h.gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(messages.status).toBe(404);
      expect(await messages.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
      const get = await fetch(`${h.gateway.url}/v1/models/${model}`);
      expect(get.status).toBe(404);
    }
  });

  it('400 for a malformed percent-escape in a path id, not 500', async () => {
    for (const path of ['/v1/requests/%E0%A4%A', '/v1/files/%E0%A4%A/content', '/v1/batches/%', '/v1/models/%zz']) {
      const res = await fetch(`${h.gateway.url}${path}`);
      expect([path, res.status]).toEqual([path, 400]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_path');
    }
  });

  it("errors on the Messages route are Anthropic's whatever the path's case", async () => {
    for (const path of ['/V1/MESSAGES', '/v1/Messages']) {
      const res = await fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } });
    }
  });

  it('400 on tool_choice naming a tool the request does not have', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const r = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], tools, tool_choice: { type: 'function', function: { name: 'rm_rf' } } }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'tool_choice' });
    const bare = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], tool_choice: 'required' }));
    expect([bare.status, bare.body.error.param]).toEqual([400, 'tool_choice']);
    const messages = await fetch(`${h.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], tools: [{ name: 'get_weather', input_schema: {} }], tool_choice: { type: 'tool', name: 'rm_rf' } }),
    });
    expect(messages.status).toBe(400);
    expect(h.fake.requests.filter((q) => JSON.stringify(q.body ?? '').includes('rm_rf'))).toEqual([]);
  });

  it('a client TTL past any clock is capped: the cache file gets a real expiry, never null', async () => {
    const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gateway-cache': 'ttl=1e306' },
      body: JSON.stringify({ model: 'chat', temperature: 0, messages: [{ role: 'user', content: 'remember me for a very long time' }] }),
    });
    expect(res.status).toBe(200);
    const logText = () =>
      readdirSync(cacheDir, { recursive: true, encoding: 'utf8' })
        .map((f) => join(cacheDir, f))
        .filter((f) => statSync(f).isFile())
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
    await until('the answer stored', () => logText().includes('remember me') || undefined);
    const puts = logText().split('\n').filter((l) => l.includes('"op":"put"')).map((l) => JSON.parse(l) as { e: number | null });
    expect(puts.length).toBeGreaterThan(0);
    const week = 7 * 86_400_000;
    for (const put of puts) {
      expect(typeof put.e).toBe('number');
      expect(put.e! - Date.now()).toBeLessThanOrEqual(week);
    }
  });
});
