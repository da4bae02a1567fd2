import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { HealthState } from '../../src/health/health-state.js';
import { engineStatsFrom, metricsUrlFor, metricsUrlField, parseSamples, vllmTargets, VllmMetricsScraper, type VllmTarget } from '../../src/health/vllm-metrics.js';
import { closeHttpPools } from '../../src/providers/http.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const V1 = fixture('vllm-metrics-v1.txt');
const V0 = fixture('vllm-metrics-v0.txt');
const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';
const MISTRAL = 'mistralai/Mistral-7B-Instruct-v0.2';

describe('vLLM metrics: where to scrape', () => {
  it('the provider base URL without /v1, or the explicit URL', () => {
    expect(metricsUrlFor('http://gpu1:8000/v1')).toBe('http://gpu1:8000/metrics');
    expect(metricsUrlFor('http://gpu1:8000/v1/')).toBe('http://gpu1:8000/metrics');
    expect(metricsUrlFor('http://gpu1:8000')).toBe('http://gpu1:8000/metrics');
    expect(metricsUrlFor('https://edge.example/vllm/v1')).toBe('https://edge.example/vllm/metrics');
    expect(metricsUrlFor('http://gpu1:8000/v1', 'http://gpu1:9100/metrics')).toBe('http://gpu1:9100/metrics');
    expect(metricsUrlFor('mock://local')).toBeNull();
    expect(metricsUrlFor(undefined)).toBeNull();
    expect(metricsUrlField.parse('http://gpu1:9100/metrics')).toBe('http://gpu1:9100/metrics');
    expect(() => metricsUrlField.parse('ftp://gpu1/metrics')).toThrow();
  });

  it('targets only deployments marked engine: vllm that have an HTTP URL', () => {
    const targets = vllmTargets({
      providers: { local: { baseUrl: 'http://gpu1:8000/v1' }, openai: { baseUrl: 'https://api.openai.com/v1' }, mock: { baseUrl: 'mock://local' } },
      deployments: {
        llama: { provider: 'local', model: LLAMA, engine: 'vllm' },
        llamaSide: { provider: 'local', model: LLAMA, engine: 'vllm', metricsUrl: 'http://gpu1:9100/metrics' },
        gpt: { provider: 'openai', model: 'gpt-4o' },
        ollama: { provider: 'local', model: 'x', engine: 'ollama' },
        mocked: { provider: 'mock', model: 'm', engine: 'vllm' },
      },
    });
    expect(targets).toEqual([
      { deployment: 'llama', url: 'http://gpu1:8000/metrics', model: LLAMA },
      { deployment: 'llamaSide', url: 'http://gpu1:9100/metrics', model: LLAMA },
    ]);
  });
});

