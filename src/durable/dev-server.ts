/**
 * Runs `temporal server start-dev` as a child process: the embedded Temporal of `npm start` and of the tests.
 * File-backed (SQLite in WAL mode, synchronous off, as the SDK's own CI runs it) so workflows survive a
 * restart; the gateway's search attributes are registered at start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_FLAGS } from './search-attributes.js';

export const DEV_SERVER_DYNAMIC_CONFIG = [
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
  'history.transferProcessorMaxPollRPS=1000',
];

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; false for a headless server (tests). */
  uiPort: number | false;
  /** SQLite file; undefined keeps everything in memory. */
  dbFile?: string;
  namespace: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
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

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--namespace', opts.namespace, '--log-level', 'warn'];
  if (opts.uiPort === false) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  }
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);
  // One node, one worker fleet: a single task-queue partition means a task never waits to be forwarded to the
  // partition a poller sits on (~30 ms per workflow task otherwise), and a faster transfer queue starts
  // workflows sooner. Measured in bench/durable.ts: durable c=1 added p50 96 ms → 28 ms.
  for (const value of DEV_SERVER_DYNAMIC_CONFIG) args.push('--dynamic-config-value', value);

  const child = spawn(opts.cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`temporal dev server exited (${code}) before it was ready:\n${stderr}`))),
  );
  const address = `127.0.0.1:${opts.port}`;
  await Promise.race([waitForFrontend(address, opts.startTimeoutMs ?? 60_000), exited]);
  exited.catch(() => undefined);

  return {
    address,
    uiUrl: opts.uiPort === false ? undefined : `http://127.0.0.1:${opts.uiPort}`,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

async function waitForFrontend(address: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`temporal dev server at ${address} not ready after ${timeoutMs} ms: ${String(last)}`);
}
