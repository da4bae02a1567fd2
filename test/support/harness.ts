/**
 * Starts the fake provider and a gateway in front of it, configured from a YAML template in which
 * `{{FAKE}}` is the fake provider's URL. The gateway runs in-process on a free port with silent logs.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { TEST_ADMIN_KEY_HASH } from './operator.js';

export interface Harness {
  fake: FakeProvider;
  gateway: RunningGateway;
  config: GatewayConfig;
  openai: OpenAI;
  close(): Promise<void>;
}

/**
 * Test defaults a template can override with its own top-level block:
 * - `auth`: tests that are not about keys run open, with the test admin key for the operator routes;
 * - `health`: breakers that never open, since fallback tests script failures on purpose and an open breaker
 *   would reroute the tests that follow them (breaker tests bring their own `health:`).
 */
export function withTestDefaults(yaml: string): string {
  const auth = /^auth:/m.test(yaml) ? '' : `auth: { mode: none, adminKeyHash: "${TEST_ADMIN_KEY_HASH}" }\n`;
  const health = /^health:/m.test(yaml) ? '' : 'health: { breaker: { consecutiveFailures: 1000000, minRequests: 1000000 } }\n';
  return `${auth}${health}${yaml}`;
}

export async function startHarness(yamlTemplate: string): Promise<Harness> {
  const fake = await startFakeProvider();
  const config = parseConfig(withTestDefaults(yamlTemplate).replaceAll('{{FAKE}}', fake.url), 'harness', {});
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

/**
 * One harness for the test file, started before its tests and closed after them; each test starts with an
 * empty fake-provider script and must end with no provider contract violation. The returned object stands for
 * the harness (it forwards to it once started), so tests read `h.fake`, `h.gateway` as usual.
 */
export function useForFile<H extends { fake: FakeProvider; close(): Promise<void> }>(start: () => Promise<H>): H {
  let current: H | undefined;
  beforeAll(async () => {
    current = await start();
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(() => current!.fake.reset());
  afterEach(() => expect(current!.fake.violations).toEqual([]));
  return new Proxy({} as H, {
    get(_target, prop) {
      if (!current) throw new Error('the harness is used before its beforeAll ran');
      return current[prop as keyof H];
    },
  });
}

/** The fast-path harness for a whole test file (see useForFile). */
export function useHarness(yamlTemplate: string): Harness {
  return useForFile(() => startHarness(yamlTemplate));
}