describe('vLLM metrics: parsing', () => {
  it('reads the request and KV-cache gauges of a V1 server, one sample per engine', () => {
    const samples = parseSamples(V1);
    expect(samples.filter((s) => s.name === 'vllm:num_requests_waiting')).toEqual([
      { name: 'vllm:num_requests_waiting', labels: { engine: '0', model_name: LLAMA }, value: 3 },
      { name: 'vllm:num_requests_waiting', labels: { engine: '1', model_name: LLAMA }, value: 2 },
    ]);
    // nothing else is even looked at: histograms, counters, info gauges
    expect(new Set(samples.map((s) => s.name))).toEqual(
      new Set(['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:gpu_cache_usage_perc', 'vllm:kv_cache_usage_perc']),
    );
  });

  it('V1: sums queues over engines, averages KV use, prefers kv_cache_usage_perc over the deprecated name', () => {
    const stats = engineStatsFrom(parseSamples(V1), LLAMA)!;
    expect(stats.waiting).toBe(5);
    expect(stats.running).toBe(26);
    expect(stats.kvCacheUsage).toBeCloseTo(0.6, 12);
  });

  it('V0: reads gpu_cache_usage_perc, the name before the rename', () => {
    expect(engineStatsFrom(parseSamples(V0), MISTRAL)).toEqual({ waiting: 21, running: 9, kvCacheUsage: 0.9734 });
  });

  it('counts only the deployment model when the page names it, else everything', () => {
    const text = [
      'vllm:num_requests_waiting{model_name="a"} 1',
      'vllm:num_requests_waiting{model_name="b"} 10',
      'vllm:num_requests_running{model_name="a"} 2',
      'vllm:num_requests_running{model_name="b"} 20',
    ].join('\n');
    expect(engineStatsFrom(parseSamples(text), 'a')).toEqual({ waiting: 1, running: 2, kvCacheUsage: null });
    expect(engineStatsFrom(parseSamples(text), 'served-under-another-name')).toEqual({ waiting: 11, running: 22, kvCacheUsage: null });
    expect(engineStatsFrom(parseSamples(text))).toEqual({ waiting: 11, running: 22, kvCacheUsage: null });
  });

  it('a page without the request gauges is not a vLLM page', () => {
    expect(engineStatsFrom(parseSamples('# HELP up x\n# TYPE up gauge\nup 1\n'))).toBeNull();
    expect(engineStatsFrom(parseSamples('vllm:num_requests_waiting 1\n'))).toBeNull();
  });

  it('label escapes, spacing, timestamps, special values, odd lines, no final newline', () => {
    const text = [
      'vllm:num_requests_running{model_name="m \\"q\\", \\\\x\\ny",engine="0",} 4 1752334619000',
      'vllm:num_requests_running { engine = "1" , model_name="m" } 1.5e+00',
      'vllm:num_requests_waiting{model_name="m"} NaN',
      'vllm:num_requests_waiting{model_name="m"} +Inf',
      'vllm:num_requests_waiting{model_name="m} 3',
      'vllm:num_requests_waiting{="m"} 3',
      'vllm:num_requests_waiting{model_name="m"} three',
      'vllm:num_requests_waiting_other{model_name="m"} 100',
      '  # a comment',
      'vllm:num_requests_waiting{model_name="m"} 7',
    ].join('\n');
    const samples = parseSamples(text);
    expect(samples.map((s) => [s.labels, s.value])).toEqual([
      [{ model_name: 'm "q", \\x\ny', engine: '0' }, 4],
      [{ engine: '1', model_name: 'm' }, 1.5],
      [{ model_name: 'm' }, NaN],
      [{ model_name: 'm' }, Infinity],
      [{ model_name: 'm' }, 7], // the last line counts though no newline follows it
    ]);
    // NaN and Inf are not numbers of requests
    expect(engineStatsFrom(samples)).toEqual({ waiting: 7, running: 5.5, kvCacheUsage: null });
  });
});

