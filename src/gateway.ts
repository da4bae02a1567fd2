/** Assembles a running gateway (config → executor → app → HTTP server) and takes it down again. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/types.js';
import { FastPathExecutor, type ExecutorDeps } from './fastpath/executor.js';
import { createApp } from './ingress/app.js';
import { createLogger } from './observability/logger.js';
import { closeHttpPools } from './providers/http.js';

export interface RunningGateway {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export interface GatewayOptions {
  logger?: Logger;
  executorDeps?: Partial<ExecutorDeps>;
  /** Overrides config.server.port (0 = any free port, as tests use). */
  port?: number;
}

export async function startGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  const executor = new FastPathExecutor(config, opts.executorDeps);
  const app = createApp({ config, executor, logger });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port ?? config.server.port, config.server.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // Longer than typical client and load-balancer idle timeouts, so pooled client connections are not cut.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const { port } = server.address() as AddressInfo;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    server,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await closeHttpPools();
    },
  };
}
