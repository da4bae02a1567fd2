/**
 * What the real embedding model costs (`npm run bench:embedder`), issue #15 item 4.
 *
 * 1. In process, on all-MiniLM-L6-v2 (GATEWAY_EMBEDDING_MODEL_DIR, else ../shared/models/all-MiniLM-L6-v2):
 *    latency of one embedding (distinct prompt-sized texts, memo off) for fp32 and int8, the synchronous part
 *    (tokenization) alone, a memo hit, and the event loop's longest stall while embeddings run.
 * 2. The compiled gateway (node dist/main.js), two instances in front of the fake provider: cache on (real
 *    model, embedded store) and cache off. Requests alternate between them at concurrency 1 with the same
 *    fresh prompt each (so every cache request is a miss: embedding + lookup + store, the worst case), and
 *    the added p50 is cache-on minus cache-off. Then the cache-on gateway's RSS with the model loaded.
 *
 * Targets: added p50 ≤ 3 ms, RSS ≤ 400 MB. A missed target is reported, not an error. BENCH_QUICK=1: short run.
 * Results: bench/results/embedder.json and .md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'undici';
import { freePort } from '../src/durable/dev-server.js';
import { Tokenizer } from '@huggingface/tokenizers';
import { LocalEmbedder } from '../src/embeddings/local.js';
import { MODEL_DIR_ENV } from '../src/embeddings/model-dir.js';
import { BenchError, children, reportFailure, startChild, stopChild, stopChildrenOnExit, type Child } from './lib/children.js';
import { startFake } from './lib/fake.js';
import { ALIAS, gatewayYaml, waitForHealthz } from './lib/gateway.js';
import { gatewayArgs } from './lib/launch.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { machineMeta, mdTable, writeAtomically } from './lib/report.js';
import { summarize } from './lib/stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N = { embeds: QUICK ? 100 : 500, warmup: QUICK ? 30 : 200, requests: QUICK ? 200 : 2000 };
const TARGETS = { addedP50Ms: 3, rssMb: 400 };

stopChildrenOnExit(() => Promise.all(children.map((c) => stopChild(c, 2000))));

const MODEL_DIR = path.resolve(process.env[MODEL_DIR_ENV] ?? path.join(ROOT, '../shared/models/all-MiniLM-L6-v2'));
if (!existsSync(path.join(MODEL_DIR, 'onnx/model.onnx'))) {
  throw new BenchError(`no model in ${MODEL_DIR}: set ${MODEL_DIR_ENV} (npm run fetch-model downloads one)`);
}

/** Prompt-like texts of everyday length (10-25 tokens), all different. */
const SUBJECTS = ['my password', 'a Python function', 'the invoice for March', 'a flight to Lisbon', 'the TypeScript build', 'a birthday message', 'the refund', 'my router', 'this SQL query', 'a cover letter'];
const ASKS = ['How do I fix', 'Can you explain', 'What is the best way to handle', 'Write a short note about', 'Why does something go wrong with'];
const prompt = (i: number) => `${ASKS[i % ASKS.length]} ${SUBJECTS[Math.floor(i / ASKS.length) % SUBJECTS.length]}? (case ${i})`;

async function inProcess(quantized: boolean) {
  const e = new LocalEmbedder({ dir: MODEL_DIR, quantized, memoEntries: 0 });
  await e.ready();
  for (let i = 0; i < N.warmup; i++) await e.embed([prompt(100_000 + i)]);
  const ms: number[] = [];
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  for (let i = 0; i < N.embeds; i++) {
    const t0 = performance.now();
    await e.embed([prompt(i)]);
    ms.push(performance.now() - t0);
  }
  h.disable();
  await e.close();
  return { embedMs: summarize(ms), eventLoopMaxStallMs: Math.round(h.max / 1e4) / 100, threads: Math.min(4, os.availableParallelism()) };
}

function tokenizationMs() {
  const tok = new Tokenizer(JSON.parse(readFileSync(path.join(MODEL_DIR, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(path.join(MODEL_DIR, 'tokenizer_config.json'), 'utf8')));
  const short: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    tok.encode(prompt(i));
    short.push(performance.now() - t0);
  }
  const long = 'Explain the difference between optimistic and pessimistic locking in databases, with examples. '.repeat(85); // ~8000 chars, the cache's maxEmbedChars
  const longMs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    tok.encode(long);
    longMs.push(performance.now() - t0);
  }
  return { promptMs: summarize(short), chars8000Ms: summarize(longMs) };
}

async function memoHitMs() {
  const e = new LocalEmbedder({ dir: MODEL_DIR });
  await e.embed(['the same prompt again']);
  const ms: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    await e.embed(['the same prompt again']);
    ms.push(performance.now() - t0);
  }
  await e.close();
  return summarize(ms);
}

async function startGateway(name: string, fakeUrl: string, dir: string, extra: string[]): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const config = path.join(dir, `${name}.yaml`);
  writeFileSync(config, gatewayYaml('bench/embedder.ts', fakeUrl, port, ['durable: { enabled: false }', `dataDir: ${JSON.stringify(path.join(dir, name))}`, ...extra]));
  const child = startChild(name, [...gatewayArgs('compiled'), '--config', config], { env: { ...process.env, [MODEL_DIR_ENV]: MODEL_DIR } });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitForHealthz(child, url, 60_000))) throw new BenchError(`${name} exited: ${child.tail.join('\n')}`);
  return { child, url };
}

