/**
 * The embedded dev server runs under a tiny watchdog process so it can never outlive its owner, however the
 * owner dies: the watchdog holds the read end of a pipe from the owner on its stdin, and a pipe closes when
 * every process holding its write end is gone — SIGKILL and the OOM killer included, when no exit handler
 * runs. On EOF the watchdog stops the server with SIGTERM (a clean SQLite shutdown), SIGKILL only after a
 * grace period. The watchdog exits with the server's status, so the owner sees the server's death as the
 * watchdog's. It gets its own process group: a terminal's Ctrl-C reaches the owner, which stops the worker
 * before the server, instead of the server dying first under a worker still running.
 *
 * The source is plain JavaScript run with `node -e`, so it works the same under tsx and from a compiled build
 * (no file to locate or copy).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const WATCHDOG_GRACE_MS = 10_000;

const WATCHDOG_SOURCE = `
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const [grace, cli, ...args] = process.argv.slice(1);
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
const server = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
server.stderr.on('data', (d) => process.stderr.write(d));
server.on('spawn', () => process.stdout.write(JSON.stringify({ pid: server.pid }) + '\\n'));
server.on('error', (err) => { process.stderr.write(String(err) + '\\n'); process.exit(127); });
server.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), Number(grace)).unref();
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, stop);
`;

export interface Watched {
  /** The watchdog; ending its stdin (or killing this process) stops the server. */
  watchdog: ChildProcess;
  /** The server's pid, once the watchdog has started it. */
  serverPid: Promise<number>;
}

export function spawnWatched(cli: string, args: string[], graceMs = WATCHDOG_GRACE_MS): Watched {
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, '--', String(graceMs), cli, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  watchdog.stdin!.on('error', () => {});
  const serverPid = new Promise<number>((resolve, reject) => {
    let out = '';
    watchdog.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve((JSON.parse(line!) as { pid: number }).pid);
    });
    watchdog.once('exit', (code) => reject(new Error(`the dev server's watchdog exited (${code}) before starting it`)));
  });
  serverPid.catch(() => undefined);
  return { watchdog, serverPid };
}
