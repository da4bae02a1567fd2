/** What every route handler needs, built once at start. */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { FastPathExecutor } from '../fastpath/executor.js';
import type { DurableRequests } from '../durable/requests.js';

export interface AppContext {
  config: GatewayConfig;
  executor: FastPathExecutor;
  logger: Logger;
  /** Absent when the durable path is disabled, or on a worker-only process. */
  durable?: DurableRequests;
}
