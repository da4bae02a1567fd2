/**
 * Durable-path benchmark (`npm run bench:durable`).
 *
 * Starts the fake provider (its own process), a Temporal dev server (the project's own launcher:
 * src/durable/dev-server.ts, headless, file-backed SQLite with its WAL pragmas) and the gateway in role `all`
 * (HTTP + worker, its own process) pointed at that dev server, then measures in the same run:
 *
 *   - concurrency 1, non-stream, interleaved request by request: the fast path (`POST /v1/chat/completions`)
 *     against the durable path (the same call with `x-gateway-durable: true`: start the workflow and wait for
 *     its end); p50/p99 of each, added = durable − fast at the same percentile;
 *   - sustained durable throughput, closed loop: `POST /v1/requests`, then `GET /v1/requests/{id}?wait=30s`
 *     until `succeeded`, at 16 and 64 requests in flight; and the sync `x-gateway-durable: true` call at 32 in
 *     flight. Completed requests/s counted over a fixed window after a warm-up;
 *   - a baseline in the same run: a minimal one-activity workflow (bench/lib/baseline-workflow.ts) on its own
 *     worker process, at concurrency 1 and at each throughput concurrency; durable throughput is judged as a
 *     share of it (bench/lib/durable-baseline.ts);
 *   - durable retries: requests whose first call fails once with a 500 and `retry-after-ms`, the gap between the
 *     attempts read from the workflow history against the delay the policy computed (bench/lib/durable-retry.ts);
 *   - where the time goes: for the concurrency-1 durable calls (and a sample of the throughput runs), the
 *     workflow histories are read back and split into phases (client → workflow started, workflow-task
 *     dispatch and run, activity dispatch and run, workflow closed → client answered); and the CPU each process
 *     used during every throughput window (from /proc), since everything shares the machine's cores.
 *
 * A second pass repeats the latency and two throughput rows against an in-memory dev server (a new gateway
 * process), for comparison; BENCH_DURABLE_MEMORY=0 leaves it out.
 *
 * Results: bench/results/durable.json (raw numbers) and bench/results/durable.md (the tables). A missed target
 * is reported, never an error; the exit code is non-zero only if the benchmark itself could not run.
 *
 * Environment knobs (all optional):
 *   BENCH_QUICK=1            a much shorter run (for checking the script itself; results are noisy)
 *   BENCH_DURABLE_MEMORY=0   skip the in-memory dev server pass
 *   BENCH_CPU_PROF=<dir>     run the gateway under `node --cpu-prof` and write its profile(s) to <dir>
 *   BENCH_TEMPORAL_DYNAMIC_CONFIG='k=v,k=v'
 *                            an experiment: extra `--dynamic-config-value k=v` flags for the dev server (passed
 *                            through a wrapper around the CLI, since src/durable/dev-server.ts takes no extra flags)
 *   BENCH_TEMPORAL_METRICS=1 also start the dev server with `--metrics-port` and report, per measurement, the
 *                            Temporal frontend calls and SQLite operations per durable request (from its Prometheus
 *                            metrics, read before and after each measurement window)
 *   BENCH_RESULTS_NAME=<name> write bench/results/<name>.{json,md} instead of durable.* (for experiments)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { Client, Connection } from '@temporalio/client';
import { freePort, startDevServer, type DevServer } from '../src/durable/dev-server.js';
import { ensureTemporalCli } from '../src/durable/temporal-cli.js';
import { BenchError, describeFailure, killChildrenNow, reportFailure, startChild, stopChild, stopChildren, stopChildrenOnExit, type Child } from './lib/children.js';
import { startFake } from './lib/fake.js';
import { ALIAS, API_KEY, DEPLOYMENT, EXPECTED_TEXT, PROMPT, gatewayYaml, waitForHealthz } from './lib/gateway.js';
import { gatewayArgs, launchModeFromEnv } from './lib/launch.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { ROW_HEAD, machineMeta, mdTable, rowBuilder, rowCells, textTable, writeAtomically, type Check, type Row } from './lib/report.js';
import { Errors, round3 as r3, summarize, type Summary } from './lib/stats.js';
import { baselineLatency, baselineThroughput, bracketed, startBaselineWorker, type BaselineLatency, type BaselineThroughput } from './lib/durable-baseline.js';
import { measureRetryDelay, RETRY_AFTER_MS, withRetryAlias, type RetryDelayResult } from './lib/durable-retry.js';

// ---------------------------------------------------------------------------------------------- settings

const QUICK = process.env.BENCH_QUICK === '1';
const WITH_MEMORY = process.env.BENCH_DURABLE_MEMORY !== '0';
const SETTINGS = {
  latency: { warmup: QUICK ? 10 : 30, requests: QUICK ? 60 : 300 },
  throughput: {
    warmupMs: QUICK ? 1000 : 2000,
    windowMs: QUICK ? 3000 : 10_000,
    /** `POST /v1/requests` + long-poll, requests in flight. */
    submitConcurrencies: [16, 64],
    /** `x-gateway-durable: true` sync calls, requests in flight. */
    syncConcurrency: 32,
  },
  /** The in-memory pass: the latency rows, and one row of each throughput kind. */
  memory: { submitConcurrencies: [64] },
  /** Workflow histories read back per throughput phase for the phase breakdown. */
  historySamplePerPhase: QUICK ? 20 : 100,
  /** Requests whose first call fails once (500 + retry-after-ms), for the retry-delay rows. */
  retryRequests: QUICK ? 5 : 20,
};

const TARGETS = {
  addedP50Ms: 30,
  /** Durable throughput as a share of the baseline workflow's (bench/lib/baseline-workflow.ts) at the same concurrency. */
  throughputOfBaselinePct: 70,
  /** How much later than the policy's computed delay a durable retry may start (p50). */
  retryLateMs: 50,
};

const RESULTS_NAME = process.env.BENCH_RESULTS_NAME || 'durable';

const WITH_TEMPORAL_METRICS = process.env.BENCH_TEMPORAL_METRICS === '1';
const DYNAMIC_CONFIG = (process.env.BENCH_TEMPORAL_DYNAMIC_CONFIG ?? '')
  .split(',')
  .map((kv) => kv.trim())
  .filter((kv) => kv.length > 0);

// ---------------------------------------------------------------------------------------------- child processes

/** The gateway (role `all`) may be finishing workflow tasks when asked to stop: give it longer than the default. */
const STOP_GRACE_MS = 8000;
const devServers: DevServer[] = [];
let tmpDirToRemove: string | undefined;

