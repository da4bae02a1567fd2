/**
 * The Temporal Web UI shows an encrypted durable request's input in clear, through the gateway's codec endpoint,
 * in a real headless Chromium (test/support/chromium.ts). The gateway runs as `npm start` does: role all with
 * its embedded dev server (UI on, `--ui-codec-endpoint` pointing at /admin/codec) and no GATEWAY_PAYLOAD_KEYS,
 * so it generates its key into the data dir. The operator's browser logs in once at the codec endpoint (the
 * Basic challenge takes the admin key), and the UI's codec setting "Include cross-origin credentials" makes
 * its decode calls carry it; a browser that did not log in sees only ciphertext.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Client, Connection } from '@temporalio/client';
import { hashKey } from '../../src/auth/keys.js';
import { parseConfig } from '../../src/config/load.js';
import { freePort } from '../../src/durable/dev-server.js';
import { DEV_KEY_FILE, PAYLOAD_KEYS_ENV } from '../../src/durable/payload-keys.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { launchChromium } from '../support/chromium.js';
import { withTestDefaults } from '../support/harness.js';

const ADMIN = 'admin-key-codec-ui';
const KEY = 'tenant-key-codec-ui';
const dataDir = mkdtempSync(join(tmpdir(), 'gateway-codec-ui-'));

let fake: FakeProvider;
let gateway: RunningGateway;
let saved: string | undefined;

beforeAll(async () => {
  saved = process.env[PAYLOAD_KEYS_ENV];
  delete process.env[PAYLOAD_KEYS_ENV];
  fake = await startFakeProvider();
  const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const yaml = `
dataDir: "${dataDir}"
server: { host: 127.0.0.1, port: ${port}, operator: { port: 0 } }
durable:
  temporal: { taskQueue: codec-ui-${randomUUID()} }
  devServer: { port: ${temporalPort}, uiPort: ${uiPort} }
auth:
  adminKeyHash: "${hashKey(ADMIN)}"
  keys: [{ id: ui, tenant: acme, hash: "${hashKey(KEY)}" }]
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-codec-ui-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
`;
  const config = parseConfig(withTestDefaults(yaml).replaceAll('{{FAKE}}', fake.url), join(dataDir, 'gateway.yaml'), {});
  gateway = await startGateway(config, { port, logger: createLogger('silent'), worker: { workflowBundle: { codePath: inject('workflowBundlePath') } } });
}, 120_000);
afterAll(async () => {
  await gateway?.close();
  await fake?.close();
  if (saved !== undefined) process.env[PAYLOAD_KEYS_ENV] = saved;
});

/** A durable request whose prompt is `prompt`; resolves with its id once answered. */
async function durableRequest(prompt: string): Promise<string> {
  fake.script({ kind: 'reply', text: `answer to ${prompt}` });
  const auth = { authorization: `Bearer ${KEY}` };
  const submit = await fetch(`${gateway.url}/v1/requests`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: prompt }] }),
  });
  expect(submit.status).toBe(202);
  const { id } = (await submit.json()) as { id: string };
  const view = (await (await fetch(`${gateway.url}/v1/requests/${id}?wait=20s`, { headers: auth })).json()) as { status: string };
  expect(view.status).toBe('succeeded');
  return id;
}

/** What the operator sets in the UI's Codec Server settings (the UI keeps them in its local storage). */
async function includeCredentials(page: Page): Promise<void> {
  await page.addInitScript(() => {
    localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
    localStorage.setItem('includeCredentials', 'true');
  });
}

async function withBrowser(fn: (browser: Browser) => Promise<void>): Promise<void> {
  const { browser } = await launchChromium();
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

async function openWorkflow(page: Page, id: string): Promise<void> {
  await page.goto(`${gateway.temporalUiUrl}/namespaces/default/workflows/${id}`, { waitUntil: 'domcontentloaded' });
}

describe('the Temporal UI through the codec endpoint', () => {
  it('runs encrypted on the embedded defaults: a generated key, 0600, in the data dir', async () => {
    const file = join(dataDir, DEV_KEY_FILE);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const id = await durableRequest(`plain check ${randomUUID()}`);
    const connection = await Connection.connect({ address: gateway.temporalAddress! });
    try {
      const raw = await new Client({ connection }).workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: id } });
      const input = raw.history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');
    } finally {
      await connection.close();
    }
  });

  it('the operator listener (loopback) decodes without a key; the main port asks for it', async () => {
    const id = await durableRequest(`operator listener ${randomUUID()}`);
    const connection = await Connection.connect({ address: gateway.temporalAddress! });
    let input: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null };
    try {
      const raw = await new Client({ connection }).workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: id } });
      input = raw.history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    } finally {
      await connection.close();
    }
    const body = JSON.stringify({
      payloads: [{ metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(input.data!).toString('base64') }],
    });
    const post = (base: string) => fetch(`${base}/admin/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(gateway.operatorUrl).toBeTruthy();
    const open = await post(gateway.operatorUrl!);
    expect(open.status).toBe(200);
    const decoded = (await open.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()).toContain('operator listener');
    expect((await post(gateway.url)).status).toBe(401);
  });

  it('shows the decoded input to an operator who gave the admin key; not to a browser that did not', async () => {
    const marker = `codec-ui-marker-${randomUUID()}`;
    const id = await durableRequest(marker);

    // A browser each: the bundled headless shell runs single-process, shares its HTTP auth cache between
    // contexts, and does not survive a second page for long.
    await withBrowser(async (stranger) => {
      const other = await stranger.newPage({ viewport: { width: 1400, height: 1000 } });
      await includeCredentials(other);
      const refused: number[] = [];
      other.on('response', (r) => {
        if (r.url().includes('/admin/codec/decode')) refused.push(r.status());
      });
      await openWorkflow(other, id);
      await other.getByText(id).first().waitFor({ timeout: 30_000 });
      await expect.poll(() => refused.length, { timeout: 15_000 }).toBeGreaterThan(0);
      expect(refused.filter((s) => s !== 401), `decode answers: ${refused.join(",")}`).toEqual([]);
      expect(await other.content()).not.toContain(marker);
    });
    await withBrowser(async (operator) => {
      const page = await operator.newPage({ viewport: { width: 1400, height: 1000 } });
      // the login: the codec endpoint's Basic challenge, answered with the admin key (any user name)
      const login = await page.goto(`http://operator:${ADMIN}@${new URL(gateway.url).host}/admin/codec/`);
      expect(login?.status()).toBe(200);
      expect(await login?.json()).toMatchObject({ object: 'codec_endpoint', encrypted: true });
      await includeCredentials(page);
      const decodeCalls: number[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/admin/codec/decode')) decodeCalls.push(r.status());
      });
      await openWorkflow(page, id);
      try {
        await page.getByText(marker).first().waitFor({ timeout: 30_000 });
      } catch (err) {
        await page.screenshot({ path: join(dataDir, 'operator.png'), fullPage: true });
        throw new Error(`${(err as Error).message}\ndecode calls: ${decodeCalls.join(',')}; screenshot ${join(dataDir, 'operator.png')}`);
      }
      expect(decodeCalls).toContain(200);
    });
  }, 90_000);
});
