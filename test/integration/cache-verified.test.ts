/**
 * The verified semantic cache through the gateway on the real sentence model (all-MiniLM-L6-v2, default
 * thresholds for a model): a hard negative above the vector threshold is refused by the verifier and goes
 * upstream, with the refusal in `x-gateway-cache-verdict`; a paraphrase is served with `verified`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { modelDirForTests } from '../support/model-dir.js';

const yaml = (dir: string, model: string) => `
server: { host: 127.0.0.1 }
durable: { enabled: false }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
cache:
  enabled: true
  store: { kind: embedded, dir: "${dir}" }
  embedder: { kind: local, dir: "${model}" }
`;

const ask = (content: string) => ({ model: 'chat', messages: [{ role: 'user', content }] });

async function post(h: Harness, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { headers: res.headers, body: (await res.json()) as any };
}

describe('verified semantic cache on the real model', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(yaml(mkdtempSync(join(tmpdir(), 'gateway-cache-verified-')), modelDirForTests()));
    await post(h, ask('Convert 5 km to miles'));
    for (let i = 0; i < 100; i++) {
      const r = await post(h, ask('Convert 5 km to miles'), { 'x-gateway-cache': 'no-store' });
      if (r.headers.get('x-gateway-cache') === 'hit') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the answer was never cached');
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a hard negative the vectors call a near twin, and names why', async () => {
    const r = await post(h, ask('Convert 8 km to miles'), { 'x-gateway-cache': 'no-store' });
    expect(r.headers.get('x-gateway-cache')).toBe('miss');
    expect(r.headers.get('x-gateway-cache-verdict')).toBe('number_mismatch');
    expect(Number(r.headers.get('x-gateway-cache-similarity'))).toBeGreaterThanOrEqual(0.79);
    expect(r.body.choices[0].message.content).toBe('Echo: Convert 8 km to miles');
  });

  it('serves a paraphrase, verified', async () => {
    const r = await post(h, ask('How many miles is 5 km?'), { 'x-gateway-cache': 'no-store' });
    expect(r.headers.get('x-gateway-cache')).toBe('hit');
    expect(r.headers.get('x-gateway-cache-verdict')).toBe('verified');
    expect(r.body.choices[0].message.content).toBe('Echo: Convert 5 km to miles');
  });
});