/** Our own direct children (by pid, from /proc): a last resort for anything a launcher left behind. */
function ownChildPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function killEverythingNow(): void {
  killChildrenNow();
  // Each watchdog leads its own process group: killing the group takes the server with it.
  for (const d of devServers) if (d.process.exitCode === null && d.process.signalCode === null) process.kill(-d.process.pid!, 'SIGKILL');
  for (const pid of ownChildPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

stopChildrenOnExit(async () => {
  await stopAll();
  if (tmpDirToRemove) rmSync(tmpDirToRemove, { recursive: true, force: true });
}, killEverythingNow);

async function stopAll(): Promise<void> {
  // Gateways first (they hold connections to the dev servers), last started first.
  await stopChildren(STOP_GRACE_MS);
  for (const d of devServers.splice(0).reverse()) await d.stop().catch(() => undefined);
  killEverythingNow();
}

/** The gateway in role `all` (HTTP + worker) on a port picked here, pointed at `temporalAddress`. */
async function startGateway(
  label: string,
  fakeUrl: string,
  temporalAddress: string,
  tmpDir: string,
): Promise<{ child: Child; url: string; yaml: string; startupMs: number }> {
  const profDir = process.env.BENCH_CPU_PROF;
  for (let attempt = 1; ; attempt++) {
    const t0 = performance.now();
    const port = await freePort();
    const configPath = path.join(tmpDir, `gateway-${label}.yaml`);
    // Every retry request fails once then answers: 50 % failures, which would open the default breaker (≥ 0.5).
    const yaml = withRetryAlias(gatewayYaml('bench/durable.ts', fakeUrl, port, ['health: { breaker: { failureRateThreshold: 1 } }']), DEPLOYMENT, ALIAS);
    writeFileSync(configPath, yaml);
    // One profile per thread (main, the SDK's workflow threads; tsx's loader too with BENCH_GATEWAY=tsx), named by pid and thread id.
    const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profDir)] : [];
    // Compiled, the worker loads the build's prebuilt workflow bundle itself (no webpack at start).
    const env = { ...process.env, TEMPORAL_ADDRESS: temporalAddress };
    const child = startChild(`gateway (${label})`, [...nodeArgs, ...gatewayArgs(launchModeFromEnv()), '--config', configPath, '--role', 'all'], { env });
    const url = `http://127.0.0.1:${port}`;
    if (await waitForHealthz(child, url, 90_000)) return { child, url, yaml, startupMs: Math.round(performance.now() - t0) };
    if (child.tail.some((l) => l.includes('EADDRINUSE')) && attempt < 4) continue;
    throw describeFailure(child, `exited (code ${child.proc.exitCode}) before answering /healthz`);
  }
}

// ---------------------------------------------------------------------------------------------- statistics

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with Temporal's event times). */
const wallNow = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------- requests

interface Gw {
  pool: Pool;
  chatBody: string;
  headers: Record<string, string>;
  durableHeaders: Record<string, string>;
}

function makeGw(url: string): Gw {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` };
  return {
    // Long-polls hold a connection each: enough for the highest concurrency and then some.
    pool: new Pool(url, { connections: 96, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, headersTimeout: 90_000, bodyTimeout: 90_000 }),
    chatBody: JSON.stringify({ model: ALIAS, messages: [{ role: 'user', content: PROMPT }] }),
    headers,
    durableHeaders: { ...headers, 'x-gateway-durable': 'true' },
  };
}

interface CompletionJson {
  choices?: Array<{ message?: { content?: unknown } }>;
}

function checkAnswer(what: string, completion: CompletionJson | null | undefined): void {
  const content = completion?.choices?.[0]?.message?.content;
  if (content !== EXPECTED_TEXT) throw new BenchError(`${what}: unexpected answer ${JSON.stringify(content)}`);
}

interface ChatSample {
  ms: number;
  sentWall: number;
  doneWall: number;
  /** The workflow id (durable calls). */
  id?: string;
}

/** One non-streamed chat call (fast path, or durable with the header), timed send → last byte. */
async function chatOnce(gw: Gw, durable: boolean): Promise<ChatSample> {
  const sentWall = wallNow();
  const t0 = performance.now();
  const res = await gw.pool.request({ path: '/v1/chat/completions', method: 'POST', headers: durable ? gw.durableHeaders : gw.headers, body: gw.chatBody });
  const text = await res.body.text();
  const ms = performance.now() - t0;
  const doneWall = wallNow();
  const what = durable ? 'durable sync call' : 'fast path call';
  if (res.statusCode !== 200) throw new BenchError(`${what}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  checkAnswer(what, JSON.parse(text) as CompletionJson);
  const id = res.headers['x-gateway-request-id'];
  if (durable && typeof id !== 'string') throw new BenchError(`${what}: no x-gateway-request-id header`);
  return { ms, sentWall, doneWall, id: typeof id === 'string' ? id : undefined };
}

interface RequestView {
  id?: string;
  status?: string;
  result?: CompletionJson | null;
  error?: unknown;
}

interface SubmitSample extends ChatSample {
  /** POST /v1/requests answered (202). */
  submitMs: number;
  /** GETs until `succeeded` (0 when the POST already answered with it). */
  polls: number;
}