async function chat(pool: Pool, text: string): Promise<{ ms: number; cache?: string }> {
  const t0 = performance.now();
  const res = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench-key' },
    body: JSON.stringify({ model: ALIAS, messages: [{ role: 'user', content: text }] }),
  });
  const body = await res.body.text();
  const ms = performance.now() - t0;
  if (res.statusCode !== 200) throw new BenchError(`HTTP ${res.statusCode}: ${body.slice(0, 300)}`);
  const cache = res.headers['x-gateway-cache'];
  return { ms, cache: typeof cache === 'string' ? cache : undefined };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function gateways() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-embedder-'));
  try {
    const fake = await startFake();
    const off = await startGateway('cache-off', fake.url, tmp, []);
    const on = await startGateway('cache-on', fake.url, tmp, ['cache:', '  enabled: true', '  store: { kind: embedded, dir: cache }', `  embedder: { kind: local, dir: ${JSON.stringify(MODEL_DIR)} }`]);
    const rssIdle = { on: rssMb(on.child.proc.pid!), off: rssMb(off.child.proc.pid!) };
    const pools = { on: new Pool(on.url, { connections: 1 }), off: new Pool(off.url, { connections: 1 }) };
    for (let i = 0; i < N.warmup; i++) {
      await chat(pools.off, prompt(200_000 + i));
      await chat(pools.on, prompt(200_000 + i));
    }
    const ms = { on: [] as number[], off: [] as number[] };
    const tiers = new Map<string, number>();
    for (let i = 0; i < N.requests; i++) {
      const text = `${prompt(i)} #${Date.now()}`;
      // Alternating which goes first keeps any ordering effect out of the difference.
      const order = i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const which of order) {
        const r = await chat(pools[which], text);
        ms[which].push(r.ms);
        if (which === 'on') tiers.set(r.cache ?? 'none', (tiers.get(r.cache ?? 'none') ?? 0) + 1);
      }
    }
    const rssAfter = { on: rssMb(on.child.proc.pid!), off: rssMb(off.child.proc.pid!) };
    await pools.on.close();
    await pools.off.close();
    const on50 = summarize(ms.on);
    const off50 = summarize(ms.off);
    return { cacheOnMs: on50, cacheOffMs: off50, addedP50Ms: Math.round((on50.p50 - off50.p50) * 1000) / 1000, addedP99Ms: Math.round((on50.p99 - off50.p99) * 1000) / 1000, cacheHeader: Object.fromEntries(tiers), rssMb: { idle: rssIdle, afterRun: rssAfter } };
  } finally {
    await Promise.all(children.map((c) => stopChild(c, 2000)));
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  const fp32 = await inProcess(false);
  const int8 = await inProcess(true);
  const tokenize = tokenizationMs();
  const memo = await memoHitMs();
  const gw = await gateways();
  const checks = [
    { name: 'cache-on request added p50 (fp32, miss) ≤ 3 ms', value: gw.addedP50Ms, target: TARGETS.addedP50Ms, pass: gw.addedP50Ms <= TARGETS.addedP50Ms },
    { name: 'gateway RSS with the model loaded ≤ 400 MB', value: gw.rssMb.afterRun.on, target: TARGETS.rssMb, pass: gw.rssMb.afterRun.on <= TARGETS.rssMb },
  ];
  const result = { machine: machineMeta(), model: MODEL_DIR, settings: N, inProcess: { fp32, int8, tokenize, memoHitMs: memo }, gateway: gw, checks };
  writeAtomically(path.join(RESULTS_DIR, 'embedder.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# Embedder cost (bench/embedder.ts)',
    '',
    `Model: all-MiniLM-L6-v2 (${path.basename(MODEL_DIR)}), onnxruntime-node CPU, ${fp32.threads} intra-op threads; ${os.availableParallelism()} CPUs. ${QUICK ? 'QUICK run (noisy).' : ''}`,
    '',
    ...mdTable(['what', 'p50 ms', 'p99 ms'], [
      ['one embedding, fp32', String(fp32.embedMs.p50), String(fp32.embedMs.p99)],
      ['one embedding, int8 (`quantized: true`)', String(int8.embedMs.p50), String(int8.embedMs.p99)],
      ['tokenization of a prompt (synchronous)', String(tokenize.promptMs.p50), String(tokenize.promptMs.p99)],
      ['tokenization of 8000 chars (synchronous)', String(tokenize.chars8000Ms.p50), String(tokenize.chars8000Ms.p99)],
      ['memo hit (same text again)', String(memo.p50), String(memo.p99)],
      ['gateway request, cache off', String(gw.cacheOffMs.p50), String(gw.cacheOffMs.p99)],
      ['gateway request, cache on (miss: embed + lookup + store)', String(gw.cacheOnMs.p50), String(gw.cacheOnMs.p99)],
      ['**added by the cache**', `**${gw.addedP50Ms}**`, String(gw.addedP99Ms)],
    ]),
    '',
    `Event loop's longest stall while embedding: fp32 ${fp32.eventLoopMaxStallMs} ms, int8 ${int8.eventLoopMaxStallMs} ms (session.run runs on onnxruntime's threads).`,
    '',
    `Gateway RSS (MB): cache on ${gw.rssMb.idle.on} at start, ${gw.rssMb.afterRun.on} after the run; cache off ${gw.rssMb.idle.off} / ${gw.rssMb.afterRun.off}. Cache headers seen: ${JSON.stringify(gw.cacheHeader)}.`,
    '',
    ...mdTable(['check', 'value', 'target', 'met'], checks.map((c) => [c.name, String(c.value), String(c.target), c.pass ? 'yes' : '**no**'])),
    '',
  ].join('\n');
  writeAtomically(path.join(RESULTS_DIR, 'embedder.md'), md);
  console.log(md);
}

main().catch((err) => {
  reportFailure(err);
  process.exit(1);
});
