/**
 * One request's text is embedded once by the gateway, whether the semantic cache or semantic routing asks (both on
 * the real all-MiniLM-L6-v2), and a text one tenant sent is embedded again for another: the memo is per tenant.
 * Counted in model runs (the test's LocalEmbedder shares the gateway's loaded model and its counter), not timed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { LocalEmbedder } from '../../src/embeddings/local.js';
import { startHarness, type Harness } from '../support/harness.js';
import { modelDirForTests } from '../support/model-dir.js';

const dir = modelDirForTests();
const A = 'gw-embed-share-tenant-a-key-aaaaaaaaaaaaaa';
const B = 'gw-embed-share-tenant-b-key-bbbbbbbbbbbbbb';

const yaml = `
server: { host: 127.0.0.1 }
durable: { enabled: false }
auth:
  keys:
    - { id: a, tenant: alpha, hash: "${hashKey(A)}" }
    - { id: b, tenant: bravo, hash: "${hashKey(B)}" }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-openai }
deployments:
  general: { provider: oa, model: gpt-general }
  code-dep: { provider: oa, model: gpt-code }
models:
  helpdesk:
    groups: [{ deployments: [general] }]
    semantic:
      embedder: { kind: local, dir: ${JSON.stringify(dir)} }
      routes:
        - name: code
          examples: ["fix this python function", "why does my typescript build fail", "the compiler gives a type error"]
          use: [code-dep]
cache:
  enabled: true
  store: { kind: embedded, dir: ${JSON.stringify(mkdtempSync(join(tmpdir(), 'cache-embed-share-')))} }
  embedder: { kind: local, dir: ${JSON.stringify(dir)} }
`;

describe('embedding a request once, per tenant', () => {
  let h: Harness;
  // Same file and settings as the gateway's two embedders: the same loaded model, so `runs` counts theirs.
  const probe = new LocalEmbedder({ dir });
  beforeAll(async () => {
    h = await startHarness(yaml);
    await probe.ready();
  });
  afterAll(async () => {
    await h?.close();
    await probe.close();
  });

  const chat = async (key: string, content: string) => {
    const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-gateway-cache': 'no-store' },
      body: JSON.stringify({ model: 'helpdesk', messages: [{ role: 'user', content }] }),
    });
    await res.text();
    expect(res.status).toBe(200);
    return res;
  };

  it('routes and looks up a request on one model run, and runs again for another tenant only', async () => {
    const text = `My TypeScript build fails with a type error (${Date.now()})`;
    // let the route examples finish embedding, so only request texts are counted below
    for (let i = 0; i < 100 && (await chat(A, 'fix this python function')).headers.get('x-gateway-routed-by') !== 'semantic:code'; i++) await new Promise((r) => setTimeout(r, 50));
    const before = probe.runs;
    const first = await chat(A, text);
    expect(first.headers.get('x-gateway-cache')).toBe('miss');
    expect(first.headers.get('x-gateway-routed-by')).toBe('semantic:code');
    expect(probe.runs - before).toBe(1);
    // the same text again from the same tenant: remembered
    await chat(A, text);
    expect(probe.runs - before).toBe(1);
    // from another tenant: embedded anew, never a remembered (faster) vector
    const other = await chat(B, text);
    expect(other.headers.get('x-gateway-routed-by')).toBe('semantic:code');
    expect(probe.runs - before).toBe(2);
  });
});
