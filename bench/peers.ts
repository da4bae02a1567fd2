/**
 * Peers benchmark (`npm run bench:peers`, not part of `npm test`).
 *
 * One run, one upstream (the fake provider, zero delay), one load generator (bench/lib/load.ts, the one
 * `npm run bench` drives), and these targets in front of it, each started only for its own block, so no idle
 * peer competes for the two cores while another is measured:
 *
 *   - the minimal Node pass-through proxy (bench/null-proxy.ts), the floor of one extra Node hop;
 *   - this gateway, compiled (`node dist/main.js` with the flags of `npm run start:prod`), keys checked, logging at info, metrics on, fast path;
 *   - Portkey's OSS gateway (npm `@portkey-ai/gateway`, pinned, installed into .tools/portkey on first use);
 *   - LiteLLM's proxy (pip `litellm[proxy]`, pinned, installed into .tools/litellm on first use), 1 and 2 workers.
 *
 * Every block measures the target against calling the upstream directly, interleaved, so machine noise hits
 * both alike: concurrency 1 (added latency p50/p99), streaming at concurrency 1 (added time to first content),
 * concurrency 64 (requests/s, alternating phases with direct over several rounds, the target's RSS sampled
 * meanwhile, its child processes included). Ratios are taken within a block (target ÷ direct), and against the
 * minimal proxy as the ratio of those ratios, so a slow minute of the machine does not tilt one target.
 * A target or a measurement that fails is reported as failed, with its first error, not left out.
 *
 * Results: bench/results/peers.md (the table) and bench/results/peers.json (raw numbers).
 *
 * Environment knobs (all optional):
 *   BENCH_QUICK=1               a much shorter run (for checking the script itself; results are noisy)
 *   BENCH_PEERS=gateway,portkey only these targets (keys: proxy, gateway, portkey, litellm-1w, litellm-2w);
 *                               the ratios against the minimal proxy need `proxy` among them
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { children, reportFailure, stopChild, stopChildren, stopChildrenOnExit, running } from './lib/children.js';
import { startFake } from './lib/fake.js';
import { UPSTREAM_MODEL } from './lib/gateway.js';
import { addedOver, closedLoop, completeOnce, makeTarget, orderFor, streamOnce, summarize, type Phase, type Target } from './lib/load.js';
import { RESULTS_DIR } from './lib/paths.js';
import { gateway, litellm, minimalProxy, portkey, pythonVersion, type TargetSpec } from './lib/peer-targets.js';
import { peersMarkdown, type BlockResult, type Measured } from './lib/peers-report.js';
import { machineMeta, writeAtomically } from './lib/report.js';
import { processTree, sampleRss } from './lib/rss.js';
import { Errors, round3 } from './lib/stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SETTINGS = {
  // maxMs bounds a slow target's block (LiteLLM takes ~10–30 ms a request here); fast ones reach `requests` first.
  sequential: { warmup: QUICK ? 50 : 200, requests: QUICK ? 300 : 2000, maxMs: QUICK ? 5000 : 25_000 },
  streaming: { warmup: QUICK ? 30 : 100, requests: QUICK ? 200 : 800, maxMs: QUICK ? 5000 : 15_000 },
  throughput: { concurrency: 64, rounds: QUICK ? 1 : 3, phaseMs: QUICK ? 1000 : 3000, warmupMs: QUICK ? 500 : 2000 },
};

const ALL_TARGETS: TargetSpec[] = [minimalProxy, gateway, portkey, litellm(1), litellm(2)];

function selectedTargets(): TargetSpec[] {
  const wanted = process.env.BENCH_PEERS?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!wanted) return ALL_TARGETS;
  const unknown = wanted.filter((k) => !ALL_TARGETS.some((t) => t.key === k));
  if (unknown.length > 0) throw new Error(`BENCH_PEERS: unknown target(s) ${unknown.join(', ')}; known: ${ALL_TARGETS.map((t) => t.key).join(', ')}`);
  return ALL_TARGETS.filter((t) => wanted.includes(t.key));
}

stopChildrenOnExit(() => Promise.all(children.map((c) => stopChild(c, 2000))));

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n--- last output')[0]!.slice(0, 400);

/** A start failure keeps the child's last lines: they say why (a missing module, a port in use, a crash). */
function startErrorText(err: unknown): string {
  const [first, ...rest] = (err instanceof Error ? err.message : String(err)).split('\n');
  const last = rest.filter((l) => l.trim() !== '' && !l.startsWith('--- last output')).slice(-3);
  return [first, ...last].join(' | ').slice(0, 600);
}