/** Submit via POST /v1/requests, then long-poll GET /v1/requests/{id}?wait=30s until it succeeded. */
async function submitAndWait(gw: Gw): Promise<SubmitSample> {
  const sentWall = wallNow();
  const t0 = performance.now();
  const res = await gw.pool.request({ path: '/v1/requests', method: 'POST', headers: gw.headers, body: gw.chatBody });
  const text = await res.body.text();
  const submitMs = performance.now() - t0;
  if (res.statusCode !== 202) throw new BenchError(`POST /v1/requests: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  let view = JSON.parse(text) as RequestView;
  const id = view.id;
  if (typeof id !== 'string') throw new BenchError(`POST /v1/requests: no id in ${text.slice(0, 300)}`);
  let polls = 0;
  while (view.status !== 'succeeded') {
    if (view.status !== 'queued' && view.status !== 'running') throw new BenchError(`request ${id} ended ${view.status}: ${JSON.stringify(view.error)}`);
    if (++polls > 10) throw new BenchError(`request ${id} still ${view.status} after ${polls - 1} long-polls`);
    const g = await gw.pool.request({ path: `/v1/requests/${id}?wait=30s`, method: 'GET', headers: gw.headers });
    const gt = await g.body.text();
    if (g.statusCode !== 200) throw new BenchError(`GET /v1/requests/${id}: HTTP ${g.statusCode}: ${gt.slice(0, 300)}`);
    view = JSON.parse(gt) as RequestView;
  }
  checkAnswer(`request ${id}`, view.result);
  return { ms: performance.now() - t0, sentWall, doneWall: wallNow(), id, submitMs, polls };
}

// ---------------------------------------------------------------------------------------------- CPU accounting

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

interface Procs {
  gateway: number | undefined;
  temporal: number | undefined;
  fake: number | undefined;
}

type CpuSnapshot = Record<keyof Procs | 'loadgen', number>;

function cpuSnapshot(p: Procs): CpuSnapshot {
  const u = process.cpuUsage();
  return { gateway: cpuSeconds(p.gateway), temporal: cpuSeconds(p.temporal), fake: cpuSeconds(p.fake), loadgen: (u.user + u.system) / 1e6 };
}

/** Cores used by each process between two snapshots (1.0 = one core busy all the time). */
function coresUsed(a: CpuSnapshot, b: CpuSnapshot, seconds: number): CpuSnapshot {
  const d = (k: keyof CpuSnapshot) => r3((b[k] - a[k]) / seconds);
  return { gateway: d('gateway'), temporal: d('temporal'), fake: d('fake'), loadgen: d('loadgen') };
}

// ---------------------------------------------------------------------------------------------- measurements

/** Concurrency 1, fast and durable interleaved request by request (the order flips every iteration). */
async function measureLatency(gw: Gw) {
  const { warmup, requests } = SETTINGS.latency;
  const fast: number[] = [];
  const durable: ChatSample[] = [];
  const errors = { fast: new Errors('c=1 fast path'), durable: new Errors('c=1 durable') };
  for (let i = 0; i < warmup + requests; i++) {
    const order = i % 2 === 0 ? [false, true] : [true, false];
    for (const d of order) {
      try {
        const s = await chatOnce(gw, d);
        if (i < warmup) continue;
        if (d) durable.push(s);
        else fast.push(s.ms);
      } catch (err) {
        (d ? errors.durable : errors.fast).record(err);
      }
    }
  }
  const fastMs = summarize(fast);
  const durableMs = summarize(durable.map((s) => s.ms));
  return {
    warmup,
    requests,
    latencyMs: { fast: fastMs, durable: durableMs },
    addedMs: { p50: r3(durableMs.p50 - fastMs.p50), p99: r3(durableMs.p99 - fastMs.p99), mean: r3(durableMs.mean - fastMs.mean) },
    errors: { fast: errors.fast.total, durable: errors.durable.total, first: errors.fast.firstMessage ?? errors.durable.firstMessage },
    samples: durable,
  };
}

type Kind = 'submit' | 'sync';

interface ThroughputPhase {
  kind: Kind;
  concurrency: number;
  warmupMs: number;
  windowMs: number;
  /** Requests that completed inside the window. */
  completed: number;
  rps: number;
  errors: number;
  firstError?: string;
  /** Submit → succeeded (submit) or send → answer (sync), of the requests completed in the window. */
  latencyMs: Summary;
  /** POST /v1/requests → 202 (submit only). */
  submitMs?: Summary;
  /** Long-polls per request (submit only). */
  pollsMean?: number;
  /** Cores used per process during the window. */
  cores: CpuSnapshot;
  drainMs: number;
  samples: ChatSample[];
  temporal?: TemporalPerRequest;
}

/**
 * `concurrency` closed-loop workers; completions are counted only inside the window that follows the warm-up,
 * so ramp-up and the drain at the end (requests still in flight are finished, not counted) do not skew it.
 */
async function closedLoop(gw: Gw, kind: Kind, concurrency: number, procs: Procs, metrics?: TemporalMetrics): Promise<ThroughputPhase> {
  const { warmupMs, windowMs } = SETTINGS.throughput;
  const start = performance.now();
  const from = start + warmupMs;
  const to = from + windowMs;
  const inWindow: Array<ChatSample | SubmitSample> = [];
  const errors = new Errors(`${kind} c=${concurrency}`);
  let cpuFrom: CpuSnapshot | undefined;
  let cpuTo: CpuSnapshot | undefined;
  let mFrom: Promise<MetricsSnapshot> | undefined;
  let mTo: Promise<MetricsSnapshot> | undefined;
  const t1 = setTimeout(() => {
    cpuFrom = cpuSnapshot(procs);
    mFrom = metrics?.snapshot();
  }, warmupMs);
  const t2 = setTimeout(() => {
    cpuTo = cpuSnapshot(procs);
    mTo = metrics?.snapshot();
  }, warmupMs + windowMs);
  const worker = async () => {
    while (performance.now() < to) {
      try {
        const s = kind === 'submit' ? await submitAndWait(gw) : await chatOnce(gw, true);
        const end = performance.now();
        if (end >= from && end < to) inWindow.push(s);
      } catch (err) {
        errors.record(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(t1);
  clearTimeout(t2);
  const drainMs = Math.max(0, Math.round(performance.now() - to));
  const [mA, mB] = await Promise.all([mFrom, mTo]);
  const submits = inWindow.filter((s): s is SubmitSample => 'submitMs' in s);
  return {
    kind,
    concurrency,
    warmupMs,
    windowMs,
    completed: inWindow.length,
    rps: Math.round((inWindow.length / windowMs) * 1000 * 10) / 10,
    errors: errors.total,
    ...(errors.firstMessage ? { firstError: errors.firstMessage } : {}),
    latencyMs: summarize(inWindow.map((s) => s.ms)),
    ...(kind === 'submit'
      ? { submitMs: summarize(submits.map((s) => s.submitMs)), pollsMean: r3(submits.reduce((n, s) => n + s.polls, 0) / Math.max(1, submits.length)) }
      : {}),
    cores: cpuFrom && cpuTo ? coresUsed(cpuFrom, cpuTo, windowMs / 1000) : { gateway: NaN, temporal: NaN, fake: NaN, loadgen: NaN },
    drainMs,
    samples: inWindow,
    ...(mA && mB ? { temporal: perRequest(mA, mB) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------- workflow histories

/** One durable request's timeline, in ms, from its workflow history (server clock = this machine's clock). */
interface Timeline {
  /** Client sent the HTTP request → WorkflowExecutionStarted: gateway ingress + StartWorkflowExecution. */
  clientToStarted: number;
  /** WorkflowExecutionStarted → first workflow task started: task dispatch to the worker (poll/match). */
  wft1Dispatch: number;
  /** First workflow task run: workflow code, the `route` local activity, scheduling callProvider. */
  wft1Run: number;
  /** ActivityTaskScheduled → ActivityTaskStarted. */
  activityDispatch: number;
  /** The callProvider activity itself (the upstream call, streamed and folded). */
  activityRun: number;
  /** ActivityTaskCompleted → the next workflow task started. */
  wft2Dispatch: number;
  /** Last workflow task run: the workflow returns; the server closes the execution. */
  wft2RunAndClose: number;
  /** WorkflowExecutionCompleted → the client had the whole answer: result long-poll wake-up + HTTP answer. */
  closedToClient: number;
  /** WorkflowExecutionStarted → WorkflowExecutionCompleted. */
  serverTotal: number;
  /** Client total. */
  total: number;
  workflowTasks: number;
  events: number;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;

function tsMs(ts: Ts): number {
  if (!ts) return NaN;
  const s = ts.seconds;
  const sec = typeof s === 'number' ? s : s && typeof (s as { toNumber?: () => number }).toNumber === 'function' ? (s as { toNumber: () => number }).toNumber() : Number(s);
  return sec * 1000 + (ts.nanos ?? 0) / 1e6;
}

type HistoryEvent = Record<string, unknown> & { eventTime?: Ts };

function timelineOf(events: HistoryEvent[], sample: ChatSample): Timeline | undefined {
  const at = (attr: string) => {
    const e = events.find((ev) => ev[attr] != null);
    return e ? tsMs(e.eventTime) : NaN;
  };
  const started = at('workflowExecutionStartedEventAttributes');
  const closed = at('workflowExecutionCompletedEventAttributes');
  if (!Number.isFinite(started) || !Number.isFinite(closed)) return undefined;
  const actScheduled = at('activityTaskScheduledEventAttributes');
  const actStarted = at('activityTaskStartedEventAttributes');
  const actCompleted = at('activityTaskCompletedEventAttributes');
  const wftStartedAll = events.filter((e) => e.workflowTaskStartedEventAttributes != null).map((e) => tsMs(e.eventTime));
  const wftCompletedFirst = at('workflowTaskCompletedEventAttributes');
  const wftStartedAfterActivity = wftStartedAll.find((t) => t >= actCompleted) ?? NaN;
  const d = (a: number, b: number) => r3(b - a);
  return {
    clientToStarted: d(sample.sentWall, started),
    wft1Dispatch: d(started, wftStartedAll[0] ?? NaN),
    wft1Run: d(wftStartedAll[0] ?? NaN, wftCompletedFirst),
    activityDispatch: d(actScheduled, actStarted),
    activityRun: d(actStarted, actCompleted),
    wft2Dispatch: d(actCompleted, wftStartedAfterActivity),
    wft2RunAndClose: d(wftStartedAfterActivity, closed),
    closedToClient: d(closed, sample.doneWall),
    serverTotal: d(started, closed),
    total: d(sample.sentWall, sample.doneWall),
    workflowTasks: wftStartedAll.length,
    events: events.length,
  };
}

const PHASES: Array<[keyof Timeline, string]> = [
  ['clientToStarted', 'client send → WorkflowExecutionStarted (ingress + StartWorkflowExecution)'],
  ['wft1Dispatch', 'workflow task 1 dispatch: execution started → task started (handed to the worker)'],
  ['wft1Run', 'workflow task 1: task started → completed (route local activity, schedule callProvider)'],
  ['activityDispatch', 'callProvider: scheduled → started'],
  ['activityRun', 'callProvider: run (upstream call)'],
  ['wft2Dispatch', 'workflow task 2 dispatch: activity completed → task started'],
  ['wft2RunAndClose', 'workflow task 2: task started → WorkflowExecutionCompleted'],
  ['closedToClient', 'WorkflowExecutionCompleted → client has the answer'],
  ['serverTotal', '(server: started → completed)'],
  ['total', '(client total)'],
];

async function readTimelines(client: Client, samples: ChatSample[], max: number) {
  // An even spread over the run, not just its start.
  const step = Math.max(1, Math.floor(samples.length / max));
  const chosen = samples.filter((_, i) => i % step === 0).slice(0, max);
  const timelines: Timeline[] = [];
  let failed = 0;
  let exampleEvents: string[] | undefined;
  for (const s of chosen) {
    try {
      const history = await client.workflow.getHandle(s.id!).fetchHistory();
      const events = (history.events ?? []) as unknown as HistoryEvent[];
      // One history spelled out (event type and ms since the workflow started), to show the round trips.
      exampleEvents ??= (() => {
        const t0 = tsMs(events[0]?.eventTime);
        return events.map((e) => {
          const attr = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k] != null) ?? 'unknown';
          const name = attr.replace(/EventAttributes$/, '');
          return `+${(tsMs(e.eventTime) - t0).toFixed(1)} ms ${name.charAt(0).toUpperCase()}${name.slice(1)}`;
        });
      })();
      const t = timelineOf(events, s);
      if (t) timelines.push(t);
      else failed++;
    } catch {
      failed++;
    }
  }
  const phases: Record<string, Summary> = {};
  for (const [k] of PHASES) phases[k] = summarize(timelines.map((t) => t[k]).filter((v) => Number.isFinite(v)));
  return {
    n: timelines.length,
    unreadable: failed,
    workflowTasksMean: r3(timelines.reduce((n, t) => n + t.workflowTasks, 0) / Math.max(1, timelines.length)),
    eventsMean: r3(timelines.reduce((n, t) => n + t.events, 0) / Math.max(1, timelines.length)),
    phasesMs: phases,
    exampleEvents: exampleEvents ?? [],
  };
}

// ---------------------------------------------------------------------------------------------- Temporal metrics

/** Counters and histogram sums/counts from the dev server's Prometheus endpoint, keyed `name{labels}`. */
type MetricsSnapshot = Map<string, number>;

class TemporalMetrics {
  constructor(private readonly url: string) {}
  async snapshot(): Promise<MetricsSnapshot> {
    const out: MetricsSnapshot = new Map();
    try {
      const res = await fetch(this.url);
      const text = await res.text();
      for (const line of text.split('\n')) {
        if (!line.startsWith('service_latency_') && !line.startsWith('persistence_latency_')) continue;
        const m = /^(\w+_(?:sum|count))(\{[^}]*\})?\s+(\S+)/.exec(line);
        if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
      }
    } catch {
      // the window is then reported without Temporal numbers
    }
    return out;
  }
}

interface TemporalPerRequest {
  /** Workflows started in the window (frontend StartWorkflowExecution calls): the divisor below. */
  workflows: number;
  /** Frontend RPCs per durable request, by operation (polls included: they are the worker's). */
  frontendCalls: Record<string, number>;
  frontendCallsTotal: number;
  /** SQLite operations per durable request, by operation (all services). */
  persistenceOps: Record<string, number>;
  persistenceOpsTotal: number;
  /** Sum of persistence latencies per request, waiting for the connection included. */
  persistenceMs: number;
}

function perRequest(a: MetricsSnapshot, b: MetricsSnapshot): TemporalPerRequest | undefined {
  const delta = (k: string) => (b.get(k) ?? 0) - (a.get(k) ?? 0);
  const label = (k: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(k)?.[1];
  let workflows = 0;
  const frontend: Record<string, number> = {};
  const persistence: Record<string, number> = {};
  let persistenceSumS = 0;
  for (const k of b.keys()) {
    const op = label(k, 'operation') ?? '?';
    if (k.startsWith('service_latency_count{') && label(k, 'service_name') === 'frontend' && label(k, 'namespace') === 'default') {
      frontend[op] = (frontend[op] ?? 0) + delta(k);
      if (op === 'StartWorkflowExecution') workflows += delta(k);
    } else if (k.startsWith('persistence_latency_count{')) persistence[op] = (persistence[op] ?? 0) + delta(k);
    else if (k.startsWith('persistence_latency_sum{')) persistenceSumS += delta(k);
  }
  if (workflows <= 0) return undefined;
  const per = (rec: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(rec)
        .map(([k, v]): [string, number] => [k, Math.round((v / workflows) * 100) / 100])
        .filter(([, v]) => v >= 0.05)
        .sort((x, y) => y[1] - x[1]),
    );
  const frontendCalls = per(frontend);
  const persistenceOps = per(persistence);
  const sum = (rec: Record<string, number>) => Math.round(Object.values(rec).reduce((n, v) => n + v, 0) * 10) / 10;
  return {
    workflows,
    frontendCalls,
    frontendCallsTotal: sum(frontendCalls),
    persistenceOps,
    persistenceOpsTotal: sum(persistenceOps),
    persistenceMs: r3((persistenceSumS * 1000) / workflows),
  };
}

// ---------------------------------------------------------------------------------------------- one pass

interface PassResult {
  mode: 'file' | 'memory';
  devServerStartMs: number;
  gatewayStartMs: number;
  gatewayConfig: string;
  latency: Omit<Awaited<ReturnType<typeof measureLatency>>, 'samples'>;
  throughput: Array<Omit<ThroughputPhase, 'samples'>>;
  timelines: Record<string, Awaited<ReturnType<typeof readTimelines>>>;
  /** With BENCH_TEMPORAL_METRICS=1: Temporal calls and SQLite operations per durable request. */
  temporalCalls?: Record<string, TemporalPerRequest>;
  /** File-backed pass: the minimal one-activity workflow, at c=1 and at each throughput concurrency. */
  baseline?: { latency: BaselineLatency; throughput: BaselineThroughput[] };
  /** File-backed pass: durable retries, computed delay vs the gap in the history. */
  retry?: RetryDelayResult;
}

async function runPass(
  mode: 'file' | 'memory',
  realCli: string,
  fake: { child: Child; url: string },
  tmpDir: string,
  resetFake: () => Promise<void>,
): Promise<PassResult> {
  console.log(`\n=== ${mode === 'file' ? 'file-backed (SQLite, WAL)' : 'in-memory'} Temporal dev server ===`);
  let cli = realCli;
  const metricsPort = WITH_TEMPORAL_METRICS ? await freePort() : undefined;
  const extra = [
    ...DYNAMIC_CONFIG.flatMap((kv) => ['--dynamic-config-value', kv]),
    ...(metricsPort !== undefined ? ['--metrics-port', String(metricsPort)] : []),
  ];
  if (extra.length > 0) {
    // src/durable/dev-server.ts takes no extra flags: a wrapper adds them. `exec` keeps the pid, so the dev
    // server's stop() and the CPU accounting see the real server process.
    const wrapper = path.join(tmpDir, `temporal-${mode}.sh`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(cli)} "$@" ${extra.map((a) => JSON.stringify(a)).join(' ')}\n`, { mode: 0o755 });
    cli = wrapper;
  }
  const metrics = metricsPort !== undefined ? new TemporalMetrics(`http://127.0.0.1:${metricsPort}/metrics`) : undefined;
  let t0 = performance.now();
  const dev = await startDevServer({
    cli,
    port: await freePort(),
    uiPort: false,
    namespace: 'default',
    ...(mode === 'file' ? { dbFile: path.join(tmpDir, 'temporal.db') } : {}),
  });
  devServers.push(dev);
  const devServerStartMs = Math.round(performance.now() - t0);
  console.log(`temporal dev server: ${dev.address} (${devServerStartMs} ms)`);
  t0 = performance.now();
  const gwProc = await startGateway(mode, fake.url, dev.address, tmpDir);
  console.log(`gateway:             ${gwProc.url} (role all, ready in ${gwProc.startupMs} ms)`);
  const gw = makeGw(gwProc.url);
  const connection = await Connection.connect({ address: dev.address });
  const client = new Client({ connection, namespace: 'default' });
  const procs: Procs = { gateway: gwProc.child.proc.pid, temporal: dev.pid, fake: fake.child.proc.pid };
  const withBaseline = mode === 'file';
  const baselineWorker = withBaseline ? await startBaselineWorker(dev.address) : undefined;
  try {
    // Sanity: each path answers correctly, via the deployment, without fallbacks.
    for (const d of [false, true]) {
      const res = await gw.pool.request({ path: '/v1/chat/completions', method: 'POST', headers: d ? gw.durableHeaders : gw.headers, body: gw.chatBody });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new BenchError(`sanity (${d ? 'durable' : 'fast'}): HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
      checkAnswer(`sanity (${d ? 'durable' : 'fast'})`, JSON.parse(text) as CompletionJson);
      if (res.headers['x-gateway-deployment'] !== DEPLOYMENT || res.headers['x-gateway-fallback'] !== 'none')
        throw new BenchError(`sanity (${d ? 'durable' : 'fast'}): not answered via ${DEPLOYMENT} without fallback: ${JSON.stringify(res.headers)}`);
    }
    await submitAndWait(gw);
    await resetFake();
    const baselineThroughputs: BaselineThroughput[] = [];
    let baselineC1: BaselineLatency | undefined;
    if (withBaseline) {
      console.log(`baseline (one-activity workflow, its own worker): ${SETTINGS.latency.warmup} warm-up + ${SETTINGS.latency.requests} at concurrency 1 ...`);
      baselineC1 = await baselineLatency(client, SETTINGS.latency.warmup, SETTINGS.latency.requests);
      console.log(`  baseline p50 ${baselineC1.latencyMs.p50} ms, p99 ${baselineC1.latencyMs.p99} ms`);
    }

    const { warmup, requests } = SETTINGS.latency;
    console.log(`concurrency 1, fast vs durable interleaved: ${warmup} warm-up + ${requests} requests each ...`);
    const m0 = await metrics?.snapshot();
    const latency = await measureLatency(gw);
    const temporalCalls: Record<string, TemporalPerRequest> = {};
    const c1 = metrics && m0 ? perRequest(m0, await metrics.snapshot()) : undefined;
    if (c1) temporalCalls['c=1 sync'] = c1;
    await resetFake();
    console.log(
      `  fast p50 ${latency.latencyMs.fast.p50} ms, durable p50 ${latency.latencyMs.durable.p50} ms, added p50 ${latency.addedMs.p50} ms, p99 ${latency.addedMs.p99} ms`,
    );

    const submitCs = mode === 'file' ? SETTINGS.throughput.submitConcurrencies : SETTINGS.memory.submitConcurrencies;
    const plan: Array<[Kind, number]> = [...submitCs.map((c): [Kind, number] => ['submit', c]), ['sync', SETTINGS.throughput.syncConcurrency]];
    const throughput: ThroughputPhase[] = [];
    for (const [kind, c] of plan) {
      const { warmupMs, windowMs } = SETTINGS.throughput;
      console.log(`throughput, ${kind === 'submit' ? 'POST /v1/requests + long-poll' : 'sync x-gateway-durable'} at ${c} in flight: ${warmupMs / 1000} s warm-up + ${windowMs / 1000} s ...`);
      await sleep(500);
      // The baseline brackets the gateway's window (before and after, averaged): the other processes sharing
      // the cores come and go, and one baseline window on one side of it would carry their drift into the ratio.
      const baselineBefore = withBaseline ? await baselineThroughput(client, c, warmupMs, windowMs) : undefined;
      const p = await closedLoop(gw, kind, c, procs, metrics);
      throughput.push(p);
      if (p.temporal) temporalCalls[`${kind} c=${c}`] = p.temporal;
      await resetFake();
      console.log(
        `  ${p.rps} req/s completed; latency p50 ${p.latencyMs.p50} ms p99 ${p.latencyMs.p99} ms; cores: gateway ${p.cores.gateway}, temporal ${p.cores.temporal}, fake ${p.cores.fake}, load generator ${p.cores.loadgen}; errors ${p.errors}`,
      );
      if (baselineBefore) {
        await sleep(500);
        const b = bracketed(baselineBefore, await baselineThroughput(client, c, warmupMs, windowMs));
        baselineThroughputs.push(b);
        console.log(`  baseline at ${c} in flight: ${b.rps} req/s (${b.rpsRuns.join(' before, ')} after; p50 ${b.latencyMs.p50} ms); durable = ${((p.rps / b.rps) * 100).toFixed(0)} % of it`);
      }
    }

    let retry: RetryDelayResult | undefined;
    if (withBaseline) {
      console.log(`retry delay: ${SETTINGS.retryRequests} requests whose first call fails (500, retry-after-ms ${RETRY_AFTER_MS}) ...`);
      const fakeControl = new Pool(fake.url, { connections: 1 });
      try {
        retry = await measureRetryDelay({ gw: gw.pool, headers: gw.headers, fake: fakeControl, client, n: SETTINGS.retryRequests });
      } finally {
        await fakeControl.close().catch(() => undefined);
      }
      await resetFake();
      console.log(`  computed p50 ${retry.computedMs.p50} ms; late (server times, n=${retry.serverLateMs.n}) p50 ${retry.serverLateMs.p50} ms, max ${retry.serverLateMs.max} ms; upper bound late p50 ${retry.lateMs.p50} ms`);
    }

    console.log('reading workflow histories for the phase breakdown ...');
    const timelines: PassResult['timelines'] = {};
    timelines['c=1 sync'] = await readTimelines(client, latency.samples, requests);
    for (const p of throughput) timelines[`${p.kind} c=${p.concurrency}`] = await readTimelines(client, p.samples, SETTINGS.historySamplePerPhase);

    const { samples: _ls, ...latencyOut } = latency;
    return {
      mode,
      devServerStartMs,
      gatewayStartMs: gwProc.startupMs,
      gatewayConfig: gwProc.yaml,
      latency: latencyOut,
      throughput: throughput.map(({ samples: _s, temporal: _t, ...rest }) => rest),
      timelines,
      ...(metrics ? { temporalCalls } : {}),
      ...(baselineC1 ? { baseline: { latency: baselineC1, throughput: baselineThroughputs } } : {}),
      ...(retry ? { retry: { ...retry, samples: retry.samples } } : {}),
    };
  } finally {
    await gw.pool.close().catch(() => undefined);
    if (baselineWorker) await stopChild(baselineWorker.child, STOP_GRACE_MS);
    await connection.close().catch(() => undefined);
    await stopChild(gwProc.child, STOP_GRACE_MS);
    const i = devServers.indexOf(dev);
    if (i >= 0) devServers.splice(i, 1);
    await dev.stop().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------- report

const fmtMs = (x: number) => `${x.toFixed(1)} ms`;

function buildRows(passes: PassResult[]): { rows: Row[]; checks: Check[] } {
  const { rows, checks, info, check } = rowBuilder();
  for (const p of passes) {
    // Targets are for the realistic, file-backed setting; the in-memory rows are for comparison.
    const pre = p.mode === 'file' ? '' : '[in-memory] ';
    const l = p.latency;
    info(`${pre}c=1 latency p50, fast / durable`, `${fmtMs(l.latencyMs.fast.p50)} / ${fmtMs(l.latencyMs.durable.p50)}`);
    info(`${pre}c=1 latency p99, fast / durable`, `${fmtMs(l.latencyMs.fast.p99)} / ${fmtMs(l.latencyMs.durable.p99)}`);
    if (p.mode === 'file') check('c=1 added latency p50 (durable − fast)', l.addedMs.p50, fmtMs(l.addedMs.p50), '<=', TARGETS.addedP50Ms, fmtMs(TARGETS.addedP50Ms));
    else info(`${pre}c=1 added latency p50 (durable − fast)`, fmtMs(l.addedMs.p50));
    info(`${pre}c=1 added latency p99 (durable − fast)`, fmtMs(l.addedMs.p99));
    if (p.baseline) info('baseline (one-activity workflow) c=1 latency p50 / p99', `${fmtMs(p.baseline.latency.latencyMs.p50)} / ${fmtMs(p.baseline.latency.latencyMs.p99)}`);
    for (const t of p.throughput) {
      const name = `${pre}durable throughput, ${t.kind === 'submit' ? 'POST /v1/requests + long-poll' : 'sync x-gateway-durable'}, ${t.concurrency} in flight`;
      const measured = `${t.rps} req/s (p50 ${fmtMs(t.latencyMs.p50)}, p99 ${fmtMs(t.latencyMs.p99)})`;
      const base = p.baseline?.throughput.find((b) => b.concurrency === t.concurrency);
      if (base) {
        const pct = Math.round((t.rps / base.rps) * 1000) / 10;
        check(`${name}, share of the baseline`, pct, `${measured} = ${pct} % of ${base.rps} req/s`, '>=', TARGETS.throughputOfBaselinePct, `${TARGETS.throughputOfBaselinePct} %`);
      } else info(name, measured);
    }
    for (const b of p.baseline?.throughput ?? []) info(`baseline throughput, ${b.concurrency} in flight (window before / after the gateway's)`, `${b.rps} req/s (${b.rpsRuns.join(' / ')}; p50 ${fmtMs(b.latencyMs.p50)}, p99 ${fmtMs(b.latencyMs.p99)})`);
    if (p.retry) {
      const r = p.retry;
      info(`durable retry after a 500: computed delay, p50 (n=${r.n})`, fmtMs(r.computedMs.p50));
      if (r.serverLateMs.n > 0) {
        check(`durable retry: attempt 1 failed → attempt 2 started, minus computed, p50 (server times, n=${r.serverLateMs.n})`, r.serverLateMs.p50, fmtMs(r.serverLateMs.p50), '<=', TARGETS.retryLateMs, fmtMs(TARGETS.retryLateMs));
        info('  same, p90 / max', `${fmtMs(r.serverLateMs.p90)} / ${fmtMs(r.serverLateMs.max)}`);
      }
      info('durable retry, upper bound: attempt 2 started − (scheduled + attempt 1 latency) − computed, p50 / max', `${fmtMs(r.lateMs.p50)} / ${fmtMs(r.lateMs.max)}`);
    }
    const failed = p.latency.errors.fast + p.latency.errors.durable + p.throughput.reduce((n, t) => n + t.errors, 0);
    rows.push({ metric: `${pre}failed requests`, measured: String(failed), target: '0', result: failed > 0 ? 'ERRORS' : 'PASS' });
  }
  return { rows, checks };
}

function phaseTable(p: PassResult): { head: string[]; rows: string[][] } {
  const keys = Object.keys(p.timelines);
  const head = ['phase (p50 / p99, ms)', ...keys.map((k) => `${k} (n=${p.timelines[k]!.n})`)];
  const rows = PHASES.map(([k, label]) => [label, ...keys.map((key) => {
    const s = p.timelines[key]!.phasesMs[k]!;
    return `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}`;
  })]);
  return { head, rows };
}

function cpuTable(p: PassResult): { head: string[]; rows: string[][] } {
  const head = ['run', 'req/s', 'gateway', 'temporal', 'fake', 'load gen', 'total', 'CPU ms per request'];
  const rows = p.throughput.map((t) => {
    const total = t.cores.gateway + t.cores.temporal + t.cores.fake + t.cores.loadgen;
    const per = (x: number) => ((x / t.rps) * 1000).toFixed(2);
    return [
      `${t.kind} c=${t.concurrency}`,
      String(t.rps),
      t.cores.gateway.toFixed(2),
      t.cores.temporal.toFixed(2),
      t.cores.fake.toFixed(2),
      t.cores.loadgen.toFixed(2),
      total.toFixed(2),
      `gateway ${per(t.cores.gateway)}, temporal ${per(t.cores.temporal)}`,
    ];
  });
  return { head, rows };
}

function temporalCallsTable(p: PassResult): { head: string[]; rows: string[][] } | undefined {
  if (!p.temporalCalls || Object.keys(p.temporalCalls).length === 0) return undefined;
  const top = (rec: Record<string, number>, n: number) =>
    Object.entries(rec)
      .slice(0, n)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const head = ['run', 'frontend RPCs', 'of which', 'SQLite ops', 'of which', 'SQLite ms (incl. waiting)'];
  const rows = Object.entries(p.temporalCalls).map(([run, t]) => [
    run,
    String(t.frontendCallsTotal),
    top(t.frontendCalls, 12),
    String(t.persistenceOpsTotal),
    top(t.persistenceOps, 6),
    t.persistenceMs.toFixed(1),
  ]);
  return { head, rows };
}

interface Meta {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  temporalCli: string;
  quick: boolean;
  seconds: number;
  /** Set when the dev server ran with non-default flags. */
  experiment?: string;
  loadavg: number[];
  loadavgAtStart: number[];
}

function markdown(rows: Row[], passes: PassResult[], meta: Meta): string {
  const out: string[] = [
    '# Durable path vs fast path',
    '',
    `Run ${meta.date} · Node ${meta.node} · ${meta.cpus} CPUs (${meta.cpuModel}), ${meta.memoryGb} GB · ${meta.temporalCli} · ${meta.seconds.toFixed(0)} s${meta.quick ? ' · QUICK run (noisy)' : ''}`,
    '',
    `Everything shares the machine's ${meta.cpus} cores: the gateway (role \`all\`: HTTP + Temporal worker, one Node process,`,
    `${launchModeFromEnv() === 'tsx' ? 'from source via tsx' : 'compiled, `node dist/main.js`'}, logging at \`warn\`), the Temporal dev server (\`temporal server start-dev\`, headless, started by`,
    '`src/durable/dev-server.ts`), the fake provider (its own process, answers at once) and the load generator (this',
    'process, undici keep-alive pool). The worker loads the workflow bundle `npm run build` prebuilt (no webpack at start).',
    '"fast" = `POST /v1/chat/completions`; "durable" = the same call with `x-gateway-durable: true` (start the workflow,',
    'wait for its result). Concurrency 1 interleaves the two request by request. Throughput is a closed loop;',
    'completions are counted in a window after a warm-up. The targets apply to the file-backed dev server',
    '(SQLite, WAL, synchronous=OFF, as the gateway runs it by default); `[in-memory]` rows are for comparison.',
    '"baseline" = a minimal workflow whose one activity returns a small object at once (bench/lib/baseline-workflow.ts),',
    'on its own worker process (same concurrency settings as the gateway\'s), started and awaited by the load generator',
    '(start + result) on the same dev server, in a window right before and one right after each gateway measurement at the same concurrency (averaged): the',
    'throughput targets are a share of it, since the machine, not the gateway, sets what Temporal can do here.',
    `"retry": a deployment scripted to fail once (500, \`retry-after-ms: ${RETRY_AFTER_MS}\`), so the policy computes exactly that delay;`,
    'the gap is the retried call\'s ActivityTaskStarted (attempt 2, history event time) minus the pending activity\'s',
    '`lastAttemptCompleteTime` (the server\'s time of attempt 1\'s failure, read by describing the workflow every 10 ms',
    'while it waits); the upper bound subtracts ActivityTaskScheduled + attempt 1\'s own latency instead.',
    `Load average (1, 5, 15 min) at the start: ${meta.loadavgAtStart.map((x) => x.toFixed(2)).join(', ')}; at the end: ${meta.loadavg.map((x) => x.toFixed(2)).join(', ')} (other processes share the cores).`,
    ...(meta.experiment ? ['', `**Experiment, not the default setting:** ${meta.experiment}.`] : []),
    '',
    ...mdTable(ROW_HEAD, rowCells(rows)),
    '',
  ];
  for (const p of passes) {
    const label = p.mode === 'file' ? 'file-backed' : 'in-memory';
    const ph = phaseTable(p);
    const cpu = cpuTable(p);
    out.push(
      `## Where the time goes (${label})`,
      '',
      'From the workflow histories (event times; the server runs on this machine, so its clock is the client\'s):',
      '',
      ...mdTable(ph.head, ph.rows),
      '',
      ...(p.timelines['c=1 sync']?.exampleEvents.length
        ? [`One concurrency-1 durable request's history (${label}):`, '', '```', ...p.timelines['c=1 sync'].exampleEvents, '```', '']
        : []),
      `Cores used during each throughput window (${label}; 1.00 = one core fully busy; ${meta.cpus} available):`,
      '',
      ...mdTable(cpu.head, cpu.rows),
      '',
    );
    const tc = temporalCallsTable(p);
    if (tc)
      out.push(
        `Temporal work per durable request (${label}; from the dev server's metrics, \`BENCH_TEMPORAL_METRICS=1\`):`,
        '',
        ...mdTable(tc.head, tc.rows),
        '',
      );
  }
  out.push(`Raw numbers: \`${RESULTS_NAME}.json\`. Reproduce with \`npm run bench:durable\`.`, '');
  return out.join('\n');
}

function otherBenchmarks(): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter((l) => /bench\//.test(l) && !l.includes('bench/durable.ts') && !l.includes('bench/lib/baseline-worker.ts'))
      .map((l) => l.trim());
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = os.loadavg();
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'gateway-bench-durable-'));
  tmpDirToRemove = tmpDir;
  let control: Pool | undefined;
  try {
    console.log(`node ${process.version}, ${os.cpus().length} CPUs${QUICK ? ', QUICK run' : ''}`);
    const others = otherBenchmarks();
    if (others.length > 0) console.warn(`warning: other benchmark processes are running; numbers will be disturbed:\n  ${others.join('\n  ')}`);

    const realCli = ensureTemporalCli(ROOT, (m) => console.log(m));
    if (DYNAMIC_CONFIG.length > 0) console.log(`experiment: dev server with ${DYNAMIC_CONFIG.map((kv) => `--dynamic-config-value ${kv}`).join(' ')}`);
    const temporalCli = (() => {
      try {
        return execFileSync(realCli, ['--version'], { encoding: 'utf8' }).trim();
      } catch {
        return 'temporal (version unknown)';
      }
    })();
    // Builds dist/ now if it is stale, before anything is timed.
    gatewayArgs(launchModeFromEnv());
    const fake = await startFake();
    console.log(`fake provider:       ${fake.url}`);

    control = new Pool(fake.url, { connections: 1 });
    const resetFake = async () => {
      const res = await control!.request({ path: '/__reset', method: 'POST' });
      await res.body.dump();
    };

    const passes: PassResult[] = [];
    passes.push(await runPass('file', realCli, fake, tmpDir, resetFake));
    if (WITH_MEMORY) passes.push(await runPass('memory', realCli, fake, tmpDir, resetFake));

    {
      const res = await control.request({ path: '/__requests', method: 'GET' });
      const bad = ((await res.body.json()) as { violations?: string[] }).violations ?? [];
      if (bad.length > 0) console.warn(`warning: the fake provider saw contract violations:\n${bad.slice(0, 5).join('\n')}`);
    }

    const seconds = (performance.now() - started) / 1000;
    const { rows, checks } = buildRows(passes);
    const meta: Meta = {
      ...machineMeta(),
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      temporalCli,
      quick: QUICK,
      seconds: r3(seconds),
      loadavg: os.loadavg(),
      loadavgAtStart: loadAtStart,
      ...(DYNAMIC_CONFIG.length > 0 ? { experiment: `dev server started with ${DYNAMIC_CONFIG.map((kv) => `\`--dynamic-config-value ${kv}\``).join(' ')}` } : {}),
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = {
      ...meta,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      hostname: os.hostname(),
      note: 'gateway, Temporal dev server, fake provider and load generator share the machine\'s cores',
      settings: { ...SETTINGS, memoryPass: WITH_MEMORY, temporalDynamicConfig: DYNAMIC_CONFIG, temporalMetrics: WITH_TEMPORAL_METRICS },
      targets: TARGETS,
      checks,
      allPass: checks.every((c) => c.pass),
      units: { latency: 'ms', throughput: 'completed requests/s', cores: 'CPU seconds per wall second', added: 'durable − fast at the same percentile' },
      passes,
    };
    writeAtomically(path.join(RESULTS_DIR, `${RESULTS_NAME}.json`), `${JSON.stringify(json, null, 2)}\n`);
    writeAtomically(path.join(RESULTS_DIR, `${RESULTS_NAME}.md`), markdown(rows, passes, meta));

    console.log(`\n${textTable(ROW_HEAD, rowCells(rows))}\n`);
    for (const p of passes) {
      const ph = phaseTable(p);
      console.log(`where the time goes (${p.mode}):\n${textTable(ph.head, ph.rows)}\n`);
      const cpu = cpuTable(p);
      console.log(`cores used (${p.mode}):\n${textTable(cpu.head, cpu.rows)}\n`);
      const tc = temporalCallsTable(p);
      if (tc) console.log(`Temporal work per durable request (${p.mode}):\n${textTable(tc.head, tc.rows)}\n`);
    }
    console.log(`${checks.filter((c) => c.pass).length}/${checks.length} targets met; wrote bench/results/${RESULTS_NAME}.json and bench/results/${RESULTS_NAME}.md (${seconds.toFixed(0)} s)`);
  } finally {
    await control?.close().catch(() => undefined);
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
    if (process.env.BENCH_CPU_PROF) console.log(`gateway CPU profile(s) in ${path.resolve(process.env.BENCH_CPU_PROF)}`);
  }
}

main().catch(reportFailure);
