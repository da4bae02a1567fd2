/**
 * Batch benchmark (`npm run bench:batch`): a 10,000-line batch through the fake provider on a file-backed
 * Temporal dev server, with the HTTP gateway and the durable worker as separate processes (so the worker's
 * memory is its own). Measured in the same run:
 *
 *   - baseline: the same 10,000 chat requests sent straight to the gateway's fast path with as many in flight as
 *     a batch runs (`batches.maxConcurrentLines`, 32 by default): requests/s;
 *   - the batch: upload, create, poll until `completed`; lines/s over the whole batch (create → completed) and
 *     over its running phase (in_progress → completed), the time spent validating and finalizing, and the
 *     workflow runs it took (continue-as-new every `linesPerRun` lines);
 *   - the worker's memory: RSS before the batch, sampled peak during it, and the kernel's high-water mark
 *     (VmHWM); the gateway's too, for comparison; CPU cores each process used while the batch ran;
 *   - correctness: the output holds every line exactly once, in order, each answered 200, and the fake provider
 *     saw each line exactly once.
 *
 * Results: bench/results/batch.json and bench/results/batch.md. BENCH_QUICK=1 runs 1,000 lines (checking the
 * script); BENCH_BATCH_LINES=N sets the size.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { Pool } from 'undici';
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_BATCHES } from '../src/config/batches-schema.js';
import { freePort, startDevServer, type DevServer } from '../src/durable/dev-server.js';
import { ensureTemporalCli } from '../src/durable/temporal-cli.js';
import { BenchError, describeFailure, killChildrenNow, reportFailure, running, startChild, stopChildren, stopChildrenOnExit, type Child } from './lib/children.js';
import { startFake } from './lib/fake.js';
import { ALIAS, API_KEY, PROMPT, gatewayYaml, waitForHealthz } from './lib/gateway.js';
import { gatewayArgs, launchModeFromEnv } from './lib/launch.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';
import { ROW_HEAD, machineMeta, mdTable, rowBuilder, rowCells, textTable, writeAtomically } from './lib/report.js';
import { round3 as r3 } from './lib/stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const LINES = Number(process.env.BENCH_BATCH_LINES) || (QUICK ? 1_000 : 10_000);
const IN_FLIGHT = DEFAULT_BATCHES.maxConcurrentLines;
const POLL_MS = 100;

let devServer: DevServer | undefined;
let tmpDir: string | undefined;

stopChildrenOnExit(
  async () => {
    await stopChildren(8000);
    await devServer?.stop().catch(() => undefined);
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  },
  () => {
    killChildrenNow();
    // The watchdog leads its own process group: killing the group takes the server with it.
    if (devServer && devServer.process.exitCode === null) process.kill(-devServer.process.pid!, 'SIGKILL');
  },
);

// ---------------------------------------------------------------------------------------------- /proc readings

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

const mb = (kb: number) => r3(kb / 1024);

/** Samples the RSS of some processes until stopped; keeps each one's peak. */
function rssSampler(pids: Record<string, number>) {
  const peakKb: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  const timer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) {
      try {
        peakKb[name] = Math.max(peakKb[name]!, procStatusKb(pid, 'VmRSS'));
      } catch {
        // exited
      }
    }
  }, 100);
  return { peakKb, stop: () => clearInterval(timer) };
}

// ---------------------------------------------------------------------------------------------- processes

async function startRole(role: 'worker' | 'gateway', configPath: string, env: NodeJS.ProcessEnv, url?: string): Promise<Child> {
  let ready!: () => void;
  const seen = new Promise<void>((resolve) => (ready = resolve));
  const child = startChild(role, [...gatewayArgs(launchModeFromEnv()), '--config', configPath, '--role', role], {
    env,
    onLine: (line) => {
      if (line.includes('"worker running"')) ready();
    },
  });
  if (role === 'gateway') {
    if (!(await waitForHealthz(child, url!, 90_000))) throw describeFailure(child, 'exited before answering /healthz');
    return child;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    seen,
    child.exited.then((code) => Promise.reject(describeFailure(child, `exited (code ${code}) before it was ready`))),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(describeFailure(child, 'not ready within 90 s')), 90_000);
    }),
  ]).finally(() => clearTimeout(timer));
  return child;
}

