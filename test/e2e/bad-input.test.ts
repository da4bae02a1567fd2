/** Malformed requests get a clear 4xx in OpenAI's error shape and reach no provider. */
import { describe, expect, it } from 'vitest';
import { useHarness } from '../support/harness.js';

const h = useHarness(`
server: { host: 127.0.0.1, bodyLimit: 2kb }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: k }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`);

async function post(body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', body, headers });
  return { status: res.status, body: (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } } };
}

const good = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

describe('hostile input', () => {
  it('413 for a body over the limit', async () => {
    const r = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }));
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
});
