/**
 * Gateway overhead benchmark (`npm run bench`).
 *
 * Starts the fake provider and the gateway as separate processes and measures, in the same run, calling the
 * fake provider directly (the baseline) against calling it through the gateway. Direct and gateway requests
 * are interleaved (alternating per request at concurrency 1, alternating phases over several rounds for
 * throughput) so machine noise hits both alike:
 *
 *   - concurrency 1, non-stream: latency p50/p99 of each, added = gateway − direct;
 *   - throughput at concurrency 16 and 64: requests/s, ratio gateway/direct;
 *   - streaming at concurrency 1: time to first content chunk (TTFT), added TTFT p50/p99;
 *   - the gateway's own `x-gateway-overhead-ms` header, p50/p99.
 *
 * A third target, measured the same way and interleaved with the other two, is a reference: a minimal Node
 * pass-through proxy (bench/null-proxy.ts) in its own process. What it adds is the floor under the gateway's
 * added latency on this machine (the extra process hop), so "gateway − reference" is what the gateway's own
 * code costs. The c=64 throughput target is a share of its throughput (BENCH_REFERENCE=0 leaves it out, and
 * that check with it). The gateway's RSS is sampled during its throughput phases.
 *
 * The gateway is configured as in production apart from the durable path: logging at `info`, metrics on,
 * keys checked. bench/results/overhead-before.json, when present, is shown as a "before" column.
 *
 * The gateway runs compiled (`node dist/main.js`, built first when dist/ is stale), as production runs it. The
 * same gateway run from source via tsx is a fourth target, interleaved with the others, so the two are compared
 * in one run ("(tsx)" rows); BENCH_TSX=0 leaves it out.
 *
 * Results: bench/results/overhead.json (raw numbers) and bench/results/overhead.md (the table). A missed
 * target is reported, never an error; the exit code is non-zero only if the benchmark itself could not run.
 *
 * Environment knobs (all optional):
 *   BENCH_QUICK=1          a much shorter run (for checking the script itself; results are noisy)
 *   BENCH_REFERENCE=0      skip the minimal pass-through proxy reference
 *   BENCH_TSX=0            skip the gateway run from source via tsx
 *   BENCH_CPU_PROF=<dir>   run the gateway under `node --cpu-prof` and write its profile to <dir>
 *   BENCH_GATEWAY_NODE_ARGS='<flags>'  node flags for the compiled gateway instead of the production ones
 *   BENCH_ALT_NODE_ARGS='<flags>'      also a second compiled gateway with these flags, interleaved ("(alt)" rows)
 *   BENCH_ALT_CONFIG='<yaml line>; …'  the "(alt)" gateway's config gets these lines too (production flags unless
 *                                      BENCH_ALT_NODE_ARGS): what a feature costs, e.g. 'observability: { metrics: { enabled: false } }'
 *   BENCH_ALT_LOG_LEVEL=warn           the "(alt)" gateway logs at warn (no line per request)
 *   BENCH_FAKE_WAIT_S=<n>  how long to wait for test/fake-provider/main.ts to appear (default 60)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { freePort } from '../src/durable/dev-server.js';
import { BenchError, children, describeFailure, reportFailure, startChild, stopChild, stopChildren, stopChildrenOnExit, type Child } from './lib/children.js';
import { startFake, startUrlChild } from './lib/fake.js';
import { ALIAS, DEPLOYMENT, UPSTREAM_MODEL, gatewayYaml, waitForHealthz } from './lib/gateway.js';
import { gatewayArgs, productionNodeFlags, type LaunchMode } from './lib/launch.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { ROW_HEAD, machineMeta, mdTable, rowBuilder, rowCells, textTable, writeAtomically, type Check, type Row } from './lib/report.js';
import { addedOver, closedLoop, completeOnce, makeTarget, orderFor, overheadHeader, streamOnce, summarize, type Added, type Phase as LoadPhase, type Sample, type StreamSample, type Target as LoadTarget } from './lib/load.js';
import { sampleRss } from './lib/rss.js';
import { Errors, round3, type Summary } from './lib/stats.js';


// ---------------------------------------------------------------------------------------------- settings

const QUICK = process.env.BENCH_QUICK === '1';
const WITH_REFERENCE = process.env.BENCH_REFERENCE !== '0';
const WITH_TSX = process.env.BENCH_TSX !== '0';
const SETTINGS = {
  sequential: { warmup: QUICK ? 50 : 300, requests: QUICK ? 300 : 3000 },
  streaming: { warmup: QUICK ? 30 : 150, requests: QUICK ? 200 : 1000 },
  throughput: { concurrencies: [16, 64], rounds: QUICK ? 1 : 3, phaseMs: QUICK ? 1000 : 3000, warmupMs: QUICK ? 300 : 1000 },
};

/**
 * Issue #16's targets. Throughput is a share of the minimal pass-through proxy's in the same run (what any
 * extra Node hop could reach on this machine), not of the direct calls: so it needs the reference target.
 */
