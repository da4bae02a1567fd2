/**
 * The HTTP server's own limits, from the config: a client that does not finish its request headers in
 * `server.headersTimeoutMs` gets 408 and is disconnected (slowloris), an idle keep-alive connection is closed
 * after `server.keepAliveTimeoutMs`, and past `server.maxConnections` open connections a new one is closed
 * unanswered until one of the others goes away.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { useHarness, withTestDefaults } from '../support/harness.js';

const template = (limits: string) => `
server: { host: 127.0.0.1, ${limits} }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-limits-test }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;

const h = useHarness(template('headersTimeoutMs: 400, requestTimeoutMs: 5000, keepAliveTimeoutMs: 300, maxConnections: 3'));

interface Conn {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
}

async function open(url: string): Promise<Conn> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let data = '';
  socket.on('data', (d) => (data += d.toString()));
  socket.on('error', () => {});
  const opened = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - opened)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

describe('server limits', () => {
  it('a client that never finishes its headers gets 408 and is disconnected after headersTimeoutMs', async () => {
    const c = await open(h.gateway.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const ms = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeLessThan(3_000);
  });

  it('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const c = await open(h.gateway.url);
    c.socket.write(GET('/healthz'));
    const ms = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(ms).toBeLessThan(2_000);
  });

  it('past maxConnections a new connection is closed unanswered, until one of the others goes away', async () => {
    const held = await Promise.all([1, 2, 3].map(() => open(h.gateway.url)));
    // each one busy with a slow upload so neither timeout has closed it yet
    for (const c of held) c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
    await new Promise((r) => setTimeout(r, 100));
    const extra = await open(h.gateway.url);
    extra.socket.write(GET('/healthz'));
    await extra.closed;
    expect(extra.received()).toBe('');
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${h.gateway.url}/healthz`);
    expect(res.status).toBe(200);
    for (const c of held) c.socket.destroy();
  });

  it('a header timeout longer than the request timeout is a config error at start', async () => {
    const config = parseConfig(withTestDefaults(template('headersTimeoutMs: 10000, requestTimeoutMs: 5000')).replaceAll('{{FAKE}}', 'http://127.0.0.1:9'), 't', {});
    await expect(startGateway(config, { port: 0, logger: createLogger('silent') })).rejects.toThrow(/server\.headersTimeoutMs \(10000\) must not exceed server\.requestTimeoutMs \(5000\)/);
  });
});
