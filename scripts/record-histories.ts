/**
 * Records request-workflow histories as replay fixtures (test/fixtures/histories/*.json): one per way a request
 * can end. The replay test runs them against today's workflow code, so a change that would break running
 * workflows (non-determinism) fails CI. Re-record only when a change is deliberately incompatible (and
 * versioned with `patched`):  npx tsx scripts/record-histories.ts
 *
 * protobufjs 8 is a direct dependency only so that one copy serves all @temporalio packages: with two copies,
 * history JSON conversion fails with "type must be a Type".
 */
import { writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { parseConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { freePort, startDevServer } from '../src/durable/dev-server.js';
import { ensureTemporalCli } from '../src/durable/temporal-cli.js';
import { startFakeProvider } from '../test/fake-provider/server.js';

const fake = await startFakeProvider();
const dev = await startDevServer({ cli: ensureTemporalCli(), port: await freePort(), uiPort: false, namespace: 'default' });
const taskQueue = `record-${randomUUID()}`;
const config = parseConfig(
  `
auth: { mode: none }
durable: { temporal: { taskQueue: ${taskQueue} }, heartbeatTimeoutMs: 2000 }
providers:
  oa: { type: openai, baseUrl: "${fake.url}/v1", apiKey: k }
  an: { type: anthropic, baseUrl: "${fake.url}", apiKey: k }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  chat: { groups: [{ deployments: [oa-main] }, { deployments: [an-main] }], fallback: { catchAll: { presetAnswer: busy } } }
  solo: { groups: [{ deployments: [oa-main] }] }
defaults: { fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 20 } } }
`,
  'record',
  {},
);
const gateway = await startGateway(config, { port: 0, logger: createLogger('silent'), temporalAddress: dev.address });
const client = new Client({ connection: await Connection.connect({ address: dev.address }) });

const scenarios: Array<[name: string, model: string, script: () => void]> = [
  ['success', 'chat', () => {}],
  ['fallback', 'chat', () => fake.scriptFor('gpt-main', { kind: 'error', status: 500 }, { kind: 'error', status: 500 })],
  ['retry-after', 'solo', () => fake.scriptFor('gpt-main', { kind: 'error', status: 429, retryAfterMs: 200 })],
  ['rejected', 'chat', () => fake.scriptFor('gpt-main', { kind: 'error', status: 400 })],
  ['catch-all', 'chat', () => {
    fake.scriptFor('gpt-main', { kind: 'error', status: 503 }, { kind: 'error', status: 503 });
    fake.scriptFor('claude-main', { kind: 'error', status: 529 }, { kind: 'error', status: 529 });
  }],
  ['busy', 'solo', () => fake.scriptFor('gpt-main', { kind: 'error', status: 502 }, { kind: 'error', status: 502 })],
];

for (const [name, model, script] of scenarios) {
  fake.reset();
  script();
  const res = await fetch(`${gateway.url}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: `record ${name}` }] }),
  });
  const { id } = (await res.json()) as { id: string };
  await fetch(`${gateway.url}/v1/requests/${id}?wait=30s`);
  const history = await client.workflow.getHandle(id).fetchHistory();
  writeFileSync(`test/fixtures/histories/${name}.json`, `${historyToJSON(history)}\n`);
  console.log(`recorded ${name} (${history.events?.length} events)`);
}

await gateway.close();
await client.connection.close();
await dev.stop();
await fake.close();
