/**
 * The gateway started as a user starts it (src/main.ts from some working directory): without a sentence model
 * anywhere it looks, it says once, at start, that the semantic tier is lexical only; with the model where
 * `npm run fetch-model` puts it, it finds it and says nothing of the kind.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/durable/dev-server.js';
import { MODEL_DIR_ENV } from '../../src/embeddings/model-dir.js';
import { LaunchedGateway } from '../support/launched-gateway.js';
import { modelDirForTests } from '../support/model-dir.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(repo, 'node_modules', '.bin', 'tsx');
const main = join(repo, 'src', 'main.ts');
const root = mkdtempSync(join(tmpdir(), 'gateway-model-warning-'));
const WARNING = 'the semantic tier is lexical only';

afterAll(() => {
  LaunchedGateway.killAll();
  rmSync(root, { recursive: true, force: true });
});

/** Starts the gateway in `cwd` (no GATEWAY_EMBEDDING_MODEL_DIR), with the cache on and no embedder configured. */
async function startIn(cwd: string): Promise<string> {
  mkdirSync(cwd, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(cwd, 'gateway.yaml'),
    `
dataDir: ./state
server: { host: 127.0.0.1, port: ${port} }
auth: { mode: none }
durable: { enabled: false }
providers: { m: { type: mock } }
deployments: { d: { provider: m, model: x } }
models: { chat: { groups: [{ deployments: [d] }] } }
cache: { enabled: true }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env[MODEL_DIR_ENV];
  const gw = LaunchedGateway.start(tsx, [main, '--config', 'gateway.yaml'], { cwd, env });
  await gw.ready();
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  expect(health.status).toBe(200);
  expect(await gw.interrupt()).toBe(true);
  return gw.output;
}

describe('start-up without an embedding model', () => {
  it('warns once that the semantic tier is lexical only, naming what uses it and how to get the model', async () => {
    // A directory with neither .tools/models nor ../shared/models beside it.
    const output = await startIn(join(root, 'no-model', 'here'));
    const warnings = output.split('\n').filter((l) => l.includes(WARNING));
    expect(warnings).toHaveLength(1);
    const line = JSON.parse(warnings[0]!) as { level: number; uses: string[]; howToFix: string };
    expect(line.level).toBe(40);
    expect(line.uses).toEqual(['cache']);
    expect(line.howToFix).toMatch(/GATEWAY_EMBEDDING_MODEL_DIR.*npm run fetch-model/);
  }, 60_000);

  it('finds the model where npm run fetch-model puts it, and does not warn', async () => {
    const cwd = join(root, 'fetched');
    mkdirSync(join(cwd, '.tools', 'models'), { recursive: true });
    symlinkSync(modelDirForTests(), join(cwd, '.tools', 'models', 'all-MiniLM-L6-v2'));
    const output = await startIn(cwd);
    expect(output).toContain('gateway listening');
    expect(output).not.toContain(WARNING);
  }, 60_000);
});