const TARGETS = {
  addedP50Ms: 0.3,
  addedP99Ms: 1,
  throughputShareOfReferenceC64: 0.5,
  addedTtftP99Ms: 1,
  rssMaxMb: 200,
};

/** A run before a change, kept beside the current one: its `measured` column is shown as "before". */
const BEFORE_JSON = path.join(RESULTS_DIR, 'overhead-before.json');

const REFERENCE_ENTRY = path.join(ROOT, 'bench/null-proxy.ts');

// ---------------------------------------------------------------------------------------------- child processes

// Stopped in parallel with a short grace: whoever sends SIGINT wants out now.
stopChildrenOnExit(() => Promise.all(children.map((c) => stopChild(c, 2000))));

/**
 * The fast path only: the durable path (on by default) would start an embedded Temporal dev server and a worker
 * inside the gateway process, which is not what this measures and would compete for the two cores.
 */
const DURABLE_OFF = ['durable: { enabled: false }'];

/**
 * Node flags for the compiled gateway: production's (Dockerfile NODE_OPTIONS, `npm run start:prod`) unless
 * BENCH_GATEWAY_NODE_ARGS (space-separated) replaces them.
 */
const PRODUCTION_NODE_ARGS = productionNodeFlags();
const GATEWAY_NODE_ARGS = process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? PRODUCTION_NODE_ARGS;
/** BENCH_ALT_*: a second compiled gateway differing in node flags, config lines or log level, interleaved with the others ("(alt)" rows). */
const ALT_CONFIG = process.env.BENCH_ALT_CONFIG?.split(';').map((l) => l.trim()).filter(Boolean);
const ALT_LOG_LEVEL = process.env.BENCH_ALT_LOG_LEVEL === 'warn' ? 'warn' : 'info';
const ALT_NODE_ARGS = process.env.BENCH_ALT_NODE_ARGS?.split(' ').filter(Boolean) ?? (ALT_CONFIG || process.env.BENCH_ALT_LOG_LEVEL ? PRODUCTION_NODE_ARGS : undefined);
/** What the "(alt)" gateway differs in, for the report. */
const ALT_LABEL = [process.env.BENCH_ALT_NODE_ARGS && `node ${process.env.BENCH_ALT_NODE_ARGS}`, ALT_CONFIG && `config + ${ALT_CONFIG.join('; ')}`, process.env.BENCH_ALT_LOG_LEVEL && `logging at ${ALT_LOG_LEVEL}`].filter(Boolean).join(', ');

/**
 * Starts the gateway on a port picked here, as production runs it: logging at `info` (one line per request),
 * metrics on (the default), keys checked; waits for /healthz. Retries if the port was taken meanwhile.
 */
