/**
 * Cluster benchmark (`npm run bench:cluster`, not part of `npm test`): one gateway process against two
 * (`server.processes: 2`, node:cluster), compiled (`node dist/main.js`), in front of the fake provider (zero delay).
 *
 * Targets, all started before the first measurement and measured interleaved in the same run, so machine noise
 * hits them alike:
 *   - direct: the fake provider itself (the baseline every ratio is taken against);
 *   - p1-memory: one process, limits in memory (the default single-process setup);
 *   - p1: one process, limits in Redis (valkey), the same config as p2 but for the process count;
 *   - p2: two processes, limits in Redis: what a key's limits need once there is more than one process.
 * The key carries an rpm limit (far above what the run sends) so every request takes from the limit store.
 *
 * Measured: concurrency 64 (requests/s, closed loop, alternating phases over several rounds, rotated order) and
 * concurrency 1 (latency p50/p99, request by request, rotated order). The machine's 2 cores are shared with the
 * load generator, the fake provider and valkey (and anything else running): two processes can use both cores
 * only as far as those leave them free, so the load average is recorded before, during and after.
 *
 * Results: bench/results/cluster.md (the table) and bench/results/cluster.json (raw numbers).
 * BENCH_QUICK=1: a much shorter run (for checking the script itself; results are noisy).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { hashKey } from '../src/auth/keys.js';
import { freePort } from '../src/durable/dev-server.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { parsePrometheus } from '../test/support/prometheus-text.js';
import { BenchError, children, describeFailure, reportFailure, startChild, stopChild, stopChildren, stopChildrenOnExit, type Child } from './lib/children.js';
import { startFake } from './lib/fake.js';
import { ALIAS, API_KEY, UPSTREAM_MODEL, upstreamLines, waitForHealthz } from './lib/gateway.js';
import { gatewayArgs } from './lib/launch.js';
import { addedOver, closedLoop, completeOnce, makeTarget, orderFor, summarize, type Added, type Phase, type Target } from './lib/load.js';
import { RESULTS_DIR } from './lib/paths.js';
import { machineMeta, mdTable, writeAtomically } from './lib/report.js';
import { processTree, sampleRss } from './lib/rss.js';
import { Errors, round3, type Summary } from './lib/stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SETTINGS = {
  sequential: { warmup: QUICK ? 50 : 200, requests: QUICK ? 300 : 1500 },
  throughput: { concurrency: 64, rounds: QUICK ? 1 : 3, phaseMs: QUICK ? 1000 : 3000, warmupMs: QUICK ? 500 : 2000 },
};

type Name = 'direct' | 'p1-memory' | 'p1' | 'p2';

interface GatewaySpec {
  name: Exclude<Name, 'direct'>;
  label: string;
  processes: number;
  store: 'memory' | 'redis';
}

const GATEWAYS: GatewaySpec[] = [
  { name: 'p1-memory', label: '1 process, limits in memory', processes: 1, store: 'memory' },
  { name: 'p1', label: '1 process, limits in Redis', processes: 1, store: 'redis' },
  { name: 'p2', label: '2 processes, limits in Redis', processes: 2, store: 'redis' },
];

stopChildrenOnExit(() => Promise.all(children.map((c) => stopChild(c, 2000))));

function yaml(spec: GatewaySpec, fakeUrl: string, port: number, operatorPort: number, redisUrl: string): string {
  const store = spec.store === 'redis' ? `{ kind: redis, url: "${redisUrl}", prefix: "bench-${spec.name}:" }` : '{ kind: memory }';
  return [
    '# written by bench/cluster.ts',
    `server: { host: 127.0.0.1, port: ${port}, processes: ${spec.processes}, operator: { port: ${operatorPort} } }`,
    // info, as production runs (a line per request); the primary's "gateway process ready" lines say when all serve
    'logging: { level: info }',
    'durable: { enabled: false }',
    'auth:',
    `  store: ${store}`,
    `  keys: [{ id: bench, tenant: bench, hash: "${hashKey(API_KEY)}", limits: { requestsPerMinute: 1000000000 } }]`,
    ...upstreamLines(fakeUrl),
  ].join('\n');
}

interface Started {
  spec: GatewaySpec;
  child: Child;
  url: string;
  operatorUrl: string;
}

async function startGateway(spec: GatewaySpec, fakeUrl: string, redisUrl: string, tmpDir: string): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const operatorPort = await freePort();
    const configPath = path.join(tmpDir, `${spec.name}.yaml`);
    writeFileSync(configPath, yaml(spec, fakeUrl, port, operatorPort, redisUrl));
    let ready = 0;
    const child = startChild(`gateway ${spec.name}`, [...gatewayArgs('compiled'), '--config', configPath, '--data-dir', path.join(tmpDir, `${spec.name}-data`)], {
      onLine: (line) => {
        if (line.includes('gateway process ready')) ready++;
      },
    });
    const url = `http://127.0.0.1:${port}`;
    if (await waitForHealthz(child, url, 60_000)) {
      const deadline = Date.now() + 60_000;
      while (spec.processes > 1 && ready < spec.processes) {
        if (Date.now() > deadline) throw describeFailure(child, `${ready} of ${spec.processes} processes ready after 60 s`);
        await sleep(100);
      }
      return { spec, child, url, operatorUrl: `http://127.0.0.1:${operatorPort}` };
    }
    if (attempt < 3 && child.tail.some((l) => l.includes('EADDRINUSE'))) continue;
    throw describeFailure(child, `exited (code ${child.proc.exitCode}) before answering /healthz`);
  }
}

/** Connections each process of a target accepted (llm_gateway_process_connections_total, by pid). */
async function connectionsByPid(g: Started): Promise<Record<string, number>> {
  const res = await fetch(`${g.operatorUrl}/metrics`);
  const out: Record<string, number> = {};
  for (const s of parsePrometheus(await res.text())) if (s.name === 'llm_gateway_process_connections_total') out[s.labels.pid!] = s.value;
  return out;
}

