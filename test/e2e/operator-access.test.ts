/**
 * Operators only: the status page, /status.json (recent durable requests of every tenant), /metrics and
 * /health/deployments answer the admin key (Bearer, x-api-key, or HTTP Basic with the key as password, which
 * a browser sends after the 401's challenge) and nothing else on the gateway's port — not a client key, not an
 * open gateway's anonymous caller. `server.operator.localWithoutKey` lets this machine in without a key, but
 * not a request a proxy forwarded; `server.operator.port` serves them without a key on a listener of its own
 * (loopback by default) while the main port still refuses.
 */
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { useHarness } from '../support/harness.js';

const ADMIN = 'gw-test-operator-admin';
const CLIENT = 'gw-test-operator-client';
const template = (server: string, auth = `auth:\n  adminKeyHash: "${hashKey(ADMIN)}"\n  keys: [{ id: client, tenant: acme, hash: "${hashKey(CLIENT)}" }]`) => `
server: ${server}
durable: { enabled: false }
${auth}
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-operator-test }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;

const ROUTES = ['/status', '/status.json', '/metrics', '/health/deployments'];
const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;

const keyed = useHarness(template('{ host: 127.0.0.1 }'));
const open = useHarness(template('{ host: 127.0.0.1 }', `auth: { mode: none, adminKeyHash: "${hashKey(ADMIN)}" }`));
const local = useHarness(template('{ host: 127.0.0.1, operator: { localWithoutKey: true } }'));
const listener = useHarness(template('{ host: 127.0.0.1, operator: { port: 0 } }'));

describe('operator routes on the gateway port', () => {
  it('refuse a caller without the admin key with 401 and a Basic challenge, in OpenAI shape', async () => {
    for (const path of ROUTES) {
      for (const headers of [{}, { authorization: `Bearer ${CLIENT}` }, { 'x-api-key': CLIENT }, { authorization: basic('wrong') }] as Record<string, string>[]) {
        const res = await fetch(`${keyed.gateway.url}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
        expect(((await res.json()) as any).error).toMatchObject({ type: 'authentication_error', code: 'invalid_admin_key' });
      }
    }
  });

  it('answer the admin key as Bearer, x-api-key or Basic password', async () => {
    for (const path of ROUTES) {
      for (const headers of [{ authorization: `Bearer ${ADMIN}` }, { 'x-api-key': ADMIN }, { authorization: basic(ADMIN) }] as Record<string, string>[]) {
        expect((await fetch(`${keyed.gateway.url}${path}`, { headers })).status, `${path} ${JSON.stringify(headers)}`).toBe(200);
      }
    }
  });

  it('an open gateway (auth.mode none) still keeps them for the admin key', async () => {
    for (const path of ROUTES) {
      expect((await fetch(`${open.gateway.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${open.gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, path).toBe(200);
    }
    // its model routes stay open
    expect((await fetch(`${open.gateway.url}/v1/models`)).status).toBe(200);
  });

  it('localWithoutKey: a client on this machine needs no key, a request a proxy forwarded does', async () => {
    for (const path of ROUTES) {
      expect((await fetch(`${local.gateway.url}${path}`)).status, path).toBe(200);
      for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
        const res = await fetch(`${local.gateway.url}${path}`, { headers: { [header]: header === 'forwarded' ? 'for=203.0.113.7' : '203.0.113.7' } });
        expect(res.status, `${path} with ${header}`).toBe(401);
      }
    }
  });
});

describe('the operator listener (server.operator.port)', () => {
  it('serves the operator routes without a key on loopback, and nothing else; the main port still refuses', async () => {
    const url = listener.gateway.operatorUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toBe(listener.gateway.url);
    for (const path of ROUTES) {
      expect((await fetch(`${url}${path}`)).status, path).toBe(200);
      expect((await fetch(`${listener.gateway.url}${path}`)).status, path).toBe(401);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('llm_gateway_');
    expect((await fetch(`${url}/v1/models`)).status).toBe(404);
    expect((await fetch(`${url}/admin/keys`)).status).toBe(404);
  });
});