describe('vLLM metrics: scraping', () => {
  type Mode = 'v1' | 'v0' | 'error' | 'hang' | 'not-vllm';
  const modes: Record<string, Mode> = {};
  const hits: Record<string, number> = {};
  const hanging = new Set<ServerResponse>();
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      hits[path] = (hits[path] ?? 0) + 1;
      expect(req.headers.accept).toBe('text/plain;version=0.0.4');
      const mode = modes[path];
      if (mode === 'hang') return void hanging.add(res);
      if (mode === 'error' || !mode) return void res.writeHead(mode ? 500 : 404).end('nope');
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(mode === 'v1' ? V1 : mode === 'v0' ? V0 : '# TYPE up gauge\nup 1\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await closeHttpPools();
  });

  function setup(targets: VllmTarget[], timeoutMs = 300, maxBodyBytes?: number) {
    const clock = { t: 5_000_000 };
    const config = healthSchema.parse({ engine: { scrapeIntervalMs: 1_000, timeoutMs, maxAgeMs: 3_000 } });
    const health = new HealthState({ config, now: () => clock.t });
    const logs: Array<[string, unknown, string]> = [];
    const logger = { warn: (o: unknown, m: string) => logs.push(['warn', o, m]), info: (o: unknown, m: string) => logs.push(['info', o, m]) };
    const scraper = new VllmMetricsScraper({ targets, health, config: config.engine, now: () => clock.t, logger: logger as never, ...(maxBodyBytes && { maxBodyBytes }) });
    return { clock, health, scraper, logs };
  }

  it('feeds HealthState from V1 and V0 servers; deployments on one server share one request', async () => {
    modes['/a/metrics'] = 'v1';
    modes['/b/metrics'] = 'v0';
    const { health, scraper, clock } = setup([
      { deployment: 'llama', url: `${base}/a/metrics`, model: LLAMA },
      { deployment: 'llama-batch', url: `${base}/a/metrics`, model: LLAMA },
      { deployment: 'mistral', url: `${base}/b/metrics`, model: MISTRAL },
    ]);
    expect(scraper.urls).toHaveLength(2);
    const results = await scraper.scrapeOnce();
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(hits['/a/metrics']).toBe(1);
    const snap = health.snapshot();
    expect(snap.deployments.llama!.engine).toMatchObject({ waiting: 5, running: 26, at: clock.t, stale: false });
    expect(snap.deployments['llama-batch']!.engine).toMatchObject({ waiting: 5, running: 26 });
    expect(snap.deployments.mistral!.engine).toEqual({ waiting: 21, running: 9, kvCacheUsage: 0.9734, at: clock.t, stale: false });
  });

  it('failures update nothing, so the numbers turn stale; logged once, and once more on recovery', async () => {
    const path = '/flaky/metrics';
    modes[path] = 'v0';
    const { health, scraper, clock, logs } = setup([{ deployment: 'm', url: `${base}${path}`, model: MISTRAL }]);
    await scraper.scrapeOnce();
    const firstAt = clock.t;

    modes[path] = 'error';
    for (let i = 0; i < 3; i++) {
      clock.t += 1_500;
      const [r] = await scraper.scrapeOnce();
      expect(r).toMatchObject({ ok: false, error: 'HTTP 500', deployments: ['m'] });
    }
    expect(health.snapshot().deployments.m!.engine).toMatchObject({ at: firstAt, stale: true, waiting: 21 });
    expect(logs.filter(([level]) => level === 'warn')).toHaveLength(1);

    modes[path] = 'not-vllm';
    expect((await scraper.scrapeOnce())[0]).toMatchObject({ ok: false, error: 'no vLLM request gauges for m' });
    expect(health.snapshot().deployments.m!.engine!.stale).toBe(true);

    modes[path] = 'v1'; // a V1 page without this model name: all its samples count
    clock.t += 1_000;
    expect((await scraper.scrapeOnce())[0]!.ok).toBe(true);
    expect(health.snapshot().deployments.m!.engine).toMatchObject({ at: clock.t, stale: false, waiting: 5 });
    expect(logs.map(([level]) => level)).toEqual(['warn', 'info']);
    expect(JSON.stringify(logs)).not.toContain(base); // names deployments, not URLs
  });

  it('a server that does not answer in time: a timeout, no update, nothing left hanging', async () => {
    modes['/slow/metrics'] = 'hang';
    modes['/ok/metrics'] = 'v0';
    const { health, scraper } = setup(
      [
        { deployment: 'slow', url: `${base}/slow/metrics` },
        { deployment: 'ok', url: `${base}/ok/metrics` },
      ],
      200,
    );
    const results = await scraper.scrapeOnce();
    expect(results.find((r) => r.deployments[0] === 'slow')).toMatchObject({ ok: false, error: expect.stringMatching(/timed out|time budget/) });
    expect(health.snapshot().deployments.slow).toBeUndefined();
    expect(health.snapshot().deployments.ok!.engine!.waiting).toBe(21);
  });

  it('a page larger than the limit is refused unread', async () => {
    modes['/big/metrics'] = 'v1';
    const { health, scraper } = setup([{ deployment: 'big', url: `${base}/big/metrics` }], 300, 1_000);
    expect((await scraper.scrapeOnce())[0]).toMatchObject({ ok: false, error: 'metrics page larger than 1000 bytes' });
    expect(health.snapshot().deployments.big).toBeUndefined();
  });

  it('start scrapes at once and then on the interval; stop aborts what is in flight', async () => {
    modes['/tick/metrics'] = 'v1';
    modes['/stuck/metrics'] = 'hang';
    const clock = { t: 1 };
    const health = new HealthState({ config: healthSchema.parse({}), now: () => clock.t });
    const scraper = new VllmMetricsScraper({
      targets: [
        { deployment: 'tick', url: `${base}/tick/metrics` },
        { deployment: 'stuck', url: `${base}/stuck/metrics` },
      ],
      health,
      config: { scrapeIntervalMs: 50, timeoutMs: 10_000 },
      now: () => clock.t,
    });
    scraper.start();
    while ((hits['/tick/metrics'] ?? 0) < 3) await new Promise((r) => setTimeout(r, 10));
    // the stuck server's scrape is still running: later rounds left it alone rather than piling up
    expect(hits['/stuck/metrics']).toBe(1);
    await scraper.stop();
    const after = hits['/tick/metrics'];
    await new Promise((r) => setTimeout(r, 150));
    expect(hits['/tick/metrics']).toBe(after);
    expect(health.snapshot().deployments.tick!.engine!.running).toBe(26);
    expect(health.snapshot().deployments.stuck).toBeUndefined();
  });
});
