/**
 * A gateway started the way a user starts it (`npm run gateway -- --config …`, or tsx from any directory),
 * as a real process tree the tests can SIGKILL piecemeal. Every process ever seen in a tree is remembered
 * (pid + start time), so a test can assert that none survived and clean up whatever did, also on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { allProcesses, isRunning, processInfo, refOf, type ProcessRef } from '../../src/durable/own-processes.js';

/** The pid and every process below it, right now. */
export function processTree(root: number): ProcessRef[] {
  const all = allProcesses();
  const out: ProcessRef[] = [];
  const walk = (pid: number) => {
    const ref = all.find((p) => p.pid === pid);
    if (!ref) return;
    out.push({ pid: ref.pid, startTime: ref.startTime });
    for (const child of all.filter((p) => p.ppid === pid)) walk(child.pid);
  };
  walk(root);
  return out;
}

export class LaunchedGateway {
  private static readonly seen = new Map<number, ProcessRef>();
  output = '';
  /** Resolves when stdout and stderr are closed: every process that inherited them has exited. */
  readonly closed: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    const streams = [child.stdout!, child.stderr!].map((s) => {
      s.on('data', (d: Buffer) => {
        this.output = (this.output + d.toString()).slice(-200_000);
      });
      return new Promise<void>((resolve) => s.once('close', () => resolve()));
    });
    this.closed = Promise.all(streams).then(() => undefined);
  }

  /** Its own process group (as a terminal job is), so cleanup can reach what it started. */
  static start(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): LaunchedGateway {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const launched = new LaunchedGateway(child);
    const ref = child.pid ? refOf(child.pid) : undefined;
    if (ref) LaunchedGateway.seen.set(ref.pid, ref);
    return launched;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Remembers the current tree (for leftover checks and cleanup) and returns it. */
  snapshot(): ProcessRef[] {
    const tree = processTree(this.pid);
    for (const ref of tree) LaunchedGateway.seen.set(ref.pid, ref);
    return tree;
  }

  async ready(what = 'gateway listening', ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.output.includes(what)) {
      if (Date.now() > end) throw new Error(`no "${what}" after ${ms} ms:\n${this.output.slice(-4000)}`);
      if (this.child.exitCode !== null && !this.output.includes(what)) throw new Error(`exited (${this.child.exitCode}) before "${what}":\n${this.output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.snapshot();
  }

  /** Ctrl-C: SIGINT to the whole group, as a terminal sends it; SIGKILL to what is left after `ms`. */
  async interrupt(ms = 20_000): Promise<boolean> {
    this.snapshot();
    try {
      process.kill(-this.pid, 'SIGINT');
    } catch {
      return true;
    }
    const clean = await Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    if (!clean) LaunchedGateway.killAll();
    return clean;
  }

  /** Processes seen in any tree that still run. */
  static survivors(): ProcessRef[] {
    return [...LaunchedGateway.seen.values()].filter(isRunning);
  }

  /** The survivors with their command lines, so a failure names what was left running. */
  static describeSurvivors(): string[] {
    return LaunchedGateway.survivors().map((ref) => `${ref.pid}: ${processInfo(ref.pid)?.argv.join(' ').slice(0, 200) ?? '(gone)'}`);
  }

  static killAll(): void {
    for (const ref of LaunchedGateway.survivors()) {
      try {
        process.kill(ref.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}
