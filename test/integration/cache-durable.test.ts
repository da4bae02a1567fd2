/** The durable workflow's catch-all asks the semantic cache (shared with the fast path in one process) before the preset. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';

let h: DurableHarness;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-cache-durable-'));
  h = await startDurableHarness(`
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  an-main: { provider: an, model: claude-main }
models:
  chat:
    groups: [{ deployments: [oa-main] }, { deployments: [an-main] }]
    fallback: { catchAll: { presetAnswer: "Busy, try later." } }
defaults:
  fallback: { attemptsPerDeployment: 1 }
cache:
  enabled: true
  store: { kind: embedded, dir: "${dir}" }
  catchAllThreshold: 0.5
`);
});
afterAll(async () => {
  await h?.close();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const ask = (content: string) => ({ model: 'chat', messages: [{ role: 'user', content }] });
const allDown = () => {
  h.fake.scriptFor('gpt-main', { kind: 'error', status: 503 });
  h.fake.scriptFor('claude-main', { kind: 'error', status: 529 });
};

describe('durable catch-all and the cache', () => {
  it('serves a stale cached answer marked as such, and the preset when nothing is close', async () => {
    expect((await post(ask('What are the opening hours of the museum?'))).status).toBe(200);
    // wait until the answer is stored (stores run after the response)
    for (let i = 0; i < 50; i++) {
      const r = await post(ask('What are the opening hours of the museum?'), { 'x-gateway-cache': 'no-store' });
      if (r.headers.get('x-gateway-cache') === 'hit') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    allDown();
    const stale = await post(ask('when does the museum open'), { 'x-gateway-durable': 'true' });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-gateway-cache')).toBe('stale');
    expect(stale.headers.get('x-gateway-fallback')).toBe('catch_all');
    const similarity = Number(stale.headers.get('x-gateway-cache-similarity'));
    expect(similarity).toBeGreaterThan(0.5);
    expect(similarity).toBeLessThan(1);
    // The verifier passed it, as on the fast path.
    expect(stale.headers.get('x-gateway-cache-verdict')).toBe('verified');
    expect(((await stale.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('Echo: What are the opening hours of the museum?');
    const wf = h.temporal.workflow.getHandle(stale.headers.get('x-gateway-request-id')!);
    expect(await wf.result()).toMatchObject({ outcome: 'catch_all', catchAll: 'cache', cacheVerdict: 'verified' });

    allDown();
    const preset = await post(ask('Something unrelated to anything cached'), { 'x-gateway-durable': 'true' });
    expect(preset.status).toBe(200);
    expect(preset.headers.get('x-gateway-cache')).toBe('miss');
    expect(((await preset.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('Busy, try later.');
  }, 60_000);
});