/** Runs one measurement; a failure becomes a `Failed` cell in the table instead of ending the run. */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<Measured<T>> {
  try {
    return await fn();
  } catch (err) {
    console.log(`  ${what} failed: ${errorText(err)}`);
    return { failed: errorText(err) };
  }
}

/** Concurrency 1, direct and target interleaved request by request (order alternating), for `requests` or `maxMs`. */
async function latencyPairs(direct: Target, target: Target, { warmup, requests, maxMs }: { warmup: number; requests: number; maxMs: number }, stream: boolean) {
  const pair = [direct, target];
  const ms = new Map<string, number[]>([
    [direct.name, []],
    [target.name, []],
  ]);
  const errors = new Errors<string>(`${target.name} ${stream ? 'streaming' : 'concurrency 1'}`);
  let deadline = Infinity;
  for (let i = 0; i < warmup + requests && performance.now() < deadline; i++) {
    if (i === warmup) deadline = performance.now() + maxMs;
    for (const t of orderFor(pair, i)) {
      let value: number;
      try {
        value = stream ? (await streamOnce(t)).ttftMs : (await completeOnce(t)).ms;
      } catch (err) {
        errors.record(err, t.name);
        continue;
      }
      if (i >= warmup) ms.get(t.name)!.push(value);
    }
  }
  const directMs = summarize(ms.get(direct.name)!);
  const targetMs = summarize(ms.get(target.name)!);
  return { directMs, targetMs, added: addedOver(directMs, targetMs), failedRequests: errors.count[target.name] ?? 0 };
}

/** Concurrency 64 in alternating phases with direct; the target's RSS (its whole process tree) sampled meanwhile. */
async function throughput(direct: Target, target: Target, pid: number, resetFake: () => Promise<void>) {
  const { concurrency, rounds, phaseMs, warmupMs } = SETTINGS.throughput;
  await closedLoop(target, concurrency, warmupMs, -1);
  await resetFake();
  const phases: Phase[] = [];
  const rss: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const t of orderFor([direct, target], r)) {
      await sleep(100);
      const sampler = t === target ? sampleRss(pid) : undefined;
      phases.push(await closedLoop(t, concurrency, phaseMs, r));
      if (sampler) rss.push(...sampler.stop());
      await resetFake(); // the fake keeps every request it received; do not let that grow through the run
    }
  }
  const rpsOf = (name: string) => {
    const ps = phases.filter((p) => p.target === name);
    return Math.round(ps.reduce((n, p) => n + p.requests, 0) / ps.reduce((s, p) => s + p.seconds, 0));
  };
  const directRps = rpsOf(direct.name);
  const targetRps = rpsOf(target.name);
  const rssMb = rss.length > 0 ? summarize(rss) : undefined;
  const failedRequests = phases.filter((p) => p.target === target.name).reduce((n, p) => n + p.errors, 0);
  return { directRps, targetRps, ratio: round3(targetRps / directRps), rssMb, failedRequests, phases };
}

