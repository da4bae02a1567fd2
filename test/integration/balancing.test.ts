/**
 * In-group ordering driven through both paths: latency routing avoids a slow deployment (by alias policy or
 * a client's `x-gateway-route: fastest`), least-loaded avoids one with calls piled up, and vLLM engine
 * numbers scraped from /metrics steer calls away from a saturated server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';
import { operatorFetch } from '../support/operator.js';

const vllmPage = (waiting: number, running: number, kv: number) => `# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="llama"} ${running}
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="llama"} ${waiting}
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="llama"} ${kv}
`;

const yaml = `
health:
  engine: { scrapeIntervalMs: 200, timeoutMs: 150, maxAgeMs: 5000 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-balance-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-balance-upstream }
deployments:
  quick: { provider: oa, model: gpt-quick }
  sluggish: { provider: an, model: claude-sluggish }
  lb-a: { provider: oa, model: gpt-lb-a }
  lb-b: { provider: oa, model: gpt-lb-b }
  vllm-busy: { provider: oa, model: llama, engine: vllm, metricsUrl: "{{METRICS}}/busy" }
  vllm-idle: { provider: an, model: llama, engine: vllm, metricsUrl: "{{METRICS}}/idle" }
  fb-fast: { provider: oa, model: gpt-fb-fast }
  fb-slow: { provider: oa, model: gpt-fb-slow }
models:
  only-fb-fast: { groups: [{ deployments: [fb-fast] }] }
  only-fb-slow: { groups: [{ deployments: [fb-slow] }] }
  # slack 1 (double the best is still full weight): a 200 ms delay is far beyond it, the noise of a busy CI machine is not
  fb-pair: { groups: [{ deployments: [fb-fast, fb-slow] }], routing: { feedback: { slack: 1 } } }
  only-quick: { groups: [{ deployments: [quick] }] }
  only-sluggish: { groups: [{ deployments: [sluggish] }] }
  fastest:
    groups: [{ deployments: [quick, sluggish] }]
    routing: { strategy: latency, latency: { metric: total, minSamples: 3, explore: 0 } }
  pair:
    groups: [{ deployments: [quick, sluggish] }]
    routing: { latency: { metric: total, minSamples: 3, explore: 0 } }
  only-lb-a: { groups: [{ deployments: [lb-a] }] }
  balanced: { groups: [{ deployments: [lb-a, lb-b] }], routing: { strategy: least-loaded } }
  engines: { groups: [{ deployments: [vllm-busy, vllm-idle] }], routing: { strategy: least-loaded } }
`;

let h: DurableHarness;
let metrics: Server;
beforeAll(async () => {
  metrics = createServer((req, res) => {
    const page = req.url === '/busy' ? vllmPage(40, 24, 0.97) : vllmPage(0, 1, 0.12);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(page);
  });
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  const { port } = metrics.address() as AddressInfo;
  h = await startDurableHarness(yaml.replaceAll('{{METRICS}}', `http://127.0.0.1:${port}`));
});
afterAll(async () => {
  await h?.close();
  await new Promise((resolve) => metrics?.close(resolve));
});
beforeEach(() => h.fake.reset());
afterEach(() => expect(h.fake.violations).toEqual([]));

type Path = 'fast' | 'durable';

async function chat(path: Path, model: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(path === 'durable' && { 'x-gateway-durable': 'true' }), ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  return { status: res.status, deployment: res.headers.get('x-gateway-deployment'), body: (await res.json()) as any };
}

describe('latency-aware routing', () => {
  beforeAll(async () => {
    // Build latency history through single-deployment aliases (health is per deployment, shared by aliases).
    for (let i = 0; i < 4; i++) {
      h.fake.scriptFor('claude-sluggish', { kind: 'delay', ms: 250 });
      await chat('fast', 'only-sluggish');
      await chat('fast', 'only-quick');
    }
  });

  it.each<Path>(['fast', 'durable'])('an alias with the latency strategy avoids the slow deployment (%s path)', async (path) => {
    const picked = [];
    for (let i = 0; i < 6; i++) picked.push((await chat(path, 'fastest')).deployment);
    expect(picked).toEqual(Array(6).fill('quick'));
  });

  it.each<Path>(['fast', 'durable'])('a client asks for the fastest with x-gateway-route on a weighted alias (%s path)', async (path) => {
    const picked = [];
    for (let i = 0; i < 6; i++) picked.push((await chat(path, 'pair', { 'x-gateway-route': 'fastest' })).deployment);
    expect(picked).toEqual(Array(6).fill('quick'));
  });

  it('an unreadable routing hint is a 400 naming the header', async () => {
    const r = await chat('fast', 'pair', { 'x-gateway-route': 'cheapest-please' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'x-gateway-route' });
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe('load balancing', () => {
  it.each<Path>(['fast', 'durable'])('least-loaded sends calls away from a deployment with calls in flight (%s path)', async (path) => {
    h.fake.scriptFor('gpt-lb-a', { kind: 'hold' }, { kind: 'hold' }, { kind: 'hold' });
    const held = [0, 1, 2].map(() => chat('fast', 'only-lb-a'));
    await expect.poll(() => h.fake.held, { timeout: 5_000 }).toBe(3);
    const picked = [];
    for (let i = 0; i < 5; i++) picked.push((await chat(path, 'balanced')).deployment);
    expect(picked).toEqual(Array(5).fill('lb-b'));
    h.fake.release();
    await Promise.all(held);
  });

  it.each<Path>(['fast', 'durable'])('a vLLM server reporting a long queue and a full KV cache is passed over (%s path)', async (path) => {
    // the scraper polls every 200 ms; the first round runs at start
    await expect
      .poll(async () => ((await (await operatorFetch(`${h.gateway.url}/health/deployments`)).json()) as any).deployments['vllm-busy'].engine?.waiting, { timeout: 5_000 })
      .toBe(40);
    const picked = [];
    for (let i = 0; i < 5; i++) picked.push((await chat(path, 'engines')).deployment);
    expect(picked).toEqual(Array(5).fill('vllm-idle'));
  });
});

describe('latency feedback on weights', () => {
  const weights = async () => {
    const body = (await (await operatorFetch(`${h.gateway.url}/health/deployments`)).json()) as any;
    return Object.fromEntries(body.aliases['fb-pair'][0].map((w: any) => [w.deployment, w]));
  };

  it('a deployment that slows down loses weight, and gets it back when it recovers', async () => {
    for (let i = 0; i < 5; i++) {
      h.fake.scriptFor('gpt-fb-slow', { kind: 'delay', ms: 200 });
      await chat('fast', 'only-fb-slow');
      await chat('fast', 'only-fb-fast');
    }
    const slowed = await weights();
    expect(slowed['fb-fast'].effective).toBe(slowed['fb-fast'].configured);
    expect(slowed['fb-slow'].effective).toBeLessThan(slowed['fb-slow'].configured * 0.5);
    expect(slowed['fb-slow'].effective).toBeGreaterThan(0);

    // fast answers again: once they are most of its window, its median is back with the best (measured beside it,
    // so both windows hold calls made under the same load)
    for (let i = 0; i < 12; i++) {
      await chat('fast', 'only-fb-slow');
      await chat('fast', 'only-fb-fast');
    }
    const recovered = await weights();
    expect(recovered['fb-slow'].effective).toBe(recovered['fb-slow'].configured);
  });
});