const load1 = () => round3(os.loadavg()[0]!);

/** CPU time (user + system, ms) the process tree under `root` used so far; Linux /proc, 0 elsewhere. */
function treeCpuMs(root: number, { rootOnly = false } = {}): number {
  let ticks = 0;
  for (const pid of rootOnly ? [root] : processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      // exited between listing and reading
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function sequential(targets: Target<Name>[]) {
  const { warmup, requests } = SETTINGS.sequential;
  const lat = new Map<Name, number[]>(targets.map((t) => [t.name, []]));
  const errors = new Errors<Name>('concurrency 1');
  for (let i = 0; i < warmup + requests; i++) {
    for (const t of orderFor(targets, i)) {
      try {
        const { ms } = await completeOnce(t);
        if (i >= warmup) lat.get(t.name)!.push(ms);
      } catch (err) {
        errors.record(err, t.name);
      }
    }
  }
  const latencyMs = Object.fromEntries([...lat].map(([n, v]) => [n, summarize(v)])) as Record<Name, Summary>;
  const addedMs = Object.fromEntries(targets.filter((t) => t.name !== 'direct').map((t) => [t.name, addedOver(latencyMs.direct, latencyMs[t.name])])) as Partial<Record<Name, Added>>;
  return { warmup, requests, latencyMs, addedMs, errors: errors.toJSON() };
}

async function throughput(targets: Target<Name>[], gateways: Started[], resetFake: () => Promise<void>) {
  const { concurrency, rounds, phaseMs, warmupMs } = SETTINGS.throughput;
  for (const t of targets) await closedLoop(t, concurrency, warmupMs, -1);
  await resetFake();
  const phases: (Phase<Name> & { loadavg1: number })[] = [];
  const rss = new Map<Name, number[]>();
  const cpuMs = new Map<Name, number>();
  /** The top process alone: for two processes, the primary. */
  const rootCpuMs = new Map<Name, number>();
  for (let r = 0; r < rounds; r++) {
    for (const t of orderFor(targets, r)) {
      await sleep(200);
      const g = gateways.find((x) => x.spec.name === t.name);
      const sampler = g ? sampleRss(g.child.proc.pid!) : undefined;
      const cpu0 = g ? treeCpuMs(g.child.proc.pid!) : 0;
      const own0 = g ? treeCpuMs(g.child.proc.pid!, { rootOnly: true }) : 0;
      const phase = await closedLoop(t, concurrency, phaseMs, r);
      if (g) cpuMs.set(t.name, (cpuMs.get(t.name) ?? 0) + treeCpuMs(g.child.proc.pid!) - cpu0);
      if (g) rootCpuMs.set(t.name, (rootCpuMs.get(t.name) ?? 0) + treeCpuMs(g.child.proc.pid!, { rootOnly: true }) - own0);
      if (sampler) rss.set(t.name, [...(rss.get(t.name) ?? []), ...sampler.stop()]);
      phases.push({ ...phase, loadavg1: load1() });
      await resetFake(); // the fake keeps every request it received
    }
  }
  const rps = {} as Record<Name, number>;
  for (const t of targets) {
    const ps = phases.filter((p) => p.target === t.name);
    rps[t.name] = Math.round(ps.reduce((n, p) => n + p.requests, 0) / ps.reduce((s, p) => s + p.seconds, 0));
  }
  const ratio = Object.fromEntries(targets.map((t) => [t.name, round3(rps[t.name] / rps.direct)])) as Record<Name, number>;
  const rssMb = Object.fromEntries([...rss].map(([n, v]) => [n, summarize(v)])) as Partial<Record<Name, Summary>>;
  const failed = Object.fromEntries(targets.map((t) => [t.name, phases.filter((p) => p.target === t.name).reduce((n, p) => n + p.errors, 0)]));
  // CPU the gateway's processes spent per request: what a core buys, whatever else the machine runs
  const cpuMsPerRequest = Object.fromEntries(
    [...cpuMs].map(([n, ms]) => [n, round3(ms / phases.filter((p) => p.target === n).reduce((k, p) => k + p.requests, 0))]),
  ) as Partial<Record<Name, number>>;
  const requestsOf = (n: Name) => phases.filter((p) => p.target === n).reduce((k, p) => k + p.requests, 0);
  const topProcessCpuMsPerRequest = Object.fromEntries([...rootCpuMs].map(([n, ms]) => [n, round3(ms / requestsOf(n))])) as Partial<Record<Name, number>>;
  return { concurrency, rounds, phaseMs, rps, ratio, rssMb, cpuMsPerRequest, topProcessCpuMsPerRequest, failedRequests: failed, phases };
}

type Results = { c1: Awaited<ReturnType<typeof sequential>>; c64: Awaited<ReturnType<typeof throughput>> };

function markdown(results: Results, meta: Record<string, unknown> & { loadavgBefore: number[]; loadavgAfter: number[] }, spread: Record<string, number>): string {
  const { c1, c64 } = results;
  const ms = (x: number) => x.toFixed(2);
  const rows = [
    ['direct (the fake provider, no hop)', String(c64.rps.direct), '1', '—', '—', `${ms(c1.latencyMs.direct.p50)} / ${ms(c1.latencyMs.direct.p99)}`, '—', '—'],
    ...GATEWAYS.map((g) => [
      g.label,
      String(c64.rps[g.name]),
      c64.ratio[g.name].toFixed(3),
      (c64.rps[g.name] / c64.rps.p1).toFixed(2),
      c64.cpuMsPerRequest[g.name]?.toFixed(2) ?? '—',
      `${ms(c1.latencyMs[g.name].p50)} / ${ms(c1.latencyMs[g.name].p99)}`,
      `${ms(c1.addedMs[g.name]!.p50)} / ${ms(c1.addedMs[g.name]!.p99)}`,
      c64.rssMb[g.name] ? `${c64.rssMb[g.name]!.p50.toFixed(0)} / ${c64.rssMb[g.name]!.max.toFixed(0)}` : '—',
    ]),
  ];
  const loads = c64.phases.map((p) => p.loadavg1);
  const p2 = c64.rps.p2 / c64.rps.p1;
  return [
    '# Cluster: one gateway process against two (`server.processes: 2`)',
    '',
    `Run ${meta.date} · Node ${meta.node} · ${meta.cpus} CPUs (${meta.cpuModel}) · load average (1 min) ${meta.loadavgBefore[0]} before, ${Math.min(...loads)}–${Math.max(...loads)} during the c=${c64.concurrency} phases, ${meta.loadavgAfter[0]} after · ${meta.seconds} s${QUICK ? ' · QUICK run (noisy)' : ''}`,
    '',
    `The compiled gateway (\`node dist/main.js\`) in front of the fake provider (zero delay). All targets run at once and`,
    `are measured interleaved: concurrency ${c64.concurrency} in ${c64.phaseMs / 1000} s closed-loop phases, ${c64.rounds} rounds in rotated order (64`,
    `keep-alive connections, which the primary hands out round-robin); concurrency 1 request by request, ${c1.requests}`,
    `each after ${c1.warmup} warm-up. The key has an rpm limit (never reached), so every request takes from the limit store.`,
    '',
    `**The machine has ${meta.cpus} cores, shared with the load generator (one Node process), the fake provider (one Node`,
    'process) and valkey**, and with other work: a second gateway process can only use what those leave free, so',
    'this measures what two processes gain on a saturated 2-core box, not the scaling on a machine with spare cores.',
    '',
    ...mdTable(['target', `c=${c64.concurrency} req/s`, '÷ direct', '÷ 1 process (Redis)', `CPU ms / request at c=${c64.concurrency}`, 'c=1 p50 / p99 (ms)', 'c=1 added p50 / p99 (ms)', 'RSS under load, median / peak (MB)'], rows),
    '',
    `2 processes ÷ 1 process (same config, limits in Redis): **${p2.toFixed(2)}×** the c=${c64.concurrency} throughput, c=1 p50 ${ms(c1.latencyMs.p2.p50)} ms against ${ms(c1.latencyMs.p1.p50)} ms`,
    `(the primary accepts each connection and passes it on; with keep-alive that is once per connection, not per request).`,
    `Connections the two processes accepted over the run (by pid): ${Object.values(spread).join(' / ')}: the primary hands a new connection to a`,
    'process free to take it, so a burst of keep-alive connections can split unevenly, and stays split while they live.',
    'RSS and CPU of two processes include the primary (which serves nothing itself but accepts the connections and',
    'gathers /metrics). CPU ms / request: user + system time of the gateway\'s processes over its c=64 phases ÷ the',
    'requests they answered, the cost of a request whatever else the machine runs: equal figures mean a second',
    'process adds no work per request, and would add throughput on cores that were free.',
    `Here two processes spent ${((c64.cpuMsPerRequest.p2 ?? NaN) / (c64.cpuMsPerRequest.p1 ?? NaN)).toFixed(2)}× the CPU per request of one (same config); of their ${c64.cpuMsPerRequest.p2?.toFixed(2)} ms the primary spent ${c64.topProcessCpuMsPerRequest.p2?.toFixed(3)} ms.`,
    '',
    'Raw numbers (every phase, its load average): `cluster.json`. Reproduce with `npm run bench:cluster`.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gateway-cluster-bench-'));
  const loadBefore = os.loadavg().map(round3);
  let redis: RedisServer | undefined;
  let control: Pool | undefined;
  const pools: Pool[] = [];
  try {
    console.log(`node ${process.version}, ${os.cpus().length} CPUs, load ${loadBefore.join(' ')}${QUICK ? ', QUICK run' : ''}`);
    gatewayArgs('compiled'); // builds dist/ when it is older than the sources
    redis = await startRedis();
    const fake = await startFake();
    control = new Pool(fake.url, { connections: 1 });
    const resetFake = async () => {
      const res = await control!.request({ path: '/__reset', method: 'POST' });
      await res.body.dump();
    };
    const gateways: Started[] = [];
    for (const spec of GATEWAYS) {
      gateways.push(await startGateway(spec, fake.url, redis.url, tmpDir));
      console.log(`${spec.label}: ${gateways.at(-1)!.url}`);
    }
    const targets: Target<Name>[] = [makeTarget('direct', fake.url, UPSTREAM_MODEL), ...gateways.map((g) => makeTarget(g.spec.name, g.url, ALIAS))];
    pools.push(...targets.map((t) => t.pool));
    for (const t of targets) await completeOnce(t); // each answers, or the run stops here with its error

    console.log('concurrency 1 ...');
    const c1 = await sequential(targets);
    for (const g of GATEWAYS) console.log(`  ${g.name}: p50 ${c1.latencyMs[g.name].p50} ms (direct ${c1.latencyMs.direct.p50})`);
    await resetFake();
    console.log(`concurrency ${SETTINGS.throughput.concurrency} ...`);
    const c64 = await throughput(targets, gateways, resetFake);
    for (const g of GATEWAYS) console.log(`  ${g.name}: ${c64.rps[g.name]} req/s (direct ${c64.rps.direct})`);
    const spread = await connectionsByPid(gateways.find((g) => g.spec.name === 'p2')!);
    if (Object.keys(spread).length !== 2) throw new BenchError(`expected 2 processes to accept connections for p2, saw ${JSON.stringify(spread)}`);
    for (const g of gateways) if (g.child.proc.exitCode !== null) throw describeFailure(g.child, 'exited during the run');

    const meta = { ...machineMeta(), loadavgBefore: loadBefore, loadavgAfter: os.loadavg().map(round3), quick: QUICK, seconds: Math.round((performance.now() - started) / 1000) };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const results = { c1, c64 };
    writeAtomically(path.join(RESULTS_DIR, 'cluster.json'), `${JSON.stringify({ ...meta, settings: SETTINGS, targets: GATEWAYS, connectionsByPid: spread, ...results }, null, 2)}\n`);
    const md = markdown(results, meta, spread);
    writeAtomically(path.join(RESULTS_DIR, 'cluster.md'), md);
    console.log(`\n${md}\nwrote bench/results/cluster.md and bench/results/cluster.json`);
  } finally {
    await Promise.allSettled(pools.map((p) => p.close()));
    await control?.close();
    await stopChildren();
    await redis?.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch(reportFailure);
