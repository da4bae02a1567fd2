/**
 * The live status page in a real headless Chromium (CHROMIUM_PATH, Debian's `chromium`, or npm's
 * @sparticuz/chromium: test/support/chromium.ts; driven by playwright-core): after
 * scripted traffic it shows every deployment with the numbers /status.json gives, an open breaker for the
 * deployment scripted to fail, and the latest durable request linked into the Temporal UI. The screenshot is
 * looked at too: the open breaker's red badge and the closed ones' green badges must be on it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import type { StatusDocument } from '../../src/observability/status.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { withTestDefaults } from '../support/harness.js';
import { launchChromium } from '../support/chromium.js';
import { operatorFetch, TEST_ADMIN_KEY } from '../support/operator.js';

const UI = 'http://temporal-ui.example:8233';

const yaml = (taskQueue: string) => `
server: { host: 127.0.0.1 }
durable:
  temporal: { taskQueue: ${taskQueue}, uiUrl: "${UI}" }
  heartbeatTimeoutMs: 2000
health:
  breaker: { consecutiveFailures: 2, minRequests: 100, cooldownMs: 600000, maxCooldownMs: 600000 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-status-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-status }
deployments:
  oa-main: { provider: oa, model: gpt-main, weight: 3 }
  an-main: { provider: an, model: claude-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
  flaky: { groups: [{ deployments: [an-main] }, { deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 1 }
`;

let fake: FakeProvider;
let gateway: RunningGateway;
let browser: Browser;

beforeAll(async () => {
  ({ browser } = await launchChromium());
  fake = await startFakeProvider();
  const config = parseConfig(withTestDefaults(yaml(`status-${randomUUID()}`)).replaceAll('{{FAKE}}', fake.url), 'status-test', {});
  gateway = await startGateway(config, {
    port: 0,
    logger: createLogger('silent'),
    temporalAddress: inject('temporalAddress'),
    worker: { workflowBundle: { codePath: inject('workflowBundlePath') } },
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await fake?.close();
});

async function post(path: string, body: unknown) {
  const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'status?' }] });

/** The page's own formatting rules (status-page/index.html `fmt`). */
const fmt = {
  rate: (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`),
  ms: (v: number | null) => (v === null ? '–' : String(Math.round(v))),
  tps: (v: number | null) => (v === null ? '–' : v.toFixed(1)),
  weight: (v: number) => String(Math.round(v * 100) / 100),
};

describe('status page', () => {
  it('shows each deployment live, the open breaker, the numbers of /status.json and linked durable requests', async () => {
    // an-main fails twice and its breaker opens; the third request skips it. oa-main answers all three.
    fake.scriptFor('claude-main', { kind: 'error', status: 500 }, { kind: 'error', status: 500 });
    for (let i = 0; i < 3; i++) expect((await post('/v1/chat/completions', chat('flaky'))).status).toBe(200);
    const submitted = await post('/v1/requests', chat('chat'));
    expect(submitted.status).toBe(202);
    const done = await fetch(`${gateway.url}/v1/requests/${submitted.body.id}?wait=20s`);
    expect(((await done.json()) as any).status).toBe('succeeded');

    const json = (await (await operatorFetch(`${gateway.url}/status.json`)).json()) as StatusDocument;
    const an = json.deployments.find((d) => d.name === 'an-main')!;
    const oa = json.deployments.find((d) => d.name === 'oa-main')!;
    expect(an).toMatchObject({ breaker: 'open', successRate: 0, calls: 2, errors: 2, weight: 1 });
    expect(oa).toMatchObject({ breaker: 'closed', successRate: 1, calls: 3, errors: 0, weight: 3 });
    expect(oa.latencyMs.p50).not.toBeNull();
    const recent = json.durable.recent.find((r) => r.id === submitted.body.id)!;
    expect(recent).toMatchObject({ alias: 'chat', status: 'COMPLETED', outcome: 'success', deployment: 'oa-main' });
    expect(recent.url).toBe(`${UI}/namespaces/default/workflows/${recent.id}/${recent.runId}/history`);

    // an operator's browser: the page's 401 asks for the admin key (Basic), and the page's own polls carry it
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, httpCredentials: { username: 'operator', password: TEST_ADMIN_KEY } });
    try {
      await page.goto(`${gateway.url}/status?refresh=300`);
      await page.waitForSelector('tr[data-deployment="an-main"] td[data-field="breaker"][data-value="open"]', { timeout: 10_000 });
      await page.waitForSelector(`#durable tr[data-request="${submitted.body.id}"]`, { timeout: 10_000 });

      // every deployment of the config, each cell as /status.json says (no traffic since: the numbers hold still)
      const rows = await page.$$eval('#deployments tbody tr', (trs) =>
        trs.map((tr) => ({
          name: (tr as HTMLElement).dataset.deployment,
          cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.field, (td.querySelector('span') ?? td).textContent])),
          breaker: tr.querySelector('.badge')?.textContent,
        })),
      );
      expect(rows.map((r) => r.name)).toEqual(json.deployments.map((d) => d.name));
      for (const d of json.deployments) {
        const row = rows.find((r) => r.name === d.name)!;
        expect(row.breaker).toBe(d.breaker.replace('_', '-'));
        expect(row.cells).toMatchObject({
          successRate: fmt.rate(d.successRate),
          calls: String(d.calls),
          p50: fmt.ms(d.latencyMs.p50),
          p95: fmt.ms(d.latencyMs.p95),
          tokensPerSecond: fmt.tps(d.tokensPerSecond),
          inFlight: String(d.inFlight),
          weight: fmt.weight(d.weight),
        });
      }
      expect(rows.find((r) => r.name === 'an-main')!.cells.successRate).toBe('0.0%');
      expect(rows.find((r) => r.name === 'oa-main')!.cells.successRate).toBe('100.0%');
      const link = await page.getAttribute(`#durable tr[data-request="${submitted.body.id}"] a`, 'href');
      expect(link).toBe(recent.url);

      // it is live: new traffic shows up without a reload
      expect((await post('/v1/chat/completions', chat('chat'))).status).toBe(200);
      await page.waitForSelector('tr[data-deployment="oa-main"] td[data-field="calls"][data-value="4"]', { timeout: 10_000 });

      const png = await page.screenshot({ fullPage: true });
      const file = join(mkdtempSync(join(tmpdir(), 'gateway-status-')), 'status.png');
      writeFileSync(file, png);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.readUInt32BE(16)).toBe(1280); // IHDR width
      expect(png.length).toBeGreaterThan(10_000);
      // Read the screenshot's pixels back in the browser: the red "open" badge and green "closed" badge are on it.
      const colours = await page.evaluate(async (b64) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const g = canvas.getContext('2d')!;
        g.drawImage(img, 0, 0);
        const px = g.getImageData(0, 0, img.width, img.height).data;
        const near = (i: number, [r, gr, bl]: number[]) => Math.abs(px[i]! - r!) + Math.abs(px[i + 1]! - gr!) + Math.abs(px[i + 2]! - bl!) < 30;
        let red = 0;
        let green = 0;
        const distinct = new Set<number>();
        for (let i = 0; i < px.length; i += 4) {
          if (near(i, [0xc0, 0x10, 0x48])) red++;
          if (near(i, [0x12, 0x80, 0x5c])) green++;
          distinct.add((px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!);
        }
        return { red, green, distinct: distinct.size };
      }, png.toString('base64'));
      expect(colours.red, `red badge pixels in ${file}`).toBeGreaterThan(100);
      expect(colours.green, `green badge pixels in ${file}`).toBeGreaterThan(100);
      expect(colours.distinct).toBeGreaterThan(50);
    } finally {
      await page.close();
    }
  }, 90_000);

  it('serves Prometheus metrics and the page without a build step, to the admin key only', async () => {
    const metrics = await operatorFetch(`${gateway.url}/metrics`);
    expect(await metrics.text()).toMatch(/^llm_gateway_circuit_breaker_state\{deployment="an-main"\} 2$/m);
    const refused = await fetch(`${gateway.url}/status`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
    const page = await operatorFetch(`${gateway.url}/status`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<title>LLM gateway · status</title>');
  });
});
