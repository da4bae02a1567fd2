/**
 * Runs `temporal server start-dev`: the embedded Temporal of `npm start` and of the tests. File-backed (SQLite
 * in WAL mode, synchronous off, as the SDK's own CI runs it) so workflows survive a restart; the gateway's
 * search attributes are registered at start. WAL keeps the file consistent when a process dies mid-write
 * (only a machine crash can lose the last commits with synchronous off); the server is still stopped with
 * SIGTERM first wherever it can be.
 *
 * The server never outlives its owner (dev-server-watchdog.ts), a start cleans up what a crashed run left
 * (run-file.ts), and a server that dies while the owner runs is restarted on the same port and db file with
 * a capped back-off; `state` and the 'state' event say where it is, for readiness.
 */
import { type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { SEARCH_ATTRIBUTE_FLAGS } from './search-attributes.js';
import { spawnWatched, WATCHDOG_GRACE_MS } from './dev-server-watchdog.js';
import { RunFile } from './run-file.js';

export const DEV_SERVER_DYNAMIC_CONFIG = [
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
  'history.transferProcessorMaxPollRPS=1000',
  // New timers and retry backoffs fire no sooner than now + this shift (default 1 s): a 200 ms retry waited 1 s.
  'history.timerProcessorMaxTimeShift="10ms"',
  // The timer queue reads due timers at most this often (default 20/s): a 200 ms retry still started ~90 ms late
  // under load; at 1000 it starts within a few ms (bench/durable.ts, retry rows).
  'history.timerProcessorMaxPollRPS=1000',
  // A start from the process that runs the worker gets the first workflow task in its response (eager-start.ts),
  // and an activity scheduled by a workflow task goes back to that worker in the task's completion response:
  // two matching round trips fewer per request. The CLI's dev server enables both today, the server's own
  // dynamic config leaves activity eager execution off by default: so they are set, not assumed.
  'system.enableEagerWorkflowStart=true',
  'system.enableActivityEagerExecution=true',
];

/** What a closed workflow is kept for when nothing is configured: the dev server's own default. */
export const DEFAULT_RETENTION_HOURS = 24;

export interface DevServerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; false for a headless server (tests). */
  uiPort: number | false;
  /**
   * The Web UI decodes payloads through this codec endpoint (the gateway's `/admin/codec`), from the operator's
   * browser: encrypted inputs and results are shown in clear to whoever may call it.
   */
  uiCodecEndpoint?: string;
  /** SQLite file; undefined keeps everything in memory. */
  dbFile?: string;
  namespace: string;
  startTimeoutMs?: number;
  /** How long closed workflows (answered durable requests, finished batches) are kept; applied at every start. */
  retentionHours?: number;
  /**
   * Records the processes so the next start can clean up after a crash of this one: a path (claimed here,
   * released at stop) or a RunFile its caller claimed and releases.
   */
  runFile?: string | RunFile;
  /** Back-off between restarts after the server died: doubling from `initialMs`, capped at `maxMs`. */
  restart?: { initialMs?: number; maxMs?: number };
  log?: DevServerLog;
}

/** starting → running ⇄ restarting; stop() → stopped. */
export type DevServerState = 'starting' | 'running' | 'restarting' | 'stopped';

export interface DevServer {
  address: string;
  uiUrl?: string;
  readonly state: DevServerState;
  /** Restarts after an unexpected exit, since start. */
  readonly restarts: number;
  /** The current server process (not its watchdog); undefined while restarting. */
  readonly pid: number | undefined;
  /** The current run's watchdog process: its exit is the server's. */
  readonly process: ChildProcess;
  onState(listener: (state: DevServerState) => void): () => void;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function devServerArgs(opts: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--namespace', opts.namespace, '--log-level', 'warn'];
  if (opts.uiPort === false) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.uiPort !== false && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);
  // One node, one worker fleet: a single task-queue partition means a task never waits to be forwarded to the
  // partition a poller sits on (~30 ms per workflow task otherwise), and a faster transfer queue starts
  // workflows sooner. Measured in bench/durable.ts: durable c=1 added p50 96 ms → 28 ms.
  for (const value of DEV_SERVER_DYNAMIC_CONFIG) args.push('--dynamic-config-value', value);
  return args;
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  if (opts.dbFile) mkdirSync(dirname(opts.dbFile), { recursive: true });
  const runFile = typeof opts.runFile === 'string' ? await RunFile.claim(opts.runFile, { dbFile: opts.dbFile, log: opts.log }) : opts.runFile;
  const server = new SupervisedDevServer(opts, runFile, typeof opts.runFile === 'string');
  // The server picks its internal ports (HTTP API, metrics, membership) at random and can lose one to another
  // process between choosing and binding it; it then exits at once, and a second try picks others.
  for (let attempt = 1; ; attempt++) {
    try {
      await server.runOnce();
      return server;
    } catch (err) {
      if (!(err instanceof DevServerExitedEarly) || attempt >= START_ATTEMPTS) {
        await server.stop();
        throw err;
      }
      opts.log?.warn({ err, attempt }, 'the embedded Temporal dev server exited while starting: trying again');
      await new Promise((r) => setTimeout(r, 300 * attempt));
    }
  }
}

const START_ATTEMPTS = 3;

class DevServerExitedEarly extends Error {
  override readonly name = 'DevServerExitedEarly';
}