// ---------------------------------------------------------------------------------------------- measurements

/** The same requests as the batch's lines, straight to the fast path with IN_FLIGHT in flight. */
async function baseline(url: string): Promise<{ seconds: number; rps: number; errors: number }> {
  const pool = new Pool(url, { connections: IN_FLIGHT, pipelining: 1 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` };
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < LINES; i = next++) {
        const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body: JSON.stringify(lineBody(i)) });
        await res.body.dump();
        if (res.statusCode !== 200) errors++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { seconds: r3(seconds), rps: r3(LINES / seconds), errors };
}

const lineText = (i: number) => `${PROMPT} #${i}`;
const lineBody = (i: number) => ({ model: ALIAS, messages: [{ role: 'user', content: lineText(i) }] });

interface BatchRun {
  batchId: string;
  uploadMs: number;
  validatingMs: number;
  runningMs: number;
  finalizingMs: number;
  totalMs: number;
  linesPerSecond: { total: number; running: number };
  workflowRuns: number;
  counts: { total: number; completed: number; failed: number };
  cores: Record<string, number>;
}

async function runBatch(openai: OpenAI, client: Client, inputPath: string, pids: Record<string, number>): Promise<BatchRun> {
  let t = performance.now();
  const file = await openai.files.create({ file: createReadStream(inputPath), purpose: 'batch' });
  const uploadMs = performance.now() - t;
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const t0 = performance.now();
  const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const seenAt: Record<string, number> = {};
  let batch = created;
  let lastLog = 0;
  for (;;) {
    seenAt[batch.status] ??= performance.now();
    if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) break;
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      const c = batch.request_counts;
      console.log(`  ${batch.status}: ${c ? c.completed + c.failed : 0}/${c?.total ?? '?'} lines`);
    }
    await sleep(POLL_MS);
    batch = await openai.batches.retrieve(created.id);
  }
  t = performance.now();
  const cores = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, r3((cpuSeconds(pid) - cpu0[k]!) / ((t - t0) / 1000))]));
  if (batch.status !== 'completed') throw new BenchError(`batch ended ${batch.status}: ${JSON.stringify(batch.errors)}`);
  const inProgress = seenAt.in_progress ?? t0;
  const finalizing = seenAt.finalizing ?? t;
  let workflowRuns = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = '${created.id}'` })) workflowRuns++;
  const c = batch.request_counts!;
  return {
    batchId: created.id,
    uploadMs: Math.round(uploadMs),
    validatingMs: Math.round(inProgress - t0),
    runningMs: Math.round(finalizing - inProgress),
    finalizingMs: Math.round(t - finalizing),
    totalMs: Math.round(t - t0),
    linesPerSecond: { total: r3(LINES / ((t - t0) / 1000)), running: r3(LINES / ((t - inProgress) / 1000)) },
    workflowRuns,
    counts: { total: c.total, completed: c.completed, failed: c.failed },
    cores,
  };
}

/** Every line exactly once in the output, in order, answered; the provider saw each line exactly once. */
async function verify(openai: OpenAI, batchId: string, fakeUrl: string): Promise<{ outputLines: number; inOrder: boolean; allOk: boolean; providerCallsPerLine: { min: number; max: number }; violations: number }> {
  const batch = await openai.batches.retrieve(batchId);
  const text = await (await openai.files.content(batch.output_file_id!)).text();
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: { choices: Array<{ message: { content: string } }> } } });
  const inOrder = lines.length === LINES && lines.every((l, i) => l.custom_id === `line-${i}`);
  const allOk = lines.every((l, i) => l.response.status_code === 200 && l.response.body.choices[0]!.message.content === `Echo: ${lineText(i)}`);
  const seen = (await (await fetch(`${fakeUrl}/__requests`)).json()) as { requests: Array<{ kind: string; body: { messages: Array<{ content: string }> } }>; violations: string[] };
  const calls = new Map<string, number>();
  for (const r of seen.requests) if (r.kind === 'chat') calls.set(r.body.messages.at(-1)!.content, (calls.get(r.body.messages.at(-1)!.content) ?? 0) + 1);
  const perLine = Array.from({ length: LINES }, (_, i) => calls.get(lineText(i)) ?? 0);
  return { outputLines: lines.length, inOrder, allOk, providerCallsPerLine: { min: Math.min(...perLine), max: Math.max(...perLine) }, violations: seen.violations.length };
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'bench-batch-'));
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${LINES} lines${QUICK ? ' (QUICK)' : ''}`);
  const cli = ensureTemporalCli(ROOT, (m) => console.log(m));
  // Compiled (BENCH_GATEWAY=tsx: from source), so the worker loads the build's prebuilt workflow bundle.
  const fake = await startFake();
  devServer = await startDevServer({ cli, port: await freePort(), uiPort: false, namespace: 'default', dbFile: path.join(tmpDir, 'temporal.db') });
  console.log(`fake provider ${fake.url} · temporal dev server ${devServer.address} (file-backed)`);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const yaml = gatewayYaml('bench/batch.ts', fake.url, port, [`batches: { dir: ${JSON.stringify(path.join(tmpDir, 'files'))} }`]);
  const gatewayConfig = path.join(tmpDir, 'gateway.yaml');
  const workerConfig = path.join(tmpDir, 'worker.yaml');
  writeFileSync(gatewayConfig, yaml);
  // The worker announces itself at info level; it writes no per-request log lines either way.
  writeFileSync(workerConfig, yaml.replace('logging: { level: warn }', 'logging: { level: info }'));
  const env = { ...process.env, TEMPORAL_ADDRESS: devServer.address };
  const worker = await startRole('worker', workerConfig, env);
  const gateway = await startRole('gateway', gatewayConfig, env, url);
  const pids = { worker: worker.proc.pid!, gateway: gateway.proc.pid!, temporal: devServer.pid!, fake: fake.child.proc.pid! };

  const connection = await Connection.connect({ address: devServer.address });
  const client = new Client({ connection, namespace: 'default' });
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: API_KEY, maxRetries: 2, timeout: 120_000 });
  try {
    const inputPath = path.join(tmpDir, 'input.jsonl');
    writeFileSync(inputPath, Array.from({ length: LINES }, (_, i) => JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: lineBody(i) })).join('\n') + '\n');

    console.log(`baseline: ${LINES} fast-path requests, ${IN_FLIGHT} in flight ...`);
    const fast = await baseline(url);
    console.log(`  ${fast.rps} req/s`);
    await (await fetch(`${fake.url}/__reset`, { method: 'POST' })).arrayBuffer();

    const workerIdleKb = procStatusKb(pids.worker, 'VmRSS');
    const gatewayIdleKb = procStatusKb(pids.gateway, 'VmRSS');
    console.log(`batch: ${LINES} lines ...`);
    const sampler = rssSampler({ worker: pids.worker, gateway: pids.gateway });
    const run = await runBatch(openai, client, inputPath, pids);
    sampler.stop();
    const memory = {
      worker: { beforeMb: mb(workerIdleKb), peakSampledMb: mb(sampler.peakKb.worker!), highWaterMarkMb: mb(procStatusKb(pids.worker, 'VmHWM')) },
      gateway: { beforeMb: mb(gatewayIdleKb), peakSampledMb: mb(sampler.peakKb.gateway!), highWaterMarkMb: mb(procStatusKb(pids.gateway, 'VmHWM')) },
    };
    const check = await verify(openai, run.batchId, fake.url);
    if (!running(worker) || !running(gateway)) throw new BenchError('a gateway process died during the run');

    const { rows, checks, info, check: target } = rowBuilder();
    info('baseline: fast path, same requests', `${fast.rps} req/s (${IN_FLIGHT} in flight, ${fast.seconds} s, ${fast.errors} errors)`);
    info('batch: lines/s, create → completed', `${run.linesPerSecond.total} lines/s (${(run.totalMs / 1000).toFixed(1)} s)`);
    info('batch: lines/s, in_progress → completed', `${run.linesPerSecond.running} lines/s`);
    info('batch ÷ baseline (create → completed)', `${r3(run.linesPerSecond.total / fast.rps)}×`);
    info('phases: upload / validating / running / finalizing', `${run.uploadMs} / ${run.validatingMs} / ${run.runningMs} / ${run.finalizingMs} ms`);
    info('workflow runs (continue-as-new)', `${run.workflowRuns} (every ${DEFAULT_BATCHES.linesPerRun} lines)`);
    info('worker RSS: before / sampled peak / high-water mark', `${memory.worker.beforeMb} / ${memory.worker.peakSampledMb} / ${memory.worker.highWaterMarkMb} MB`);
    info('gateway RSS: before / sampled peak / high-water mark', `${memory.gateway.beforeMb} / ${memory.gateway.peakSampledMb} / ${memory.gateway.highWaterMarkMb} MB`);
    info('cores used during the batch', Object.entries(run.cores).map(([k, v]) => `${k} ${v}`).join(', '));
    target('output lines (each custom_id once, in order, 200)', check.inOrder && check.allOk ? check.outputLines : -1, `${check.outputLines}${check.inOrder && check.allOk ? '' : ' (WRONG)'}`, '>=', LINES, String(LINES));
    target('provider calls per line (max)', check.providerCallsPerLine.max, `${check.providerCallsPerLine.min}..${check.providerCallsPerLine.max}`, '<=', 1, '1');
    target('failed lines', run.counts.failed + (run.counts.completed === LINES ? 0 : 1), String(run.counts.failed), '<=', 0, '0');

    const seconds = r3((performance.now() - started) / 1000);
    const meta = { ...machineMeta(), memoryGb: Math.round(os.totalmem() / 2 ** 30), quick: QUICK, seconds };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = {
      ...meta,
      loadavg: os.loadavg(),
      note: 'gateway, worker, Temporal dev server (file-backed), fake provider and this load generator share the machine\'s cores',
      settings: { lines: LINES, batches: DEFAULT_BATCHES, baselineInFlight: IN_FLIGHT, pollMs: POLL_MS },
      checks,
      allPass: checks.every((c) => c.pass),
      baseline: fast,
      batch: run,
      memory,
      verification: check,
    };
    writeAtomically(path.join(RESULTS_DIR, 'batch.json'), `${JSON.stringify(json, null, 2)}\n`);
    const md = [
      '# Batch API: a 10,000-line batch',
      '',
      `Run ${meta.date} · Node ${meta.node} · ${meta.cpus} CPUs (${meta.cpuModel}), ${meta.memoryGb} GB · ${LINES} lines · ${seconds.toFixed(0)} s`,
      '',
      'The HTTP gateway (role `gateway`) and the durable worker (role `worker`) run as separate processes against a',
      'file-backed Temporal dev server, in front of the fake provider (its own process, answers at once); everything',
      "shares the machine's cores. The batch runs with the default `batches` settings",
      `(${DEFAULT_BATCHES.maxConcurrentLines} lines in flight, ${DEFAULT_BATCHES.linesPerChunk} lines per chunk activity, continue-as-new every ${DEFAULT_BATCHES.linesPerRun} lines).`,
      `The baseline sends the same ${LINES} requests to \`POST /v1/chat/completions\` (fast path) with ${IN_FLIGHT} in flight, in the same run.`,
      'Phases are timed by polling the batch every 100 ms. RSS "high-water mark" is the kernel\'s VmHWM (peak since the process started).',
      '',
      ...mdTable(ROW_HEAD, rowCells(rows)),
      '',
    ].join('\n');
    writeAtomically(path.join(RESULTS_DIR, 'batch.md'), md);
    console.log(`\n${textTable(ROW_HEAD, rowCells(rows))}\n`);
    console.log(`wrote bench/results/batch.json and bench/results/batch.md (${seconds.toFixed(0)} s)`);
  } finally {
    await connection.close();
    await stopChildren(8000);
    await devServer.stop().catch(() => undefined);
    devServer = undefined;
    rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  }
}

main().catch(reportFailure);
