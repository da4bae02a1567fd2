/**
 * The same config started from two different working directories is the same gateway: its state (the dev
 * server's db, the cache) lives where the config says, so an Idempotency-Key submitted in the first run
 * returns the same request, answered, in the second.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/durable/dev-server.js';
import { LaunchedGateway } from '../support/launched-gateway.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

afterAll(() => LaunchedGateway.killAll());

describe('data paths', () => {
  it('a config started from another cwd sees the same durable state', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gateway-data-paths-'));
    for (const d of ['conf', 'a', 'b/c']) mkdirSync(join(root, d), { recursive: true });
    const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(root, 'conf', 'gateway.yaml'),
      `
dataDir: ../state
server: { host: 127.0.0.1, port: ${port} }
auth: { mode: none }
durable: { devServer: { port: ${temporalPort}, uiPort: ${uiPort} } }
providers: { m: { type: mock } }
deployments: { d: { provider: m, model: x } }
models: { chat: { groups: [{ deployments: [d] }] } }
cache: { enabled: true }
`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, GATEWAY_WORKFLOW_BUNDLE: inject('workflowBundlePath') };
    delete env.TEMPORAL_ADDRESS;
    const tsx = join(repo, 'node_modules', '.bin', 'tsx');
    const main = join(repo, 'src', 'main.ts');
    const base = `http://127.0.0.1:${port}`;
    const submit = async () => {
      const res = await fetch(`${base}/v1/requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'same-everywhere' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'remember me' }] }),
      });
      expect([200, 202]).toContain(res.status);
      return ((await res.json()) as { id: string }).id;
    };

    // The config path as typed in each directory: relative, and different.
    const first = LaunchedGateway.start(tsx, [main, '--config', '../conf/gateway.yaml'], { cwd: join(root, 'a'), env });
    await first.ready();
    const id = await submit();
    const answered = (await (await fetch(`${base}/v1/requests/${id}?wait=20s`)).json()) as any;
    expect(answered.status).toBe('succeeded');
    expect(await first.interrupt()).toBe(true);

    const second = LaunchedGateway.start(tsx, [main, '--config', '../../conf/gateway.yaml'], { cwd: join(root, 'b', 'c'), env });
    await second.ready();
    expect(await submit()).toBe(id);
    const again = (await (await fetch(`${base}/v1/requests/${id}`)).json()) as any;
    expect(again.status).toBe('succeeded');
    expect(again.result.choices[0].message.content).toBe(answered.result.choices[0].message.content);
    expect(await second.interrupt()).toBe(true);

    expect(existsSync(join(root, 'state', 'temporal.db'))).toBe(true);
    expect(existsSync(join(root, 'state', 'cache'))).toBe(true);
    for (const cwd of ['a', 'b/c', 'conf']) expect(existsSync(join(root, cwd, '.data'))).toBe(false);
  }, 90_000);
});