async function startGateway(fakeUrl: string, tmpDir: string, mode: LaunchMode, flags = GATEWAY_NODE_ARGS, name: string = mode): Promise<{ child: Child; url: string; yaml: string }> {
  const profDir = process.env.BENCH_CPU_PROF;
  let withDurableBlock = true;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const configPath = path.join(tmpDir, `gateway-${name}.yaml`);
    const alt = name === 'alt';
    const extra = [...(withDurableBlock ? DURABLE_OFF : []), ...(alt ? (ALT_CONFIG ?? []) : [])];
    const yaml = gatewayYaml('bench/overhead.ts', fakeUrl, port, extra, { logLevel: alt ? ALT_LOG_LEVEL : 'info' });
    writeFileSync(configPath, yaml);
    const nodeArgs = [...(mode === 'compiled' ? flags : []), ...(profDir && name === mode ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profDir)] : [])];
    const child = startChild(name === 'compiled' ? 'gateway' : `gateway (${name})`, [...nodeArgs, ...gatewayArgs(mode), '--config', configPath]);
    const url = `http://127.0.0.1:${port}`;
    if (await waitForHealthz(child, url, 30_000)) return { child, url, yaml };
    const inUse = child.tail.some((l) => l.includes('EADDRINUSE'));
    // A gateway without the durable path rejects the `durable` block as an unknown key: run it without.
    const noDurable = withDurableBlock && child.tail.some((l) => /durable/.test(l) && /unrecognized|unknown/i.test(l));
    if (noDurable) withDurableBlock = false;
    if ((inUse || noDurable) && attempt < 4) continue;
    throw describeFailure(child, `exited (code ${child.proc.exitCode}) before answering /healthz`);
  }
}

// ---------------------------------------------------------------------------------------------- load generator

type TargetName = 'direct' | 'reference' | 'gateway' | 'gateway-tsx' | 'gateway-alt';
type Target = LoadTarget<TargetName>;
type Phase = LoadPhase<TargetName>;

// ---------------------------------------------------------------------------------------------- measurements

type PerTarget<T> = Partial<Record<TargetName, T>>;

/** Concurrency 1, non-stream, targets interleaved request by request. */
async function measureSequential(targets: Target[]) {
  const { warmup, requests } = SETTINGS.sequential;
  const lat = new Map<TargetName, number[]>(targets.map((t) => [t.name, []]));
  const overhead: number[] = [];
  const errors = new Errors<TargetName>('concurrency 1, non-stream');
  for (let i = 0; i < warmup + requests; i++) {
    for (const t of orderFor(targets, i)) {
      let s: Sample;
      try {
        s = await completeOnce(t);
      } catch (err) {
        errors.record(err, t.name);
        continue;
      }
      if (i < warmup) continue;
      lat.get(t.name)!.push(s.ms);
      if (t.name === 'gateway' && s.overheadMs !== undefined) overhead.push(s.overheadMs);
    }
  }
  const latencyMs: PerTarget<Summary> = {};
  for (const [name, values] of lat) latencyMs[name] = summarize(values);
  const addedMs: PerTarget<Added> = {};
  for (const t of targets) if (t.name !== 'direct') addedMs[t.name] = addedOver(latencyMs.direct!, latencyMs[t.name]!);
  return { warmup, requests, latencyMs, addedMs, overheadHeaderMs: summarize(overhead), errors: errors.toJSON() };
}

/** Concurrency 1, streamed, targets interleaved request by request: time to first content. */
async function measureStreaming(targets: Target[], { warmup, requests }: { warmup: number; requests: number }, what = 'streaming') {
  const ttft = new Map<TargetName, number[]>(targets.map((t) => [t.name, []]));
  const total = new Map<TargetName, number[]>(targets.map((t) => [t.name, []]));
  const overhead: number[] = [];
  const errors = new Errors<TargetName>(what);
  for (let i = 0; i < warmup + requests; i++) {
    for (const t of orderFor(targets, i)) {
      let s: StreamSample;
      try {
        s = await streamOnce(t);
      } catch (err) {
        errors.record(err, t.name);
        continue;
      }
      if (i < warmup) continue;
      ttft.get(t.name)!.push(s.ttftMs);
      total.get(t.name)!.push(s.totalMs);
      if (t.name === 'gateway' && s.overheadMs !== undefined) overhead.push(s.overheadMs);
    }
  }
  const ttftMs: PerTarget<Summary> = {};
  const totalMs: PerTarget<Summary> = {};
  for (const t of targets) {
    ttftMs[t.name] = summarize(ttft.get(t.name)!);
    totalMs[t.name] = summarize(total.get(t.name)!);
  }
  const addedTtftMs: PerTarget<Added> = {};
  for (const t of targets) if (t.name !== 'direct') addedTtftMs[t.name] = addedOver(ttftMs.direct!, ttftMs[t.name]!);
  return { warmup, requests, ttftMs, totalMs, addedTtftMs, overheadHeaderMs: summarize(overhead), errors: errors.toJSON() };
}

