/** Child processes of a benchmark: output kept for diagnostics, and none of them outlives the benchmark. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './paths.js';

/** A failure the benchmark explains itself (no stack trace needed). */
export class BenchError extends Error {}

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Last lines of output, for diagnostics when the child fails. */
  tail: string[];
  /** Resolves once the child exited and its output was read. */
  exited: Promise<number | null>;
  /** Resolves when the process exited (its pipes may still be held open by a grandchild). */
  exitedProcess: Promise<void>;
}

/** Every child started, in start order. */
export const children: Child[] = [];

/** `command`: what to run instead of this Node binary (the peers benchmark starts a Python proxy). */
export function startChild(
  name: string,
  args: string[],
  { env = process.env, onLine, command = process.execPath }: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void; command?: string } = {},
): Child {
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  // Both streams are always drained, so a chatty child can never block on a full pipe.
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    keep(line);
    onLine?.(line);
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => keep(`[stderr] ${line}`));
  // 'close' comes after 'exit' and after the child's stdout/stderr are drained, so `tail` is complete by then.
  const exited = new Promise<number | null>((resolve) => {
    proc.once('close', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    proc.once('error', (err) => {
      keep(`[spawn error] ${err.message}`);
      resolve(-1);
    });
  });
  const exitedProcess = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  const child: Child = { name, proc, tail, exited, exitedProcess };
  children.push(child);
  return child;
}

export function running(child: Child): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs` (the gateway writes its CPU profile on SIGTERM, so it gets the chance). */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (!running(child)) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (running(child)) child.proc.kill('SIGKILL');
  }, graceMs);
  // A grandchild holding the pipes must not keep us waiting for 'close' forever.
  await Promise.race([child.exited, child.exitedProcess.then(() => sleep(1000))]);
  clearTimeout(timer);
}

/** Stops every child gracefully, last started first (later ones, like the gateway, depend on earlier ones). */
export async function stopChildren(graceMs?: number): Promise<void> {
  for (const c of [...children].reverse()) await stopChild(c, graceMs).catch(() => undefined);
}

export function killChildrenNow(): void {
  for (const c of children) if (running(c)) c.proc.kill('SIGKILL');
}

export function describeFailure(child: Child, what: string): Error {
  return new BenchError(`${child.name}: ${what}\n--- last output of ${child.name} ---\n${child.tail.join('\n')}`);
}

/**
 * Whatever way this process ends, no child outlives it: `killNow` on exit (synchronous, so SIGKILL only), and on
 * SIGINT/SIGTERM a graceful `stop` first, then exit code 130.
 */
export function stopChildrenOnExit(stop: () => Promise<unknown>, killNow: () => void = killChildrenNow): void {
  process.on('exit', killNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the child processes`);
      void stop().finally(() => process.exit(130));
    });
  }
}

/** The end of `main().catch(...)`: the error, and what the children said last (it usually tells why). */
export function reportFailure(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`benchmark failed: ${message}`);
  if (!(err instanceof BenchError) && err instanceof Error && err.stack) console.error(err.stack);
  if (!message.includes('--- last output of'))
    for (const c of children) if (c.tail.length > 0) console.error(`--- last output of ${c.name} ---\n${c.tail.slice(-15).join('\n')}`);
  process.exitCode = 1;
}