/** Whatever the target left running (LiteLLM's workers, should its master not stop them) goes with it. */
async function stopTarget(child: (typeof children)[number]): Promise<void> {
  const tree = child.proc.pid !== undefined ? processTree(child.proc.pid).slice(1) : [];
  await stopChild(child, 5000);
  for (const pid of tree) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function measureBlock(spec: TargetSpec, fakeUrl: string, tmpDir: string, resetFake: () => Promise<void>): Promise<BlockResult> {
  console.log(`\n${spec.label}: starting ...`);
  const t0 = performance.now();
  let started;
  try {
    started = await spec.start(fakeUrl, tmpDir);
  } catch (err) {
    console.log(`  could not start: ${err instanceof Error ? err.message : String(err)}`);
    return { key: spec.key, label: spec.label, version: '—', startFailed: startErrorText(err) };
  }
  const pools: Pool[] = [];
  try {
    const startSeconds = round3((performance.now() - t0) / 1000);
    console.log(`  ${started.url}, version ${started.version}, ready in ${startSeconds.toFixed(1)} s`);
    const direct = makeTarget('direct', fakeUrl, UPSTREAM_MODEL);
    const target = makeTarget(spec.key, started.url, started.model, { extraHeaders: started.extraHeaders, apiKey: started.apiKey });
    pools.push(direct.pool, target.pool);
    const pid = started.child.proc.pid!;

    const c1 = await attempt('concurrency 1', async () => {
      await completeOnce(target); // a target that cannot answer at all fails here, with its own error
      return latencyPairs(direct, target, SETTINGS.sequential, false);
    });
    if (!('failed' in c1)) console.log(`  c=1 added p50 ${c1.added.p50} ms, p99 ${c1.added.p99} ms`);
    await resetFake();
    const stream = await attempt('streaming', async () => {
      await streamOnce(target);
      return latencyPairs(direct, target, SETTINGS.streaming, true);
    });
    if (!('failed' in stream)) console.log(`  stream added TTFT p50 ${stream.added.p50} ms, p99 ${stream.added.p99} ms`);
    await resetFake();
    const c64 = await attempt('concurrency 64', () => throughput(direct, target, pid, resetFake));
    if (!('failed' in c64)) console.log(`  c=64 ${c64.targetRps} req/s (direct ${c64.directRps}, ratio ${c64.ratio}), RSS peak ${c64.rssMb?.max ?? '?'} MB`);
    if (!running(started.child)) console.log(`  warning: ${spec.label} exited during the block`);
    return { key: spec.key, label: spec.label, version: started.version, startSeconds, c1, stream, c64 };
  } finally {
    await Promise.allSettled(pools.map((p) => p.close()));
    await stopTarget(started.child);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const targets = selectedTargets();
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gateway-peers-'));
  const loadBefore = os.loadavg();
  let control: Pool | undefined;
  try {
    console.log(`node ${process.version}, ${os.cpus().length} CPUs${QUICK ? ', QUICK run' : ''}; targets: ${targets.map((t) => t.key).join(', ')}`);
    for (const spec of targets) spec.prepare();
    const fake = await startFake();
    console.log(`fake provider (the upstream): ${fake.url}`);
    control = new Pool(fake.url, { connections: 1 });
    const resetFake = async () => {
      const res = await control!.request({ path: '/__reset', method: 'POST' });
      await res.body.dump();
    };
    // Warm the upstream and the load generator's own code before the first block.
    const direct = makeTarget('direct', fake.url, UPSTREAM_MODEL);
    await closedLoop(direct, SETTINGS.throughput.concurrency, SETTINGS.throughput.warmupMs, -1);
    for (let i = 0; i < 200; i++) await completeOnce(direct);
    await direct.pool.close();
    await resetFake();

    const blocks: BlockResult[] = [];
    for (const spec of targets) blocks.push(await measureBlock(spec, fake.url, tmpDir, resetFake));

    const seconds = round3((performance.now() - started) / 1000);
    const meta = {
      ...machineMeta(),
      python: pythonVersion() ?? 'none',
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      loadavgBefore: loadBefore.map(round3),
      loadavgAfter: os.loadavg().map(round3),
      quick: QUICK,
      seconds,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = { ...meta, settings: SETTINGS, units: { latency: 'ms', throughput: 'requests/s', rss: 'MB (10^6 bytes)' }, blocks };
    writeAtomically(path.join(RESULTS_DIR, 'peers.json'), `${JSON.stringify(json, null, 2)}\n`);
    const md = peersMarkdown(blocks, meta, SETTINGS);
    writeAtomically(path.join(RESULTS_DIR, 'peers.md'), md);
    console.log(`\n${md}`);
    console.log(`wrote bench/results/peers.md and bench/results/peers.json (${seconds.toFixed(0)} s)`);
  } finally {
    await control?.close();
    await stopChildren();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch(reportFailure);
