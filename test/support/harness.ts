/**
 * Starts the fake provider and a gateway in front of it, configured from a YAML template in which
 * `{{FAKE}}` is the fake provider's URL. The gateway runs in-process on a free port with silent logs.
 */
import OpenAI from 'openai';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

export interface Harness {
  fake: FakeProvider;
  gateway: RunningGateway;
  config: GatewayConfig;
  openai: OpenAI;
  close(): Promise<void>;
}

/** Tests that are not about keys run open; a template with its own `auth:` block keeps it. */
export function withOpenAuth(yaml: string): string {
  return /^auth:/m.test(yaml) ? yaml : `auth: { mode: none }\n${yaml}`;
}

export async function startHarness(yamlTemplate: string): Promise<Harness> {
  const fake = await startFakeProvider();
  const config = parseConfig(withOpenAuth(yamlTemplate).replaceAll('{{FAKE}}', fake.url), 'harness', {});
  const gateway = await startGateway(config, { port: 0, logger: createLogger('silent') });
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 15_000 });
  return {
    fake,
    gateway,
    config,
    openai,
    async close() {
      await gateway.close();
      await fake.close();
    },
  };
}
