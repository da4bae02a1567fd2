/**
 * The Node HTTP server under the Express app, with the limits that keep slow or idle clients from holding it:
 * header and request timeouts (408 and disconnect), the keep-alive idle timeout, and a cap on open connections
 * (past it, new connections are closed at once).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { GatewayConfig } from '../config/types.js';

type ServerLimits = Pick<GatewayConfig['server'], 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'>;

export function createHttpServer(limits: ServerLimits, handler: RequestListener): Server {
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections } = limits;
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new Error(`server.headersTimeoutMs (${headersTimeoutMs}) must not exceed server.requestTimeoutMs (${requestTimeoutMs})`);
  }
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Node checks the two timeouts on this interval (30 s by default), so a short header timeout would
      // otherwise be enforced up to 30 s late.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
    },
    handler,
  );
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.maxConnections = maxConnections;
  return server;
}
