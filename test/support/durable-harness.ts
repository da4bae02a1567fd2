/**
 * A gateway with its durable worker in-process, against the run's shared Temporal dev server, in front of
 * the fake provider. Each harness gets its own task queue so test files do not steal each other's tasks.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import OpenAI from 'openai';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import type { GatewayWorkerOptions } from '../../src/durable/worker.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Logger } from 'pino';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { useForFile, withTestDefaults } from './harness.js';

export interface DurableHarness {
  fake: FakeProvider;
  gateway: RunningGateway;
  config: GatewayConfig;
  openai: OpenAI;
  temporal: Client;
  taskQueue: string;
  close(): Promise<void>;
}

export function durableYaml(body: string, taskQueue: string, extraDurable = ''): string {
  // a body with a server block of its own keeps it (it must bind loopback too)
  return `${/^server:/m.test(body) ? '' : 'server: { host: 127.0.0.1 }\n'}durable:
  temporal: { taskQueue: ${taskQueue} }
  heartbeatTimeoutMs: 2000
${extraDurable}
${body}`;
}

export interface DurableHarnessOptions {
  logger?: Logger;
  /** Worker options over the gateway's own (e.g. a ledger on a store the test controls), from the parsed config. */
  worker?: (config: GatewayConfig) => Partial<GatewayWorkerOptions>;
}

export async function startDurableHarness(yamlBody: string, opts: DurableHarnessOptions = {}): Promise<DurableHarness> {
  const fake = await startFakeProvider();
  const taskQueue = `test-${randomUUID()}`;
  const config = parseConfig(withTestDefaults(durableYaml(yamlBody, taskQueue)).replaceAll('{{FAKE}}', fake.url), 'durable-harness', {});
  const address = inject('temporalAddress');
  const gateway = await startGateway(config, {
    port: 0,
    logger: opts.logger ?? createLogger('silent'),
    temporalAddress: address,
    worker: { workflowBundle: { codePath: inject('workflowBundlePath') }, ...opts.worker?.(config) },
  });
  const connection = await Connection.connect({ address });
  const temporal = new Client({ connection });
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 30_000 });
  return {
    fake,
    gateway,
    config,
    openai,
    temporal,
    taskQueue,
    async close() {
      await gateway.close();
      await connection.close();
      await fake.close();
    },
  };
}

/** The durable harness for a whole test file (see useForFile). */
export function useDurableHarness(yaml: string | (() => string), opts: DurableHarnessOptions = {}): DurableHarness {
  return useForFile(() => startDurableHarness(typeof yaml === 'string' ? yaml : yaml(), opts));
}