interface ThroughputResult {
  concurrency: number;
  /** Requests/s over all rounds of each target (total requests / total time). */
  rps: PerTarget<number>;
  /** rps of each target / rps direct. */
  ratio: PerTarget<number>;
  /** rps of the gateway / rps of the minimal proxy, when it ran. */
  gatewayShareOfReference?: number;
  /** The gateway process's RSS sampled during its phases (MB). */
  gatewayRssMb?: Summary;
  /** The same for the "(alt)" gateway, when it ran. */
  altRssMb?: Summary;
  /** CPU time (user + system) the process spent per request in its phases, µs: less noisy than req/s on a busy machine. */
  cpuUsPerRequest: PerTarget<number>;
  phases: Phase[];
}

/** Phases of `phaseMs` per target, in rounds whose order rotates, so slow drifts hit every target alike. */
/** CPU seconds (user + system) a process used so far, from /proc (Linux; undefined elsewhere). */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

async function measureThroughput(targets: Target[], resetFake: () => Promise<void>, pids: PerTarget<number>): Promise<ThroughputResult[]> {
  const rssOf: Partial<Record<TargetName, number | undefined>> = { gateway: pids.gateway, 'gateway-alt': pids['gateway-alt'] };
  const { concurrencies, rounds, phaseMs, warmupMs } = SETTINGS.throughput;
  const out: ThroughputResult[] = [];
  for (const c of concurrencies) {
    // Open the connections and warm every path at this concurrency.
    for (const t of targets) {
      await closedLoop(t, c, warmupMs, -1);
      await resetFake();
    }
    const phases: Phase[] = [];
    const rss: number[] = [];
    const altRss: number[] = [];
    const cpu = new Map<TargetName, { seconds: number; requests: number }>();
    for (let r = 0; r < rounds; r++) {
      for (const t of orderFor(targets, r)) {
        await sleep(100);
        const rssPid = rssOf[t.name];
        const sampler = rssPid !== undefined ? sampleRss(rssPid) : undefined;
        const pid = pids[t.name];
        const cpu0 = pid === undefined ? undefined : cpuSeconds(pid);
        const phase = await closedLoop(t, c, phaseMs, r);
        phases.push(phase);
        const cpu1 = pid === undefined ? undefined : cpuSeconds(pid);
        if (cpu0 !== undefined && cpu1 !== undefined) {
          const acc = cpu.get(t.name) ?? { seconds: 0, requests: 0 };
          cpu.set(t.name, { seconds: acc.seconds + cpu1 - cpu0, requests: acc.requests + phase.requests });
        }
        if (sampler) (t.name === 'gateway' ? rss : altRss).push(...sampler.stop());
        await resetFake(); // the fake keeps every request it received; do not let that grow through the run
      }
    }
    const rps: PerTarget<number> = {};
    for (const t of targets) {
      const ps = phases.filter((p) => p.target === t.name);
      rps[t.name] = Math.round(ps.reduce((n, p) => n + p.requests, 0) / ps.reduce((s, p) => s + p.seconds, 0));
    }
    const ratio: PerTarget<number> = {};
    for (const t of targets) if (t.name !== 'direct') ratio[t.name] = round3(rps[t.name]! / rps.direct!);
    const share = rps.reference ? round3(rps.gateway! / rps.reference) : undefined;
    const cpuUsPerRequest: PerTarget<number> = {};
    for (const [name, { seconds, requests }] of cpu) if (requests > 0) cpuUsPerRequest[name] = Math.round((1e6 * seconds) / requests);
    out.push({
      concurrency: c,
      rps,
      ratio,
      ...(share !== undefined ? { gatewayShareOfReference: share } : {}),
      ...(rss.length > 0 ? { gatewayRssMb: summarize(rss) } : {}),
      ...(altRss.length > 0 ? { altRssMb: summarize(altRss) } : {}),
      cpuUsPerRequest,
      phases,
    });
    console.log(`  concurrency ${c}: ${targets.map((t) => `${t.name} ${rps[t.name]} req/s`).join(', ')}; CPU µs/request ${JSON.stringify(cpuUsPerRequest)}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- report

const fmtMs = (x: number) => `${x.toFixed(3)} ms`;
const fmtPct = (x: number) => `${(100 * x).toFixed(1)}%`;

function buildRows(
  seq: Awaited<ReturnType<typeof measureSequential>>,
  thr: ThroughputResult[],
  str: Awaited<ReturnType<typeof measureStreaming>>,
): { rows: Row[]; checks: Check[] } {
  const { rows, checks, info, check } = rowBuilder();
  const lat = seq.latencyMs;
  const ref = seq.addedMs.reference;
  const gw = seq.addedMs.gateway!;

  info('c=1 latency p50, direct / gateway', `${fmtMs(lat.direct!.p50)} / ${fmtMs(lat.gateway!.p50)}`);
  info('c=1 latency p99, direct / gateway', `${fmtMs(lat.direct!.p99)} / ${fmtMs(lat.gateway!.p99)}`);
  check('c=1 added latency p50', gw.p50, fmtMs(gw.p50), '<=', TARGETS.addedP50Ms, fmtMs(TARGETS.addedP50Ms));
  check('c=1 added latency p99', gw.p99, fmtMs(gw.p99), '<=', TARGETS.addedP99Ms, fmtMs(TARGETS.addedP99Ms));
  info('c=1 x-gateway-overhead-ms p50 / p99', `${fmtMs(seq.overheadHeaderMs.p50)} / ${fmtMs(seq.overheadHeaderMs.p99)}`);
  if (ref) info('(reference) c=1 added latency p50 / p99, minimal proxy', `${fmtMs(ref.p50)} / ${fmtMs(ref.p99)}`);
  const tsx = seq.addedMs['gateway-tsx'];
  if (tsx) info('(tsx) c=1 latency p50 / p99, gateway from source', `${fmtMs(lat['gateway-tsx']!.p50)} / ${fmtMs(lat['gateway-tsx']!.p99)}`);
  if (tsx) info('(tsx) c=1 added latency p50 / p99, gateway from source', `${fmtMs(tsx.p50)} / ${fmtMs(tsx.p99)}`);

  for (const t of thr) {
    info(`c=${t.concurrency} throughput, direct / minimal proxy / gateway`, `${t.rps.direct} / ${t.rps.reference ?? '—'} / ${t.rps.gateway} req/s`);
    info(`c=${t.concurrency} throughput gateway/direct`, fmtPct(t.ratio.gateway!));
    const us = t.cpuUsPerRequest;
    if (us.gateway !== undefined) info(`c=${t.concurrency} CPU per request, minimal proxy / gateway`, `${us.reference ?? '—'} / ${us.gateway} µs`);
    const share = t.gatewayShareOfReference;
    if (share === undefined) continue;
    const what = `c=${t.concurrency} throughput gateway/minimal proxy`;
    if (t.concurrency === 64) check(what, share, fmtPct(share), '>=', TARGETS.throughputShareOfReferenceC64, fmtPct(TARGETS.throughputShareOfReferenceC64));
    else info(what, fmtPct(share));
  }
  const rss = thr.flatMap((t) => (t.gatewayRssMb ? [t.gatewayRssMb.max] : []));
  if (rss.length > 0) {
    const peak = Math.max(...rss);
    check('gateway RSS under load (peak)', peak, `${peak.toFixed(1)} MB`, '<=', TARGETS.rssMaxMb, `${TARGETS.rssMaxMb} MB`);
  }
  for (const t of thr)
    if (t.ratio.reference !== undefined)
      info(`(reference) c=${t.concurrency} throughput minimal proxy/direct`, `${t.rps.reference} req/s, ${fmtPct(t.ratio.reference)}`);
  const alt = seq.addedMs['gateway-alt'];
  if (alt) info(`(alt) c=1 added latency p50 / p99, gateway with ${ALT_LABEL}`, `${fmtMs(alt.p50)} / ${fmtMs(alt.p99)}`);
  for (const t of thr) {
    if (t.rps['gateway-alt'] === undefined) continue;
    info(`(alt) c=${t.concurrency} throughput / CPU per request, gateway with ${ALT_LABEL}`, `${t.rps['gateway-alt']} req/s / ${t.cpuUsPerRequest['gateway-alt'] ?? '—'} µs`);
  }
  const altPeak = thr.flatMap((t) => (t.altRssMb ? [t.altRssMb.max] : []));
  if (altPeak.length > 0) info(`(alt) RSS under load (peak), gateway with ${ALT_LABEL}`, `${Math.max(...altPeak).toFixed(1)} MB`);
  for (const t of thr)
    if (t.ratio['gateway-tsx'] !== undefined)
      info(`(tsx) c=${t.concurrency} throughput gateway from source/direct`, `${t.rps['gateway-tsx']} req/s, ${fmtPct(t.ratio['gateway-tsx'])}`);

  const ttft = str.ttftMs;
  const gwT = str.addedTtftMs.gateway!;
  const refT = str.addedTtftMs.reference;
  info('stream TTFT p50, direct / gateway', `${fmtMs(ttft.direct!.p50)} / ${fmtMs(ttft.gateway!.p50)}`);
  info('stream TTFT p99, direct / gateway', `${fmtMs(ttft.direct!.p99)} / ${fmtMs(ttft.gateway!.p99)}`);
  info('stream added TTFT p50', fmtMs(gwT.p50));
  check('stream added TTFT p99', gwT.p99, fmtMs(gwT.p99), '<=', TARGETS.addedTtftP99Ms, fmtMs(TARGETS.addedTtftP99Ms));
  info('stream x-gateway-overhead-ms p50 / p99', `${fmtMs(str.overheadHeaderMs.p50)} / ${fmtMs(str.overheadHeaderMs.p99)}`);
  if (refT) info('(reference) stream added TTFT p50 / p99, minimal proxy', `${fmtMs(refT.p50)} / ${fmtMs(refT.p99)}`);
  const tsxT = str.addedTtftMs['gateway-tsx'];
  if (tsxT) info('(tsx) stream added TTFT p50 / p99, gateway from source', `${fmtMs(tsxT.p50)} / ${fmtMs(tsxT.p99)}`);

  // Failed requests over the whole run (left out of the statistics above).
  const names = Object.keys(seq.latencyMs) as TargetName[];
  const failed = names.map(
    (n) => (seq.errors.count[n] ?? 0) + (str.errors.count[n] ?? 0) + thr.reduce((a, t) => a + t.phases.filter((p) => p.target === n).reduce((b, p) => b + p.errors, 0), 0),
  );
  rows.push({
    metric: `failed requests, ${names.join(' / ')}`,
    measured: failed.join(' / '),
    target: '0',
    result: failed.some((f) => f > 0) ? 'ERRORS' : 'PASS',
  });
  return { rows, checks };
}

interface Meta {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  quick: boolean;
  seconds: number;
  loadavg: number[];
}

/** The `measured` column of a kept earlier run, by metric name ("before"), when bench/results/overhead-before.json exists. */
function beforeColumn(): { date: string; loadavg?: number[]; measured: Map<string, string> } | undefined {
  if (!existsSync(BEFORE_JSON)) return undefined;
  const before = JSON.parse(readFileSync(BEFORE_JSON, 'utf8')) as { date: string; loadavg?: number[]; rows?: Row[] };
  if (!before.rows) return undefined;
  return { date: before.date, loadavg: before.loadavg, measured: new Map(before.rows.map((r) => [r.metric, r.measured])) };
}

function table(rows: Row[]): string[] {
  const before = beforeColumn();
  if (!before) return mdTable(ROW_HEAD, rowCells(rows));
  const head = ['metric', 'before', 'measured', 'target', 'result'];
  const cells = rows.map((r) => [r.metric, before.measured.get(r.metric) ?? '—', r.measured, r.target, r.result]);
  const load = before.loadavg ? ` (load average ${before.loadavg.map((x) => x.toFixed(2)).join(' / ')})` : '';
  return [
    `"before": the run of ${before.date}${load} kept in \`overhead-before.json\` (same script, same settings), before the fast-path work of issue #16.`,
    '',
    ...mdTable(head, cells),
  ];
}

function markdown(rows: Row[], meta: Meta, reference: boolean, tsx: boolean): string {
  return [
    '# Gateway overhead',
    '',
    `Run ${meta.date} · Node ${meta.node} · ${meta.cpus} CPUs (${meta.cpuModel}) · ${meta.seconds.toFixed(0)} s${meta.quick ? ' · QUICK run (noisy)' : ''}`,
    '',
    'The gateway (its own process) in front of the fake provider (its own process), against the fake provider',
    'called directly, interleaved in the same run; the load generator (undici keep-alive pools) is a third process',
    'and all of them share the machine. "Added" = gateway − direct at the same percentile. The gateway runs the',
    'fast path only (`durable: { enabled: false }`), as configured in production otherwise: logging at `info` (a',
    '`request` and a `charge` line per request, read by the benchmark through a pipe), metrics on, gateway keys checked; compiled: `node',
    `dist/main.js\` with ${GATEWAY_NODE_ARGS.length > 0 ? `\`${GATEWAY_NODE_ARGS.join(' ')}\`` : 'no node flags'} (built by \`npm run build\` first when dist/ is older than the sources). The throughput target is`,
    'a share of the minimal proxy\'s throughput in the same run; RSS is the gateway process, sampled every 250 ms',
    'during its throughput phases. The provider key differs from the gateway key, as in production (the',
    'request then runs in its own redaction scope, an AsyncLocalStorage).',
    ...(ALT_NODE_ARGS
      ? [`"(alt)" rows are a second compiled gateway (${ALT_LABEL}), interleaved with the others in the same run.`]
      : []),
    `Load average at the end of the run: ${meta.loadavg.map((x) => x.toFixed(2)).join(' / ')} (1 / 5 / 15 min).`,
    ...(tsx
      ? ['"(tsx)" rows are the same gateway run from source via tsx (`node --import tsx src/main.ts`), in its own', 'process, interleaved with the others in the same run.']
      : []),
    ...(reference
      ? [
          '"(reference)" rows are a minimal Node pass-through proxy (`bench/null-proxy.ts`: node:http in, undici out,',
          'no routing, validation or logging) measured the same way: the floor an extra Node process hop sets here.',
        ]
      : []),
    '',
    ...table(rows),
    '',
    'Raw numbers: `overhead.json`. Reproduce with `npm run bench`.',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gateway-bench-'));
  const pools: Pool[] = [];
  try {
    console.log(`node ${process.version}, ${os.cpus().length} CPUs${QUICK ? ', QUICK run' : ''}`);
    const fake = await startFake();
    console.log(`fake provider: ${fake.url}`);
    const gw = await startGateway(fake.url, tmpDir, 'compiled');
    console.log(`gateway:       ${gw.url} (compiled, node ${GATEWAY_NODE_ARGS.join(' ')} dist/main.js)`);
    const gwTsx = WITH_TSX ? await startGateway(fake.url, tmpDir, 'tsx') : undefined;
    if (gwTsx) console.log(`gateway (tsx): ${gwTsx.url} (from source)`);
    const gwAlt = ALT_NODE_ARGS ? await startGateway(fake.url, tmpDir, 'compiled', ALT_NODE_ARGS, 'alt') : undefined;
    if (gwAlt) console.log(`gateway (alt): ${gwAlt.url} (compiled, ${ALT_LABEL})`);
    const ref = WITH_REFERENCE
      ? await startUrlChild('reference proxy', [REFERENCE_ENTRY, '--upstream', fake.url, '--model', UPSTREAM_MODEL, '--port', '0'])
      : undefined;
    if (ref) console.log(`reference:     ${ref.url} (minimal pass-through proxy)`);

    const control = new Pool(fake.url, { connections: 1 });
    pools.push(control);
    const resetFake = async () => {
      const res = await control.request({ path: '/__reset', method: 'POST' });
      await res.body.dump();
    };
    const violations = async (): Promise<string[]> => {
      const res = await control.request({ path: '/__requests', method: 'GET' });
      return ((await res.body.json()) as { violations?: string[] }).violations ?? [];
    };

    const direct = makeTarget('direct', fake.url, UPSTREAM_MODEL);
    const gateway = makeTarget('gateway', gw.url, ALIAS);
    const targets: Target[] = [direct, gateway];
    if (ref) targets.splice(1, 0, makeTarget('reference', ref.url, ALIAS));
    if (gwTsx) targets.push(makeTarget('gateway-tsx', gwTsx.url, ALIAS));
    if (gwAlt) targets.push(makeTarget('gateway-alt', gwAlt.url, ALIAS));
    pools.push(...targets.map((t) => t.pool));

    // Sanity: every path gives the same answer, the gateway says who answered, and the fake saw valid requests.
    for (const t of targets) {
      await completeOnce(t);
      await streamOnce(t);
    }
    {
      const res = await gateway.pool.request({ path: '/v1/chat/completions', method: 'POST', headers: gateway.headers, body: gateway.body });
      await res.body.dump();
      if (res.headers['x-gateway-deployment'] !== DEPLOYMENT || res.headers['x-gateway-fallback'] !== 'none')
        throw new BenchError(`gateway did not answer via ${DEPLOYMENT} without fallback: ${JSON.stringify(res.headers)}`);
      if (overheadHeader(res.headers) === undefined) console.warn('warning: the gateway sent no x-gateway-overhead-ms header');
    }
    const bad = await violations();
    if (bad.length > 0) throw new BenchError(`the fake provider saw contract violations:\n${bad.join('\n')}`);
    await resetFake();

    const names = targets.map((t) => t.name).join(', ');
    console.log(`concurrency 1, non-stream (${names}): ${SETTINGS.sequential.warmup} warm-up + ${SETTINGS.sequential.requests} requests each ...`);
    const sequential = await measureSequential(targets);
    await resetFake();
    console.log(`  gateway added p50 ${fmtMs(sequential.addedMs.gateway!.p50)}, p99 ${fmtMs(sequential.addedMs.gateway!.p99)}`);

    console.log(`streaming, concurrency 1: ${SETTINGS.streaming.warmup} warm-up + ${SETTINGS.streaming.requests} requests each ...`);
    const streaming = await measureStreaming(targets, SETTINGS.streaming);
    await resetFake();
    console.log(`  gateway added TTFT p50 ${fmtMs(streaming.addedTtftMs.gateway!.p50)}, p99 ${fmtMs(streaming.addedTtftMs.gateway!.p99)}`);

    const { concurrencies, rounds, phaseMs } = SETTINGS.throughput;
    console.log(`throughput at concurrency ${concurrencies.join(' and ')}: ${rounds} rounds × ${phaseMs / 1000} s per target ...`);
    const throughput = await measureThroughput(targets, resetFake, { gateway: gw.child.proc.pid, reference: ref?.child.proc.pid, 'gateway-alt': gwAlt?.child.proc.pid });

    const seconds = (performance.now() - started) / 1000;
    const { rows, checks } = buildRows(sequential, throughput, streaming);
    const meta: Meta = {
      ...machineMeta(),
      quick: QUICK,
      seconds: round3(seconds),
      loadavg: os.loadavg().map(round3),
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = {
      ...meta,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      settings: { ...SETTINGS, reference: WITH_REFERENCE, tsx: WITH_TSX },
      gatewayConfig: gw.yaml,
      gatewayNodeArgs: GATEWAY_NODE_ARGS,
      ...(ALT_NODE_ARGS ? { altNodeArgs: ALT_NODE_ARGS, alt: ALT_LABEL } : {}),
      targets: TARGETS,
      checks,
      allPass: checks.every((c) => c.pass),
      rows,
      units: { latency: 'ms', throughput: 'requests/s', ratio: 'target rps / direct rps', added: 'target − direct at the same percentile' },
      sequential,
      streaming,
      throughput,
    };
    writeAtomically(path.join(RESULTS_DIR, 'overhead.json'), `${JSON.stringify(json, null, 2)}\n`);
    writeAtomically(path.join(RESULTS_DIR, 'overhead.md'), markdown(rows, meta, WITH_REFERENCE, WITH_TSX));

    // The rule under the head exactly as wide as the table, as this script always drew it.
    console.log(`\n${textTable(ROW_HEAD, rowCells(rows), 0)}\n`);
    console.log(`${checks.filter((c) => c.pass).length}/${checks.length} targets met; wrote bench/results/overhead.json and bench/results/overhead.md (${seconds.toFixed(0)} s)`);
  } finally {
    await Promise.allSettled(pools.map((p) => p.close()));
    // Children stop gracefully (the gateway writes its CPU profile on SIGTERM), last started first.
    await stopChildren();
    rmSync(tmpDir, { recursive: true, force: true });
    if (process.env.BENCH_CPU_PROF) console.log(`gateway CPU profile in ${path.resolve(process.env.BENCH_CPU_PROF)}`);
  }
}

main().catch(reportFailure);
