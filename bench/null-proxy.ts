/**
 * The reference point for the overhead benchmark: about the least a separate Node process in front of the
 * fake provider can do and still be a proxy. node:http in, undici (keep-alive pool) out, the JSON body parsed
 * and re-serialized with the upstream model name, the answer forwarded byte for byte (streams chunk by chunk
 * as they arrive). No routing, validation, retries, headers or logging.
 *
 *   node --import tsx bench/null-proxy.ts --upstream http://127.0.0.1:PORT --model bench-model [--port 0]
 *
 * Prints one JSON line {"url": ...} once listening. What it adds over calling the upstream directly is the
 * floor under the gateway's added latency on this machine: the extra process hop (two more loopback writes,
 * two more HTTP parses, more context switches).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    model: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!values.upstream || !values.model) {
  console.error('usage: null-proxy.ts --upstream URL --model NAME [--port N] [--host H]');
  process.exit(2);
}
const model = values.model;
const pool = new Pool(values.upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  void (async () => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    body.model = model;
    const up = await pool.request({
      path: req.url ?? '/',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? 'Bearer none' },
      body: JSON.stringify(body),
    });
    const type = up.headers['content-type'];
    res.writeHead(up.statusCode, typeof type === 'string' ? { 'content-type': type } : {});
    for await (const c of up.body) res.write(c as Buffer);
    res.end();
  })().catch((err: unknown) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `null proxy: ${(err as Error).message}` } }));
    } else res.destroy();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => {
  const { address, port, family } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://${family === 'IPv6' ? `[${address}]` : address}:${port}` })}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
