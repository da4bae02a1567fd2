/**
 * A worker-only process (`--role worker`) has no HTTP app, yet it keeps the durable counters: with
 * `observability.metrics.workerPort` it serves them on their own small server for Prometheus to scrape, and
 * `/healthz` there, the liveness probe of a worker container (docker-compose.yml's healthcheck).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayMetrics } from './metrics.js';

export async function serveMetrics(metrics: GatewayMetrics, host: string, port: number, path: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = req.url?.split('?')[0];
    if (req.method === 'GET' && url === '/healthz' && path !== '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method !== 'GET' || url !== path) {
      res.writeHead(404).end();
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}${path}` };
}
