/**
 * With `durable: { enabled: false }` the gateway never loads the Temporal SDK (issue #16: it cost ~37 MB RSS).
 * The gateway runs as a user runs it (`src/main.ts` in its own process), serves a chat completion, and is
 * stopped; a `--require`d hook writes every CommonJS module the process loaded (the @temporalio packages are
 * CommonJS, so an ESM import of them lands in the require cache too) when it exits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { fakeUpstreamLines } from '../support/fake-upstream-lines.js';

const HOOK = `
const { writeFileSync } = require('node:fs');
process.on('exit', () => writeFileSync(process.env.LOADED_MODULES_FILE, JSON.stringify(Object.keys(require.cache))));
`;

let dir: string;
let fake: FakeProvider;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gateway-no-temporal-'));
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function configYaml(): string {
  return [
    'server: { host: 127.0.0.1, port: 0 }',
    'logging: { level: info }',
    'durable: { enabled: false }',
    'auth: { mode: none }',
    ...fakeUpstreamLines(fake.url),
  ].join('\n');
}

it('serves a chat completion with durable disabled without loading any @temporalio module', async () => {
  const configPath = path.join(dir, 'gateway.yaml');
  const hookPath = path.join(dir, 'loaded-modules.cjs');
  const loadedFile = path.join(dir, 'loaded.json');
  writeFileSync(configPath, configYaml());
  writeFileSync(hookPath, HOOK);
  const child = spawn(process.execPath, ['--require', hookPath, '--import', 'tsx', 'src/main.ts', '--config', configPath, '--data-dir', path.join(dir, 'data')], {
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEWAY_'))), LOADED_MODULES_FILE: loadedFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const s of [child.stdout, child.stderr]) s.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const onData = () => {
        const line = output.split('\n').find((l) => l.includes('"gateway listening"'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      };
      child.stdout.on('data', onData);
      void exited.then(() => reject(new Error(`the gateway exited before listening:\n${output.slice(-4000)}`)));
    });

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]?.message.content).toEqual(expect.any(String));
    expect(fake.requests).toHaveLength(1);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited, output.slice(-4000)).toBe(0);

  const loaded = JSON.parse(readFileSync(loadedFile, 'utf8')) as string[];
  // the hook sees ESM-imported CommonJS packages at all (express is one, and serves every request)
  expect(loaded.some((p) => p.includes(`${path.sep}express${path.sep}`))).toBe(true);
  expect(loaded.filter((p) => p.includes(`${path.sep}@temporalio${path.sep}`))).toEqual([]);
}, 60_000);