class SupervisedDevServer implements DevServer {
  readonly address: string;
  readonly uiUrl?: string;
  private current!: { watchdog: ChildProcess; pid?: number; exited: Promise<void>; startedAt: number };
  private currentState: DevServerState = 'starting';
  private restartCount = 0;
  private failures = 0;
  private restartTimer?: NodeJS.Timeout;
  private readonly events = new EventEmitter();
  private stderr = '';

  constructor(
    private readonly opts: DevServerOptions,
    private readonly runFile: RunFile | undefined,
    private readonly ownsRunFile: boolean,
  ) {
    this.address = `127.0.0.1:${opts.port}`;
    this.uiUrl = opts.uiPort === false ? undefined : `http://127.0.0.1:${opts.uiPort}`;
  }

  get state(): DevServerState {
    return this.currentState;
  }
  get restarts(): number {
    return this.restartCount;
  }
  get pid(): number | undefined {
    return this.currentState === 'running' ? this.current.pid : undefined;
  }
  get process(): ChildProcess {
    return this.current.watchdog;
  }

  onState(listener: (state: DevServerState) => void): () => void {
    this.events.on('state', listener);
    return () => this.events.off('state', listener);
  }

  private setState(state: DevServerState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.events.emit('state', state);
  }

  /** One run: spawn under the watchdog, wait until the frontend answers, apply the retention. */
  async runOnce(): Promise<void> {
    this.stderr = '';
    const { watchdog, serverPid } = spawnWatched(this.opts.cli, devServerArgs(this.opts));
    watchdog.stderr!.on('data', (d: Buffer) => {
      // A Go panic names its cause in its first lines and ends in a long stack: keep both ends.
      const all = this.stderr + d.toString();
      this.stderr = all.length > 4000 ? `${all.slice(0, 1500)}\n…\n${all.slice(-2500)}` : all;
    });
    const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
    const run = { watchdog, exited, startedAt: Date.now(), pid: undefined as number | undefined };
    this.current = run;
    const diedEarly = exited.then(() => {
      throw new DevServerExitedEarly(`temporal dev server exited (${watchdog.exitCode ?? watchdog.signalCode}) before it was ready:\n${this.stderr}`);
    });
    diedEarly.catch(() => undefined);
    run.pid = await Promise.race([serverPid, diedEarly]);
    await Promise.race([this.whenReady(this.opts.startTimeoutMs ?? 60_000), diedEarly]);
    if (this.currentState === 'stopped') return;
    this.runFile?.recordDevServer({ address: this.address, dbFile: this.opts.dbFile, watchdogPid: watchdog.pid, serverPid: run.pid });
    watchdog.once('exit', (code, signal) => this.onExit(run, code ?? signal));
    this.setState('running');
  }

  private onExit(run: SupervisedDevServer['current'], status: number | string | null): void {
    if (this.currentState === 'stopped' || run !== this.current) return;
    if (Date.now() - run.startedAt > 60_000) this.failures = 0;
    this.opts.log?.error({ address: this.address, status, stderr: this.stderr.slice(-1000) || undefined }, 'the embedded Temporal dev server exited: restarting it');
    this.setState('restarting');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const initial = this.opts.restart?.initialMs ?? 250;
    const max = this.opts.restart?.maxMs ?? 10_000;
    const delay = Math.min(max, initial * 2 ** this.failures);
    this.failures++;
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    if (this.currentState === 'stopped') return;
    try {
      await this.runOnce();
      this.restartCount++;
      this.opts.log?.info({ address: this.address, pid: this.current.pid, restarts: this.restartCount }, 'the embedded Temporal dev server is back');
    } catch (err) {
      // stop() may have run meanwhile.
      if ((this.currentState as DevServerState) === 'stopped') return;
      this.opts.log?.warn({ err, address: this.address }, 'restarting the embedded Temporal dev server failed: trying again');
      this.kill(this.current.watchdog);
      await this.current.exited;
      this.scheduleRestart();
    }
  }

  private async whenReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until && this.currentState !== 'stopped') {
      try {
        const conn = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
        try {
          await conn.workflowService.getSystemInfo({});
          await this.applyRetention(conn);
          return;
        } finally {
          await conn.close();
        }
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (this.currentState === 'stopped') return;
    throw new Error(`temporal dev server at ${this.address} not ready after ${timeoutMs} ms: ${String(last)}`);
  }

  private async applyRetention(conn: Connection): Promise<void> {
    const hours = this.opts.retentionHours;
    if (hours === undefined) return;
    await conn.workflowService.updateNamespace({
      namespace: this.opts.namespace,
      config: { workflowExecutionRetentionTtl: msToTs(Math.round(hours * 3_600_000)) },
    });
  }

  /** Ends the watchdog's stdin (it stops the server), SIGKILLs the group if that takes too long. */
  async stop(): Promise<void> {
    this.setState('stopped');
    clearTimeout(this.restartTimer);
    const { watchdog, exited } = this.current;
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      watchdog.stdin!.end();
      const timer = setTimeout(() => this.kill(watchdog), WATCHDOG_GRACE_MS + 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.ownsRunFile) this.runFile?.release();
  }

  private kill(watchdog: ChildProcess): void {
    try {
      // The watchdog leads its own group, so this reaches the server too.
      if (watchdog.pid) process.kill(-watchdog.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
